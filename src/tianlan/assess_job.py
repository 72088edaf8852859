"""``tianlan assess run``: official results for stored observations, month by month, incrementally.

Orchestration only: :class:`tianlan.store.assess_repo.AssessRepo` selects one Beijing-time month of
hour data (plus the day before, for sliding means) and writes results; ``tianlan.assess`` computes.
A month is the unit of recomputation: data frames stored since the last run (the watermark is the
last ``raw_frames.id`` assessed) name the months they touch — late data included — and each such
month is recomputed whole and its results replaced atomically. Every result records the standard
edition it used and the coverage of its inputs.

Results (``assessments.kind``):
- ``station_hour``: hourly (real-time report) AQI of a station; result = the hour's concentrations.
- ``station_day``: daily AQI and daily statistics of a station (GB 3095 validity, coverage).
- ``city_hour``: hourly (real-time report) AQI of a city: per pollutant the mean of its evaluation
  stations' valid hourly concentrations (background sites excluded, HJ 663 §4), then IAQI and
  AQI of that hour by HJ 633 in the hour's edition; coverage = stations with a value per pollutant.
- ``city_day``: city daily values from its evaluation stations (background sites excluded), AQI.
- ``city_month``: monthly city statistics, composite index and rank among the province's cities.
- ``outlet_hour`` / ``outlet_month``, ``water_sample`` / ``water_month``: see :mod:`tianlan.assess_sources`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

import numpy as np
import polars as pl

from tianlan.assess.aggregate import daily_values, hourly_cube
from tianlan.assess.aqi_frame import EDITIONS
from tianlan.assess.city import (
    ProvinceAssessment,
    add_year_on_year,
    city_daily,
    city_hourly,
    daily_aqi,
    hourly_aqi,
    month_table,
    network,
)
from tianlan.assess.levels import level_for
from tianlan.assess_sources import assess_outlets, assess_water
from tianlan.model.timeutil import BEIJING_OFFSET_S
from tianlan.store.assess_repo import AIR_CODES, AirStation, AssessmentRow, AssessRepo, beijing_month_bounds
from tianlan.store.portal_repo import PortalRepo

KINDS = ("station_hour", "city_hour", "station_day", "city_day", "city_month", "outlet_hour", "outlet_month", "water_sample",
         "water_month")
POLLUTANTS = tuple(AIR_CODES.values())


def _utc(day: dt.date, hour: int = 0) -> int:
    return int(dt.datetime(day.year, day.month, day.day, hour, tzinfo=dt.UTC).timestamp()) - BEIJING_OFFSET_S


def _num(x: float) -> float | None:
    return None if not np.isfinite(x) else round(float(x), 3)


def _expected(exp: object, ki: int, di: int) -> int:
    a = np.asarray(exp)
    return int(a if a.ndim == 0 else a[ki] if a.ndim == 1 else a[ki, di])


def _level(aqi: int | None, edition: str) -> str | None:
    lv = level_for(aqi, edition) if aqi is not None else None
    return lv.name if lv is not None else None


def _city_hours(cube, net, choice: str) -> list[AssessmentRow]:  # type: ignore[no-untyped-def]
    """``city_hour`` rows: city means of the evaluation stations' valid hourly values, HJ 633 AQI."""
    ch = city_hourly(cube, net)
    ha = hourly_aqi(ch, choice=choice)
    m = net.membership(cube.keys)
    n_st = {p: (m @ np.isfinite(v.reshape(v.shape[0], -1)).astype(float)).reshape(len(ch.keys), cube.n_days, 24)
            for p, v in cube.values.items() if p in POLLUTANTS}
    out: list[AssessmentRow] = []
    for ki, city in enumerate(ch.keys):
        for di in range(1, ch.n_days):
            day = ch.start + dt.timedelta(days=di)
            for h in range(24):
                conc = {p: _num(ch.values[p][ki, di, h]) for p in POLLUTANTS if p in ch.values}
                a = int(ha.aqi[ki, di, h])
                if a < 0 and not any(v is not None for v in conc.values()):
                    continue
                ed = EDITIONS[int(ha.edition[di, h])].value
                aqi = a if a >= 0 else None
                out.append(AssessmentRow("city_hour", city, _utc(day, h), ed, aqi, _level(aqi, ed), None,
                                         {"concentrations": conc},
                                         {"stations": {p: int(n[ki, di, h]) for p, n in n_st.items()}}))
    return out


