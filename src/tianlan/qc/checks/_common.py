"""What the quality-check families share: per-parameter knowledge and small NumPy helpers.

Parameters are named by their HJ 212-2017 factor code (``a34004`` PM2.5 …). A series may also be
named the way a wide CSV names it (``PM2.5``, ``SO2``) or by the English name of the parameter
table; :func:`canonical` maps all of these onto the code.

The per-parameter table gives, in the unit a network reports (ambient air µg/m³, CO mg/m³; flue gas
mg/m³; water mg/L unless said):

- ``resolution``: the reporting step (1 µg/m³, CO 0.1 mg/m³) — the default flat-line tolerance;
- ``log_offset``: ``c`` of the log transform ``ln(x + c)`` used by the temporal tests, about the
  low-end noise of the analyser, so that 2 → 4 µg/m³ does not read as a doubling (same convention as
  ``tianlan.qc.fraud.spatial.LOG_OFFSETS``);
- ``detection``: values at or below it are "below detection" (flat runs there are exempt);
- ``fail`` / ``suspect``: gross-range spans (RNG-01) — fail is the physical or instrument range,
  suspect the plausible range of the network.

Ambient analyser measuring ranges are set in §6 "performance indicators" (性能指标) of HJ 653-2013
(PM10/PM2.5; replaced by HJ 653-2021 from 1 June 2022) and of HJ 654-2013 (SO2, NO2, O3, CO);
the section numbers are from the standards' tables of contents, the range figures were not read in
either text: PM 0–1000 µg/m³ (0–10000 in a high range), SO2/NO2/O3 0–500 nmol/mol and CO
0–50 µmol/mol are as remembered [verify against §6 of each standard]. At the 25 °C reference
state of gas data since September 2018 those gas ranges are about 1310 / 940 / 980 µg/m³ and
57 mg/m³ (1430 / 1030 / 1070 µg/m³ and 62.5 mg/m³ at 273 K). The ``fail`` bounds below are not
these ranges but wider: SO2 5000, NO2 and O3 2000, PM 10000 µg/m³, CO 62.5 mg/m³ (50 µmol/mol at
273 K). The suspect bounds were set above the largest values of the real Hebei 2019 release
(PM10 2454, SO2 538, NO2 249, O3 378 µg/m³) so a genuine dust storm or smog episode does not trip
them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tianlan.qc.core import Context, Series

BEIJING_OFFSET_S = 8 * 3600
INF = float("inf")


@dataclass(frozen=True)
class ParamInfo:
    code: str
    resolution: float = 0.0
    log_offset: float = 1.0
    detection: float = 0.0
    fail: tuple[float, float] = (-INF, INF)
    suspect: tuple[float, float] = (-INF, INF)
    gas: bool = False  # a gas analyser (flat-line period 12 h rather than 6 h)


_AIR: dict[str, ParamInfo] = {
    "a34004": ParamInfo("a34004", 1.0, 5.0, 2.0, (0.0, 10000.0), (0.0, 1000.0)),  # PM2.5
    "a34002": ParamInfo("a34002", 1.0, 10.0, 3.0, (0.0, 10000.0), (0.0, 3000.0)),  # PM10
    "a34001": ParamInfo("a34001", 1.0, 10.0, 3.0, (0.0, 20000.0), (0.0, 5000.0)),  # TSP
    "a34005": ParamInfo("a34005", 1.0, 5.0, 2.0, (0.0, 10000.0), (0.0, 1000.0)),  # PM1.0
    "a21026": ParamInfo("a21026", 1.0, 3.0, 3.0, (0.0, 5000.0), (0.0, 1000.0), gas=True),  # SO2
    "a21004": ParamInfo("a21004", 1.0, 5.0, 2.0, (0.0, 2000.0), (0.0, 500.0), gas=True),  # NO2
    "a21003": ParamInfo("a21003", 1.0, 5.0, 2.0, (0.0, 2000.0), (0.0, 1000.0), gas=True),  # NO
    "a21002": ParamInfo("a21002", 1.0, 5.0, 2.0, (0.0, 5000.0), (0.0, 2000.0), gas=True),  # NOx
    "a05024": ParamInfo("a05024", 1.0, 10.0, 2.0, (0.0, 2000.0), (0.0, 500.0), gas=True),  # O3
    "a21005": ParamInfo("a21005", 0.1, 0.1, 0.2, (0.0, 62.5), (0.0, 20.0), gas=True),  # CO mg/m³
    "a01001": ParamInfo("a01001", 0.1, 0.0, -INF, (-60.0, 60.0), (-40.0, 45.0)),  # air temperature °C
    "a01002": ParamInfo("a01002", 1.0, 0.0, -INF, (0.0, 100.0), (1.0, 100.0)),  # RH %
    "a01006": ParamInfo("a01006", 0.1, 0.0, -INF, (50.0, 110.0), (60.0, 106.0)),  # pressure kPa
    "a01007": ParamInfo("a01007", 0.1, 0.0, -INF, (0.0, 75.0), (0.0, 40.0)),  # wind speed m/s
    "a01008": ParamInfo("a01008", 1.0, 0.0, -INF, (0.0, 360.0), (0.0, 360.0)),  # wind direction °
}

_SOURCE: dict[str, ParamInfo] = {  # flue gas (HJ 75/76), mg/m³ unless said
    "a21026": ParamInfo("a21026", 0.1, 1.0, 1.0, (0.0, 20000.0), (0.0, 5000.0), gas=True),
    "a21002": ParamInfo("a21002", 0.1, 1.0, 1.0, (0.0, 20000.0), (0.0, 5000.0), gas=True),
    "a21003": ParamInfo("a21003", 0.1, 1.0, 1.0, (0.0, 20000.0), (0.0, 5000.0), gas=True),
    "a21004": ParamInfo("a21004", 0.1, 1.0, 1.0, (0.0, 10000.0), (0.0, 2000.0), gas=True),
    "a21005": ParamInfo("a21005", 0.1, 1.0, 1.0, (0.0, 50000.0), (0.0, 10000.0), gas=True),
    "a34013": ParamInfo("a34013", 0.1, 1.0, 0.5, (0.0, 5000.0), (0.0, 1000.0)),  # particulate
    "a19001": ParamInfo("a19001", 0.01, 0.5, -INF, (0.0, 25.0), (0.0, 21.5), gas=True),  # O2 %
    "a01012": ParamInfo("a01012", 0.1, 0.0, -INF, (-40.0, 1200.0), (-20.0, 600.0)),  # flue temperature °C
    "a01013": ParamInfo("a01013", 0.01, 0.0, -INF, (-50.0, 50.0), (-10.0, 10.0)),  # flue pressure kPa
    "a01014": ParamInfo("a01014", 0.1, 0.0, -INF, (0.0, 100.0), (0.0, 40.0)),  # flue humidity %
    "a01011": ParamInfo("a01011", 0.1, 0.0, -INF, (0.0, 100.0), (0.0, 40.0)),  # velocity m/s
    "a00000": ParamInfo("a00000", 1.0, 1.0, -INF, (0.0, INF), (0.0, INF)),  # flow m³/s
}

_WATER: dict[str, ParamInfo] = {  # surface water (HJ 915) and wastewater outlets (HJ 355/356), mg/L
    "w01001": ParamInfo("w01001", 0.01, 0.0, -INF, (0.0, 14.0), (4.0, 11.0)),  # pH
    "w01010": ParamInfo("w01010", 0.1, 0.0, -INF, (-5.0, 50.0), (0.0, 40.0)),  # water temperature °C
    "w01009": ParamInfo("w01009", 0.01, 0.2, 0.1, (0.0, 25.0), (0.0, 20.0)),  # DO
    "w01014": ParamInfo("w01014", 1.0, 10.0, 1.0, (0.0, 200000.0), (1.0, 50000.0)),  # conductivity µS/cm
    "w01003": ParamInfo("w01003", 0.1, 1.0, 0.5, (0.0, 10000.0), (0.0, 4000.0)),  # turbidity NTU
    "w01019": ParamInfo("w01019", 0.1, 0.5, 0.5, (0.0, 1000.0), (0.0, 100.0)),  # CODMn
    "w01018": ParamInfo("w01018", 0.1, 4.0, 4.0, (0.0, 100000.0), (0.0, 5000.0)),  # COD
    "w21003": ParamInfo("w21003", 0.01, 0.05, 0.025, (0.0, 1000.0), (0.0, 200.0)),  # NH3-N
    "w21011": ParamInfo("w21011", 0.001, 0.01, 0.01, (0.0, 200.0), (0.0, 50.0)),  # TP
    "w21001": ParamInfo("w21001", 0.01, 0.05, 0.05, (0.0, 1000.0), (0.0, 200.0)),  # TN
    "w00000": ParamInfo("w00000", 0.01, 1.0, -INF, (0.0, INF), (0.0, INF)),  # flow L/s
}

_ALIASES: dict[str, str] = {
    "pm2.5": "a34004", "pm25": "a34004", "pm10": "a34002", "tsp": "a34001", "pm1.0": "a34005", "pm1": "a34005",
    "so2": "a21026", "no2": "a21004", "no": "a21003", "nox": "a21002", "o3": "a05024", "co": "a21005",
    "o2": "a19001", "ph": "w01001", "do": "w01009", "cod": "w01018", "codmn": "w01019", "nh3-n": "w21003",
    "tp": "w21011", "tn": "w21001", "turbidity": "w01003", "conductivity": "w01014",
}  # fmt: skip


def _name_aliases() -> dict[str, str]:
    from tianlan.model.parameters import default_parameters

    out = dict(_ALIASES)
    for p in default_parameters():
        out.setdefault(p.name_en.lower(), p.code)
        out.setdefault(p.code.lower(), p.code)
    return out


_NAMES: dict[str, str] | None = None
_CANONICAL: dict[str, str] = {}  # name as asked → code (memo of canonical)


def canonical(name: str) -> str:
    """The HJ 212 factor code of ``name`` (a code, a wide-CSV column such as ``PM2.5``, or an English
    name); ``name`` itself, lower-cased, when it is unknown."""
    got = _CANONICAL.get(name) if isinstance(name, str) else None
    if got is not None:
        return got
    global _NAMES
    if _NAMES is None:
        _NAMES = _name_aliases()
    key = str(name).strip().lower()
    got = _NAMES.get(key, key)
    if isinstance(name, str) and len(_CANONICAL) < 4096:  # the checks ask for the same few codes
        _CANONICAL[name] = got
    return got


def site_kind(series: Series, ctx: Context) -> str:
    """``air`` | ``source`` | ``water``: ``ctx.attrs['kind']`` if given, else guessed from the code and
    unit (SO2 in mg/m³ is a flue-gas outlet)."""
    kind = str(ctx.attrs.get("kind", "") or "")
    if kind in ("air", "source", "water"):
        return kind
    code = canonical(series.parameter)
    if code.startswith("w"):
        return "water"
    unit = series.unit.replace("³", "3").lower()
    if code in _SOURCE and (code not in _AIR or (unit == "mg/m3" and code != "a21005")):
        return "source"
    return "air"


def info(series: Series, ctx: Context) -> ParamInfo | None:
    """The table row of the series' parameter at its kind of site, or None when unknown."""
    code = canonical(series.parameter)
    kind = site_kind(series, ctx)
    table = {"air": _AIR, "source": _SOURCE, "water": _WATER}[kind]
    return table.get(code) or _AIR.get(code) or _SOURCE.get(code) or _WATER.get(code)


