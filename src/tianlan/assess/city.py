"""City results (HJ 663): city values from evaluation stations, daily city AQI, monthly and annual
city statistics, the composite index ranking of a province's cities and year-on-year change.

City value (HJ 663 §5.3; reference README §4): the arithmetic mean over the city's **evaluation
stations** — background/control sites (``control_site`` = Y, 清洁对照点) are excluded — of the
stations' valid values of the same period and statistic: hourly means per hour, and per day the
daily means, the O3 daily maximum 1 h and the O3 daily maximum 8 h of the stations. A city value
needs at least ``min_stations`` valid station values (default 1; HJ 663 gives no share that we
could confirm — UNCONFIRMED, configurable).

Daily city AQI: the daily report of the AQI engine (:mod:`tianlan.assess.aqi_frame`) applied to the
city daily values, edition by calendar date (``auto``) or by name. A *valid day* is one with a
daily AQI; *excellent/good days* those with AQI ≤ 100 (reference README §4.5).

Monthly and annual statistics (HJ 663 Table 1, README §4.1): means of SO2, NO2, PM10, PM2.5; CO
95th percentile of daily means; O3 90th percentile of daily maximum 8 h means (percentile method of
HJ 663, :func:`tianlan.assess.aggregate.percentile`), each valid with ≥ 27 daily values (February 25)
for a month and ≥ 324 (and each month's minimum) for a year (GB 3095 Table 4). The composite index
and rank come from :mod:`tianlan.assess.composite` (computed from the unrounded statistics; tables
show them rounded as published: whole µg/m3, CO 1 decimal, index 2 decimals).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

from tianlan.assess.aggregate import (
    DAILY_STATS,
    MONTHLY_STATS,
    DailyValues,
    HourlyCube,
    PeriodStatistics,
    daily_values,
    hourly_cube,
    month_statistics,
    year_statistics,
)
from tianlan.assess.composite import (
    COMPONENTS,
    DEFAULT_CONFIG,
    CompositeConfig,
    change_pct,
    change_points,
    composite_arrays,
    good_day_ratio,
    rank,
)
from tianlan.errors import InputError

_TRUE = {"y", "yes", "1", "true", "t", "是"}
_FALSE = {"n", "no", "0", "false", "f", "否", ""}


@dataclass(frozen=True)
class Network:
    """Stations and their cities. ``city_of`` maps every station code to its city; ``control`` holds
    the background/control sites (kept out of city values); ``cities`` in first-seen order."""

    city_of: Mapping[str, str]
    control: frozenset[str]
    cities: tuple[str, ...]

    def evaluation_stations(self, city: str) -> list[str]:
        """The city's stations that count for its city value (control sites excluded)."""
        return [s for s, c in self.city_of.items() if c == city and s not in self.control]

    def membership(self, keys: Sequence[str], *, strict: bool = False) -> np.ndarray:
        """(cities, keys) 0/1 matrix: 1 where station `keys[j]` is an evaluation station of city i.

        With `strict`, a key unknown to the network raises InputError("station"); otherwise it
        belongs to no city.
        """
        idx = {c: i for i, c in enumerate(self.cities)}
        m = np.zeros((len(self.cities), len(keys)))
        for j, k in enumerate(keys):
            c = self.city_of.get(k)
            if c is None:
                if strict:
                    raise InputError("station", f"not in the station list / 站点表中没有该站点: {k!r}")
                continue
            if k not in self.control:
                m[idx[c], j] = 1.0
        return m


