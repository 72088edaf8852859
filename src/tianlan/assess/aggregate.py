"""Averages under the validity rules: minute → hour → day (means, O3 daily maxima) → month/year.

Pure NumPy/Polars; no database (DESIGN "SQL selects, NumPy/Polars compute"). Two layers share the
same kernels:

* single series — :func:`hourly_mean`, :func:`daily_mean`, :func:`daily_max_1h`,
  :func:`daily_max_8h`, :func:`period_mean`, :func:`period_percentile`, :func:`percentile` —
  returning :class:`Aggregate` (value + :class:`~tianlan.assess.validity.Coverage`);
* whole networks — :func:`hourly_cube` puts station-hours on a dense (station, day, hour) grid,
  :func:`daily_values` derives every daily statistic at once, :func:`period_statistics` the
  monthly/annual ones, :func:`sliding_mean` the 8 h / 24 h sliding means.

Time convention: an hour is identified by its **start** (HJ 212 DataTime, DESIGN "Times"), Beijing
time; grid hour index ``h`` (0…23) is the hour ``h:00–h+1:00``, i.e. hour ``h+1`` in the
hour-ending labels of Chinese monitoring practice (reference README §3.2). A natural day is hours
0…23 of its date. Data labelled by the end of the hour (the CNEMC release) are read with
``hour_label="end"``.

An invalid aggregate is NaN in arrays and ``None`` in :class:`Aggregate`; it is never filled in.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from typing import Literal

import numpy as np
import polars as pl

from tianlan.assess.validity import (
    POLLUTANTS,
    RULES_2012,
    Coverage,
    ValidityRules,
    days_in_month,
    rules_for,
    screen,
)
from tianlan.errors import InputError

DAILY_STATS: tuple[str, ...] = ("SO2", "NO2", "CO", "O3", "O3_8h", "PM10", "PM2.5")
"""Daily statistics, named as in the AQI input: daily means of SO2, NO2, CO, PM10, PM2.5; ``O3`` the
daily maximum 1 h mean; ``O3_8h`` the daily maximum 8 h sliding mean (HJ 633 §5.1.2, HJ 663)."""

MDA8_WINDOWS = 17
"""Candidate 8 h windows of a day: those ending at hours 8 … 24 (reference README §4.3)."""

O3_8H_LIMIT_UGM3 = 160.0
"""GB 3095 grade-2 O3 daily maximum 8 h limit (µg/m3), the same in 2012 and 2026 (Table 1)."""

HourLabel = Literal["start", "end"]


@dataclass(frozen=True, slots=True)
class Aggregate:
    """One aggregate: ``value`` (None when invalid) and the ``coverage`` behind it; ``rule`` names the
    clause applied. ``extra`` carries statistic-specific detail (e.g. the MDA8 window)."""

    value: float | None
    coverage: Coverage
    rule: str
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def valid(self) -> bool:
        return self.value is not None


def _nan_to_none(x: float) -> float | None:
    return None if not np.isfinite(x) else float(x)


def round_gbt8170(value: float, ndigits: int = 0) -> float:
    """`value` rounded to `ndigits` decimals by GB/T 8170 (round half to even on the decimal text:
    35.5 → 36, 34.5 → 34, 1.25 → 1.2), the concentration rounding of HJ 633-2026 §4.2.2."""
    q = Decimal(1).scaleb(-ndigits)
    return float(Decimal(repr(float(value))).quantize(q, rounding=ROUND_HALF_EVEN))


# -- kernels --------------------------------------------------------------------------------------


def _mean_where(values: np.ndarray, axis: int, required: np.ndarray | int) -> tuple[np.ndarray, np.ndarray]:
    """NaN-aware mean along `axis`, NaN where fewer than `required` finite values; plus the counts."""
    ok = np.isfinite(values)
    n = ok.sum(axis=axis)
    s = np.where(ok, values, 0.0).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = s / n
    return np.where(n >= required, mean, np.nan), n


def _max_where(values: np.ndarray, axis: int, required: np.ndarray | int) -> tuple[np.ndarray, np.ndarray]:
    """NaN-aware maximum along `axis`, NaN where fewer than `required` finite values; plus counts."""
    ok = np.isfinite(values)
    n = ok.sum(axis=axis)
    mx = np.where(ok, values, -np.inf).max(axis=axis)
    return np.where((n >= required) & (n > 0), mx, np.nan), n


def _window_sums(x: np.ndarray, width: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """Sums and valid counts of `width` consecutive values along the last axis, windows ending at
    positions ``width-1 … width-1+n_out-1``. Plain shifted adds (no cumsum), so an 8-value mean is
    exactly what a person computes."""
    ok = np.isfinite(x)
    z = np.where(ok, x, 0.0)
    s = np.zeros(x.shape[:-1] + (n_out,))
    c = np.zeros(x.shape[:-1] + (n_out,), dtype=np.int16)
    for j in range(width):
        s += z[..., j:j + n_out]
        c += ok[..., j:j + n_out]
    return s, c


def _mda8(hours: np.ndarray, *, min_hours: int, min_windows: int, limit: float
          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """O3 daily maximum 8 h of ``hours[..., 24]`` (grid hours 0…23 of one natural day).

    Windows end at hours 8 … 24 (grid index 7 … 23) and use only the same day's hours; a window needs
    ≥ `min_hours` valid hours (GB 3095 Table 4: 6). The day's maximum is valid with ≥ `min_windows`
    valid windows (HJ 663 §6.1.2: 14), or with fewer when it exceeds `limit` (compared after GB/T
    8170 rounding to a whole µg/m3). Returns (mda8, valid windows, windows with any valid hour,
    window means, end label 8…24 of the maximum).
    """
    s, c = _window_sums(hours, 8, MDA8_WINDOWS)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(c >= min_hours, s / np.maximum(c, 1), np.nan)
    ok = np.isfinite(means)
    n = ok.sum(axis=-1)
    filled = np.where(ok, means, -np.inf)
    arg = filled.argmax(axis=-1)
    mx = np.take_along_axis(filled, arg[..., None], axis=-1)[..., 0]
    mx = np.where(n > 0, mx, np.nan)
    # Rounded to whole µg/m3 (half to even) before comparing with the limit: np.round is half-even.
    exceeds = np.isfinite(mx) & (np.round(mx) > limit)
    day = np.where((n >= min_windows) | exceeds, mx, np.nan)
    return day, n, (c > 0).sum(axis=-1), means, arg + 8


def percentile(values: Sequence[float] | np.ndarray, p: float) -> float:
    """The p-th percentile of `values` by HJ 663 (reference README §4.2; vectors ASSESS-001/002).

    Sort ascending X(1) … X(n); k = 1 + (n − 1)·p/100; s = ⌊k⌋;
    m_p = X(s) + (X(s+1) − X(s))·(k − s), and X(n) when s = n. NaN/None are ignored; NaN when no
    value. k and its fraction are computed in exact rational arithmetic.
    """
    arr = np.array([np.nan if v is None else v for v in values], dtype=float)
    return float(percentile_rows(arr[None, :], p)[0])


def percentile_rows(values: np.ndarray, p: float) -> np.ndarray:
    """:func:`percentile` of each row of a 2-D array (NaN = not a value); NaN for an empty row."""
    frac_p = Fraction(str(p)) / 100
    if not 0 <= frac_p <= 1:
        raise ValueError(f"percentile p must be within 0..100, got {p}")
    x = np.sort(values, axis=-1)  # NaN sort last
    n = np.isfinite(x).sum(axis=-1).astype(np.int64)
    num = (n - 1).clip(min=0) * frac_p.numerator
    den = frac_p.denominator
    s = 1 + num // den  # 1-based rank, integer part of k
    frac = (num % den) / den
    lo_idx = (s - 1).clip(0, x.shape[-1] - 1)
    hi_idx = np.minimum(s, n - 1).clip(0, x.shape[-1] - 1)
    lo = np.take_along_axis(x, lo_idx[..., None], axis=-1)[..., 0]
    hi = np.take_along_axis(x, hi_idx[..., None], axis=-1)[..., 0]
    out = np.where(s >= n, lo, lo + (hi - lo) * frac)
    return np.where(n > 0, out, np.nan)


# -- single series --------------------------------------------------------------------------------


def hourly_mean(minute_values: Sequence[float | None] | np.ndarray, flags: Sequence[str | None] | None = None, *,
                pollutant: str = "SO2", rules: ValidityRules = RULES_2012) -> Aggregate:
    """The 1 h mean of one hour's minute values (up to 60), valid with ≥ 45 valid minutes.

    GB 3095 Table 4 ("≥ 45 minutes of sampling in each hour"); flagged minutes are excluded and
    counted (module :mod:`~tianlan.assess.validity`).
    """
    v, present, flagged = screen(list(minute_values), None if flags is None else list(flags))
    need = rules.minutes_for_hour(pollutant)
    mean, n = _mean_where(v[None, :], 1, need)
    cov = Coverage(expected=60, present=present, valid=int(n[0]), flagged=flagged, required=need)
    return Aggregate(_nan_to_none(mean[0]), cov, f"{rules.clause}: 1 h mean needs ≥ {need} valid minutes")


def daily_mean(hourly_values: Sequence[float | None] | np.ndarray, flags: Sequence[str | None] | None = None, *,
               pollutant: str = "PM2.5", rules: ValidityRules = RULES_2012) -> Aggregate:
    """The daily (24 h) mean of one natural day's hourly means, valid with ≥ 20 valid hours.

    GB 3095 Table 4 (SO2, NO2, CO, PM10, PM2.5, NOx: ≥ 20 hourly means per day; TSP, BaP, Pb: 24).
    """
    v, present, flagged = screen(list(hourly_values), None if flags is None else list(flags))
    need = rules.hours_for_day(pollutant)
    mean, n = _mean_where(v[None, :], 1, need)
    cov = Coverage(expected=24, present=present, valid=int(n[0]), flagged=flagged, required=need)
    return Aggregate(_nan_to_none(mean[0]), cov, f"{rules.clause}: daily mean needs ≥ {need} valid hours")


def daily_max_1h(hourly_values: Sequence[float | None] | np.ndarray, flags: Sequence[str | None] | None = None, *,
                 rules: ValidityRules = RULES_2012) -> Aggregate:
    """O3 daily maximum 1 h mean of one natural day, valid with ≥ 20 valid hours (platform rule, see
    :mod:`~tianlan.assess.validity`; GB 3095 Table 4 has no row for it)."""
    v, present, flagged = screen(list(hourly_values), None if flags is None else list(flags))
    need = rules.hours_for_day("O3")
    mx, n = _max_where(v[None, :], 1, need)
    cov = Coverage(expected=24, present=present, valid=int(n[0]), flagged=flagged, required=need)
    return Aggregate(_nan_to_none(mx[0]), cov, f"O3 daily max 1 h needs ≥ {need} valid hours (platform rule)")


def o3_8h_mean(hourly_values: Sequence[float | None], flags: Sequence[str | None] | None = None, *,
               rules: ValidityRules = RULES_2012) -> Aggregate:
    """One O3 8 h sliding mean from its 8 hourly means, valid with ≥ 6 valid hours (GB 3095 Table 4)."""
    if len(hourly_values) != 8:
        raise ValueError("an 8 h mean needs exactly 8 hourly slots")
    v, present, flagged = screen(list(hourly_values), None if flags is None else list(flags))
    mean, n = _mean_where(v[None, :], 1, rules.o3_8h_min_hours)
    cov = Coverage(8, present, int(n[0]), flagged, rules.o3_8h_min_hours)
    return Aggregate(_nan_to_none(mean[0]), cov, f"{rules.clause}: 8 h mean needs ≥ {rules.o3_8h_min_hours} valid hours")


def daily_max_8h(hourly_values: Sequence[float | None] | np.ndarray, flags: Sequence[str | None] | None = None, *,
                 rules: ValidityRules = RULES_2012, limit: float = O3_8H_LIMIT_UGM3) -> Aggregate:
    """O3 daily maximum 8 h mean (MDA8) of one natural day from its 24 hourly means (hours 1 … 24).

    Windows ending at hours 8 … 24 of the day, each valid with ≥ 6 valid hours (GB 3095 Table 4);
    the maximum is valid with ≥ 14 valid windows, or fewer when it exceeds `limit` (HJ 663 §6.1.2;
    reference README §4.3, vectors ASSESS-005/006). ``coverage`` counts windows (expected 17);
    ``extra``: ``window_end_hour`` (8…24), ``windows`` (17 means, None when invalid), ``hours``
    (the hourly coverage).
    """
    if len(hourly_values) != 24:
        raise ValueError("a natural day has 24 hourly slots (hours 1 … 24)")
    v, present, flagged = screen(list(hourly_values), None if flags is None else list(flags))
    day, n, seen, means, end = _mda8(v[None, :], min_hours=rules.o3_8h_min_hours, min_windows=rules.mda8_min_windows,
                               limit=limit)
    cov = Coverage(expected=MDA8_WINDOWS, present=int(seen[0]), valid=int(n[0]), flagged=0,
                   required=rules.mda8_min_windows)
    hours = Coverage(24, present, int(np.isfinite(v).sum()), flagged, 0)
    windows = [_nan_to_none(m) for m in means[0]]
    value = _nan_to_none(day[0])
    extra: dict[str, object] = {"windows": windows, "hours": hours,
                                "window_end_hour": int(end[0]) if int(n[0]) > 0 else None}
    return Aggregate(value, cov, f"HJ 663 §6.1.2: ≥ {rules.mda8_min_windows} of 17 windows (or above {limit:g})", extra)


def period_mean(daily_values: Sequence[float | None] | np.ndarray, *, required: int, expected: int | None = None,
                rule: str = "") -> Aggregate:
    """Mean of a period's daily values (month, quarter, year), valid with ≥ `required` values."""
    v = np.array([np.nan if x is None else x for x in daily_values], dtype=float)
    mean, n = _mean_where(v[None, :], 1, required)
    present = int(np.isfinite(v).sum())
    cov = Coverage(expected if expected is not None else len(v), present, int(n[0]), 0, required)
    return Aggregate(_nan_to_none(mean[0]), cov, rule or f"mean needs ≥ {required} daily values")