def log_values(values: np.ndarray, offset: float) -> np.ndarray:
    """``ln(max(x, 0) + offset)``; NaN stays NaN. With ``offset`` 0 (no log scale) the values."""
    if offset <= 0:
        return np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.log(np.maximum(values, 0.0) + offset)


# --- validity from instrument state --------------------------------------------------------------

#: Flags that make a value not valid: HJ 212-2017 Table 8 (F M S D C B), HJ/T 212-2005 P (power
#: failure) and the 2005 air-station digits 0 (calibration) and 2 (abnormal).
INVALID_FLAGS = frozenset({"F", "M", "S", "D", "C", "B", "P", "0", "2"})


class FlagState:
    """The HJ 212 flags of a series, decoded once: the distinct stripped flags (``uniq``) and, per
    value, the index of its flag in them (``inverse``). Membership tests are then one look-up table
    indexed by ``inverse`` instead of a Python loop over the values (a month of minute data has
    43 200 flags, tested by a dozen detectors)."""

    __slots__ = ("_flags", "uniq", "inverse", "_list", "_luts")

    def __init__(self, flags: np.ndarray, coded: tuple[Sequence[Any], np.ndarray] | None = None) -> None:
        """``coded``: the flags already coded by the caller — (the distinct flags, each value's index
        in them), as streaming QC keeps them; the distinct flags are those of a whole buffer, of
        which only those present in ``flags`` count."""
        self._flags = flags
        if coded is not None:
            distinct, raw = coded
            stripped = ["" if f is None else str(f).strip() for f in distinct]
            present = np.flatnonzero(np.bincount(raw, minlength=len(distinct))) if raw.size else raw
            self.uniq = sorted({stripped[i] for i in present.tolist()})
            where = {u: i for i, u in enumerate(self.uniq)}
            lut = np.array([where.get(x, 0) for x in stripped], dtype=np.int64)
            self.inverse = lut[raw] if raw.size else np.zeros(0, dtype=np.int64)
        else:
            got = _distinct(flags)
            if got is None:
                codes: dict[Any, int] = {}
                raw = np.fromiter((codes.setdefault(f, len(codes)) for f in flags), dtype=np.int64, count=len(flags))
            else:
                codes, raw = got
            stripped = ["" if f is None else str(f).strip() for f in codes]
            self.uniq = sorted(set(stripped))
            where = {u: i for i, u in enumerate(self.uniq)}
            self.inverse = np.array([where[x] for x in stripped], dtype=np.int64)[raw] if raw.size else raw
        self._list: list[str] | None = None
        self._luts: dict[frozenset[str], np.ndarray] = {}

    def isin(self, wanted: frozenset[str]) -> np.ndarray:
        """Per value: whether its stripped flag is one of ``wanted``."""
        lut = self._luts.get(wanted)
        if lut is None:
            lut = self._luts[wanted] = np.array([u in wanted for u in self.uniq], dtype=bool)
        return lut[self.inverse] if lut.size else np.zeros(self.inverse.size, dtype=bool)

    def as_list(self) -> list[str]:
        if self._list is None:
            u = self.uniq
            self._list = [u[i] for i in self.inverse.tolist()]
        return self._list


