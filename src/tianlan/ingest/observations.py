"""From a decoded HJ 212 packet to observation rows (pure).

Which value is *the* value of a period (HJ 212-2017 §6.3.3, Table 4 and App. C):
- CN 2011 real-time data → kind ``rtd``, value = ``-Rtd`` at the instant ``DataTime``;
- CN 2051 minute, 2061 hour, 2031 day data → kinds ``min``/``hour``/``day``, value = ``-Avg``, with
  ``DataTime`` the start of the period (reference §3.8);
- noise uses ``-Data`` for the period value;
- CN 2021 facility running state → kind ``rs`` (``SBx-RS``, 0 off … 5 blow-back);
- CN 2041 facility daily running time → kind ``rt`` (``SBx-RT`` hours);
- CN 3020 field-device information → kind ``info`` (numeric ``-Info`` as value, texts in extra).
``-Min``/``-Max``/``-Cou`` and the converted (折算) ``-ZsRtd``/``-ZsAvg`` get their own columns;
any other suffix (SampleTime, EFlag, ZsMin, SN…) is kept in ``extra`` as JSON. Values stay text in
the raw archive; here they become floats in the parameter's unit.

This runs once per received frame on the gateway's hot path, hence the plain loops.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import orjson

from tianlan.errors import InputError
from tianlan.hj212 import Dialect, Packet
from tianlan.hj212.codes import normalise_code
from tianlan.hj212.crc import COMPILED
from tianlan.model.timeutil import hj212_time_to_utc

if TYPE_CHECKING:  # native 64-bit integers when compiled with mypyc; plain ints otherwise
    from mypy_extensions import i64

# (time_utc, parameter, kind, value, flag, vmin, vmax, cou, zs, extra_json)
ObsRow = tuple[
    int, str, str, "float | None", "str | None", "float | None", "float | None", "float | None", "float | None", "str | None"
]

# CN → (observation kind, suffixes that carry the value, in order of preference)
DATA_CNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "2011": ("rtd", ("Rtd", "Data")),
    "2051": ("min", ("Avg", "Data")),
    "2061": ("hour", ("Avg", "Data")),
    "2031": ("day", ("Avg", "Data", "DayData")),
    "2021": ("rs", ("RS",)),
    "2041": ("rt", ("RT",)),
    "3020": ("info", ("Info",)),
}
# Suffixes with their own column (or none: Flag); everything else goes to extra.
_COLUMN_SUFFIXES = frozenset({"Rtd", "Avg", "Data", "Min", "Max", "Cou", "ZsRtd", "ZsAvg", "Flag", "RS", "RT"})


class ObservationError(ValueError):
    """A data packet whose values cannot be placed in time; ``field`` names the culprit."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


_NAN: Final = float("nan")
_POW10: Final[list[float]] = [10.0**k for k in range(16)]


def _plain_decimal(text: str) -> float:
    """``float(text)`` for a plain decimal of at most 15 digits (``-5.8``, ``101.64``, ``.5``, ``7.``),
    NaN for anything else (then `_number` asks ``float``).

    Exact: the digits form an integer below 2**53 and 10**k (k <= 15) is exact too, so the one
    division is correctly rounded, as ``float`` rounds (Clinger's fast path). About twice as fast as
    ``float`` when compiled; slower as Python source, so `_number` uses it only when compiled.
    """
    n: i64 = len(text)
    if n == 0 or n > 17:
        return _NAN
    i: i64 = 0
    c: i64 = ord(text[0])
    negative = c == 45
    if negative or c == 43:
        i = 1
    mantissa: i64 = 0
    digits: i64 = 0
    point: i64 = -1
    while i < n:
        c = ord(text[i])
        if 48 <= c <= 57:
            mantissa = mantissa * 10 + (c - 48)
            digits += 1
        elif c == 46 and point < 0:
            point = digits
        else:
            return _NAN
        i += 1
    if digits == 0 or digits > 15:
        return _NAN
    value = float(mantissa)
    if 0 <= point < digits:
        value = value / _POW10[digits - point]
    return -value if negative else value


