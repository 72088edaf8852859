"""Which side of a copy between two stations is the copy (used by XV-04; qc_fraud.md §A.7, B4).

When a station's series equals a neighbour's verbatim over a window, a pairwise detector sees the
pair, not the culprit: both stations would be flagged. The data of the station that copied are
foreign to it — its series jumps onto the other station's level where the copy starts and back to
its own where it ends — while the source's series runs on through both edges as it always does.
:func:`copy_side` compares the two stations' level changes across the window's edges (median of
``edge_hours`` inside against ``edge_hours`` outside, each station against its own), scaled by each
station's typical change between adjacent ``edge_hours`` blocks. Units: those of the series (the
comparison is of ratios, unit-free).
"""

from __future__ import annotations

import warnings

import numpy as np

#: The copier's edges must jump at least this many times the source's …
MIN_RATIO = 2.0
#: … and this many of its own typical block-to-block changes.
MIN_SCALES = 2.0


def _block_change_scale(v: np.ndarray, k: int) -> float:
    """Median |median of a block of ``k`` − median of the next block| over the series (its typical
    change across an arbitrary edge); NaN with too few blocks."""
    n = v.size // k
    if n < 4:
        return float("nan")
    with warnings.catch_warnings():  # an all-NaN block has no median (NaN, dropped below)
        warnings.simplefilter("ignore", RuntimeWarning)
        med = np.nanmedian(v[: n * k].reshape(n, k), axis=1)
    d = np.abs(np.diff(med))
    d = d[np.isfinite(d)]
    return float(np.median(d)) if d.size >= 3 else float("nan")


def _edge_jump(v: np.ndarray, s: int, e: int, k: int) -> tuple[float, int]:
    """Sum over the window's edges [s, e) of |inside median − outside median| (``k`` elements each
    side) and how many edges had data on both sides."""
    total, edges = 0.0, 0
    for inside, outside in (((s, s + k), (s - k, s)), ((e - k, e), (e, e + k))):
        a0, a1 = max(inside[0], 0), min(inside[1], v.size)
        b0, b1 = max(outside[0], 0), min(outside[1], v.size)
        if a1 - a0 < 1 or b1 - b0 < 1 or b0 >= b1:
            continue
        a, b = v[a0:a1], v[b0:b1]
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        if a.size and b.size:
            total += abs(float(np.median(a)) - float(np.median(b)))
            edges += 1
    return total, edges


def copy_side(x: np.ndarray, y: np.ndarray, s: int, e: int, *, edge_hours: int = 6, step_s: int = 3600) -> int:
    """+1 when ``x`` is the copy of ``y`` over [s, e) (x's series jumps at the edges, y's runs on),
    −1 when ``y`` is the copy of ``x``, 0 when the edges cannot tell (both stations at one level,
    no data outside the window). ``x`` and ``y`` are aligned on one time grid of ``step_s``."""
    k = max(1, int(round(edge_hours * 3600 / max(step_s, 1))))
    jx, nx = _edge_jump(x, s, e, k)
    jy, ny = _edge_jump(y, s, e, k)
    if nx == 0 or ny == 0 or nx != ny:
        return 0
    sx, sy = _block_change_scale(x, k), _block_change_scale(y, k)
    if not (np.isfinite(sx) and np.isfinite(sy)):
        return 0
    if jx >= MIN_RATIO * jy and jx >= MIN_SCALES * nx * max(sx, 1e-12):
        return 1
    if jy >= MIN_RATIO * jx and jy >= MIN_SCALES * ny * max(sy, 1e-12):
        return -1
    return 0
