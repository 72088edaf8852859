"""From a decoded HJ 212 packet to observation rows (pure).

Which value is *the* value of a period (HJ 212-2017 §6.3.3, Table 4 and App. C):
- CN 2011 real-time data → kind ``rtd``, value = ``-Rtd`` at the instant ``DataTime``;
- CN 2051 minute, 2061 hour, 2031 day data → kinds ``min``/``hour``/``day``, value = ``-Avg``, with
  ``DataTime`` the start of the period;
- noise uses ``-Data`` for the period value;
- CN 2021 facility running state → kind ``rs`` (``SBx-RS``, 0 off … 5 blow-back);
- CN 2041 facility daily running time → kind ``rt`` (``SBx-RT`` hours);
- CN 3020 field-device information → kind ``info`` (numeric ``-Info`` as value, texts in extra).
Every other suffix (Min, Max, Cou, ZsAvg, SampleTime, EFlag, SN…) is kept in ``extra`` as JSON.
Values stay text in the raw archive; here they become floats in the parameter's unit.
"""

from __future__ import annotations

import json

from tianlan.hj212 import Dialect, Packet
from tianlan.hj212.codes import normalise_code
from tianlan.ingest.item import ObsRow
from tianlan.model.timeutil import hj212_time_to_utc

# CN → (observation kind, suffixes that carry the value, in order of preference)
DATA_CNS: dict[str, tuple[str, tuple[str, ...]]] = {
    "2011": ("rtd", ("Rtd", "Data", "ZsRtd")),
    "2051": ("min", ("Avg", "Data", "ZsAvg", "Cou")),
    "2061": ("hour", ("Avg", "Data", "ZsAvg", "Cou")),
    "2031": ("day", ("Avg", "Data", "DayData", "ZsAvg", "Cou")),
    "2021": ("rs", ("RS",)),
    "2041": ("rt", ("RT",)),
    "3020": ("info", ("Info",)),
}


class ObservationError(ValueError):
    """A data packet whose values cannot be placed in time; ``field`` names the culprit."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _number(text: str) -> float | None:
    try:
        v = float(text)
    except ValueError:
        return None
    if v != v or v in (float("inf"), float("-inf")):
        return None
    return v


def packet_observations(p: Packet) -> list[ObsRow]:
    """Observation rows of a data upload; [] for packets that carry no data (answers, notices…)."""
    spec = DATA_CNS.get(p.cn or "")
    if spec is None:
        return []
    kind, value_suffixes = spec
    cp = p.cp
    if not cp.factors:
        return []
    dt = cp.data_time
    if dt is None:
        raise ObservationError("DataTime", f"CN {p.cn} data packet without DataTime")
    try:
        t = hj212_time_to_utc(dt)
    except ValueError as e:
        raise ObservationError("DataTime", str(e)) from e
    old = p.dialect == Dialect.HJ212_2005
    st = p.st
    rows: list[ObsRow] = []
    for code, items in cp.factors.items():
        param = normalise_code(code, st) if old else code
        value_text = None
        for s in value_suffixes:
            value_text = items.get(s)
            if value_text is not None:
                break
        value = _number(value_text) if value_text is not None else None
        flag = items.get("Flag")
        rest = {k: v for k, v in items.items() if k != "Flag" and v is not value_text}
        if value_text is not None and value is None:
            rest["text"] = value_text
        if param != code:
            rest["code"] = code
        extra = json.dumps(rest, ensure_ascii=False, separators=(",", ":")) if rest else None
        rows.append((t, param, kind, value, flag, extra))
    return rows
