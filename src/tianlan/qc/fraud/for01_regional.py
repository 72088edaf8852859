"""O3 bunched below a cut-off while reading the air (FOR-01 background at air stations).

FOR-01 flags a window whose values pile up just below a limit or an HJ 633-2012 IAQI breakpoint,
B = (c − h, c] (:mod:`tianlan.qc.fraud.forensic_bunching`). At a limit, its truncated-tail tests
predict the values expected above the cut-off from the neighbours' median times the station's
usual ratio to it (:mod:`tianlan.qc.fraud.forensic_tail`). A clipper (catalogue 4(12), B7) parks
the values that would have exceeded: at those hours the air around the station is above the
cut-off and the parked value sits *below* the neighbours.

Ozone is a secondary pollutant formed over hours across a region: its afternoon peak is nearly
the same at the stations of a city (primary PM has local sources — a road, a building site — that
make one station's hour differ from its neighbours'). On the clean Hebei 2019 release
(January–June, 53 stations) three of FOR-01's ten level-2 alarms were O3 afternoons at
185–199 µg/m³ below the 1-hour limit of 200 µg/m³ (GB 3095-2012 Grade II; IAQI 100) while the
neighbours peaked at the same level or lower (1042A on 3 June, 1046A on 17 April, 1074A on
25 May): the station read the air, which stayed under the limit; the tail test had expected
exceedances only because the station usually reads a few per cent above its neighbours.

Test, at an ambient-air station for the parameters of :data:`REGIONAL` only: over the hours of
the finding's period with the station's value in B and the neighbours' median known, the station
reads at least the neighbours' median less ``tolerance`` (default 0.05 ln units, about 5 %) at
every hour, with at least ``min_hours`` such hours. Then the finding is kept as a notice: score ×
:data:`REGIONAL_WEIGHT` (graded level 1 by the default alarm policy), the evidence names the rule
(``notice: "for01_regional"``) with the hours' lowest ``ln(station ÷ neighbours)``. One hour of
the station clearly below its neighbours (a parked peak) keeps the warning. Measured numbers:
docs/qc-benchmark-log.md, "XV-01, XV-02 and FOR-01 background".
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Evidence weight of an O3 bunching whose hours just below the cut-off read the neighbours' level.
REGIONAL_WEIGHT = 0.5

#: Parameters whose hourly value is regional (HJ 212 code and label): ozone.
REGIONAL: tuple[str, ...] = ("a05024", "O3")

#: Default tolerance (ln units) of the station below its neighbours' median at the hours just below.
REGIONAL_TOLERANCE_LN = 0.05

#: Default fewest hours just below the cut-off with a neighbours' median.
REGIONAL_MIN_HOURS = 3


def reads_the_air(values: np.ndarray, level: np.ndarray | None, s: int, e: int, cut: float, h: float, *,
                  tolerance: float = REGIONAL_TOLERANCE_LN, min_hours: int = REGIONAL_MIN_HOURS) -> dict[str, Any] | None:
    """The hours of [s, e) with ``values`` in B = (cut − h, cut] and the neighbours' median
    ``level`` known (same unit): ``{"hours", "min_ln", "reads_the_air"}`` where ``min_ln`` is the
    lowest ``ln(value ÷ level)`` and ``reads_the_air`` whether it is at least ``−tolerance`` over
    at least ``min_hours`` hours; None without a neighbours' median."""
    if level is None:
        return None
    v = np.asarray(values[s:e], dtype=float)
    lv = np.asarray(level[s:e], dtype=float)
    eps = max(abs(cut), 1.0) * 1e-9
    with np.errstate(invalid="ignore"):
        m = np.isfinite(v) & np.isfinite(lv) & (lv > 0) & (v > cut - h + eps) & (v <= cut + eps)
    n = int(m.sum())
    if n == 0:
        return {"hours": 0, "min_ln": None, "reads_the_air": False}
    lo = float(np.min(np.log(v[m] / lv[m])))
    return {"hours": n, "min_ln": round(lo, 4), "reads_the_air": bool(n >= min_hours and lo >= -tolerance)}