def network(stations: pl.DataFrame | Mapping[str, tuple[str, bool]], *, where: str = "stations") -> Network:
    """A :class:`Network` from a table with ``code``, ``city``, ``control_site`` (Y/N, 是/否, 1/0,
    true/false; empty = N) or from a mapping code → (city, is_control).

    Raises InputError naming the column and the line (the header is line 1) for a missing column, an
    empty code or city, a duplicate code or an unreadable ``control_site``.
    """
    if not isinstance(stations, pl.DataFrame):
        given = {k: c for k, (c, _) in stations.items()}
        return Network(given, frozenset(k for k, (_, ctl) in stations.items() if ctl), tuple(dict.fromkeys(given.values())))
    for col in ("code", "city", "control_site"):
        if col not in stations.columns:
            raise InputError(col, f"missing column / 缺少列 (have {', '.join(stations.columns)})", where=where)
    city_of: dict[str, str] = {}
    control: set[str] = set()
    for i, (code, city, ctl) in enumerate(stations.select(
            pl.col("code").cast(pl.Utf8), pl.col("city").cast(pl.Utf8), pl.col("control_site").cast(pl.Utf8)
    ).iter_rows(), start=2):
        line = f"{where} 第 {i} 行 / line {i}"
        code = (code or "").strip()
        city = (city or "").strip()
        if not code:
            raise InputError("code", "empty station code / 站点编码为空", where=line)
        if not city:
            raise InputError("city", f"empty city for station {code} / 城市为空", where=line)
        if code in city_of:
            raise InputError("code", f"duplicate station code / 站点编码重复 {code!r}", where=line)
        flag = (ctl or "").strip().lower()
        if flag in _TRUE:
            control.add(code)
        elif flag not in _FALSE:
            raise InputError("control_site", f"expected Y or N, got {ctl!r} / 应为 Y 或 N", where=line)
        city_of[code] = city
    return Network(city_of, frozenset(control), tuple(dict.fromkeys(city_of.values())))


# -- city values --------------------------------------------------------------------------------------


def _city_mean(x: np.ndarray, m: np.ndarray, min_stations: int) -> tuple[np.ndarray, np.ndarray]:
    """Mean over member stations of (stations, …) values `x` → (cities, …), NaN with fewer than
    `min_stations` valid station values; plus the station counts."""
    flat = x.reshape(x.shape[0], -1)
    ok = np.isfinite(flat)
    sums = m @ np.where(ok, flat, 0.0)
    n = m @ ok.astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where((n >= max(min_stations, 1)), sums / n, np.nan)
    shape = (m.shape[0],) + x.shape[1:]
    return mean.reshape(shape), n.reshape(shape).astype(np.int32)


def city_hourly(cube: HourlyCube, net: Network, *, min_stations: int = 1) -> HourlyCube:
    """City hourly means: mean of the evaluation stations' valid hourly values (control sites
    excluded). ``present``/``flagged`` become per-day sums over member stations."""
    m = net.membership(cube.keys)
    values, present, flagged = {}, {}, {}
    for p, x in cube.values.items():
        values[p] = _city_mean(x, m, min_stations)[0]
        present[p] = (m @ cube.present[p]).astype(np.int32)
        flagged[p] = (m @ cube.flagged[p]).astype(np.int32)
    return HourlyCube(net.cities, cube.start, cube.n_days, values, present, flagged)


def city_daily(daily: DailyValues, net: Network, *, min_stations: int = 1) -> DailyValues:
    """City daily statistics: per day, the mean of the evaluation stations' valid daily statistics
    (SO2 … PM2.5 daily means, O3 daily max 1 h, O3 daily max 8 h). Coverage counts stations:
    ``expected`` the city's evaluation stations in the data, ``valid`` those with a valid value,
    ``present`` those that sent any data that day, ``flagged`` those with flag-excluded hours."""
    m = net.membership(daily.keys)
    n_eval = m.sum(axis=1).astype(np.int32)
    values, valid, present, flagged = {}, {}, {}, {}
    expected: dict[str, int | np.ndarray] = {}
    for s, x in daily.values.items():
        values[s], valid[s] = _city_mean(x, m, min_stations)
        present[s] = (m @ (daily.present[s] > 0)).astype(np.int32)
        flagged[s] = (m @ (daily.flagged[s] > 0)).astype(np.int32)
        expected[s] = n_eval
    return DailyValues(net.cities, daily.start, daily.n_days, values, valid, present, flagged, expected,
                       list(daily.standard))


# -- AQI over arrays ---------------------------------------------------------------------------------


@dataclass
class DailyAqi:
    """Daily AQI per key and day: ``aqi`` (keys, days) float, NaN where no AQI; ``edition`` per day."""

    keys: tuple[str, ...]
    start: dt.date
    aqi: np.ndarray
    edition: list[str]
    primary: np.ndarray | None = None

    def good(self) -> np.ndarray:
        """True where the day is excellent or good (AQI ≤ 100)."""
        return np.isfinite(self.aqi) & (self.aqi <= 100)


