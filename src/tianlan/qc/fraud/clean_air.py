"""A PM drop in clean air: nothing to hide there (XV-03 background).

Spraying, misting or covering a PM inlet (catalogue 4(2), behaviour B1) pays when pollution is
high: the point is to keep an hourly or daily value out of an exceedance, an alert or a bad
ranking (qc_fraud.md §D.2(d): the reference injection and the Linfen case both spray in haze).
When the air at the station is already "excellent" (优, individual AQI ≤ 50) — PM2.5 below
35 µg/m³, PM10 below 50 µg/m³, the GB 3095-2012 Grade I 24-hour limits and the HJ 633-2012 IAQI 50
breakpoints — a lower reading moves no daily value across a limit or a grade. The level that counts
is what the station would have read without the drop (XV-03's flank offset of the station from its
neighbours times their level at the hour), at every hour of the drop from its first: a spray begun
in haze keeps its warning when the air clears while it lasts. In such air, on the other hand,
log residuals against neighbours are at their noisiest: a few µg/m³ of a local source or of
rounding are a large ratio. On the clean Hebei 2019 release
(January–June, 53 stations) many of XV-03's level-2 findings were night-time drops to 5–30 µg/m³
against neighbours at 10–60 µg/m³ (1035A, 1043A, 1052A, 1053A in spring).

Such a finding is not deleted — an inlet can be covered in any air — but kept as a notice: its
evidence score is halved (as for a pair finding, :mod:`tianlan.qc.fraud.pairs`), which the default
alarm policy grades as level 1. Findings in haze are unchanged.

Measured on the clean Hebei 2019 release and the benchmark's spray injections: docs/qc-benchmark-log.md,
"Clean incidents (second round)".
"""

from __future__ import annotations

import numpy as np

#: Evidence weight of a drop in air already below the Grade I limit (little to gain by spraying).
CLEAN_AIR_WEIGHT = 0.5

#: GB 3095-2012 Grade I 24-hour limits = HJ 633-2012 IAQI 50 breakpoints (µg/m³), by HJ 212 code.
EXCELLENT_PM: dict[str, float] = {"a34004": 35.0, "a34002": 50.0}


def in_clean_air(level: np.ndarray, s: int, e: int, limit: float | None) -> bool:
    """Whether ``level`` (the station's PM with the drop undone, µg/m³, NaN where unknown) stays
    below ``limit`` at every hour of [s, e) — the whole drop, from its first hour: a spray begun in
    haze keeps its warning when the air clears during it; False without a limit or a finite value."""
    if limit is None or limit <= 0:
        return False
    v = level[s:e]
    v = v[np.isfinite(v)]
    return bool(v.size and float(np.max(v)) < limit)