def assess_month(repo: AssessRepo, stations: list[AirStation], year: int, month: int, *,
                 choice: str = "auto") -> list[AssessmentRow]:
    """All results of one Beijing-time month (empty when there is no hour data)."""
    m0, m1 = beijing_month_bounds(year, month)
    frame = repo.hourly_frame(stations, m0 - 86400, m1)
    if frame.height == 0:
        return []
    first = dt.date(year, month, 1)
    last = (dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1))
    keys = sorted({s for s in frame["station"].to_list()})
    cube = hourly_cube(frame, hour_label="start", keys=keys, start=first - dt.timedelta(days=1), end=last)
    rows: list[AssessmentRow] = []
    # hourly AQI of each station (real-time report)
    ha = hourly_aqi(cube, choice=choice)
    for ki, code in enumerate(cube.keys):
        for di in range(1, cube.n_days):
            day = cube.start + dt.timedelta(days=di)
            for h in range(24):
                a = int(ha.aqi[ki, di, h])
                conc = {p: _num(cube.values[p][ki, di, h]) for p in POLLUTANTS if p in cube.values}
                if a < 0 and not any(v is not None for v in conc.values()):
                    continue
                ed = EDITIONS[int(ha.edition[di, h])].value
                aqi = a if a >= 0 else None
                rows.append(AssessmentRow("station_hour", code, _utc(day, h), ed, aqi, _level(aqi, ed), None,
                                          {"concentrations": conc}, {"pollutants": sum(v is not None for v in conc.values())}))
    net = network({s.code: (s.city, s.background) for s in stations if s.code in cube.keys})
    rows += _city_hours(cube, net, choice)
    # daily values and AQI of each station, then of each city
    sd = daily_values(cube, choice=choice)
    cd = city_daily(sd, net)
    for kind, daily in (("station_day", sd), ("city_day", cd)):
        da = daily_aqi(daily, choice=choice)
        for ki, key in enumerate(daily.keys):
            for di in range(1, daily.n_days):
                values = {s: _num(daily.values[s][ki, di]) for s in daily.values}
                a = da.aqi[ki, di]
                if not np.isfinite(a) and all(v is None for v in values.values()):
                    continue
                aqi = int(a) if np.isfinite(a) else None
                ed = da.edition[di]
                primary = da.primary[ki, di] if da.primary is not None else None
                coverage = {s: {"valid": int(daily.valid[s][ki, di]), "present": int(daily.present[s][ki, di]),
                                "flagged": int(daily.flagged[s][ki, di]), "expected": _expected(daily.expected[s], ki, di)}
                            for s in daily.values}
                rows.append(AssessmentRow(kind, key, _utc(daily.start + dt.timedelta(days=di)), ed, aqi, _level(aqi, ed),
                                          primary or None, {"values": values, "standard": daily.standard[di]}, coverage))
        if kind == "city_day":
            city_aqi = da
    # the month's city table: statistics, composite index, rank
    pa = ProvinceAssessment(sd, cd, city_aqi, net)
    table = month_table(pa, year, month)
    # year-on-year (同比) against the same month last year, when it has been assessed
    p0, p1 = beijing_month_bounds(year - 1, month)
    prev = repo.results("city_month", start_utc=p0, end_utc=p1)
    if prev:
        cols = ("composite_index", "PM2.5", "PM10", "O3_8h_p90", "good_ratio")
        previous = pl.DataFrame([{"city": r["subject"], **{c: r["result"].get(c) for c in cols}} for r in prev],
                                schema={"city": pl.Utf8, **{c: pl.Float64 for c in cols}})
        table = add_year_on_year(table, previous, cols)
    for r in table.iter_rows(named=True):
        cov = {k[5:]: v for k, v in r.items() if k.startswith("days_")}
        cov["valid_days"] = r.get("valid_days")
        rows.append(AssessmentRow("city_month", r["city"], m0, r["edition"] or "", None, None, r.get("primary") or None,
                                  {k: v for k, v in r.items() if not k.startswith("days_")}, cov))
    return rows


def run_assessment(engine, *, months: Iterable[tuple[int, int]] | None = None, choice: str = "auto",  # type: ignore[no-untyped-def]
                   progress: Callable[[tuple[int, int], int], None] | None = None) -> dict:
    """Assess ``months`` (Beijing time), or — by default — every month touched by data stored since
    the last run. Returns {"months": [...], "results": n, "watermark": id}."""
    repo = AssessRepo(engine)
    watermark = None
    if months is None:
        touched, watermark = repo.touched_months(repo.watermark())
        months = touched
    stations = repo.air_stations()
    done = []
    total = 0
    for y, m in sorted(set(months)):
        m0, m1 = beijing_month_bounds(y, m)
        rows = assess_month(repo, stations, y, m, choice=choice)
        rows += assess_outlets(engine, m0, m1)
        rows += assess_water(engine, m0, m1, dt.date(y, m, 1))
        total += repo.replace(KINDS, m0, m1, rows)
        done.append(f"{y:04d}-{m:02d}")
        if progress is not None:
            progress((y, m), len(rows))
    if watermark is not None:
        repo.set_watermark(watermark)
    if done:
        PortalRepo(engine).stamp_results()  # public pages' caches compare this (tianlan.web.pages.page_cache)
    return {"months": done, "results": total, "watermark": watermark if watermark is not None else repo.watermark()}
