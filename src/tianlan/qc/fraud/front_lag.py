"""Is a station's PM drop only its neighbours' drop at another hour? The timing test of XV-03.

XV-03 (mist signature, catalogue 4(2): "PM falls sharply while neighbours and gases do not")
compares the station with its neighbours hour by hour. A cold front or a clean air mass does not
reach every station of a city in the same hour: the station it reaches first falls an hour or
two before the others, and for those hours it lies far below its neighbours' median — with its
gases (which the front dilutes less than PM, or which local traffic sustains) near normal. That
is exactly XV-03's signature, yet the neighbours reach the same level moments later: nothing was
suppressed at the station, the air changed there first (or a plume left it last). On the clean
Hebei 2019 release such fronts raised many of XV-03's level-2 alarms (1051A, 1052A and 1056A on
4 January 2019 10:00 together, where the neighbours' median fell 247 → 69 µg/m³ one hour after
them).

A sprayed, misted, covered or blocked inlet is not explained by any shift in time: the spray
takes the station's PM to 0.2–0.5 of what the air holds, and the neighbours — who breathe the
same air — do not follow it an hour later. The test: the drop of the station's neighbour residual
against its flanks is recomputed against the neighbours' median ``lag`` hours later (or earlier),
``step_L(t) = step(t) + m(t) − m(t + L)`` with ``m`` the neighbours' log median (ln units); when
for some ``L`` in ±1 … ±``max_lag`` every PM channel's median ``step_L`` over the finding's hours
is above ``−tolerance_ln`` (XV-03's abrupt-fall size), the drop is the neighbours' own change at
another hour. Such a finding is not deleted — a front may also hide a spray — but it is kept as a
notice: its evidence score is halved (as for a pair finding, :mod:`tianlan.qc.fraud.pairs`),
which the default alarm policy grades as level 1.

Measured on the clean Hebei 2019 release (January–June, 53 stations) and the benchmark's spray
injections: docs/qc-benchmark-log.md, "Clean incidents (second round)".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

#: Evidence weight of a drop that the neighbours' own change at another hour explains.
LAG_WEIGHT = 0.5


def lagged_step(step: np.ndarray, nb_log: np.ndarray, lag: int) -> np.ndarray:
    """``step(t) + m(t) − m(t + lag)`` (ln units): the station's drop against its flanks measured
    against the neighbours' log median ``lag`` steps later (earlier when negative); NaN where
    ``t + lag`` falls outside the series."""
    n = step.size
    out = np.full(n, np.nan)
    if lag == 0:
        return step.copy()
    if abs(lag) >= n:
        return out
    shifted = np.full(n, np.nan)
    if lag > 0:
        shifted[:n - lag] = nb_log[lag:]
    else:
        shifted[-lag:] = nb_log[:n + lag]
    with np.errstate(invalid="ignore"):
        return step + nb_log - shifted


def explaining_lag(channels: Mapping[str, Mapping[str, Any]], s: int, e: int, mask: np.ndarray,
                   max_lag: int, tolerance_ln: float) -> int | None:
    """The shift ``L`` (steps, ±1 … ±``max_lag``, nearest first) at which every channel's median
    :func:`lagged_step` over the ``mask`` hours of [s, e) is above ``−tolerance_ln`` — the
    neighbours reach the station's level ``L`` hours away — or None. ``channels``: per PM code,
    ``step`` (the drop against the flanks) and ``nb_log_median``. A channel without a finite value
    at that shift does not explain it."""
    if max_lag < 1 or not channels:
        return None
    m = mask[s:e]
    for k in range(1, max_lag + 1):
        for lag in (k, -k):
            ok = True
            for ch in channels.values():
                d = lagged_step(np.asarray(ch["step"], dtype=np.float64),
                                np.asarray(ch["nb_log_median"], dtype=np.float64), lag)[s:e][m]
                d = d[np.isfinite(d)]
                if d.size == 0 or float(np.median(d)) <= -tolerance_ln:
                    ok = False
                    break
            if ok:
                return lag
    return None