def _distinct(flags: np.ndarray, max_distinct: int = 8) -> tuple[dict[Any, int], np.ndarray] | None:
    """The distinct flags (→ their index, in order of first appearance) and each value's index, by
    one element-wise comparison per distinct flag instead of a Python loop over the values: a
    series carries a handful of flags (``N`` nearly everywhere), and streaming QC decodes the
    flags of every window it checks. None when that does not apply (more than ``max_distinct``
    flags, an object not equal to itself) — the caller then loops."""
    n = len(flags)
    if n == 0:
        return None
    fl = np.asarray(flags, dtype=object)
    raw = np.full(n, -1, dtype=np.int64)
    codes: dict[Any, int] = {}
    left = 0  # first value not yet assigned
    while left < n:
        if len(codes) >= max_distinct:
            return None
        f = fl[left]
        if f in codes:  # equal to a flag seen before but not matched by it (cannot happen for str/None)
            return None
        try:
            eq = np.asarray(fl[left:] == f, dtype=bool)
        except Exception:  # an exotic object whose comparison is not element-wise
            return None
        if eq.shape != (n - left,) or not eq[0]:
            return None  # e.g. a float NaN flag: not equal to itself
        sub = raw[left:]
        eq &= sub < 0
        sub[eq] = len(codes)
        codes[f] = len(codes)
        rest = np.flatnonzero(sub < 0)
        if rest.size == 0:
            break
        left += int(rest[0])
    return codes, raw


