"""What QC reads: series and contexts from files (``qc scan --input``) or from the store.

Files (UTF-8 CSV, header on line 1):

* ``F.csv`` — observations, either **wide** ``station,time,SO2,NO2,CO,O3,PM10,PM2.5`` (any subset of
  the six pollutant columns, optional ``<P>_flag`` columns with HJ 212 flags; other columns ignored)
  or **long** ``station,time,parameter,value[,flag]`` (``parameter`` an HJ 212 code or one of the six
  names). Values in the parameter's unit (µg/m³, CO mg/m³ for ambient air); empty = missing;
  negative values are kept (range checks judge them).
* ``time`` — ISO 8601, Beijing time unless it carries a zone (``2019-01-01T08:00``,
  ``2019-01-01 08:00:00``, ``2019-01-01T00:00Z``). By default a time is the **start** of its period,
  as HJ 212 ``DataTime`` is (``--hour-label start``); the CNEMC release labels each hour by its
  **end** (08:00 = 07:00–08:00): read such files with ``--hour-label end``. Series times are always
  period starts.
* ``S.csv`` — stations ``code,city,lon,lat[,control_site]`` (WGS-84 degrees; ``control_site`` Y = a
  background/control site); optional ``name`` and ``kind`` (air | water | source, default air).

Series are put on a regular grid per station (the step is the most common interval of its times:
3600 s for hourly data): every slot from the first to the last time of the whole input exists and
a slot without data is NaN, so that gaps are visible to completeness checks and a station's
parameters and its neighbours line up by index.

Neighbours (for spatial and cross-station detectors), documented default: the other non-control
stations of the **same city within 15 km** (haversine distance); when that gives fewer than 3, the
nearest stations of any city within 50 km are added until there are 3. Control/background sites
are never used as neighbours (they are clean by design), but get neighbours themselves.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import polars as pl

from tianlan.errors import InputError
from tianlan.model.parameters import unit_for
from tianlan.model.timeutil import BEIJING
from tianlan.qc.config import NAMES, parameter_code, parameter_label
from tianlan.qc.core import Context, Series

HourLabel = Literal["start", "end"]

#: GB 3095-2012 Grade II limits given to detectors as ``Context.limits`` for ambient-air stations:
#: the 24-hour limits (µg/m³, CO mg/m³) and, for O3, the 1-hour limit.
AIR_LIMITS: dict[str, float] = {"a21026": 150.0, "a21004": 80.0, "a21005": 4.0, "a05024": 200.0, "a34002": 150.0,
                                "a34004": 75.0}
NEIGHBOUR_RADIUS_KM = 15.0
NEIGHBOUR_MIN = 3
NEIGHBOUR_MAX_KM = 50.0
EARTH_RADIUS_KM = 6371.0088


@dataclass
class StationMeta:
    """A station as QC sees it (from S.csv or the registry)."""

    code: str
    city: str = ""
    lon: float | None = None
    lat: float | None = None
    control_site: bool = False
    kind: str = "air"
    name: str = ""
    region: str = ""
    regions: tuple[str, ...] = ()  # what scope.regions may name (city names, region codes up the tree)
    attrs: dict[str, Any] = field(default_factory=dict)
    device_ids: tuple[int, ...] = ()

    def context_attrs(self) -> dict[str, Any]:
        regions = tuple(dict.fromkeys([*self.regions, *(x for x in (self.city, self.region) if x)]))
        return {**self.attrs, "kind": self.kind, "city": self.city, "region": self.region, "regions": regions,
                "lon": self.lon, "lat": self.lat, "control_site": self.control_site, "name": self.name}


@dataclass
class Dataset:
    """Everything a batch scan needs: stations, their series (station → HJ 212 code → Series),
    contexts, and the label each parameter had in the input (for output files)."""

    stations: dict[str, StationMeta]
    series: dict[str, dict[str, Series]]
    contexts: dict[str, Context]
    labels: dict[str, str]
    start_utc: int
    end_utc: int

    @property
    def n_values(self) -> int:
        return sum(len(s) for per in self.series.values() for s in per.values())


# --- helpers ---------------------------------------------------------------------------------------


def _line(name: str, i: int) -> str:
    """Where data row ``i`` (0-based) is: the header is line 1."""
    return f"{name} 第 {i + 2} 行 / line {i + 2}"


def _read_csv(path: Path, option: str) -> pl.DataFrame:
    try:
        df = pl.read_csv(path, infer_schema=False, encoding="utf8-lossy")
    except FileNotFoundError:
        raise InputError(option, f"文件不存在 / file not found: {path}") from None
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError, OSError) as e:
        raise InputError(option, f"无法读取 CSV / cannot read CSV: {e}", where=str(path)) from None
    return df.rename({c: c.strip().lstrip("\ufeff") for c in df.columns})


def _text(df: pl.DataFrame, col: str) -> pl.Series:
    return df[col].str.strip_chars().fill_null("")


def parse_time(text: str) -> int:
    """UTC epoch seconds of an ISO 8601 time; no zone = Beijing time. Raises ValueError."""
    s = text.strip()
    if len(s) == 10 and s[4] == "-":
        s += "T00:00"
    d = datetime.fromisoformat(s.replace("Z", "+00:00"))
    if d.tzinfo is None:
        d = d.replace(tzinfo=BEIJING)
    return int(d.timestamp())


def _times(df: pl.DataFrame, name: str) -> np.ndarray:
    """The ``time`` column as UTC epoch seconds (each distinct text parsed once)."""
    text = _text(df, "time")
    uniq = text.unique(maintain_order=True)
    lookup: dict[str, int] = {}
    for s in uniq.to_list():
        try:
            lookup[s] = parse_time(s)
        except ValueError:
            i = int((text == s).arg_true()[0])
            raise InputError("time", f"应为 ISO 8601 时间（北京时间）/ expected an ISO 8601 time (Beijing time unless "
                                     f"zoned), got {s!r}", where=_line(name, i)) from None
    return text.replace_strict(lookup, return_dtype=pl.Int64).to_numpy()


def _numbers(df: pl.DataFrame, col: str, name: str) -> np.ndarray:
    text = df[col].str.strip_chars()
    num = text.cast(pl.Float64, strict=False)
    bad = text.is_not_null() & (text != "") & (num.is_null() | num.is_infinite())
    if bad.any():
        i = int(bad.arg_true()[0])
        raise InputError(col, f"应为数字 / expected a number, got {df[col][i]!r}", where=_line(name, i))
    return num.fill_null(float("nan")).to_numpy()


def haversine_km(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in km between two WGS-84 points (haversine, mean Earth radius)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


# --- stations --------------------------------------------------------------------------------------


def read_stations(path: Path) -> dict[str, StationMeta]:
    """S.csv: ``code,city,lon,lat[,control_site][,name][,kind]`` → stations by code."""
    df = _read_csv(path, "--stations")
    for c in ("code", "city", "lon", "lat"):
        if c not in df.columns:
            raise InputError(c, f"缺少列 / missing column (have {', '.join(df.columns)})", where=str(path))
    if df.height == 0:
        raise InputError("--stations", "没有数据行 / no data rows", where=str(path))
    codes = _text(df, "code")
    lon, lat = _numbers(df, "lon", path.name), _numbers(df, "lat", path.name)
    ctl = _text(df, "control_site").str.to_uppercase() if "control_site" in df.columns else None
    kinds = _text(df, "kind").str.to_lowercase() if "kind" in df.columns else None
    out: dict[str, StationMeta] = {}
    for i, code in enumerate(codes.to_list()):
        where = _line(path.name, i)
        if not code:
            raise InputError("code", "站点编码为空 / empty station code", where=where)
        if code in out:
            raise InputError("code", f"重复的站点 / duplicate station {code!r}", where=where)
        x, y = float(lon[i]), float(lat[i])
        if math.isnan(x) != math.isnan(y):
            raise InputError("lat" if math.isnan(y) else "lon", "经纬度须同时给出 / lon and lat must be given together",
                             where=where)
        if not math.isnan(x) and not (-180 <= x <= 180 and -90 <= y <= 90):
            raise InputError("lon" if not -180 <= x <= 180 else "lat", f"超出范围 / out of range: {x}, {y}", where=where)
        flag = ctl[i] if ctl is not None else ""
        if flag not in ("", "Y", "N", "YES", "NO", "TRUE", "FALSE", "1", "0"):
            raise InputError("control_site", f"应为 Y 或 N / must be Y or N, got {flag!r}", where=where)
        kind = (kinds[i] if kinds is not None else "") or "air"
        if kind not in ("air", "water", "source"):
            raise InputError("kind", f"未知站点类型 / unknown kind {kind!r}; expected air | water | source", where=where)
        city = str(df["city"][i] or "").strip()
        name = str(df["name"][i] or "").strip() if "name" in df.columns else ""
        out[code] = StationMeta(code, city, None if math.isnan(x) else x, None if math.isnan(y) else y,
                                flag in ("Y", "YES", "TRUE", "1"), kind, name, regions=(city,) if city else ())
    return out


def find_neighbours(stations: Mapping[str, StationMeta], *, radius_km: float = NEIGHBOUR_RADIUS_KM,
                    min_count: int = NEIGHBOUR_MIN, max_km: float = NEIGHBOUR_MAX_KM) -> dict[str, dict[str, float]]:
    """Each station's neighbours → distance in km (see the module docstring for the rule)."""
    located = [s for s in stations.values() if s.lon is not None and s.lat is not None]
    out: dict[str, dict[str, float]] = {s: {} for s in stations}
    for s in located:
        assert s.lon is not None and s.lat is not None
        cands = sorted(((haversine_km(s.lon, s.lat, o.lon, o.lat), o) for o in located  # type: ignore[arg-type]
                        if o.code != s.code and not o.control_site and o.kind == s.kind), key=lambda x: (x[0], x[1].code))
        chosen = {o.code: d for d, o in cands if d <= radius_km and o.city == s.city and s.city}
        for d, o in cands:
            if len(chosen) >= min_count or d > max_km:
                break
            chosen.setdefault(o.code, d)
        out[s.code] = {k: round(v, 3) for k, v in sorted(chosen.items(), key=lambda kv: kv[1])}
    return out


