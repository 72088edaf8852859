"""``/api/v1`` official results: AQI (stations, cities), city statistics and rankings, water classes
(all published: open to everyone), and enterprise emissions and exceedances (scoped).

Everything is read from the stored ``assessments`` (``tianlan assess run`` and the periodic
assessment of ``tianlan serve``); each result carries the standard edition it used and the coverage
of its inputs.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from tianlan.errors import InputError
from tianlan.store.api_results_repo import ResultsRepo
from tianlan.store.assess_repo import beijing_month_bounds
from tianlan.web.api.envelope import Format, FormatDep, respond
from tianlan.web.auth import Principal
from tianlan.web.deps import Caller, PagingDep, RegionDep, TimeDep, public_scope, require, split_codes
from tianlan.web.scope import Perm

router = APIRouter()
AQI_TAG = "aqi 空气质量（公开）"
WATER_TAG = "water 水质（公开）"
EMISSIONS_TAG = "emissions 污染源"


class Period(StrEnum):
    hour = "hour"
    day = "day"


Month = Annotated[str | None, Query(max_length=7, description="月份 / month YYYY-MM (Beijing); default: the newest")]
Subject = Annotated[str | None, Query(max_length=400, description="点位代码，可逗号分隔 / site code(s)")]


def _month(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    m = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
    if not m or not (1 <= int(m.group(2)) <= 12) or not (1900 <= int(m.group(1)) <= 9999):
        raise InputError("month", f"应为 YYYY-MM / expected YYYY-MM, got {text!r}")
    return int(m.group(1)), int(m.group(2))


def _aqi_row(r: dict[str, Any]) -> dict[str, Any]:
    return {"subject": r["subject"], "name": r["subject_name"], "period_utc": r["period_utc"], "aqi": r["aqi"],
            "level": r["level"], "primary_pollutants": r["primary_pollutants"], "edition": r["edition"],
            **r["result"], "coverage": r["coverage"]}


@router.get("/aqi/stations", tags=[AQI_TAG], summary="站点 AQI（小时、日）/ Station AQI, hourly or daily")
def station_aqi(request: Request, p: Caller, pg: PagingDep, t: TimeDep, regions: RegionDep,
                fmt: FormatDep = Format.json, period: Annotated[Period, Query()] = Period.hour,
                site: Subject = None, latest: Annotated[bool, Query(description="只取最新时段 / newest period only")] = False,
                ) -> Response:
    """Hourly (real-time report, HJ 633) or daily AQI of air stations, with concentrations or daily values."""
    return _results(request, p, pg, t, regions, fmt, f"station_{period.value}", site, latest, "aqi-stations")


@router.get("/aqi/cities", tags=[AQI_TAG], summary="城市 AQI（小时、日）/ City AQI, hourly or daily")
def city_aqi(request: Request, p: Caller, pg: PagingDep, t: TimeDep, regions: RegionDep, fmt: FormatDep = Format.json,
             city: Annotated[str | None, Query(max_length=400, description="城市代码 / city region code(s)")] = None,
             latest: Annotated[bool, Query(description="只取最新时段 / newest period only")] = False,
             grain: Annotated[Period, Query(description="hour（小时，HJ 633 实时报）| day（日）")] = Period.day,
             ) -> Response:
    """City AQI from each city's evaluation stations (background sites excluded): ``grain=day`` the
    daily values and AQI; ``grain=hour`` per hour the mean of the stations' valid hourly
    concentrations and its HJ 633 hourly AQI (``coverage.stations``: stations with a value)."""
    return _results(request, p, pg, t, regions, fmt, f"city_{grain.value}", city, latest, "aqi-cities")


def _results(request: Request, p: Principal, pg: Any, t: Any, regions: frozenset[str] | None, fmt: Format, kind: str,
             subjects: str | None, latest: bool, filename: str) -> Response:
    repo = ResultsRepo(request.app.state.engine)
    scope = public_scope(p)
    start, end = t.start_utc, t.end_utc
    if latest:
        newest = repo.latest_period(scope, kind)
        start, end = (newest, newest + 1) if newest is not None else (0, 0)
    page = repo.results(scope, kind, subjects=split_codes(subjects, "site" if kind.startswith("station") else "city"),
                        start_utc=start, end_utc=end, region_codes=regions, limit=pg.limit, offset=pg.offset)
    rows = [_aqi_row(r) for r in page.rows]
    return respond(p, rows, fmt, found=page.found, page=pg.page, limit=pg.limit, filename=filename)


def _month_page(request: Request, scope: Any, kind: str, month: str | None, regions: frozenset[str] | None,
                pg: Any) -> tuple[Any, int | None]:
    repo = ResultsRepo(request.app.state.engine)
    ym = _month(month)
    if ym is None:
        start = repo.latest_period(scope, kind)
    else:
        start = beijing_month_bounds(*ym)[0]
    if start is None:
        return None, None
    return repo.results(scope, kind, start_utc=start, end_utc=start + 1, region_codes=regions, limit=pg.limit,
                        offset=pg.offset), start


@router.get("/cities/statistics", tags=[AQI_TAG], summary="城市月度统计 / Monthly city statistics")
def city_statistics(request: Request, p: Caller, pg: PagingDep, regions: RegionDep, fmt: FormatDep = Format.json,
                    month: Month = None) -> Response:
    """HJ 663 monthly statistics of each city, composite index, rank and year-on-year change."""
    page, start = _month_page(request, public_scope(p), "city_month", month, regions, pg)
    if page is None:
        return respond(p, [], fmt, found=0, page=pg.page, limit=pg.limit, filename="city-statistics")
    rows = [{"city": r["subject"], "name": r["subject_name"], "month_utc": r["period_utc"], "edition": r["edition"],
             **{k: v for k, v in r["result"].items() if k != "city"}, "coverage": r["coverage"]} for r in page.rows]
    return respond(p, rows, fmt, found=page.found, page=pg.page, limit=pg.limit, filename="city-statistics")


@router.get("/rankings", tags=[AQI_TAG], summary="城市排名（月）/ Monthly city ranking")
def rankings(request: Request, p: Caller, pg: PagingDep, fmt: FormatDep = Format.json, month: Month = None) -> Response:
    """Cities by composite index (ascending: the cleanest first; ties share a rank), one month."""
    page, start = _month_page(request, public_scope(p), "city_month", month, None, pg)
    if page is None:
        return respond(p, [], fmt, found=0, page=pg.page, limit=pg.limit, filename="rankings")
    rows = [{"rank": r["result"].get("rank"), "city": r["subject"], "name": r["subject_name"],
             "composite_index": r["result"].get("composite_index"), "primary": r["result"].get("primary"),
             "PM2.5": r["result"].get("PM2.5"), "good_ratio": r["result"].get("good_ratio"),
             "month_utc": r["period_utc"], "edition": r["edition"]} for r in page.rows]
    rows.sort(key=lambda x: (x["rank"] is None, x["rank"] or 0, x["city"]))
    return respond(p, rows, fmt, found=page.found, page=pg.page, limit=pg.limit, filename="rankings")


class WaterPeriod(StrEnum):
    month = "month"
    sample = "sample"


@router.get("/water/classes", tags=[WATER_TAG], summary="断面水质类别 / Water quality classes")
def water_classes(request: Request, p: Caller, pg: PagingDep, t: TimeDep, regions: RegionDep,
                  fmt: FormatDep = Format.json, period: Annotated[WaterPeriod, Query()] = WaterPeriod.month,
                  site: Subject = None) -> Response:
    """GB 3838-2002 class of each section per month (or per sample), target compliance, exceedances."""
    repo = ResultsRepo(request.app.state.engine)
    page = repo.results(public_scope(p), f"water_{period.value}", subjects=split_codes(site, "site"),
                        start_utc=t.start_utc, end_utc=t.end_utc, region_codes=regions, limit=pg.limit,
                        offset=pg.offset)
    rows = [{"site": r["subject"], "name": r["subject_name"], "period_utc": r["period_utc"], "standard": r["edition"],
             "worst": r["primary_pollutants"], **r["result"], "coverage": r["coverage"]} for r in page.rows]
    return respond(p, rows, fmt, found=page.found, page=pg.page, limit=pg.limit, filename="water-classes")


@router.get("/emissions/hourly", tags=[EMISSIONS_TAG], summary="排口小时排放 / Outlet hourly emissions")
def emissions_hourly(request: Request, pg: PagingDep, t: TimeDep, regions: RegionDep,
                     p: Annotated[Principal, Depends(require(Perm.READ_DATA))], fmt: FormatDep = Format.json,
                     site: Subject = None) -> Response:
    """Hourly measured and O2-converted concentrations of gas outlets (HJ 75/76), with flags and limits."""
    page = ResultsRepo(request.app.state.engine).results(
        p.scope, "outlet_hour", subjects=split_codes(site, "site"), start_utc=t.start_utc, end_utc=t.end_utc,
        region_codes=regions, limit=pg.limit, offset=pg.offset)
    rows = [{"site": r["subject"], "name": r["subject_name"], "hour_utc": r["period_utc"], "standard": r["edition"],
             "exceeding": r["primary_pollutants"], **r["result"], "valid_minutes": r["coverage"]} for r in page.rows]
    return respond(p, rows, fmt, found=page.found, page=pg.page, limit=pg.limit, filename="emissions")


@router.get("/emissions/exceedances", tags=[EMISSIONS_TAG], summary="超标记录 / Exceedances of outlets")
def exceedances(request: Request, pg: PagingDep, t: TimeDep, regions: RegionDep,
                p: Annotated[Principal, Depends(require(Perm.READ_DATA))], fmt: FormatDep = Format.json,
                site: Subject = None) -> Response:
    """Monthly exceedance judgements of outlets: each exceeding hour and each exclusion with its reason."""
    page = ResultsRepo(request.app.state.engine).results(
        p.scope, "outlet_month", subjects=split_codes(site, "site"), start_utc=t.start_utc, end_utc=t.end_utc,
        region_codes=regions, limit=pg.limit, offset=pg.offset)
    rows = [{"site": r["subject"], "name": r["subject_name"], "month_utc": r["period_utc"], "standard": r["edition"],
             "pollutants": r["primary_pollutants"], "exceedances": r["result"].get("exceedances", []),
             "exclusions": r["result"].get("exclusions", []), "limits": r["result"].get("limits", {}),
             "coverage": r["coverage"]} for r in page.rows]
    return respond(p, rows, fmt, found=page.found, page=pg.page, limit=pg.limit, filename="exceedances")