def attach_flag_state(series: Series, distinct: Sequence[Any], raw: np.ndarray) -> None:
    """Give ``series`` its flags' codes as its maker keeps them (``raw[i]``: the index of value i's
    flag in ``distinct``), so the checks that test flags decode them from those (streaming QC; the
    decoding itself waits for the first check that asks: most windows are never asked)."""
    if series.flags is not None:
        series.__dict__["_flag_coded"] = (series.flags, distinct, raw)


def flag_state(series: Series) -> FlagState | None:
    """The decoded flags of ``series`` (None without flags), computed once per series and kept on
    it, so the dozen detectors that test flags decode them once. A series' flags are not changed
    in place once it is checked (detectors never change data; a caller that edits flags makes a
    new :class:`Series`)."""
    fl = series.flags
    if fl is None:
        return None
    st = series.__dict__.get("_flag_state")
    if st is None or st._flags is not fl:
        coded = series.__dict__.get("_flag_coded")
        st = series.__dict__["_flag_state"] = FlagState(fl, coded[1:]) if coded is not None and coded[0] is fl \
            else FlagState(fl)
    return st


def flag_list(series: Series) -> list[str] | None:
    """The flags as stripped strings ('' for none), or None when the series has no flags."""
    st = flag_state(series)
    return None if st is None else st.as_list()