def build_contexts(series: Mapping[str, Mapping[str, Series]], stations: Mapping[str, StationMeta], *,
                   neighbours: Mapping[str, Mapping[str, float]] | None = None) -> dict[str, Context]:
    """One context per station with series: its own series, its neighbours' series and distances,
    limits (GB 3095 Grade II for air; the registry's ``attrs.limits`` for others), attributes and
    the network — one mapping per kind of site shared by all its contexts: every station of that
    kind in ``series`` (FOR-06 looks for days copied from any of them)."""
    nb = find_neighbours(stations) if neighbours is None else neighbours
    # one shared mapping per kind of site (Context.network): every station of the scan of that kind
    networks: dict[str, dict[str, Mapping[str, Series]]] = {}
    for code, own in series.items():
        kind = (stations.get(code) or StationMeta(code)).kind
        networks.setdefault(kind, {})[code] = own
    out: dict[str, Context] = {}
    for code, own in series.items():
        meta = stations.get(code) or StationMeta(code)
        near = {k: d for k, d in nb.get(code, {}).items() if k in series}
        limits = dict(AIR_LIMITS) if meta.kind == "air" else {}
        limits.update({parameter_code(k) if k in NAMES else k: float(v)
                       for k, v in (meta.attrs.get("limits") or {}).items() if isinstance(v, int | float)})
        out[code] = Context(code, series=own, neighbours={k: series[k] for k in near}, distances_km=near,
                            limits=limits, attrs=meta.context_attrs(), network=networks[meta.kind])
    return out