def daily_aqi(daily: DailyValues, *, choice: str = "auto") -> DailyAqi:
    """Daily AQI of every key and day from its daily statistics (HJ 633 daily report: daily means,
    ``O3`` daily max 1 h, ``O3_8h`` daily max 8 h; edition by calendar date with ``auto``), through
    the vectorised engine :func:`tianlan.assess.aqi_frame.daily_aqi_columns`."""
    from tianlan.assess.aqi_frame import NONE, daily_aqi_columns, names_of
    from tianlan.assess.editions import edition_for

    editions = [edition_for(d, "daily", choice) for d in daily.days]
    n_k = len(daily.keys)
    aqi = np.full((n_k, daily.n_days), np.nan)
    primary = np.zeros((n_k, daily.n_days), dtype=np.uint8)
    for ed in dict.fromkeys(editions):
        cols = np.flatnonzero(np.array([e is ed for e in editions]))
        values = {s: daily.values[s][:, cols].reshape(-1) for s in daily.values if s in DAILY_STATS}
        res = daily_aqi_columns(values, ed)
        a = res.aqi.reshape(n_k, len(cols)).astype(float)
        aqi[:, cols] = np.where(a == NONE, np.nan, a)
        primary[:, cols] = res.primary.reshape(n_k, len(cols))
    names = np.array([",".join(names_of(b)) for b in range(256)], dtype=object)
    return DailyAqi(daily.keys, daily.start, aqi, [e.value for e in editions], names[primary])


@dataclass
class HourlyAqi:
    """Hourly AQI per key on the cube's grid: ``aqi`` (keys, days, 24) int16, -1 where none;
    ``edition`` (days, 24) index into :data:`tianlan.assess.aqi_frame.EDITIONS`."""

    keys: tuple[str, ...]
    start: dt.date
    aqi: np.ndarray
    edition: np.ndarray


def hourly_aqi(cube: HourlyCube, *, choice: str = "auto") -> HourlyAqi:
    """Hourly (real-time report) AQI of every key and grid hour.

    Edition per hour by its hour-ending time (``auto``: HJ633-2012-published before 2026-03-01,
    HJ633-2026 after). The literal HJ633-2012 reading gets the PM10/PM2.5 24 h sliding means (≥ 20
    hours) and the O3 8 h sliding mean (≥ 6 hours) from the grid (GB 3095 Table 4); the SO2 24 h
    sliding mean is supplied for the 2012 SO2 > 800 µg/m3 substitution.
    """
    from tianlan.assess.aggregate import sliding_mean
    from tianlan.assess.aqi_frame import EDITIONS, editions_column, hourly_aqi_columns
    from tianlan.assess.editions import Edition

    n_k, n_d = len(cube.keys), cube.n_days
    base = np.datetime64(cube.start, "h")
    ends = base + np.arange(1, n_d * 24 + 1).astype("timedelta64[h]")
    ed_idx = editions_column(pl.Series("t", ends.astype("datetime64[us]")), "hourly", choice)
    aqi = np.full((n_k, n_d * 24), -1, dtype=np.int16)
    flat = {p: v.reshape(n_k, -1) for p, v in cube.values.items() if p in ("SO2", "NO2", "CO", "O3", "PM10", "PM2.5")}
    for ei in np.unique(ed_idx):
        ed = EDITIONS[int(ei)]
        cols = np.flatnonzero(ed_idx == ei)
        sl = slice(int(cols[0]), int(cols[-1]) + 1)  # editions change once in time: a contiguous block
        if sl.stop - sl.start != len(cols):  # pragma: no cover - not contiguous (a future auto table)
            sl = cols  # type: ignore[assignment]
        values = {p: v[:, sl].reshape(-1) for p, v in flat.items()}
        extras: dict[str, np.ndarray | None] = {}
        if ed is Edition.HJ633_2012:
            for arg, p, w, need in (("pm10_24h_sliding", "PM10", 24, 20), ("pm25_24h_sliding", "PM2.5", 24, 20),
                                    ("o3_8h", "O3", 8, 6)):
                if p in cube.values:
                    extras[arg] = sliding_mean(cube, p, w, need).reshape(n_k, -1)[:, sl].reshape(-1)
        if ed is not Edition.HJ633_2026 and "SO2" in values and np.nanmax(values["SO2"], initial=0) > 800:
            extras["so2_24h"] = sliding_mean(cube, "SO2", 24, 20).reshape(n_k, -1)[:, sl].reshape(-1)
        res = hourly_aqi_columns(values, ed, **extras)  # type: ignore[arg-type]
        aqi[:, sl] = res.aqi.reshape(n_k, len(cols))
    return HourlyAqi(cube.keys, cube.start, aqi.reshape(n_k, n_d, 24), ed_idx.reshape(n_d, 24))


