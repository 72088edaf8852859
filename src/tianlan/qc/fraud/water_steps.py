"""Abrupt level steps of one water station against its river (WAT-04's step test; qc_fraud.md §F).

A changed instrument parameter (a slope or a factor set in the analyser, behaviour B3) moves the
station's series from one hour to the next and keeps it there. The level-shift test compares
days with the two weeks before them; when a neighbour of the station was itself rescaled during
those weeks (several stations of one river can be tampered with in the same month) that
reference is no longer the river's and the shift hides. A step is local in time: at the hour of
the change the station's own level steps — the median of the ``step_hours`` after against the
``step_hours`` before — and its residual against **every** reference of the river (the adjacent
stations, and the witness beyond the one neighbour of a river-end station) steps by about as much,
because independent changes at two stations rarely fall in the same hour. A river event steps at
every station (travel-time aligned) and leaves the residuals level; a neighbour's step leaves the
station's own level where it was.

Values are in the detector's transformed scale (ln for concentrations, identity for temperature
and pH); the finding spans ``step_hours`` each side of the step (the step is the start of a
change or the end of one: the evidence gives the medians before and after).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tianlan.qc.core import Finding, Series, Status
from tianlan.qc.fraud.spatial import iso_span, nanmedian_rows, runs, score01, slice_values, windows

#: A step is abrupt: within ``SHARP_HOURS`` of it, the medians of ``SHARP_HOURS`` hours either side
#: differ by ``SHARP_SHARE`` of the day-long step (the hours in which the setting changed).
SHARP_HOURS = 3
SHARP_SHARE = 0.5


def side_medians(x: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Per element ``t``: the median of ``x[t − width:t]`` and of ``x[t:t + width]`` (NaN with fewer
    than half of either side finite)."""
    n = x.size
    # one pass of medians over windows of the series padded in front: the window before t is
    # padded[t:t + width], the one after it padded[t + width:t + 2·width]
    padded = np.concatenate([np.full(width, np.nan), x])
    rows = windows(padded, np.arange(n + width), width)
    cnt = np.isfinite(rows).sum(axis=1)
    med = np.full(n + width, np.nan)
    good = cnt >= width // 2
    if good.any():
        med[good] = nanmedian_rows(rows[good])
    mb, ma = med[:n].copy(), med[width:].copy()
    both = np.isfinite(mb) & np.isfinite(ma)
    mb[~both] = np.nan
    ma[~both] = np.nan
    return mb, ma