def _number(text: str | None) -> float | None:
    """The float of an HJ 212 decimal text (N14.2 style); None for absent, non-numeric, NaN or inf."""
    if text is None:
        return None
    if COMPILED:
        plain = _plain_decimal(text)
        if plain == plain:  # not NaN: it was a plain decimal
            return plain
    try:
        v = float(text)
    except ValueError:
        return None
    if v - v != 0.0:  # NaN or ±inf (x - x is NaN for both, 0.0 for every finite x)
        return None
    return v


_TIMES: Final[dict[str, int]] = {}  # DataTime text → UTC epoch s: devices report the same periods
_TIMES_MAX: Final = 4096


def _utc_of(data_time: str) -> int:
    """UTC epoch seconds of a DataTime text (Beijing time), remembered for the next frames."""
    t = _TIMES.get(data_time)
    if t is not None:
        return t
    try:
        t = hj212_time_to_utc(data_time)
    except InputError as e:  # what it raises for a malformed or impossible time (e.g. month 13)
        raise ObservationError("DataTime", e.reason) from e
    except ValueError as e:
        raise ObservationError("DataTime", str(e)) from e
    if len(_TIMES) >= _TIMES_MAX:
        _TIMES.clear()
    _TIMES[data_time] = t
    return t


def packet_observations(p: Packet) -> list[ObsRow]:
    """Observation rows of a data upload; [] for packets that carry no data (answers, notices…)."""
    spec = DATA_CNS.get(p.cn or "")
    if spec is None:
        return []
    kind, value_suffixes = spec
    cp = p.cp
    factors = cp.factors
    if not factors:
        return []
    dt = cp.data_time
    if dt is None:
        raise ObservationError("DataTime", f"CN {p.cn} data packet without DataTime")
    t = _utc_of(dt)
    old = p.dialect == Dialect.HJ212_2005
    st = p.st
    rows: list[ObsRow] = []
    column_suffixes = _COLUMN_SUFFIXES
    zs_suffix = "ZsRtd" if kind == "rtd" else "ZsAvg"
    first_suffix = value_suffixes[0]
    first_is_column = first_suffix in column_suffixes  # not "Info": it goes to extra as well
    for code, items in factors.items():
        # One pass over the items (a handful) instead of a lookup per column: the scanner hands
        # over the interned suffix strings, so most comparisons below succeed on identity.
        value_text: str | None = None
        flag: str | None = None
        min_text: str | None = None
        max_text: str | None = None
        cou_text: str | None = None
        zs_text: str | None = None
        plain = len(items) <= 5  # no item for extra
        for suffix, text in items.items():
            if suffix == first_suffix:
                value_text = text
                if not first_is_column:
                    plain = False
            elif suffix == "Flag":
                flag = text
            elif suffix == "Min":
                min_text = text
            elif suffix == "Max":
                max_text = text
            elif suffix == "Cou":
                cou_text = text
            elif suffix == zs_suffix:
                zs_text = text
            elif suffix not in column_suffixes:
                plain = False
        if value_text is None:
            for s in value_suffixes:
                value_text = items.get(s)
                if value_text is not None:
                    break
        value = _number(value_text)
        extra: dict[str, str] | None = None
        if not plain:
            extra = {k: v for k, v in items.items() if k not in column_suffixes}
        if value_text is not None and value is None:
            if extra is None:
                extra = {}
            extra["text"] = value_text
        param = normalise_code(code, st) if old else code
        if param != code:
            if extra is None:
                extra = {}
            extra["code"] = code
        rows.append(
            (
                t,
                param,
                kind,
                value,
                flag,
                _number(min_text),
                _number(max_text),
                _number(cou_text),
                _number(zs_text),
                orjson.dumps(extra).decode() if extra else None,
            )
        )
    return rows