# -- period tables ---------------------------------------------------------------------------------


def _r(x: float, nd: int) -> float | None:
    from tianlan.assess.composite import round_half_even

    return None if x is None or not np.isfinite(x) else round_half_even(float(x), nd)


STAT_DECIMALS: dict[str, int] = {"SO2": 0, "NO2": 0, "PM10": 0, "PM2.5": 0, "CO_p95": 1, "O3_8h_p90": 0,
                                 "SO2_p98": 0, "NO2_p98": 0, "PM10_p95": 0, "PM2.5_p95": 0}
"""Published decimals of each statistic (µg/m3 whole numbers; CO mg/m3 one decimal; README §9.10)."""


def city_table(stats: PeriodStatistics, aqi: DailyAqi | None, *, config: CompositeConfig = DEFAULT_CONFIG,
               raw: bool = False) -> pl.DataFrame:
    """The city table of one period: one row per city with its statistics (rounded as published
    unless `raw`), valid days per statistic, AQI valid/excellent-good days and ratio, the single and
    composite indices, the pollutant(s) with the largest single index, the rank (ascending composite
    index; ties share a rank; no rank without a composite index) and the editions used."""
    i0 = (stats.first - (aqi.start if aqi else stats.first)).days
    i1 = i0 + stats.expected_days
    cols: dict[str, object] = {"city": list(stats.keys)}
    for s in stats.values:
        v = stats.values[s]
        cols[s] = [None if not np.isfinite(x) else float(x) for x in v] if raw else [_r(x, STAT_DECIMALS[s]) for x in v]
    for s in stats.values:
        cols[f"days_{s}"] = stats.valid_days[s].tolist()
    if aqi is not None:
        a = aqi.aqi[:, max(i0, 0):max(i1, 0)]
        valid = np.isfinite(a).sum(axis=1)
        good = (np.isfinite(a) & (a <= 100)).sum(axis=1)
        cols["valid_days"] = valid.tolist()
        cols["good_days"] = good.tolist()
        cols["good_ratio"] = [good_day_ratio(int(g), int(n)) for g, n in zip(good, valid, strict=True)]
    total, single = composite_arrays({c: stats.values[c] for c in COMPONENTS}, config)
    for c in COMPONENTS:
        cols[f"I_{c}"] = [_r(x, 3) for x in single[c]]
    cols["composite_index"] = [_r(x, config.decimals) for x in total]
    i_max = np.full(len(stats.keys), np.nan)
    for c in COMPONENTS:
        i_max = np.fmax(i_max, single[c])
    cols["I_max"] = [_r(x, 3) for x in i_max]
    cols["primary"] = [_max_pollutants(single, i) for i in range(len(stats.keys))]
    cols["rank"] = rank(total, decimals=config.decimals)
    editions = sorted(set(aqi.edition[max(i0, 0):max(i1, 0)])) if aqi is not None else []
    cols["edition"] = [" + ".join(editions)] * len(stats.keys)
    cols["standard"] = [stats.standard] * len(stats.keys)
    cols["composite_limits"] = [config.label] * len(stats.keys)
    df = pl.DataFrame(cols, strict=False)
    if raw:
        df = df.with_columns(pl.Series("composite_index", [None if not np.isfinite(x) else float(x) for x in total],
                                       dtype=pl.Float64))
    return df.sort(pl.col("rank").fill_null(10**9), "city")


