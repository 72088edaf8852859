"""AQI for whole columns (NumPy/Polars), with the same results as the scalar ``tianlan.assess.aqi``.

Exactness without per-value fractions. The IAQI of a concentration c on one breakpoint column is
``ceil(f(c))`` with f increasing and piecewise linear, so it is the smallest integer k whose
threshold T_k = f⁻¹(k) is ≥ c: ``searchsorted(T, c, side="left")``. Every T_k of the HJ 633 tables
is a decimal with at most two places (checked when the table is loaded), so comparing the float c
with the float nearest to T_k gives the same answer as comparing the decimal that c prints as with
T_k exactly — the semantics of the scalar path. Equal decimals become equal doubles and rounding to
double is monotone. GB/T 8170 half-to-even rounding (HJ 633-2026) is done the same way: c is
compared with the double nearest to the exact half point (k + ½)/10^d. Property tests check this
path against the Fraction arithmetic of ``aqi``.

Speed: values on the published grid (whole µg/m3, CO 0.1 mg/m3 — real data, and every 2026 value
after rounding) take a precomputed lookup table (one gather); others the binary search. Rows are
processed in chunks of ``CHUNK_ROWS`` so temporaries stay in cache. Editions per row (``add_aqi``)
split the table into one block per edition.

Missing values are NaN in and -1 (sub-index or AQI) out; ``AqiColumns.to_polars`` turns them into
nulls. Notes are kept as bit codes per row and turned into the scalar path's text once per distinct
code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from fractions import Fraction
from functools import cache
from typing import Any, Literal

import numpy as np
import polars as pl

from tianlan.assess.aqi import EVENTS, INPUT_COLUMNS, NA_PUBLISH, PUBLISHED_INCOMPLETE, AqiResult, compose_note
from tianlan.assess.editions import (
    HOURLY_EXTRA_INPUTS,
    POLLUTANT_KEYS,
    POLLUTANT_OF,
    POLLUTANTS,
    Edition,
    EditionSpec,
    auto_periods,
    beijing_naive,
    canonical_indicator,
    family,
    parse_edition,
    parse_standard,
    spec,
)
from tianlan.assess.levels import Level, level_upper_bounds
from tianlan.errors import InputError

NONE = -1
_EV_BIT = {ev: 1 << i for i, ev in enumerate(EVENTS)}
_N_EV = len(EVENTS)
_KEY_INDEX = {k: i for i, k in enumerate(POLLUTANT_KEYS)}
_FLAG_SHIFT = _N_EV * len(POLLUTANT_KEYS)
_FLAG_BITS = {NA_PUBLISH: 1 << _FLAG_SHIFT, PUBLISHED_INCOMPLETE: 1 << (_FLAG_SHIFT + 1)}
_POLLUTANT_BIT = {p: 1 << i for i, p in enumerate(POLLUTANTS)}
_MISSING_BITS = _EV_BIT["missing"] | _EV_BIT["no_substitute"]
_LEVELS: tuple[Level, ...] = tuple(Level)
EDITIONS: tuple[Edition, ...] = tuple(Edition)

#: Columns of ``add_aqi`` input that carry the hourly report's 24 h / 8 h values (CNEMC names).
EXTRA_COLUMNS: dict[str, str] = INPUT_COLUMNS


@cache
def thresholds(edition: Edition | str, indicator: str) -> np.ndarray:
    """T_k, k = 0 … top IAQI of the column: the largest concentration whose IAQI is k (float64).

    Raises ValueError if some T_k is not a decimal with at most 6 places — the exactness argument of
    this module needs short decimals, which every HJ 633 table has (at most 2 places).
    """
    pts = spec(edition).breakpoints[indicator]
    out: list[Fraction] = [pts[0][0]]
    for (b0, l0), (b1, l1) in zip(pts, pts[1:], strict=False):
        step = (b1 - b0) / (l1 - l0)
        out.extend(b0 + step * j for j in range(1, l1 - l0 + 1))
    for t in out:
        if (10**6) % t.denominator or Fraction(Decimal(repr(float(t)))) != t:
            raise ValueError(f"{indicator}: threshold {t} is not a short decimal; the vectorised path would not be exact")
    return np.array([float(t) for t in out], dtype=np.float64)


def round_half_even_array(c: np.ndarray, decimals: int) -> np.ndarray:
    """GB/T 8170 rounding of float concentrations to ``decimals`` places, exact on the printed decimal."""
    return _round_half_even_units(c, decimals) / float(10**decimals)


def _round_half_even_units(c: np.ndarray, decimals: int) -> np.ndarray:
    """``c`` rounded half to even, in units of 10^-decimals (float64 holding integers)."""
    s = float(10**decimals)
    k = np.floor(c * s)
    half = (2.0 * k + 1.0) / (2.0 * s)  # the double nearest to (k + 1/2) / 10^d
    up = (c > half) | ((c == half) & (np.mod(k, 2.0) == 1.0))
    return k + up


#: Decimals of the published concentrations (µg/m3 integers, CO 0.1 mg/m3): values on this grid
#: take a lookup table; others the general threshold search.
GRID_DECIMALS: dict[str, int] = {"so2": 0, "no2": 0, "o3": 0, "pm10": 0, "pm25": 0, "co": 1}


@cache
def _lookup(edition: Edition, indicator: str, decimals: int) -> tuple[np.ndarray, int]:
    """(table, K): table[j] = searchsorted(T, j / 10^decimals) for j = 0 … K + 1, K/10^d ≥ top breakpoint."""
    t = thresholds(edition, indicator)
    s = 10**decimals
    k_top = int(np.ceil(t[-1] * s))
    grid = np.arange(k_top + 2, dtype=np.float64) / float(s)  # j / 10^d: the double nearest the decimal
    return np.searchsorted(t, grid, side="left").astype(np.int16), k_top


def _threshold_index(sp: EditionSpec, indicator: str, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(searchsorted(T, c') as int16, c', NaN mask) where c' is c after the edition's concentration rounding.

    Values on the published grid (whole µg/m3, CO 0.1 mg/m3) take a lookup table, the rest a binary
    search of the thresholds; both give searchsorted(T, c') exactly. NaN rows get index 0.
    """
    d_round = sp.decimals(indicator)
    d = GRID_DECIMALS.get(family(indicator), 0)
    if d_round is not None and d_round != d:
        c = round_half_even_array(c, d_round)
    s = float(10**d)
    nan = np.isnan(c)
    units = np.rint(c * s) if d else np.rint(c)
    on_grid = (units / s == c) if d else (units == c)
    if d_round is not None and d_round == d:
        off = ~on_grid & ~nan
        if off.any():
            r = _round_half_even_units(c[off], d)
            units[off] = r
            c = c.copy()
            c[off] = r / s
            on_grid |= off
    table, k_top = _lookup(sp.edition, indicator, d)
    # clip before the cast: huge values would overflow, NaN has no integer value
    units[nan] = 0.0
    np.minimum(units, float(k_top + 1), out=units)
    idx = table[units.astype(np.intp)]
    rest = ~(on_grid | nan)
    if rest.any():
        idx[rest] = np.searchsorted(thresholds(sp.edition, indicator), c[rest], side="left")
    return idx, c, nan