# --- observations ----------------------------------------------------------------------------------


def _common_step(times: np.ndarray) -> int:
    u = np.unique(times)
    if u.size < 2:
        return 3600
    d = np.diff(u)
    vals, counts = np.unique(d, return_counts=True)
    return int(vals[np.argmax(counts)])


def grid_series(long: pl.DataFrame, stations: Mapping[str, StationMeta], *, start_utc: int | None = None,
                end_utc: int | None = None, where: str = "input") -> dict[str, dict[str, Series]]:
    """Series on a regular grid per station from a long frame.

    ``long``: station, code, time_utc (period start), value (NaN = missing), flag (text or null),
    received_utc (float or null), row (the 0-based input row, for messages; optional). The grid
    covers [start, end) (default: first to last time of the frame).
    """
    if long.height == 0:
        return {}
    lo = int(long["time_utc"].min()) if start_utc is None else start_utc  # type: ignore[arg-type]
    hi = int(long["time_utc"].max()) if end_utc is None else end_utc - 1  # type: ignore[arg-type]
    has_row = "row" in long.columns
    out: dict[str, dict[str, Series]] = {}
    for (station,), part in long.sort("station", "time_utc").group_by(["station"], maintain_order=True):
        station = str(station)
        t_all = part["time_utc"].to_numpy()
        step = _common_step(t_all)
        t0 = int(t_all[0]) - ((int(t_all[0]) - lo) // step) * step  # on the station's own grid, at or before lo
        off = (t_all - t0) % step
        if off.any():
            i = int(np.argmax(off != 0))
            row = int(part["row"][i]) if has_row else i
            raise InputError("time", f"不在 {step} s 的时间网格上 / not on the station's {step} s grid "
                                     f"(station {station}, time {t_all[i]})", where=_line(where, row))
        n = (hi - t0) // step + 1
        times = t0 + step * np.arange(n, dtype=np.int64)
        kind = stations[station].kind if station in stations else "air"
        per: dict[str, Series] = {}
        for (code,), g in part.group_by(["code"], maintain_order=True):
            code = str(code)
            idx = (g["time_utc"].to_numpy() - t0) // step
            dup = np.unique(idx, return_counts=True)
            if (dup[1] > 1).any():
                slot = dup[0][np.argmax(dup[1] > 1)]
                i = int(np.argmax(idx == slot))
                row = int(g["row"][i]) if has_row else i
                raise InputError("time", f"重复的站点时间 / duplicate {station} {parameter_label(code)} at the same time",
                                 where=_line(where, row))
            keep = (idx >= 0) & (idx < n)
            idx = idx[keep]
            values = np.full(n, np.nan)
            values[idx] = g["value"].to_numpy()[keep]
            flags = None
            if "flag" in g.columns and g["flag"].null_count() < g.height:
                flags = np.full(n, None, dtype=object)
                flags[idx] = np.asarray(g["flag"].to_list(), dtype=object)[keep]
            received = None
            if "received_utc" in g.columns and g["received_utc"].null_count() < g.height:
                received = np.full(n, np.nan)
                received[idx] = g["received_utc"].fill_null(float("nan")).to_numpy()[keep]
            per[code] = Series(station, code, times, values, flags, received, unit_for(code, kind), step)
        out[station] = dict(sorted(per.items()))
    return out


def read_observations(path: Path, *, hour_label: HourLabel = "start",
                      stations: Mapping[str, StationMeta] | None = None) -> tuple[pl.DataFrame, dict[str, str]]:
    """F.csv as a long frame (station, code, time_utc = period start, value, flag, row) and the label
    each code had in the file. Stations not in ``stations`` (when given) are errors naming the line."""
    if hour_label not in ("start", "end"):
        raise InputError("--hour-label", f"应为 start 或 end / must be start or end, got {hour_label!r}")
    df = _read_csv(path, "--input")
    for c in ("station", "time"):
        if c not in df.columns:
            raise InputError(c, f"缺少列 / missing column (have {', '.join(df.columns)})", where=str(path))
    if df.height == 0:
        raise InputError("--input", "没有数据行 / no data rows", where=str(path))
    st = _text(df, "station")
    if (st == "").any():
        raise InputError("station", "站点为空 / empty station", where=_line(path.name, int((st == "").arg_true()[0])))
    if stations is not None:
        unknown = ~st.is_in(list(stations))
        if unknown.any():
            i = int(unknown.arg_true()[0])
            raise InputError("station", f"不在站点表中 / not in the stations file: {st[i]!r}", where=_line(path.name, i))
    t = _times(df, path.name)
    rows = np.arange(df.height, dtype=np.int64)
    labels: dict[str, str] = {}
    if "parameter" in df.columns or "value" in df.columns:  # long
        for c in ("parameter", "value"):
            if c not in df.columns:
                raise InputError(c, "长格式缺少列 / long format needs station,time,parameter,value[,flag]", where=str(path))
        ptext = _text(df, "parameter")
        lookup = {}
        for p in ptext.unique(maintain_order=True).to_list():
            i = int((ptext == p).arg_true()[0])
            lookup[p] = parameter_code(p, field="parameter", where=_line(path.name, i))
            labels.setdefault(lookup[p], p)
        flag = _text(df, "flag").replace("", None) if "flag" in df.columns else pl.Series([None] * df.height, dtype=pl.Utf8)
        long = pl.DataFrame({"station": st, "code": ptext.replace_strict(lookup, return_dtype=pl.Utf8), "time_utc": t,
                             "value": _numbers(df, "value", path.name), "flag": flag, "row": rows})
    else:  # wide
        present = [n for n in NAMES if n in df.columns]
        if not present:
            raise InputError("parameter", f"既非宽格式也非长格式 / neither wide ({','.join(NAMES)} columns) nor long "
                                          f"(parameter,value columns); have {', '.join(df.columns)}", where=str(path))
        parts = []
        for n in present:
            code = NAMES[n]
            labels[code] = n
            fcol = f"{n}_flag"
            flag = _text(df, fcol).replace("", None) if fcol in df.columns else pl.Series([None] * df.height, dtype=pl.Utf8)
            parts.append(pl.DataFrame({"station": st, "code": pl.Series([code] * df.height, dtype=pl.Utf8),
                                       "time_utc": t, "value": _numbers(df, n, path.name), "flag": flag, "row": rows}))
        long = pl.concat(parts)
    if hour_label == "end":
        # the label is the END of the period: shift by the station's step (1 h for hourly data)
        steps = {s: _common_step(g["time_utc"].to_numpy())
                 for (s,), g in long.select("station", "time_utc").unique().group_by(["station"])}
        long = long.with_columns(pl.col("time_utc") - pl.col("station").replace_strict(steps, return_dtype=pl.Int64))
    return long, labels


def load_files(input: Path, stations_path: Path, *, hour_label: HourLabel = "start") -> Dataset:
    """F.csv and S.csv → a dataset ready for :func:`tianlan.qc.runner.run_batch`."""
    stations = read_stations(stations_path)
    long, labels = read_observations(input, hour_label=hour_label, stations=stations)
    series = grid_series(long, stations, where=input.name)
    lo = min(int(s.times[0]) for per in series.values() for s in per.values())
    hi = max(int(s.times[-1]) + s.step_s for per in series.values() for s in per.values())
    return Dataset(stations, series, build_contexts(series, stations), labels, lo, hi)


# --- the store -------------------------------------------------------------------------------------


def site_attrs(site: Any) -> dict[str, Any]:
    """Context attributes of a registry site (:class:`tianlan.store.qc_repo.SiteRow`): its ``attrs``
    (limits, o2_ref …) plus ``expected_parameters`` when its devices declare them."""
    out = dict(site.attrs)
    if site.expected_parameters:
        out.setdefault("expected_parameters", list(site.expected_parameters))
    return out

Period = Literal["auto", "hour", "min"]


def load_store(engine: Any, start_utc: int, end_utc: int, *, kinds: Sequence[str] | None = None,
               period: Period = "auto", stations: Sequence[str] | None = None) -> Dataset:
    """Observations of registered sites in [start, end) as a dataset.

    ``period``: which observations are checked — ``hour`` data, ``min`` data, or ``auto`` (air and
    water sites: hour data, else minute data; enterprise outlets: minute data, else hour data). With
    several devices at a site the lowest device id wins a time slot. ``received`` times come from the
    raw archive.
    """
    from tianlan.store.qc_repo import QcRepo

    repo = QcRepo(engine)
    metas: dict[str, StationMeta] = {}
    for s in repo.sites(kinds):
        if stations is not None and s.code not in stations:
            continue
        metas[s.code] = StationMeta(s.code, s.city, s.lon, s.lat, s.background, s.kind, s.name, s.region, s.regions,
                                    site_attrs(s), s.device_ids)
    site_of = {d: m.code for m in metas.values() for d in m.device_ids}
    df = repo.observations(sorted(site_of), start_utc, end_utc)
    if df.height:
        df = df.with_columns(pl.col("device_id").replace_strict(site_of, return_dtype=pl.Utf8).alias("station"))
        chosen = []
        for (station,), part in df.group_by(["station"], maintain_order=True):
            kinds_there = set(part["kind"].unique().to_list())
            src = metas[str(station)].kind
            prefer: tuple[str, ...] = ("min", "hour") if src == "source" else ("hour", "min")
            if period != "auto":
                prefer = (period,)
            k = next((x for x in prefer if x in kinds_there), None)
            if k is not None:
                chosen.append(part.filter(pl.col("kind") == k))
        df = pl.concat(chosen) if chosen else df.clear()
        df = (df.sort("device_id").unique(["station", "parameter", "time_utc"], keep="first", maintain_order=True)
              .rename({"parameter": "code"}).with_columns(pl.col("value").fill_null(float("nan"))))
    series = grid_series(df, metas, start_utc=start_utc, end_utc=end_utc, where="store") if df.height else {}
    contexts = build_contexts(series, metas)
    attach_marks(engine, contexts, start_utc, end_utc)
    return Dataset(metas, series, contexts, {}, start_utc, end_utc)


def attach_marks(engine: Any, contexts: Mapping[str, Context], start_utc: int, end_utc: int) -> None:
    """Add to each context the enterprise data marks (2022 marking rule) stored for its station over
    [start, end) (:meth:`tianlan.store.marks_repo.MarksRepo.marks_for`), after any marks it already
    holds (e.g. from device flags), oldest first: MARK-01..03 and the CEMS detectors check them."""
    from tianlan.store.marks_repo import MarksRepo

    repo = MarksRepo(engine)
    for code, ctx in contexts.items():
        stored = repo.marks_for(code, start_utc, end_utc)
        if stored:
            ctx.marks = sorted([*ctx.marks, *stored], key=lambda m: (m.start_utc, m.end_utc))