def _max_pollutants(single: Mapping[str, np.ndarray], i: int) -> str:
    """The pollutant(s) with the largest single index I_i (the period's primary pollutant, README §4.4)."""
    vals = {c: single[c][i] for c in COMPONENTS if np.isfinite(single[c][i])}
    if not vals:
        return ""
    top = max(round(v, 12) for v in vals.values())
    return ",".join(c.split("_")[0] for c, v in vals.items() if round(v, 12) == top)


def add_year_on_year(current: pl.DataFrame, previous: pl.DataFrame,
                     columns: Sequence[str] = ("composite_index", "PM2.5", "PM10", "O3_8h_p90", "good_ratio"), *,
                     current_raw: pl.DataFrame | None = None, previous_raw: pl.DataFrame | None = None
                     ) -> pl.DataFrame:
    """`current` city table with the previous year's values (``<c>_prev``, as published) and the
    year-on-year changes (同比): percent for concentrations and the composite index
    (``<c>_yoy_pct``), percentage points for the good-day ratio (``good_ratio_yoy_pts``). Changes
    are computed from the unrounded values when the ``raw=True`` tables are given, else from the
    published ones. Cities missing last year get nulls."""
    cols = [c for c in columns if c in current.columns and c in previous.columns]
    out = current.join(previous.select("city", *[pl.col(c).alias(f"{c}_prev") for c in cols]), on="city", how="left")
    cur = (current_raw if current_raw is not None else current).select("city", *cols)
    prev = (previous_raw if previous_raw is not None else previous).select("city", *cols)
    basis = out.select("city").join(cur, on="city", how="left").join(prev, on="city", how="left", suffix="__p")
    for c in cols:
        fn = change_points if c == "good_ratio" else change_pct
        name = f"{c}_yoy_pts" if c == "good_ratio" else f"{c}_yoy_pct"
        vals = [fn(a, b) for a, b in zip(basis[c].to_list(), basis[f"{c}__p"].to_list(), strict=True)]
        out = out.with_columns(pl.Series(name, vals, dtype=pl.Float64))
    return out


# -- whole pipeline ------------------------------------------------------------------------------------


@dataclass
class ProvinceAssessment:
    """Everything derived from a province's hourly station data."""

    station_daily: DailyValues
    city_daily: DailyValues
    city_aqi: DailyAqi
    network: Network


def assess_province(hourly: pl.DataFrame | HourlyCube, net: Network, *, choice: str = "auto",
                    hour_label: str = "start", min_stations: int = 1,
                    start: dt.date | None = None, end: dt.date | None = None) -> ProvinceAssessment:
    """Station daily values, city daily values and the daily city AQI of hourly station data
    (a frame as for :func:`~tianlan.assess.aggregate.hourly_cube`, or a cube)."""
    if isinstance(hourly, HourlyCube):
        cube = hourly
    else:
        cube = hourly_cube(hourly, hour_label=hour_label, start=start, end=end)  # type: ignore[arg-type]
    net.membership(cube.keys, strict=True)
    sd = daily_values(cube, choice=choice)
    cd = city_daily(sd, net, min_stations=min_stations)
    return ProvinceAssessment(sd, cd, daily_aqi(cd, choice=choice), net)


def month_table(pa: ProvinceAssessment, year: int, month: int, *, config: CompositeConfig = DEFAULT_CONFIG,
                raw: bool = False) -> pl.DataFrame:
    """The monthly city table with composite index and rank (see :func:`city_table`)."""
    stats = month_statistics(pa.city_daily, year, month, stats=MONTHLY_STATS)
    return city_table(stats, pa.city_aqi, config=config, raw=raw)


def year_table(pa: ProvinceAssessment, year: int, *, config: CompositeConfig = DEFAULT_CONFIG,
               raw: bool = False) -> pl.DataFrame:
    """The annual city table (statistics of HJ 663 Table 1, composite index, rank)."""
    stats = year_statistics(pa.city_daily, year)
    return city_table(stats, pa.city_aqi, config=config, raw=raw)


def monthly_rankings(pa: ProvinceAssessment, year: int, *, config: CompositeConfig = DEFAULT_CONFIG
                     ) -> dict[int, pl.DataFrame]:
    """The twelve monthly city tables of `year` (months without data give tables without ranks)."""
    return {m: month_table(pa, year, m, config=config) for m in range(1, 13)}