def period_percentile(daily_values: Sequence[float | None] | np.ndarray, p: float, *, required: int,
                      expected: int | None = None, rule: str = "") -> Aggregate:
    """p-th percentile (HJ 663, :func:`percentile`) of a period's daily values, valid with ≥ `required`."""
    v = np.array([np.nan if x is None else x for x in daily_values], dtype=float)
    n = int(np.isfinite(v).sum())
    value = percentile(v, p) if n >= required and n > 0 else None
    cov = Coverage(expected if expected is not None else len(v), n, n, 0, required)
    return Aggregate(value, cov, rule or f"p{p:g} needs ≥ {required} daily values")


def monthly_mean(daily_values: Sequence[float | None], year: int, month: int, *,
                 rules: ValidityRules = RULES_2012) -> Aggregate:
    """Monthly mean of the month's daily values: ≥ 27 valid days, February ≥ 25 (GB 3095 Table 4)."""
    need = rules.days_for_month(year, month)
    return period_mean(daily_values, required=need, expected=days_in_month(year, month),
                       rule=f"{rules.clause}: month needs ≥ {need} daily values")


# -- minute data → hours (frames) -------------------------------------------------------------------


def _beijing_naive(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A Datetime column as naive Beijing time (tz-aware columns are converted first)."""
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is not None:
        return expr.dt.convert_time_zone("Asia/Shanghai").dt.replace_time_zone(None)
    return expr


def hourly_from_minutes(frame: pl.DataFrame, *, pollutants: Sequence[str] | None = None, station: str = "station",
                        time: str = "time", flag_suffix: str = "_flag",
                        rules: ValidityRules | Callable[[dt.date], ValidityRules] = RULES_2012,
                        interval_min: int = 1) -> pl.DataFrame:
    """Hourly means of minute data, per station and hour (hour start, Beijing time).

    Input: ``station``, ``time`` (Datetime, the minute period's start) and a value column per
    pollutant, optionally ``<pollutant>_flag`` with HJ 212 flags. ``interval_min``: the length of
    each minute period (HJ 212 MinInterval: 1, 2, 3, 4, 5, 6, 10, 12, 15, 20 or 30 minutes); a valid
    value covers that many minutes of sampling time. Output per pollutant: ``P`` (NaN-free: null
    with fewer than 45 valid minutes of sampling time, GB 3095 Table 4), ``P_present``, ``P_valid``,
    ``P_flagged`` counts of minute periods; the expected count is 60 / ``interval_min``.
    """
    from tianlan.assess.validity import VALID_FLAGS

    pols = [p for p in (pollutants or POLLUTANTS) if p in frame.columns]
    t = _beijing_naive(pl.col(time), frame.schema[time]).dt.truncate("1h").alias(time)
    exprs: list[pl.Expr] = []
    for p in pols:
        v = pl.col(p).cast(pl.Float64)
        present = v.is_not_null() & v.is_finite()
        fcol = f"{p}{flag_suffix}"
        if fcol in frame.columns:
            ok = pl.col(fcol).is_null() | pl.col(fcol).cast(pl.Utf8).str.strip_chars().is_in([*VALID_FLAGS, ""])
        else:
            ok = pl.lit(True)
        good = present & ok
        exprs += [
            v.filter(good).mean().alias(f"{p}__mean"),
            present.sum().cast(pl.Int32).alias(f"{p}_present"),
            good.sum().cast(pl.Int32).alias(f"{p}_valid"),
            (present & ~ok).sum().cast(pl.Int32).alias(f"{p}_flagged"),
        ]
    out = frame.with_columns(t).group_by(station, time).agg(exprs).sort(station, time)
    days = out[time].dt.date().unique().to_list()
    by_day = {d: (rules(d) if callable(rules) else rules) for d in days}

    def need(p: str) -> pl.Expr:  # the minimum for the rules in force on each row's date
        return pl.col(time).dt.date().replace_strict({d: r.minutes_for_hour(p) for d, r in by_day.items()},
                                                     return_dtype=pl.Int32)

    return out.with_columns(
        [pl.when(pl.col(f"{p}_valid") * interval_min >= need(p)).then(pl.col(f"{p}__mean")).otherwise(None).alias(p)
         for p in pols]
    ).select(station, time, *[c for p in pols for c in (p, f"{p}_present", f"{p}_valid", f"{p}_flagged")])


# -- station-hours on a dense grid -----------------------------------------------------------------


@dataclass
class HourlyCube:
    """Hourly values on a dense (key, day, hour) grid; NaN = missing or made invalid by a flag.

    ``keys``: station codes (or city names); ``start``: the first natural day; ``values[p]``: array
    (keys, days, 24) of pollutant `p` (grid hour = hour start); ``present[p]`` / ``flagged[p]``:
    (keys, days) counts of hours that arrived with a value / were excluded by a device flag.
    """

    keys: tuple[str, ...]
    start: dt.date
    n_days: int
    values: dict[str, np.ndarray]
    present: dict[str, np.ndarray]
    flagged: dict[str, np.ndarray]

    @property
    def days(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=i) for i in range(self.n_days)]

    def valid_hours(self, p: str) -> np.ndarray:
        """(keys, days) count of valid hours of `p`."""
        return np.isfinite(self.values[p]).sum(axis=2)


def hourly_cube(frame: pl.DataFrame, *, pollutants: Sequence[str] | None = None, station: str = "station",
                time: str = "time", hour_label: HourLabel = "start", flag_suffix: str = "_flag",
                keys: Sequence[str] | None = None, start: dt.date | None = None,
                end: dt.date | None = None) -> HourlyCube:
    """Station-hours of a frame on a dense grid (see :class:`HourlyCube`).

    ``frame``: ``station`` (text), ``time`` (Datetime; naive = Beijing time) and one Float column per
    pollutant (µg/m3, CO mg/m3; null = missing), optionally ``<p>_flag`` with HJ 212 device flags
    (:func:`~tianlan.assess.validity.flag_is_valid`: ``N``/``3``/empty/null valid, anything else
    invalid — excluded and counted in ``flagged``).
    ``hour_label="end"`` reads a time as the END of its hour (CNEMC release: 08:00 = 07:00–08:00).
    ``start``/``end`` fix the calendar (default: the data's first and last day); ``keys`` fixes the
    station list and order. Raises InputError naming the column and row for a time not on the hour,
    a station outside ``keys`` or a duplicate station-hour.
    """
    from tianlan.assess.validity import VALID_FLAGS

    pols = [p for p in (pollutants or POLLUTANTS) if p in frame.columns]
    if frame.height == 0:
        raise InputError(time, "no rows / 没有数据")
    t = _beijing_naive(pl.col(time), frame.schema[time])
    if hour_label == "end":
        t = t - pl.duration(hours=1)
    secs = t.dt.epoch("s")
    bounds = frame.select(secs.min().alias("lo"), secs.max().alias("hi"), (secs % 3600).max().alias("off"),
                          secs.null_count().alias("nulls"))
    if bounds["nulls"][0]:
        i = int(frame.select(pl.col(time).is_null().arg_max()).item())
        raise InputError(time, "empty time / 时间为空", where=f"row {i + 1}")
    if bounds["off"][0]:
        i = int(frame.select((secs % 3600 != 0).arg_max()).item())
        raise InputError(time, f"not on the hour / 非整点时间: {frame[time][i]}", where=f"row {i + 1}")
    first = dt.date(1970, 1, 1) + dt.timedelta(days=int(bounds["lo"][0]) // 86400)
    last = dt.date(1970, 1, 1) + dt.timedelta(days=int(bounds["hi"][0]) // 86400)
    start = start or first
    end = end or last
    n_days = (end - start).days + 1
    h0 = (start - dt.date(1970, 1, 1)).days * 24
    if first < start or last > end:
        outside = frame.select(((secs // 3600 < h0) | (secs // 3600 >= h0 + n_days * 24)).arg_max()).item()
        raise InputError(time, f"outside {start} … {end}: {frame[time][outside]}", where=f"row {outside + 1}")
    st = pl.col(station).cast(pl.Utf8)
    key_list = tuple(keys) if keys is not None else tuple(sorted(frame.select(st.unique().drop_nulls()).to_series().to_list()))
    # An Enum over the key list maps each station to its index (null = not a key) in one pass.
    exprs = [st.cast(pl.Enum(key_list), strict=False).to_physical().cast(pl.Int64).fill_null(-1).alias("__k"),
             (secs // 3600 - h0).alias("__h")]
    exprs += [pl.col(p).cast(pl.Float64).fill_null(float("nan")).alias(p) for p in pols]
    for p in pols:
        fcol = f"{p}{flag_suffix}"
        if fcol in frame.columns:
            f = pl.col(fcol).cast(pl.Utf8).str.strip_chars()
            exprs.append((f.is_null() | f.is_in([*VALID_FLAGS, ""])).alias(f"__ok_{p}"))
    cols = frame.select(exprs)
    k = cols["__k"].to_numpy()
    if (k < 0).any():
        i = int(np.argmax(k < 0))
        raise InputError(station, f"unknown station / 未知站点 {frame[station][i]!r}", where=f"row {i + 1}")
    flat = k * (n_days * 24)
    flat += cols["__h"].to_numpy()
    n_keys = len(key_list)
    size = n_keys * n_days * 24
    if not (np.diff(flat) > 0).all():  # unsorted input (or duplicates): check with a count per cell
        counts = np.bincount(flat, minlength=size)
        if counts.max(initial=0) > 1:
            dup = np.flatnonzero(counts[flat] > 1)
            i = int(dup[1]) if len(dup) > 1 else int(dup[0])
            raise InputError(time, f"duplicate station-hour / 重复的站点小时 {frame[station][i]} {frame[time][i]}",
                             where=f"row {i + 1}")
        del counts
    values: dict[str, np.ndarray] = {}
    present: dict[str, np.ndarray] = {}
    flagged: dict[str, np.ndarray] = {}
    for p in pols:
        v = cols[p].to_numpy()
        grid = np.full(size, np.nan)
        grid[flat] = v
        if np.isinf(v).any():
            grid[~np.isfinite(grid)] = np.nan
        cube = grid.reshape(n_keys, n_days, 24)
        present[p] = np.isfinite(cube).sum(axis=2, dtype=np.int16)
        flagged[p] = np.zeros((n_keys, n_days), dtype=np.int16)
        if f"__ok_{p}" in cols.columns:
            bad = np.flatnonzero(~cols[f"__ok_{p}"].to_numpy() & np.isfinite(v))
            if len(bad):
                grid[flat[bad]] = np.nan  # flagged values are excluded from every statistic …
                flagged[p] = np.bincount(flat[bad] // 24, minlength=n_keys * n_days).reshape(
                    n_keys, n_days).astype(np.int16)  # … and counted
        values[p] = cube
    return HourlyCube(key_list, start, n_days, values, present, flagged)


def sliding_mean(cube: HourlyCube, pollutant: str, hours: int, min_valid: int) -> np.ndarray:
    """Sliding means over `hours` consecutive hours ending at each grid hour (crossing midnight), NaN
    with fewer than `min_valid` valid hours — O3 8 h (8, 6; GB 3095 Table 4) or PM 24 h sliding means
    for the literal HJ 633-2012 real-time report. Hours before the grid start count as missing.
    Returns (keys, days, 24)."""
    x = cube.values[pollutant].reshape(len(cube.keys), -1)
    padded = np.concatenate([np.full((x.shape[0], hours - 1), np.nan), x], axis=1)
    s, c = _window_sums(padded, hours, x.shape[1])
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(c >= min_valid, s / np.maximum(c, 1), np.nan)
    return out.reshape(cube.values[pollutant].shape)


# -- daily statistics ---------------------------------------------------------------------------------


@dataclass
class DailyValues:
    """Daily statistics per key (station or city) on a dense day grid; NaN = invalid.

    ``values[s]`` (keys, days) for s in :data:`DAILY_STATS`; ``valid[s]`` the valid inputs behind each
    (hours; windows for ``O3_8h``; stations for city values); ``present[s]``/``flagged[s]`` the
    inputs that arrived / were excluded by flags; ``expected[s]`` inputs per day (24, 17 or the
    number of stations); ``standard`` per day: the GB 3095 edition whose rules applied.
    """

    keys: tuple[str, ...]
    start: dt.date
    n_days: int
    values: dict[str, np.ndarray]
    valid: dict[str, np.ndarray]
    present: dict[str, np.ndarray]
    flagged: dict[str, np.ndarray]
    expected: dict[str, int | np.ndarray]
    standard: list[str]

    @property
    def days(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=i) for i in range(self.n_days)]

    def day_index(self, day: dt.date) -> int:
        return (day - self.start).days

    def coverage(self, stat: str, key: str, day: dt.date) -> Coverage:
        """Coverage of one daily value."""
        i, j = self.keys.index(key), self.day_index(day)
        exp = self.expected[stat]
        e = int(exp[i]) if isinstance(exp, np.ndarray) else int(exp)
        return Coverage(e, int(self.present[stat][i, j]), int(self.valid[stat][i, j]), int(self.flagged[stat][i, j]))

    def to_frame(self, key_name: str = "station") -> pl.DataFrame:
        """Long table: ``key_name``, ``date``, ``standard``, each statistic, and per statistic its
        coverage ``<s>_valid``, ``<s>_present``, ``<s>_flagged`` (``<s>_expected`` as a column)."""
        n_k, n_d = len(self.keys), self.n_days
        cols: dict[str, object] = {
            key_name: np.repeat(np.array(self.keys, dtype=object), n_d),
            "date": np.tile(np.array(self.days, dtype="datetime64[D]"), n_k),
            "standard": np.tile(np.array(self.standard, dtype=object), n_k),
        }
        for s in self.values:
            cols[s] = self.values[s].reshape(-1)
        for s in self.values:
            exp = self.expected[s]
            cols[f"{s}_expected"] = (np.repeat(exp, n_d) if isinstance(exp, np.ndarray)
                                     else np.full(n_k * n_d, exp)).astype(np.int32)
            cols[f"{s}_present"] = self.present[s].reshape(-1).astype(np.int32)
            cols[f"{s}_valid"] = self.valid[s].reshape(-1).astype(np.int32)
            cols[f"{s}_flagged"] = self.flagged[s].reshape(-1).astype(np.int32)
        return pl.DataFrame(cols).with_columns(pl.col(s).fill_nan(None) for s in self.values)


def day_rules(start: dt.date, n_days: int, *, choice: str = "auto") -> list[ValidityRules]:
    """The rules for each day of a grid, chosen by the data date (:func:`~tianlan.assess.validity.rules_for`)."""
    return [rules_for(start + dt.timedelta(days=i), choice=choice) for i in range(n_days)]


def daily_values(cube: HourlyCube, *, choice: str = "auto", o3_8h_limit: float = O3_8H_LIMIT_UGM3) -> DailyValues:
    """Every daily statistic of every key at once (see :data:`DAILY_STATS`).

    Daily means need ≥ 20 valid hours (GB 3095 Table 4), the O3 daily max 1 h ≥ 20 (platform rule),
    the O3 daily max 8 h ≥ 14 of 17 windows of ≥ 6 hours or a value above `o3_8h_limit` (HJ 663
    §6.1.2). Rules follow the data date (`choice` as for :func:`~tianlan.assess.validity.rules_for`).
    """
    rules = day_rules(cube.start, cube.n_days, choice=choice)
    values: dict[str, np.ndarray] = {}
    valid: dict[str, np.ndarray] = {}
    present: dict[str, np.ndarray] = {}
    flagged: dict[str, np.ndarray] = {}
    expected: dict[str, int | np.ndarray] = {}
    for p in ("SO2", "NO2", "CO", "PM10", "PM2.5"):
        if p not in cube.values:
            continue
        need = np.array([r.hours_for_day(p) for r in rules])[None, :]
        values[p], n = _mean_where(cube.values[p], 2, need)
        valid[p], present[p], flagged[p], expected[p] = n, cube.present[p], cube.flagged[p], 24
    if "O3" in cube.values:
        x = cube.values["O3"]
        need = np.array([r.hours_for_day("O3") for r in rules])[None, :]
        values["O3"], n = _max_where(x, 2, need)
        valid["O3"], present["O3"], flagged["O3"], expected["O3"] = n, cube.present["O3"], cube.flagged["O3"], 24
        # Rules are equal in both editions; the first day's numbers serve the whole grid.
        r0 = rules[0]
        mda8, nw, seen, _, _ = _mda8(x, min_hours=r0.o3_8h_min_hours, min_windows=r0.mda8_min_windows, limit=o3_8h_limit)
        values["O3_8h"], valid["O3_8h"] = mda8, nw
        present["O3_8h"], flagged["O3_8h"], expected["O3_8h"] = seen, np.zeros_like(nw), MDA8_WINDOWS
    order = [s for s in DAILY_STATS if s in values]
    return DailyValues(cube.keys, cube.start, cube.n_days, {s: values[s] for s in order},
                       {s: valid[s] for s in order}, {s: present[s] for s in order}, {s: flagged[s] for s in order},
                       {s: expected[s] for s in order}, [r.standard for r in rules])


# -- month / year ------------------------------------------------------------------------------------

PERIOD_STATS: dict[str, tuple[str, float | None]] = {
    "SO2": ("SO2", None),
    "NO2": ("NO2", None),
    "PM10": ("PM10", None),
    "PM2.5": ("PM2.5", None),
    "CO_p95": ("CO", 95),
    "O3_8h_p90": ("O3_8h", 90),
    "SO2_p98": ("SO2", 98),
    "NO2_p98": ("NO2", 98),
    "PM10_p95": ("PM10", 95),
    "PM2.5_p95": ("PM2.5", 95),
}
"""Period statistics: name → (daily statistic, percentile or None for the mean). HJ 663 Table 1
(reference README §4.1): means of SO2, NO2, PM10, PM2.5; CO 95th percentile of daily means; O3 90th
percentile of daily maximum 8 h means; SO2/NO2 98th and PM 95th percentiles of daily means."""

MONTHLY_STATS: tuple[str, ...] = ("SO2", "NO2", "PM10", "PM2.5", "CO_p95", "O3_8h_p90")
"""The six statistics of the composite index (reference README §4.4)."""


@dataclass
class PeriodStatistics:
    """Statistics of one period per key: ``values[name]`` (keys,) NaN when invalid; ``valid_days[name]``
    (keys,) the daily values used; ``expected_days`` the calendar days; ``required_days`` the
    minimum (27/25 for a month, 324 for a year, GB 3095 Table 4)."""

    keys: tuple[str, ...]
    first: dt.date
    last: dt.date
    values: dict[str, np.ndarray]
    valid_days: dict[str, np.ndarray]
    expected_days: int
    required_days: int
    standard: str


def period_statistics(daily: DailyValues, first: dt.date, last: dt.date, *, required_days: int,
                      stats: Sequence[str] = MONTHLY_STATS, per_month_required: bool = False,
                      rules: ValidityRules | None = None) -> PeriodStatistics:
    """The statistics `stats` (:data:`PERIOD_STATS`) of each key over days `first` … `last`.

    A statistic is valid with ≥ `required_days` valid daily values; with `per_month_required` (the
    annual rule of GB 3095 Table 4) every calendar month in the period must also reach its own
    minimum (27, February 25). Percentiles by HJ 663 (:func:`percentile`).
    """
    i0, i1 = daily.day_index(first), daily.day_index(last) + 1
    lo, hi = max(i0, 0), min(i1, daily.n_days)
    values: dict[str, np.ndarray] = {}
    valid_days: dict[str, np.ndarray] = {}
    n_keys = len(daily.keys)
    for name in stats:
        base, p = PERIOD_STATS[name]
        if base not in daily.values:
            values[name] = np.full(n_keys, np.nan)
            valid_days[name] = np.zeros(n_keys, dtype=np.int32)
            continue
        x = daily.values[base][:, lo:hi] if hi > lo else np.full((n_keys, 0), np.nan)
        n = np.isfinite(x).sum(axis=1)
        v = _mean_where(x, 1, 1)[0] if p is None else percentile_rows(x, p)
        ok = n >= required_days
        if per_month_required and rules is not None:
            for (y, m), (a, b) in _months(daily.start, lo, hi):
                ok &= np.isfinite(x[:, a - lo:b - lo]).sum(axis=1) >= rules.days_for_month(y, m)
        values[name] = np.where(ok, v, np.nan)
        valid_days[name] = n.astype(np.int32)
    std = daily.standard[lo] if hi > lo else ""
    return PeriodStatistics(daily.keys, first, last, values, valid_days, (last - first).days + 1, required_days, std)


def _months(start: dt.date, lo: int, hi: int) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Calendar months within grid days lo … hi-1: ((year, month), (first index, end index))."""
    out: list[tuple[tuple[int, int], tuple[int, int]]] = []
    i = lo
    while i < hi:
        d = start + dt.timedelta(days=i)
        j = min(hi, i + days_in_month(d.year, d.month) - d.day + 1)
        out.append(((d.year, d.month), (i, j)))
        i = j
    return out


def month_statistics(daily: DailyValues, year: int, month: int, *, stats: Sequence[str] = MONTHLY_STATS,
                     rules: ValidityRules | None = None) -> PeriodStatistics:
    """Monthly statistics: ≥ 27 daily values, February ≥ 25 (GB 3095 Table 4)."""
    first = dt.date(year, month, 1)
    r = rules or rules_for(first)
    last = dt.date(year, month, days_in_month(year, month))
    return period_statistics(daily, first, last, required_days=r.days_for_month(year, month), stats=stats)


def year_statistics(daily: DailyValues, year: int, *, stats: Sequence[str] = tuple(PERIOD_STATS),
                    rules: ValidityRules | None = None) -> PeriodStatistics:
    """Annual statistics: ≥ 324 daily values and ≥ 27 in every month, February ≥ 25 (GB 3095 Table 4)."""
    r = rules or rules_for(dt.date(year, 1, 1))
    return period_statistics(daily, dt.date(year, 1, 1), dt.date(year, 12, 31), required_days=r.days_for_year(year),
                             stats=stats, per_month_required=r.year_requires_each_month, rules=r)
