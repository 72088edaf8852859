"""``/api/v1`` observations: pages with flags, QC status and coverage; latest values; streamed export."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from enum import StrEnum
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from tianlan.errors import InputError
from tianlan.store.api_repo import GRAINS, ApiRepo, ObsFilter
from tianlan.web.api.envelope import Format, FormatDep, iso, meta, present, respond, stream_bytes
from tianlan.web.auth import Principal
from tianlan.web.deps import Caller, PagingDep, RegionDep, TimeDep, public_scope, require, split_codes
from tianlan.web.scope import Perm

router = APIRouter()
TAG = "observations 监测数据"
#: HJ 212 data flags (HJ 212-2017 Table 5 / reference §4.4) for readers of the API
FLAG_MEANINGS = {"N": "正常 normal", "F": "停运 stopped", "M": "维护 maintenance", "S": "手工输入 manual input",
                 "D": "故障 fault", "C": "校准 calibration", "T": "超测上限 above range", "B": "通讯异常 comms fault"}
MAX_EXPORT_DAYS = 400
LATEST_TTL_S = 5.0
EXPORT_COLUMNS = ("time", "site", "mn", "parameter", "kind", "value", "flag", "vmin", "vmax", "cou", "zs")


class Grain(StrEnum):
    raw = "raw"
    rtd = "rtd"
    min = "min"
    hour = "hour"
    day = "day"


class ExportFormat(StrEnum):
    csv = "csv"
    ndjson = "ndjson"


def _filter(grain: Grain, t: Any, regions: frozenset[str] | None, site: str | None, mn: str | None,
            parameter: str | None) -> ObsFilter:
    return ObsFilter(kinds=GRAINS[grain.value], start_utc=t.start_utc, end_utc=t.end_utc,
                     parameters=split_codes(parameter, "parameter"), sites=split_codes(site, "site"),
                     mns=split_codes(mn, "mn"), regions=regions)


Site = Annotated[str | None, Query(max_length=400, description="点位代码，可逗号分隔 / site code(s), comma-separated")]
Mn = Annotated[str | None, Query(max_length=400, description="设备 MN，可逗号分隔 / device MN(s)")]
Param = Annotated[str | None, Query(max_length=400, description="因子代码，如 a34004 / HJ 212 parameter code(s)")]
GrainQ = Annotated[Grain, Query(description="raw（实时+分钟）| rtd | min | hour | day")]


@router.get("/observations", tags=[TAG], summary="监测数据 / Observations (raw, hour, day)")
def list_observations(request: Request, pg: PagingDep, t: TimeDep, regions: RegionDep,
                      p: Annotated[Principal, Depends(require(Perm.READ_DATA))], fmt: FormatDep = Format.json,
                      grain: GrainQ = Grain.hour, site: Site = None, mn: Mn = None, parameter: Param = None) -> Response:
    """Observations in the caller's scope, time order, with the device's data flag (HJ 212), the QC
    status of each value (QARTOD: 1 pass, 3 suspect, 4 fail, 9 missing; null = not checked) and,
    when ``start`` and ``end`` are given at a fixed grain, the coverage per parameter in meta."""
    repo = ApiRepo(request.app.state.engine)
    f = _filter(grain, t, regions, site, mn, parameter)
    page = repo.observations(p.scope, f, limit=pg.limit, offset=pg.offset)
    for r in page.rows:
        r["site"] = r.pop("site_code")
        r["flag_meaning"] = FLAG_MEANINGS.get(r["flag"] or "", None)
    extra: dict[str, Any] = {}
    if fmt is Format.json:
        extra["coverage"] = repo.coverage(p.scope, f)
    return respond(p, page.rows, fmt, found=page.found, page=pg.page, limit=pg.limit, filename="observations", **extra)


@router.get("/observations/export", tags=[TAG], summary="批量导出（流式）/ Bulk export, streamed")
def export_observations(request: Request, t: TimeDep, regions: RegionDep,
                        p: Annotated[Principal, Depends(require(Perm.READ_DATA))],
                        fmt: Annotated[ExportFormat, Query(alias="format", description="csv | ndjson")] = ExportFormat.csv,
                        grain: GrainQ = Grain.hour, site: Site = None, mn: Mn = None,
                        parameter: Param = None) -> Response:
    """Every observation in scope between ``start`` and ``end`` (both required, at most 400 days),
    streamed as it is read — no paging, constant memory, same scope as the pages."""
    if t.start_utc is None:
        raise InputError("start", "导出需要起止时间 / export needs start and end")
    if t.end_utc is None:
        raise InputError("end", "导出需要起止时间 / export needs start and end")
    if t.end_utc - t.start_utc > MAX_EXPORT_DAYS * 86400:
        raise InputError("end", f"导出最长 {MAX_EXPORT_DAYS} 天 / at most {MAX_EXPORT_DAYS} days per export")
    f = _filter(grain, t, regions, site, mn, parameter)
    repo = ApiRepo(request.app.state.engine)
    who = repo.device_labels()
    batches = repo.export(p.scope, f)
    name = f"observations-{grain.value}"
    if fmt is ExportFormat.csv:
        head = ("\ufeff" + ",".join(EXPORT_COLUMNS) + "\n").encode()
        return stream_bytes(_chain(head, _csv_lines(batches, who)), "text/csv; charset=utf-8", f"{name}.csv")
    return stream_bytes(_ndjson_lines(batches, who), "application/x-ndjson", f"{name}.ndjson")


def _chain(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from rest


def _csv_lines(batches: Iterator[list[tuple[Any, ...]]], who: dict[int, tuple[str | None, str]]) -> Iterator[bytes]:
    """CSV text of raw export rows, a batch at a time (f-strings: twice the csv module's speed here;
    codes, MNs and flags hold no commas or quotes — registry keys — and numbers need no quoting)."""
    times: dict[int, str | None] = {}
    labels = {i: f"{_csv_cell(site)},{_csv_cell(mn)}" for i, (site, mn) in who.items()}
    for rows in batches:
        if len(times) > 100_000:
            times.clear()
        out = []
        for t, dev, p, k, v, fl, a, b, c, z in rows:
            ts = times.get(t)
            if ts is None:
                ts = times[t] = iso(t)
            out.append(f"{ts},{labels.get(dev, ',')},{_csv_cell(p)},{k},{'' if v is None else v},{_csv_cell(fl)},"
                       f"{'' if a is None else a},{'' if b is None else b},{'' if c is None else c},"
                       f"{'' if z is None else z}\n")
        yield "".join(out).encode()


def _csv_cell(text: str | None) -> str:
    if not text:
        return ""
    if "," in text or '"' in text or "\n" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def _ndjson_lines(batches: Iterator[list[tuple[Any, ...]]], who: dict[int, tuple[str | None, str]]) -> Iterator[bytes]:
    times: dict[int, str | None] = {}
    for rows in batches:
        out = []
        for t, dev, p, k, v, fl, a, b, c, z in rows:
            ts = times.get(t)
            if ts is None:
                ts = times[t] = iso(t)
            site, mn = who.get(dev, (None, None))  # type: ignore[arg-type]
            out.append(orjson.dumps({"time": ts, "site": site, "mn": mn, "parameter": p, "kind": k, "value": v,
                                     "flag": fl, "vmin": a, "vmax": b, "cou": c, "zs": z}))
        yield b"\n".join(out) + b"\n"


class _LatestCache:
    """Latest values per (scope, filters) for a few seconds: the portal and department clients poll.

    When an entry expires, one request reloads it while the others keep getting the previous
    answer (at most a few seconds old), so that a poll burst never queues behind one query.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[Any, tuple[float, Any]] = {}
        self._loading: set[Any] = set()

    async def get(self, key: Any, load: Any) -> Any:
        """The cached rows of ``key``; ``load`` (blocking) runs in a worker thread when they are stale."""
        now = time.monotonic()
        hit = self._items.get(key)
        if hit is not None and now - hit[0] < LATEST_TTL_S:
            return hit[1]
        with self._lock:
            if hit is not None and key in self._loading:
                return hit[1]  # someone is reloading it
            self._loading.add(key)
        try:
            rows = await run_in_threadpool(load)
        finally:
            with self._lock:
                self._loading.discard(key)
        with self._lock:
            if len(self._items) > 256:
                self._items.clear()
            self._items[key] = (time.monotonic(), rows)
        return rows