def river_steps(series: Series, refs: Sequence[dict[str, Any]], x: np.ndarray, *, step_hours: float, step_min: float,
                step_spread: float, step_own: float, step_z: float, min_scale: float) -> list[Finding]:
    """Steps of the station's own level that its residual against every reference shares.

    At hour ``t`` with ``W`` = ``step_hours`` of elements, against each reference ``k`` the
    residual step ``s_k = med(r_k[t:t+W]) − med(r_k[t−W:t])`` (``r_k = x − ref_k``) is at least
    ``step_min`` one way and ``step_z`` standard errors of such a median difference (1.4826·MAD of
    the residual's hour-to-hour changes around the step, × √(2/W)·1.25, floored at ``min_scale``);
    the references agree — the spread of the ``s_k`` is within ``step_spread`` of their median
    (a neighbour that stepped too, a diluted one recovering, gives a residual step of its own) —
    and the station's own level ``x`` stepped the same way by ``step_own`` of it (the river
    around moves too, a day's median of it by a few tenths in ln units; with one reference the own
    step is all that says which side moved: then ``1 − step_spread`` of it). The step must be
    abrupt: within :data:`SHARP_HOURS` of it the residuals' medians of :data:`SHARP_HOURS` hours
    either side differ by :data:`SHARP_SHARE` of it (a changed setting moves from one hour to the
    next; a misaligned river event drifts). One finding per run of such
    hours, at the hour whose few-hour step is largest, spanning ``W`` before and after it.
    SUSPECT; score 0.8 at ``step_min`` (the smallest residual step), 1 at 1.25 × it.
    """
    step_s = max(series.step_s, 1)
    w = max(2, int(round(step_hours * 3600 / step_s)))
    if x.size < 2 * w or not refs:
        return []
    steps_ = []
    for ref in refs:  # every reference must step by step_min: stop at the first that never does
        rb, ra = side_medians(x - ref["transformed"], w)
        with np.errstate(invalid="ignore"):
            if not (np.abs(ra - rb) >= step_min).any():
                return []
        steps_.append(ra - rb)
    mb, ma = side_medians(x, w)
    own = ma - mb
    per_ref = []
    for ref, step in zip(refs, steps_, strict=True):
        r = x - ref["transformed"]
        sb, sa = side_medians(r, SHARP_HOURS)
        dr = np.abs(np.diff(r, prepend=np.nan))
        nb, na = side_medians(dr, w)  # typical hour-to-hour change either side (robust)
        noise = np.fmax(nb, na) * 1.4826 / 0.6745 / np.sqrt(2.0)  # |diff| median → σ of one value
        se = np.maximum(1.25 * noise * np.sqrt(2.0 / w), min_scale)
        per_ref.append((ref, step, se, sa - sb))
    own_min = step_own if len(per_ref) > 1 else 1.0 - step_spread
    srs = np.vstack([p[1] for p in per_ref])
    with np.errstate(invalid="ignore"):
        med = nanmedian_rows(srs.T)
        spread = np.max(srs, axis=0) - np.min(srs, axis=0)
        sharp = nanmedian_rows(np.vstack([p[3] for p in per_ref]).T)
    out: list[Finding] = []
    for sign in (-1.0, 1.0):
        with np.errstate(invalid="ignore"):
            m = (spread <= step_spread * sign * med) & (sign * own >= own_min * sign * med)
            for _, sr, se, _ in per_ref:
                m &= (sign * sr >= step_min) & (sign * sr >= step_z * se)
        for s, e in runs(m, 1):
            # the median steps of a day either side plateau for about a day around a step; its
            # hour is where the steps over a few hours peak
            near = sign * sharp[s:e]
            if not np.isfinite(near).any():
                continue
            t = s + int(np.nanargmax(near))
            if float(near[t - s]) < SHARP_SHARE * float(sign * med[t]):
                continue  # a drift over the day, not a step
            a, b = max(0, t - w), min(x.size, t + w)
            effect = min(float(sign * sr[t]) for _, sr, _, _ in per_ref)
            out.append(Finding(a, b, Status.SUSPECT,
                               f"WAT-04 {series.parameter} stepped {'down' if sign < 0 else 'up'} against the river",
                               score01(effect, step_min), {
                                   **iso_span(series, a, b), "station": series.station, "kind": "step",
                                   "step_time_utc": int(series.times[t]),
                                   "own_step": round(float(own[t]), 4),
                                   "own_median_before": round(float(mb[t]), 4),
                                   "own_median_after": round(float(ma[t]), 4),
                                   "single_reference": len(per_ref) == 1,
                                   "values": slice_values(series.values, a, b),
                                   "references": [{"station": ref["station"], "direction": ref["direction"],
                                                   "witness": ref["witness"], "lag_h": ref["lag_h"],
                                                   "lag_source": ref["lag_source"],
                                                   "residual_step": round(float(sr[t]), 4),
                                                   "standard_error": round(float(se[t]), 4),
                                                   "values": slice_values(ref["values"], a, b)}
                                                  for ref, sr, se, _ in per_ref],
                                   "scale": "difference" if series.parameter in ("w01010", "w01001") else "ln ratio",
                                   "thresholds": {"step_hours": step_hours, "step_min": step_min,
                                                  "step_spread": step_spread, "step_own": own_min, "step_z": step_z},
                               }))
    return out