def flag_in(series: Series, wanted: frozenset[str]) -> np.ndarray | None:
    """Per value: whether its stripped flag is one of ``wanted`` (None when the series has no flags)."""
    st = flag_state(series)
    return None if st is None else st.isin(frozenset(wanted))


def has_state(series: Series) -> bool:
    """Whether the series carries instrument flags at all (a published CSV carries none)."""
    st = flag_state(series)
    return st is not None and any(st.uniq)


def valid_mask(series: Series) -> np.ndarray:
    """Values that count: present, and not flagged invalid by the instrument (HJ 212-2017 Table 8:
    F, M, S, D, C, B — and P, 0, 2 of HJ/T 212-2005 — make a value not valid; N and T keep it)."""
    ok = np.isfinite(series.values)
    st = flag_state(series)
    if st is not None:
        ok &= ~st.isin(INVALID_FLAGS)
    return ok


# --- ranges, time, evidence ----------------------------------------------------------------------


def runs(mask: np.ndarray, min_len: int = 1, max_gap: int = 0, gap_ok: np.ndarray | None = None) -> list[tuple[int, int]]:
    """Index ranges [start, end) where ``mask`` holds for at least ``min_len`` counted elements.

    Without ``gap_ok``: runs of consecutive True elements. With it, elements where ``gap_ok`` is
    true (typically: the value is missing) may interrupt a run for up to ``max_gap`` consecutive
    elements without breaking it; they are not counted towards ``min_len``. Runs start and end on
    an element where ``mask`` holds.
    """
    m = np.asarray(mask, dtype=bool)
    if m.size == 0 or not m.any():
        return []
    if gap_ok is None or max_gap <= 0:
        # the edges of the runs, alternately a start and an end (one search instead of two)
        p = np.zeros(m.size + 2, dtype=bool)
        p[1:-1] = m
        edges = np.flatnonzero(p[1:] != p[:-1])
        starts, ends = edges[::2], edges[1::2]
        if min_len > 1:
            keep = (ends - starts) >= min_len
            starts, ends = starts[keep], ends[keep]
        return list(zip(starts.tolist(), ends.tolist(), strict=True))
    gap = np.asarray(gap_ok, dtype=bool) & ~m
    out: list[tuple[int, int]] = []
    idx = np.flatnonzero(m)
    start = prev = int(idx[0])
    count = 1
    for i in idx[1:].tolist():
        between = i - prev - 1
        if between == 0 or (between <= max_gap and gap[prev + 1:i].all()):
            prev = i
            count += 1
            continue
        if count >= min_len:
            out.append((start, prev + 1))
        start = prev = i
        count = 1
    if count >= min_len:
        out.append((start, prev + 1))
    return out


def grid_index(series: Series) -> np.ndarray:
    """Position of each time on the series' nominal grid, counted from the first time."""
    if len(series) == 0:
        return np.zeros(0, dtype=np.int64)
    return (series.times - series.times[0]) // max(int(series.step_s), 1)