def _latest_cache(request: Request) -> _LatestCache:
    st = request.app.state
    if not hasattr(st, "latest_cache"):
        st.latest_cache = _LatestCache()
    return st.latest_cache  # type: ignore[no-any-return]


class LatestKind(StrEnum):
    air = "air"
    water = "water"
    source = "source"


@router.get("/latest", tags=[TAG], summary="最新数据 / Latest values")
async def latest(request: Request, p: Caller, regions: RegionDep, fmt: FormatDep = Format.json,
           kind: Annotated[LatestKind, Query(description="air（公开）| water | source")] = LatestKind.air,
           parameter: Param = None) -> Response:
    """The newest value of each parameter at each site (within 3 h of the newest datum). Real-time
    air values are public; water sections and outlets need a user or key and stay in its scope."""
    scope = public_scope(p, frozenset({"air"}))
    params = split_codes(parameter, "parameter")
    key = (scope, kind.value, regions, params)
    repo = ApiRepo(request.app.state.engine)

    def load() -> tuple[list[dict[str, Any]], bytes]:
        rows = repo.latest(scope, site_kind=kind.value, region_codes=regions, parameters_=params)
        body = orjson.dumps({"meta": meta(p, found=len(rows)), "results": [present(r) for r in rows]},
                            option=orjson.OPT_NON_STR_KEYS)
        return rows, body

    rows, body = await _latest_cache(request).get(key, load)
    if fmt is Format.csv:
        flat = [{"site": r["site"], "name": r["name"], "kind": r["kind"], "region": r["region"], "lon": r["lon"],
                 "lat": r["lat"], "parameter": k, "grain": v["grain"], "time_utc": v["time_utc"], "value": v["value"],
                 "flag": v["flag"]} for r in rows for k, v in r["values"].items()]
        return respond(p, flat, fmt, filename="latest")
    return Response(body, media_type="application/json")
