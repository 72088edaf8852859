"""A ratio shift in which no channel fell: a rise above the station's usual level (XV-02 background).

XV-02 (:func:`tianlan.qc.fraud.cross.ratio_stability`) flags weeks when a station's PM2.5/PM10 or
CO/NO2 ratio, less its neighbours', leaves its own seasonal band. The falsification it is there
for lowers one channel (catalogue 4(8), B3: a slope or span changed; the benchmark's ``scaling``
multiplies one channel by k ∈ U(0.5, 0.8), a residual shift of ln k = −0.22 … −0.69 against the
neighbours). On the clean Hebei 2019 release most of the XV-02 alarms that remained were the other
way round: PM2.5 reading *higher* against its neighbours by +0.2 … +0.5 ln for weeks with PM10
holding (1048A from late March, 1060A in June, 1062A in April, 1072A and 1077A in May), or CO higher
with NO2 holding — a new local source (a building site, a boiler, a road), an upward drift or a
changed siting: a maintenance matter, not a lowered reading.

But the end of a lowered period is a channel *rising* back against reference days that were the
lowered ones (at 1079A, seed 2019, the end of a PM10 × 0.68 scaling). As for SPA-01's upward shifts
(:mod:`tianlan.qc.fraud.spatial_notices`), the two are told apart with the past only: the channel
that rose must lie at least ``share`` × its shift above its *usual level*, the median of its daily
neighbour residuals over the days before the reference days (:func:`usual_level`), and its reference
days must not lie below that level; a return from a lowered period lies near it and starts below it.
Neither channel may sit below its usual level (a partner lowered through the reference days shows
no shift against them).

Such a finding is kept as a notice: score × ``weight`` (default :data:`RISE_WEIGHT`, graded level 1
by the default alarm policy), the evidence names the rule (``notice: "xv02_rise_above_usual"``).
Measured numbers: docs/qc-benchmark-log.md, "XV-02 and XV-03: rises and restarts".
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from tianlan.qc.fraud.spatial import daily_medians
from tianlan.qc.fraud.spatial_notices import UPSHIFT_ABOVE_SHARE, usual_level

#: Score factor of a ratio shift in which no channel fell and the risen one lies above its usual level.
RISE_WEIGHT = 0.5
#: A channel whose neighbour residual fell by less than this (ln units) did not fall (a scaling: ≥ 0.22).
FALL_TOLERANCE_LN = 0.15
#: Share of the rise that must lie above the usual level (the same share as SPA-01's upward shifts).
RISE_SHARE = UPSHIFT_ABOVE_SHARE


def above_usual(times: np.ndarray, r: np.ndarray, step_s: int, s: int, e: int, ref_start: int,
                min_days: int, before_start: int | None = None) -> tuple[float | None, float | None]:
    """How far the median of the hourly neighbour residual ``r`` over [s, e) lies above its usual
    level — the median daily residual of the days before the day of index ``ref_start`` (the
    reference days' first hour) — and how far its median over [``before_start``, s) does (the days
    right before the finding; None without ``before_start``). None where fewer than ``min_days``
    days give the usual level or a window has no value."""
    seg = r[s:e]
    if not np.isfinite(seg).any():
        return None, None
    dm, day = daily_medians(times, r, step_s)
    if day.size == 0:
        return None, None
    usual = usual_level(dm, int(day[min(max(ref_start, 0), day.size - 1)]), min_days)
    if usual is None:
        return None, None
    pre = None
    if before_start is not None:
        w = r[max(0, before_start):s]
        pre = float(np.nanmedian(w) - usual) if np.isfinite(w).any() else None
    return float(np.nanmedian(seg) - usual), pre


def rose_not_fell(shifts: Mapping[str, float], above: Mapping[str, float | None], *, fall_tolerance: float,
                  share: float, before: Mapping[str, float | None] | None = None) -> str | None:
    """The channel that rose, when (1) no channel of the pair fell: each residual shift against the
    reference days, and each level against the usual level (where known), is ≥ −``fall_tolerance``
    (a reference of lowered days hides a channel that stays lowered); (2) the one that moved most rose
    and lies at least ``share`` × its shift above its usual level; and (3) neither its reference days
    (``above − shift``) nor the days right before the finding (``before``) lay below its usual level
    by more than ``fall_tolerance``: a rise from the usual level, not a return from a lowered period.
    Else None (the finding keeps its weight). Needs both channels' shifts."""
    if len(shifts) < 2 or any(v < -fall_tolerance for v in shifts.values()):
        return None
    if any(v is not None and v < -fall_tolerance for v in above.values()):
        return None
    ch = max(shifts, key=lambda k: abs(shifts[k]))
    up = above.get(ch)
    if shifts[ch] <= 0 or up is None or up < share * shifts[ch] or up - shifts[ch] < -fall_tolerance:
        return None
    pre = (before or {}).get(ch)
    if pre is not None and pre < -fall_tolerance:
        return None
    return ch