def _as_float(name: str, a: Any, n: int | None) -> np.ndarray:
    if a is None:
        if n is None:
            raise ValueError(f"{name}: length unknown")
        return np.full(n, np.nan)
    if isinstance(a, pl.Series):
        arr = a.cast(pl.Float64).to_numpy()
    else:
        arr = np.asarray(a, dtype=np.float64)
    arr = np.ascontiguousarray(arr, dtype=np.float64).reshape(-1)
    if n is not None and arr.shape[0] != n:
        raise InputError(name, f"length {arr.shape[0]} differs from the other columns ({n})")
    bad = np.isinf(arr) | (arr < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(name, f"row {i}: concentration must be a finite number ≥ 0, got {arr[i]!r}")
    return arr


def _iaqi_events(sp: EditionSpec, indicator: str, c: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(IAQI int16 with -1, event bits uint8, mask of values above a substitute/drop rule)."""
    out, c, nan = _threshold_index(sp, indicator, c)
    top = len(thresholds(sp.edition, indicator)) - 1
    beyond = out > top  # NaN rows have index 0
    np.minimum(out, top, out=out)
    ev = beyond.view(np.uint8) * np.uint8(_EV_BIT["beyond"])
    special = None
    rule = sp.special.get(indicator)
    if rule is not None:
        over = c > float(rule.above)  # rule.above is an integer (800)
        if over.any():
            ev[over] = 0
            if rule.action == "fixed":
                assert rule.iaqi is not None
                out[over] = rule.iaqi
                ev[over] = _EV_BIT["fixed"]
            else:
                out[over] = NONE
                special = over
    out[nan] = NONE
    ev[nan] = _EV_BIT["missing"]
    return out, ev, special


def iaqi_array(indicator: str, concentration: Any, edition: Edition | str) -> np.ndarray:
    """IAQI of a column of concentrations (int16; -1 where missing or where 2012 gives no IAQI).

    Same values as ``tianlan.assess.aqi.iaqi`` element by element (NaN in → -1 out).
    """
    sp = spec(edition)
    indicator = canonical_indicator(indicator)
    if indicator not in sp.breakpoints:
        raise InputError("indicator", f"unknown indicator {indicator!r}")
    c = _as_float(indicator, concentration, None)
    return _iaqi_events(sp, indicator, c)[0]


@dataclass
class AqiColumns:
    """AQI results for n rows of one edition and report, as arrays.

    ``aqi`` and ``iaqi[key]`` are int16 with -1 for none/NA; ``level`` int8 0…5 (I…VI) or -1;
    ``primary``/``exceeding`` bit masks over POLLUTANTS; ``note_code`` int64 bit codes (see ``notes``).
    """

    edition: Edition
    report: str
    aqi: np.ndarray
    level: np.ndarray
    iaqi: dict[str, np.ndarray]
    primary: np.ndarray
    exceeding: np.ndarray
    note_code: np.ndarray

    def __len__(self) -> int:
        return int(self.aqi.shape[0])

    def notes(self) -> list[str | None]:
        """The note of each row (the scalar path's text)."""
        return self.note_series().to_list()

    def note_series(self) -> pl.Series:
        """The notes as a Polars column (text built once per distinct note)."""
        return _note_series([(self.edition, self.note_code, None)], self.report, len(self))

    def result(self, i: int) -> AqiResult:
        """Row ``i`` as an AqiResult (for comparison with the scalar path)."""
        a = int(self.aqi[i])
        lv = int(self.level[i])
        return AqiResult(
            aqi=None if a == NONE else a,
            level=None if lv == NONE else _LEVELS[lv],
            primary=names_of(int(self.primary[i])),
            iaqi={k: int(v[i]) for k, v in self.iaqi.items() if v[i] != NONE},
            exceeding=names_of(int(self.exceeding[i])),
            edition=self.edition,
            note=note_text(self.edition, self.report, int(self.note_code[i])),
        )

    def to_polars(self, keys: Sequence[str] | None = None) -> pl.DataFrame:
        """Columns AQI, level, primary, IAQI_<key> (for ``keys``, default all used), note."""
        return _frame(
            self.aqi, self.level, self.primary, self.iaqi if keys is None else {k: self.iaqi[k] for k in keys if k in self.iaqi},
            self.note_series(),
        )


def _note_series(parts: Sequence[tuple[Edition, np.ndarray, np.ndarray | None]], report: str, n: int) -> pl.Series:
    """Note column from (edition, note codes of the masked rows, row mask or None for all rows) parts."""
    ids = np.zeros(n, dtype=np.int32)  # 0 = no note
    texts: list[str | None] = [None]
    for ed, codes, mask in parts:
        nz = np.flatnonzero(codes)  # most rows carry no note: sort only the others
        if nz.size == 0:
            continue
        uniq, inv = np.unique(codes[nz], return_inverse=True)
        local = np.zeros(len(uniq), dtype=np.int32)
        for j, code in enumerate(uniq):
            text = note_text(ed, report, int(code))
            if text is not None:
                texts.append(text)
                local[j] = len(texts) - 1
        rows = nz if mask is None else np.flatnonzero(mask)[nz]
        ids[rows] = local[inv.reshape(-1)]
    return pl.Series("note", texts, dtype=pl.String).gather(ids)


def names_of(bits: int) -> tuple[str, ...]:
    """Pollutant names of a primary/exceeding bit mask, in reporting order."""
    return tuple(p for p in POLLUTANTS if bits & _POLLUTANT_BIT[p])


def note_text(edition: Edition, report: str, code: int) -> str | None:
    """The note for a bit code of ``AqiColumns.note_code``."""
    return _note_text(parse_edition(edition), report, int(code))


@cache
def _note_text(edition: Edition, report: str, code: int) -> str | None:
    if code == 0:
        return None
    events = [
        (ev, k)
        for k, ki in _KEY_INDEX.items()
        for ev, bit in _EV_BIT.items()
        if (code >> (ki * _N_EV)) & bit
    ]
    flags = [f for f, b in _FLAG_BITS.items() if code & b]
    return compose_note(edition, report, events, flags)


@cache
def _primary_strings() -> dict[int, str]:
    return {b: ",".join(names_of(b)) for b in range(1, 1 << len(POLLUTANTS))}


def _frame(
    aqi: np.ndarray, level: np.ndarray, primary: np.ndarray, iaqi: Mapping[str, np.ndarray], note: pl.Series
) -> pl.DataFrame:
    def nullable(name: str, a: np.ndarray) -> pl.Series:
        s = pl.Series(name, a, dtype=pl.Int16)
        return s.set(s == NONE, None) if (a == NONE).any() else s  # type: ignore[arg-type]

    lv_names = {i: lv.value for i, lv in enumerate(_LEVELS)}
    cols = [
        nullable("AQI", aqi),
        pl.Series("level", level, dtype=pl.Int8).replace_strict(lv_names, default=None, return_dtype=pl.String),
        pl.Series("primary", primary, dtype=pl.UInt8).replace_strict(_primary_strings(), default=None, return_dtype=pl.String),
    ]
    cols += [nullable(f"IAQI_{k}", v) for k, v in iaqi.items()]
    cols.append(note.alias("note"))
    return pl.DataFrame(cols)


@cache
def _level_lookup() -> np.ndarray:
    """Level index by AQI + 1 (entry 0 is AQI -1, none); AQI is at most 500 (capped)."""
    bounds = np.array(level_upper_bounds())
    return np.concatenate([[NONE], np.searchsorted(bounds, np.arange(0, 501), side="left")]).astype(np.int8)


#: Rows computed at a time: keeps the temporaries in cache (14 M rows in one go run ~2x slower).
CHUNK_ROWS = 1 << 17


def _report_columns(report: str, values: Mapping[str, Any], edition: Edition | str, extras: Mapping[str, Any]) -> AqiColumns:
    ed = parse_edition(edition)
    sp = spec(ed)
    for k in values:
        if k not in POLLUTANT_KEYS:
            raise InputError(str(k), f"unknown pollutant; expected one of {', '.join(POLLUTANT_KEYS)} / 未知污染物")
    n = None
    for a in (*values.values(), *extras.values()):
        if a is not None:
            n = len(a)
            break
    if n is None:
        raise InputError("values", "no concentration column given / 未给出浓度列")
    uses = sp.uses(report)
    inputs: dict[str, np.ndarray] = {}
    for use in uses:
        name = use.key if use.input == "value" else EXTRA_COLUMNS.get(use.input, use.input)
        inputs[use.key] = _as_float(name, values.get(use.key) if use.input == "value" else extras.get(use.input), n)
    subst = {
        r.input: _as_float(EXTRA_COLUMNS.get(r.input, r.input), extras.get(r.input), n)
        for r in sp.special.values()
        if r.action == "substitute" and r.input is not None and r.indicator in {u.indicator for u in uses}
    }
    parts = [
        _chunk_columns(ed, report, {k: v[lo : lo + CHUNK_ROWS] for k, v in inputs.items()},
                       {k: v[lo : lo + CHUNK_ROWS] for k, v in subst.items()})
        for lo in range(0, max(n, 1), CHUNK_ROWS)
    ]  # fmt: skip
    if len(parts) == 1:
        return parts[0]
    return AqiColumns(
        ed,
        report,
        np.concatenate([p.aqi for p in parts]),
        np.concatenate([p.level for p in parts]),
        {k: np.concatenate([p.iaqi[k] for p in parts]) for k in parts[0].iaqi},
        np.concatenate([p.primary for p in parts]),
        np.concatenate([p.exceeding for p in parts]),
        np.concatenate([p.note_code for p in parts]),
    )


def _chunk_columns(ed: Edition, report: str, inputs: Mapping[str, np.ndarray], subst: Mapping[str, np.ndarray]) -> AqiColumns:
    sp = spec(ed)
    n = len(next(iter(inputs.values())))
    note = np.zeros(n, dtype=np.int64)
    sub: dict[str, np.ndarray] = {}
    for use in sp.uses(report):
        out, ev, special = _iaqi_events(sp, use.indicator, inputs[use.key])
        if special is not None:
            rule = sp.special[use.indicator]
            if rule.action == "substitute":
                assert rule.substitute is not None and rule.input is not None
                o24, e24, _ = _iaqi_events(sp, rule.substitute, subst[rule.input][special])
                ok = o24 != NONE
                out[special] = o24
                ev[special] = np.where(ok, _EV_BIT["substituted"] | (e24 & _EV_BIT["beyond"]), _EV_BIT["no_substitute"])
            else:  # drop
                ev[special] = _EV_BIT["dropped"]
        nz = np.flatnonzero(ev)
        if nz.size:
            note[nz] |= ev[nz].astype(np.int64) << (_KEY_INDEX[use.key] * _N_EV)
        sub[use.key] = out
    return _finish(ed, report, sub, note)


def _finish(ed: Edition, report: str, sub: dict[str, np.ndarray], note: np.ndarray) -> AqiColumns:
    sp = spec(ed)
    n = note.shape[0]
    aqi = np.full(n, NONE, dtype=np.int16)
    for v in sub.values():
        np.maximum(aqi, v, out=aqi)
    missing_mask = 0
    for k in sub:
        missing_mask |= _MISSING_BITS << (_KEY_INDEX[k] * _N_EV)
    if sp.na_rule:
        missing = (note & missing_mask) != 0
        na = missing & (aqi <= 100)
        aqi[na] = NONE
        note[na] |= _FLAG_BITS[NA_PUBLISH]
        note[missing & ~na] |= _FLAG_BITS[PUBLISHED_INCOMPLETE]
    primary = np.zeros(n, dtype=np.uint8)
    exceeding = np.zeros(n, dtype=np.uint8)
    for k, v in sub.items():
        bit = np.uint8(_POLLUTANT_BIT[POLLUTANT_OF[k]])
        primary |= (v == aqi).view(np.uint8) * bit
        if sp.exceeding_above is not None:
            exceeding |= (v > sp.exceeding_above).view(np.uint8) * bit
    primary *= (aqi > 50).view(np.uint8)  # primary pollutants only when AQI > 50
    level = _level_lookup()[aqi + 1]  # aqi >= -1
    order = [k for k in POLLUTANT_KEYS if k in sub]
    return AqiColumns(ed, report, aqi, level, {k: sub[k] for k in order}, primary, exceeding, note)


def hourly_aqi_columns(
    values: Mapping[str, Any],
    edition: Edition | str,
    *,
    so2_24h: Any = None,
    pm10_24h_sliding: Any = None,
    pm25_24h_sliding: Any = None,
    o3_8h: Any = None,
) -> AqiColumns:
    """``aqi.hourly_aqi`` for columns: values by pollutant key (arrays or Series, NaN/null = missing)."""
    extras = {
        "so2_24h": so2_24h,
        "pm10_24h_sliding": pm10_24h_sliding,
        "pm25_24h_sliding": pm25_24h_sliding,
        "o3_8h": o3_8h if o3_8h is not None else values.get("O3_8h"),
    }
    return _report_columns("hourly", values, edition, extras)


def daily_aqi_columns(values: Mapping[str, Any], edition: Edition | str) -> AqiColumns:
    """``aqi.daily_aqi`` for columns: daily means, ``O3`` daily max 1 h, ``O3_8h`` daily max 8 h."""
    return _report_columns("daily", values, edition, {})


# ---------------------------------------------------------------------------------------------
# Whole tables: one edition per row, chosen by date (auto) or by name.


def editions_column(
    times: pl.Series, report: str, standard: Edition | str = "auto", *, time_marks: Literal["end", "start"] = "end"
) -> np.ndarray:
    """Index into ``EDITIONS`` of the edition for each time (the vectorised ``editions.edition_for``).

    ``times``: Datetime (naive = Beijing time; aware converted) for hourly data, Date for daily data.
    """
    chosen = parse_standard(standard)
    n = len(times)
    if chosen is not None:
        return np.full(n, EDITIONS.index(chosen), dtype=np.int8)
    if report == "hourly":
        if times.dtype != pl.Datetime:
            raise InputError("time", "hourly data need date-times (hour-ending, Beijing time)")
        t = times
        if getattr(t.dtype, "time_zone", None) is not None:
            t = t.dt.convert_time_zone("Asia/Shanghai").dt.replace_time_zone(None)
        if time_marks == "start":
            t = t.dt.offset_by("1h")
        tv = t.dt.cast_time_unit("us").to_numpy().astype("datetime64[us]")
        out = np.full(n, -1, dtype=np.int8)
        for p in auto_periods():
            m = np.ones(n, dtype=bool)
            if p.start is not None:
                m &= tv >= np.datetime64(datetime.combine(p.start, datetime.min.time()), "us")
            if p.end is not None:
                m &= tv < np.datetime64(p.end, "D").astype("datetime64[us]") + np.timedelta64(1, "D")
            out[m] = EDITIONS.index(p.hourly)
    else:
        if times.dtype == pl.Datetime:
            times = times.dt.date()
        if times.dtype != pl.Date:
            raise InputError("time", "daily data need dates")
        dv = times.to_numpy().astype("datetime64[D]")
        out = np.full(n, -1, dtype=np.int8)
        for p in auto_periods():
            m = np.ones(n, dtype=bool)
            if p.start is not None:
                m &= dv >= np.datetime64(p.start, "D")
            if p.end is not None:
                m &= dv <= np.datetime64(p.end, "D")
            out[m] = EDITIONS.index(p.daily)
    if (out < 0).any() and times.null_count() == 0:  # pragma: no cover - the auto table is contiguous
        raise InputError("time", "no HJ 633 edition covers some rows")
    return out


def sliding_means(
    df: pl.DataFrame, *, station_col: str, time_col: str, specs: Mapping[str, tuple[str, str, int]]
) -> pl.DataFrame:
    """Sliding means per station: {out_name: (column, window like "24h", minimum valid hours)}.

    The window ending at hour t covers (t − window, t]; hours absent from the table count as missing.
    Used by ``add_aqi`` when a file lacks the 24 h / 8 h values the HJ 633-2012 text needs (GB 3095
    Table 4: ≥ 20 hourly values for 24 h, ≥ 6 for 8 h). Returns the columns in the input row order.
    """
    tmp = df.select(station_col, time_col, *sorted({c for c, _, _ in specs.values()})).with_row_index("_row")
    tmp = tmp.sort(station_col, time_col)
    exprs = []
    for out, (col, window, minimum) in specs.items():
        s = pl.col(col).fill_null(0.0).rolling_sum_by(time_col, window_size=window, closed="right")
        k = pl.col(col).is_not_null().cast(pl.Int32).rolling_sum_by(time_col, window_size=window, closed="right")
        s, k = s.over(station_col), k.over(station_col)
        exprs.append(pl.when(k >= minimum).then(s / k).otherwise(None).alias(out))
    return tmp.with_columns(exprs).sort("_row").select(list(specs))


def add_aqi(
    df: pl.DataFrame,
    report: str,
    standard: Edition | str = "auto",
    *,
    time_col: str = "time",
    station_col: str = "station",
    time_marks: Literal["end", "start"] = "end",
) -> pl.DataFrame:
    """``df`` with the columns edition, AQI, level, primary, IAQI_<key> and note added.

    ``df`` has ``time_col`` (Datetime, hour-ending Beijing time, for hourly; Date for daily), any of
    the pollutant columns SO2 NO2 CO O3 PM10 PM2.5 O3_8h and, for hourly data, optionally the 24 h
    sliding means SO2_24h, PM10_24h, PM2.5_24h. Each row uses the edition ``standard`` names, or with
    ``auto`` the edition for its date. Where the HJ 633-2012 text needs 24 h / 8 h sliding values
    that are not columns, they are computed per station from the table (``sliding_means``).
    IAQI columns appear for the pollutant columns present that some row's edition uses.
    """
    if report not in ("hourly", "daily"):
        raise InputError("--report", f"unknown report {report!r}; expected hourly or daily")
    if time_col not in df.columns:
        raise InputError(time_col, "column missing / 缺少列")
    present = [k for k in POLLUTANT_KEYS if k in df.columns]
    if not present:
        raise InputError("columns", f"no pollutant column; expected any of {', '.join(POLLUTANT_KEYS)} / 无污染物列")
    n = df.height
    ed_idx = editions_column(df[time_col], report, standard, time_marks=time_marks)
    values = {k: _as_float(k, df[k], n) for k in present}
    extras: dict[str, np.ndarray | None] = {k: None for k in HOURLY_EXTRA_INPUTS}
    if report == "hourly":
        for arg, col in EXTRA_COLUMNS.items():
            if col in df.columns:
                extras[arg] = _as_float(col, df[col], n)
        extras.update(_needed_sliding(df, ed_idx, values, extras, station_col=station_col, time_col=time_col))
    shown = set(present) | ({"O3_8h"} if extras["o3_8h"] is not None else set())
    aqi = np.full(n, NONE, dtype=np.int16)
    level = np.full(n, NONE, dtype=np.int8)
    primary = np.zeros(n, dtype=np.uint8)
    iaqi: dict[str, np.ndarray] = {}
    note_parts: list[tuple[Edition, np.ndarray, np.ndarray | None]] = []
    counts = np.bincount(ed_idx[ed_idx >= 0], minlength=len(EDITIONS)) if n else np.zeros(len(EDITIONS), dtype=np.int64)
    for ei in np.flatnonzero(counts):
        ed = EDITIONS[int(ei)]
        m: np.ndarray | None = None if counts[ei] == n else ed_idx == ei  # one edition: no copies

        def part(a: np.ndarray | None, m: np.ndarray | None = m) -> np.ndarray | None:
            return a if a is None or m is None else a[m]

        sub_vals = {k: part(v) for k, v in values.items()}
        if report == "hourly":
            cols = hourly_aqi_columns(sub_vals, ed, **{k: part(v) for k, v in extras.items()})
        else:
            cols = daily_aqi_columns(sub_vals, ed)
        if m is None:
            aqi, level, primary = cols.aqi, cols.level, cols.primary
        else:
            aqi[m], level[m], primary[m] = cols.aqi, cols.level, cols.primary
        note_parts.append((ed, cols.note_code, m))
        for k, v in cols.iaqi.items():
            if k in shown:
                if m is None:
                    iaqi[k] = v
                else:
                    iaqi.setdefault(k, np.full(n, NONE, dtype=np.int16))[m] = v
    ordered = {k: iaqi[k] for k in POLLUTANT_KEYS if k in iaqi}
    res = _frame(aqi, level, primary, ordered, _note_series(note_parts, report, n))
    ed_names = {i: e.value for i, e in enumerate(EDITIONS)}
    edition = pl.Series("edition", ed_idx, dtype=pl.Int8).replace_strict(ed_names, default=None, return_dtype=pl.String)
    return df.with_columns(edition, *res.get_columns())


def _needed_sliding(
    df: pl.DataFrame,
    ed_idx: np.ndarray,
    values: Mapping[str, np.ndarray],
    extras: Mapping[str, np.ndarray | None],
    *,
    station_col: str,
    time_col: str,
) -> dict[str, np.ndarray]:
    """Sliding 24 h / 8 h values that the rows' editions need and the table does not carry."""
    need: dict[str, tuple[str, str, int]] = {}
    text = ed_idx == EDITIONS.index(Edition.HJ633_2012)
    old = text | (ed_idx == EDITIONS.index(Edition.HJ633_2012_PUBLISHED))
    if text.any():
        if extras["pm10_24h_sliding"] is None and "PM10" in values:
            need["pm10_24h_sliding"] = ("PM10", "24h", 20)
        if extras["pm25_24h_sliding"] is None and "PM2.5" in values:
            need["pm25_24h_sliding"] = ("PM2.5", "24h", 20)
        if extras["o3_8h"] is None and "O3" in values:
            need["o3_8h"] = ("O3", "8h", 6)
    if extras["so2_24h"] is None and "SO2" in values and (old & (values["SO2"] > 800)).any():
        need["so2_24h"] = ("SO2", "24h", 20)
    if not need:
        return {}
    if station_col not in df.columns:
        raise InputError(station_col, "column missing / 缺少列 (needed for sliding means)")
    if df.select(pl.struct(station_col, time_col).is_duplicated().any()).item():
        raise InputError(time_col, "duplicate station/time rows; sliding means need one row per station-hour / 站点时间重复")
    out = sliding_means(df, station_col=station_col, time_col=time_col, specs=need)
    return {k: out[k].cast(pl.Float64).to_numpy() for k in need}


def parse_times(texts: pl.Series, report: str, *, where: str = "input", first_line: int = 1) -> pl.Series:
    """Datetime (naive Beijing) for hourly or Date for daily from ISO 8601 strings; InputError naming the row.

    Hourly times are hour-ending labels and must fall on the hour; a zone offset is converted to
    Beijing time. Daily times must be dates. Errors name the line: ``first_line`` is the line of
    the first value (2 for a CSV with a header).
    """
    dtype = pl.Date if report == "daily" else pl.Datetime("us")
    if texts.len() == 0:
        return pl.Series(texts.name, [], dtype=dtype)
    uniq = texts.unique(maintain_order=True).to_list()
    parsed: dict[str, date | datetime] = {}
    for u in uniq:
        try:
            if u is None or str(u).strip() == "":
                raise ValueError("empty")
            s = str(u).strip()
            if report == "daily":
                if len(s) != 10:
                    raise ValueError("daily data need a date (YYYY-MM-DD)")
                parsed[u] = date.fromisoformat(s)
            else:
                if len(s) <= 10:
                    raise ValueError("hourly data need a date and time (hour-ending, Beijing time)")
                dt = datetime.fromisoformat(s.replace("Z", "+00:00"))
                dt = beijing_naive(dt)
                if dt.minute or dt.second or dt.microsecond:
                    raise ValueError("hourly times must be on the hour (the hour-ending label)")
                parsed[u] = dt
        except ValueError as e:
            hit = texts.is_null() if u is None else (texts == u).fill_null(False)
            line = int(hit.arg_true()[0]) + first_line
            raise InputError("time", f"第 {line} 行 / line {line}: {e} — got {u!r}", where=where) from None
    return texts.replace_strict(parsed, return_dtype=dtype).alias(texts.name)
