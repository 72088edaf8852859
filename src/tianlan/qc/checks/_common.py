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

Ambient analyser ranges follow HJ 653-2013 (PM 0–1000 µg/m³ in the usual range, 0–10000 in the
high range) and HJ 654-2013 (SO2/NO2/O3 0–500 nmol/mol, CO 0–50 µmol/mol, i.e. about 1400 / 940 /
1000 µg/m³ and 62.5 mg/m³) [verify the clause numbers]; the suspect bounds were set above the
largest values of the real Hebei 2019 release (PM10 2454, SO2 538, NO2 249, O3 378 µg/m³) so a
genuine dust storm or smog episode does not trip them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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


def canonical(name: str) -> str:
    """The HJ 212 factor code of ``name`` (a code, a wide-CSV column such as ``PM2.5``, or an English
    name); ``name`` itself, lower-cased, when it is unknown."""
    global _NAMES
    if _NAMES is None:
        _NAMES = _name_aliases()
    key = str(name).strip().lower()
    return _NAMES.get(key, key)


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


def flag_list(series: Series) -> list[str] | None:
    """The flags as stripped strings ('' for none), or None when the series has no flags."""
    if series.flags is None:
        return None
    return ["" if f is None else str(f).strip() for f in series.flags]


def has_state(series: Series) -> bool:
    """Whether the series carries instrument flags at all (a published CSV carries none)."""
    fl = flag_list(series)
    return fl is not None and any(fl)


def valid_mask(series: Series) -> np.ndarray:
    """Values that count: present, and not flagged invalid by the instrument (HJ 212-2017 Table 8:
    F, M, S, D, C, B — and P, 0, 2 of HJ/T 212-2005 — make a value not valid; N and T keep it)."""
    ok = np.isfinite(series.values)
    fl = flag_list(series)
    if fl is not None:
        ok &= ~np.fromiter((f in INVALID_FLAGS for f in fl), dtype=bool, count=len(fl))
    return ok


# --- ranges, time, evidence ----------------------------------------------------------------------


def runs(mask: np.ndarray, min_len: int = 1) -> list[tuple[int, int]]:
    """Index ranges [start, end) of consecutive True elements, at least ``min_len`` long."""
    m = np.asarray(mask, dtype=bool)
    if m.size == 0 or not m.any():
        return []
    d = np.diff(np.concatenate(([0], m.view(np.int8), [0])))
    starts = np.flatnonzero(d == 1)
    ends = np.flatnonzero(d == -1)
    keep = (ends - starts) >= min_len
    return list(zip(starts[keep].tolist(), ends[keep].tolist(), strict=True))


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
