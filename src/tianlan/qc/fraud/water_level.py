"""A water station's own level against its own past (WAT-04's which-side tests; qc_fraud.md §F).

A check between two stations of a river sees a broken relation, not which side broke it. When
both neighbours of a station moved (the benchmark, and real networks, can dilute or rescale two
stations of one river in the same days) the station departs from each of them and so looks
anomalous. Its own series says otherwise: it kept its level. These helpers measure that, on the
same daily medians and windows as the level-shift test (:func:`~tianlan.qc.fraud.spatial.daily_shifts`).
Values are in the detector's transformed scale (ln for concentrations, identity for temperature
and pH).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tianlan.qc.fraud.spatial import nanmedian_rows, windows


def window_shift(dm: np.ndarray, recent_days: int, ref_days: int, *, min_ref_days: int = 2) -> np.ndarray:
    """Per day ``j``: median of the daily values of days ``[j + 1 − recent, j + 1)`` minus the median
    of the ``ref_days`` before them (NaN without ``ceil(0.7·recent)`` (≥ 2) recent and
    ``min_ref_days`` reference days) — the shift that :func:`daily_shifts` tests, for any series."""
    nd = dm.size
    out = np.full(nd, np.nan)
    if nd == 0 or recent_days < 1 or ref_days < 1:
        return out
    span = recent_days + ref_days
    rows = windows(dm, np.arange(nd) + 1 - span, span)
    ref, cur = rows[:, :ref_days], rows[:, ref_days:]
    ok = (np.isfinite(cur).sum(axis=1) >= max(2, int(np.ceil(0.7 * recent_days)))) & \
         (np.isfinite(ref).sum(axis=1) >= min_ref_days)
    if ok.any():
        out[ok] = nanmedian_rows(cur[ok]) - nanmedian_rows(ref[ok])
    return out


def own_level_moved(own_dm: np.ndarray, resid_dm: np.ndarray, d0: int, d1: int, sign: int, *, shift_days: int,
                    shift_ref_days: int, shift_min: float, own_share: float) -> dict[str, Any]:
    """Did the station's own level move with its shift against the adjacent station?

    ``own_dm``: the station's daily medians; ``resid_dm``: the daily medians of its residual against
    the adjacent station; days ``[d0, d1)`` the shift found, ``sign`` its direction. True when on
    the day of the span (and ``shift_days`` after) whose residual shifted most in that direction,
    by ``shift_min`` at least, the station's own level shifted by ``own_share`` of that residual
    shift, the same way — both with :func:`window_shift` over the last ``shift_days`` against the
    ``shift_days`` before them: the step, not the level of two weeks earlier (a station whose own
    earlier change ended a week ago has not moved *now*); ``shift_ref_days`` is kept for the
    caller's symmetry. A station whose two neighbours were diluted or rescaled together departs
    from both while its own level stays: not its anomaly. Evidence: the day, both shifts and the
    verdict.
    """
    own = window_shift(own_dm, shift_days, shift_days)
    res = window_shift(resid_dm, shift_days, shift_days)
    lo, hi = max(0, d0), min(own.size, d1 + shift_days)
    best: dict[str, Any] = {"moved": False, "own_shift": None, "residual_shift": None, "day": None,
                            "own_share": own_share}
    r = sign * res[lo:hi]
    if hi <= lo or not np.isfinite(r).any() or float(np.nanmax(r)) < shift_min:
        return best
    j = lo + int(np.nanargmax(r))  # the day the relation broke most: did the station move then?
    if not np.isfinite(own[j]):
        return best
    best.update({"own_shift": round(float(own[j]), 4), "residual_shift": round(float(res[j]), 4), "day": j,
                 "moved": bool(sign * own[j] >= own_share * sign * res[j])})
    return best
