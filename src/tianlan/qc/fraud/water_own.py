"""Did a water station's own series leave its usual range? (WAT-04 episodes; qc_fraud.md §F).

WAT-04 flags an hour when the station departs from every reference along the river (adjacent
stations and a witness beyond them) and its own level moved by a share of that departure
(``own_share``). Turbidity and other quick channels swing by tens of per cent within a day at a
station of their own accord (a shower upstream, a barge), so "moved by half the departure" can
be an ordinary swing while the departure itself came from the references — when the adjacent
station *and* the witness were diluted or replaced in the same days (the benchmark injects
several stations of one river at once; real rivers have intake works on several stations). A
station whose own series stayed within its usual variability is not the culprit; the references
moved. Such an episode is kept as a notice: its evidence score is multiplied by ``own_weight``
(0.5, as for a pair finding, :mod:`tianlan.qc.fraud.pairs`), which the default alarm policy grades
as level 1, and the evidence says so. The station's own change is its deviation from its trailing
median (the same ``window_days`` as the residual's baseline) in robust scales of that deviation
over the window (median/MAD, ``min_scale`` floor; transformed scale: ln for concentrations).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tianlan.qc.fraud.spatial import rolling_robust, trailing_median

#: Evidence weight of an episode whose station stayed within its own usual range.
OWN_WEIGHT = 0.5


def own_z(times: np.ndarray, x: np.ndarray, step_s: int, *, window_days: float, guard_hours: float,
          min_scale: float) -> np.ndarray:
    """Per hour: the station's own deviation from its trailing median over ``window_days`` in
    robust scales of that deviation (trailing window ending ``guard_hours`` before; NaN where the
    baseline is short). ``x`` is the detector's transformed series."""
    width = max(1, int(round(window_days * 86400 / max(step_s, 1))))
    dev = x - trailing_median(x, width, min_count=width // 4)
    base, scale = rolling_robust(times, dev, window_days * 86400.0, step_s=step_s, knot_s=6 * 3600.0,
                                 min_count=max(24, width // 4), min_scale=min_scale,
                                 trailing_guard_s=guard_hours * 3600.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out: np.ndarray = (dev - base) / scale
    return out


def own_verdict(z: np.ndarray, s: int, e: int, sel: np.ndarray, sign: float, threshold: float) -> dict[str, Any]:
    """Whether the station's own series left its usual range the way of the episode [s, e) (the
    hours ``sel`` of it): median of ``sign``·z over them ≥ ``threshold``. Evidence: that median,
    the threshold and the verdict (``moved``); NaN z (short baseline) counts as moved."""
    zz = sign * z[s:e][sel]
    zz = zz[np.isfinite(zz)]
    if zz.size == 0:
        return {"moved": True, "own_z": None, "own_z_threshold": threshold}
    med = float(np.median(zz))
    return {"moved": bool(med >= threshold), "own_z": round(med, 2), "own_z_threshold": threshold}