def on_grid(series: Series, values: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The values laid on a regular grid of ``step_s`` (NaN where no row), and the grid position of
    each row. Duplicate times keep the last row."""
    v = series.values if values is None else values
    pos = grid_index(series)
    n = int(pos[-1]) + 1 if pos.size else 0
    g = np.full(n, np.nan)
    g[pos] = v
    return g, pos


def local_day(times: np.ndarray, offset_s: int = BEIJING_OFFSET_S) -> np.ndarray:
    """Day number (days since 1970-01-01 in local time) of each period-start time."""
    return (np.asarray(times, dtype=np.int64) + offset_s) // 86400


def local_hour(times: np.ndarray, offset_s: int = BEIJING_OFFSET_S) -> np.ndarray:
    return ((np.asarray(times, dtype=np.int64) + offset_s) % 86400) // 3600


def local_month(times: np.ndarray, offset_s: int = BEIJING_OFFSET_S) -> tuple[np.ndarray, np.ndarray]:
    """(year, month 1–12) of each time in local time."""
    d = (np.asarray(times, dtype=np.int64) + offset_s).astype("datetime64[s]")
    y = d.astype("datetime64[Y]").astype(np.int64) + 1970
    m = d.astype("datetime64[M]").astype(np.int64) % 12 + 1
    return y, m


def sample(values: np.ndarray, start: int, end: int, k: int = 12) -> list[float | None]:
    """At most ``k`` values of [start, end) for an evidence payload (the first k/2 and last k/2)."""
    v = np.asarray(values[start:end], dtype=np.float64)
    if v.size > k:
        v = np.concatenate((v[: k // 2], v[-(k // 2):]))
    return [None if not np.isfinite(x) else round(float(x), 6) for x in v]


def iso(t: int | float) -> str:
    """UTC ISO 8601 of an epoch second, for evidence."""
    return str(np.datetime64(int(t), "s")) + "Z"


def per_parameter(value: Any, code: str, default: Any) -> Any:
    """A parameter given either as one value or as a mapping of factor code (or name) to value."""
    if isinstance(value, Mapping):
        for k, v in value.items():
            if canonical(k) == code:
                return v
        return value.get("default", default)
    return default if value is None else value


def event_time(e: Mapping[str, Any]) -> int | None:
    t = e.get("time_utc")
    return None if t is None else int(t)


def events_of(ctx: Context, kinds: Iterable[str], code: str | None = None) -> list[Mapping[str, Any]]:
    """``ctx.events`` of the given kinds that concern ``code`` (an event without ``key`` concerns every
    parameter), sorted by time."""
    ks = {k.lower() for k in kinds}
    out = []
    for e in ctx.events:
        if str(e.get("kind", "")).lower() not in ks or event_time(e) is None:
            continue
        key = e.get("key")
        if code is not None and key not in (None, "", "*") and canonical(str(key)) != code:
            continue
        out.append(e)
    return sorted(out, key=lambda e: int(e["time_utc"]))


def index_range(times: np.ndarray, t0: int, t1: int) -> tuple[int, int]:
    """Rows whose period start lies in [t0, t1)."""
    return int(np.searchsorted(times, t0, "left")), int(np.searchsorted(times, t1, "left"))


# --- robust scales, rolling windows, alignment (shared by the temporal, spatial and cross checks) ---


def robust_sigma(d: np.ndarray, min_count: int = 10) -> float:
    """1.4826 · MAD of the finite values of ``d`` (a normal σ, robust to outliers); NaN with fewer
    than ``min_count`` values."""
    d = d[np.isfinite(d)]
    if d.size < min_count:
        return float("nan")
    return float(1.4826 * median_finite(np.abs(d - median_finite(d))))


def median_finite(v: np.ndarray) -> float | np.floating:
    """``np.median`` of a non-empty 1-D array without NaN, the same value to the last bit (the
    middle element, or the mean of the two middle ones), without ``np.median``'s generic
    machinery: ~5 µs instead of ~25 µs per call on a week of hours (robust scales are taken in
    every temporal check, and streaming QC calls them thousands of times an hour)."""
    n = v.size
    if n == 0:
        return np.float64("nan")  # as np.median of nothing (without its warning)
    k = n // 2
    if n % 2:
        return np.partition(v, k)[k]
    p = np.partition(v, (k - 1, k))
    return (p[k - 1] + p[k]) / 2.0


def aligned(times: np.ndarray, other: Series | None, shift_s: int = 0, *,
            values: np.ndarray | None = None) -> np.ndarray:
    """Values of ``other`` (or ``values``, one per row of ``other``) at exactly ``times − shift_s``
    (NaN where ``other`` has no value there); always a new array.

    Series of one scan share one regular grid, so when the times are the same the values are
    copied without a search (a batch scan aligns thousands of neighbour series)."""
    if other is None or len(other) == 0:
        return np.full(times.shape, np.nan)
    src = other.values if values is None else values
    if shift_s == 0 and (other.times is times or (other.times.size == times.size and np.array_equal(other.times, times))):
        return np.array(src, dtype=np.float64, copy=True)
    out = np.full(times.shape, np.nan)
    want = times - shift_s
    idx = np.minimum(np.searchsorted(other.times, want), len(other) - 1)  # searchsorted is ≥ 0
    hit = other.times[idx] == want
    out[hit] = src[idx[hit]]
    return out


def nanmedian_rows(m: np.ndarray) -> np.ndarray:
    """Median of each row of ``m`` ignoring NaN (NaN for a row without values); one sort of the
    whole matrix (NaN sort last) — faster than ``np.nanmedian`` or per-row partial sorts here."""
    if m.ndim != 2 or m.shape[1] == 0:
        return np.full(m.shape[0] if m.ndim else 0, np.nan)
    srt = np.sort(m, axis=1)  # NaN sorts last
    k = np.isfinite(m).sum(axis=1)
    rows = np.arange(m.shape[0])
    # 0 ≤ k ≤ columns ≥ 1: only lo (−1 for an empty row) needs a bound (np.clip costs more than the rest)
    lo = np.maximum((k - 1) // 2, 0)
    hi = k // 2
    out = 0.5 * (srt[rows, lo] + srt[rows, hi])
    out[k == 0] = np.nan
    return out


def grid_positions(times: np.ndarray, step_s: int) -> tuple[np.ndarray, int]:
    """Position of each time on the regular grid of step ``step_s`` from the first time; grid length."""
    if times.size == 0:
        return np.empty(0, dtype=np.int64), 0
    idx = np.rint((times - times[0]) / max(step_s, 1)).astype(np.int64)
    return idx, int(idx[-1]) + 1


def windows(g: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """Rows ``g[start:start + width]`` for each start (NaN outside ``g``), as a (len(starts), width) view."""
    pad = np.concatenate([np.full(width, np.nan), g, np.full(width, np.nan)])
    w = _sliding(pad, width)
    return w[np.minimum(np.maximum(starts + width, 0), w.shape[0] - 1)]


def _sliding(a: np.ndarray, width: int) -> np.ndarray:
    """``sliding_window_view(a, width)`` of a 1-D array, read-only, without its argument checks
    (a third of the cost of a rolling baseline on a window of a few weeks)."""
    if a.ndim != 1 or not 1 <= width <= a.shape[0]:
        return np.lib.stride_tricks.sliding_window_view(a, width)
    st = a.strides[0]
    return np.lib.stride_tricks.as_strided(a, shape=(a.shape[0] - width + 1, width), strides=(st, st), writeable=False)


def rolling_robust(times: np.ndarray, r: np.ndarray, window_s: float, *, step_s: int = 3600, knot_s: float = 86400.0,
                   min_count: int = 48, min_scale: float = 0.0,
                   trailing_guard_s: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rolling median and robust scale (1.4826·MAD) of ``r``, per element.

    Evaluated at knots every ``knot_s`` seconds over windows of ``window_s`` centred on each knot
    (clipped to the data: near the ends, and in streaming use, the window is one-sided) — or, with
    ``trailing_guard_s``, over the ``window_s`` that end that long before the knot (only the past,
    so a persistent change does not join its own baseline at once) — then interpolated linearly to
    each element. A knot with fewer than ``min_count`` finite values has no baseline (NaN). The
    scale is at least ``min_scale``.
    """
    n = r.size
    med = np.full(n, np.nan)
    scale = np.full(n, np.nan)
    if n == 0:
        return med, scale
    idx, size = grid_positions(times, step_s)
    g = np.full(size, np.nan)
    g[idx] = r
    width = max(1, int(round(window_s / max(step_s, 1))))
    kstep = max(1, int(round(knot_s / max(step_s, 1))))
    kpos = np.arange(0, size + kstep - 1, kstep)
    if trailing_guard_s is None:
        rows = windows(g, kpos - width // 2, width)
    else:
        rows = windows(g, kpos - int(round(trailing_guard_s / max(step_s, 1))) - width, width)
    count = np.isfinite(rows).sum(axis=1)
    km = nanmedian_rows(rows)
    ks = np.maximum(1.4826 * nanmedian_rows(np.abs(rows - km[:, None])), min_scale)
    ok = (count >= min_count) & np.isfinite(km)
    if not ok.any():
        return med, scale
    kk = kpos[ok].astype(np.float64)
    pos = idx.astype(np.float64)
    med = np.interp(pos, kk, km[ok])
    scale = np.interp(pos, kk, ks[ok])
    # no baseline across long stretches without knots (e.g. a month-long outage)
    j = np.clip(np.searchsorted(kk, pos), 0, kk.size - 1)
    nearest = np.minimum(np.abs(kk[j] - pos), np.abs(kk[np.maximum(j - 1, 0)] - pos))
    far = nearest > (width / 2.0 if trailing_guard_s is None else kstep)
    med[far] = np.nan
    scale[far] = np.nan
    return med, scale


def flank_median(r: np.ndarray, flank: int, *, guard: int = 0, min_count: int | None = None) -> np.ndarray:
    """Median of ``r`` over the ``flank`` elements before and the ``flank`` after each element, leaving
    out ``guard`` elements on each side (and the element itself): the local reference an episode is
    measured against. Fewer than ``min_count`` (default ``flank // 2``) finite flank values: NaN.
    At the end of a stream only the past is used."""
    n = r.size
    out = np.full(n, np.nan)
    if n == 0 or flank < 1:
        return out
    half = flank + guard
    pad = np.concatenate([np.full(half, np.nan), r, np.full(half, np.nan)])
    w = _sliding(pad, 2 * half + 1)
    ref = np.concatenate([w[:, :flank], w[:, 2 * half + 1 - flank:]], axis=1)
    count = np.isfinite(ref).sum(axis=1)
    ok = count >= (max(1, flank // 2) if min_count is None else min_count)
    out[ok] = nanmedian_rows(ref[ok])
    return out


def binned_robust_z(x: np.ndarray, level: np.ndarray, *, bins: int = 4, min_count: int = 50,
                    min_scale: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Robust z of ``x`` with a centre and scale per quantile bin of ``level``; also the scale used.

    Log residuals are noisier at low concentrations than in a regional haze, so one scale for all
    hours would under-alarm at high levels and over-alarm at low ones. Bins with fewer than
    ``min_count`` finite values use the pooled centre and scale.

    The bin edges are quantiles of ``level`` over every hour it is known, whether ``x`` is or
    not: ``level`` is meant to be defined independently of the checked station (XV-03 passes its
    neighbours' median), so the edges must not move when the station's own values go missing — a
    station that withholds its haze hours (selective missingness) would otherwise shift every bin
    edge down and with it the z of hours months away.
    """
    z = np.full(x.shape, np.nan)
    sc = np.full(x.shape, np.nan)
    ok = np.isfinite(x)
    if ok.sum() < min_count:
        return z, sc

    def centre_scale(v: np.ndarray) -> tuple[float, float]:  # v: finite, non-empty
        m = float(median_finite(v))
        return m, max(1.4826 * float(median_finite(np.abs(v - m))), min_scale)

    pooled = centre_scale(x[ok])
    lv = np.where(np.isfinite(level), level, np.nan)
    known = np.isfinite(lv)
    fin = known & ok
    edges = np.quantile(lv[known], np.linspace(0, 1, bins + 1)[1:-1]) if fin.sum() >= bins * min_count else np.array([])
    b = np.digitize(np.nan_to_num(lv, nan=-np.inf), edges) if edges.size else np.zeros(x.shape, dtype=int)
    for k in range(int(edges.size) + 1):
        sel = b == k
        v = x[sel & ok]
        m, s = centre_scale(v) if v.size >= min_count else pooled
        z[sel] = (x[sel] - m) / s
        sc[sel] = s
    return z, sc


def trailing_median(x: np.ndarray, width: int, *, min_count: int | None = None) -> np.ndarray:
    """Median of ``x`` over the ``width`` elements ending at each element (itself included);
    fewer than ``min_count`` (default ``width // 2``) finite values: NaN."""
    n = x.size
    out = np.full(n, np.nan)
    if n == 0 or width < 1:
        return out
    pad = np.concatenate([np.full(width - 1, np.nan), x])
    w = _sliding(pad, width)
    ok = np.isfinite(w).sum(axis=1) >= (max(1, width // 2) if min_count is None else min_count)
    out[ok] = nanmedian_rows(w[ok])
    return out


def reporting_resolution(values: np.ndarray) -> float:
    """The reporting resolution of ``values`` as transmitted: 1, 0.1, 0.01 or 0.001 (the coarsest
    decimal step every finite value is a multiple of); 0.0 if finer (continuous), 1.0 when empty."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return 1.0
    for k in range(4):
        s = 10.0**k
        if np.all(np.abs(v * s - np.round(v * s)) < 1e-6 * max(1.0, s)):
            return 1.0 / s
    return 0.0


def smallest_step(values: np.ndarray) -> float:
    """The smallest difference between two distinct finite values (above 1e-9); 0.0 with fewer than
    two: the resolution a transmitted series shows, whatever its decimals."""
    u = np.unique(values[np.isfinite(values)])
    if u.size < 2:
        return 0.0
    d = np.diff(u)
    d = d[d > 1e-9]
    return float(d.min()) if d.size else 0.0
