"""Which side of a copy between two stations is the copy (used by XV-04; qc_fraud.md §A.7, B4).

When a station's series equals a neighbour's verbatim over a window, a pairwise detector sees the
pair, not the culprit: both stations would be flagged. The data of the station that copied are
foreign to it — its series jumps onto the other station's level where the copy starts and back to
its own where it ends — while the source's series runs on through both edges as it always does.
:func:`copy_side` compares the two stations' level changes across the window's edges (median of
``edge_hours`` inside against ``edge_hours`` outside, each station against its own), scaled by each
station's typical change between adjacent ``edge_hours`` blocks. Units: those of the series (the
comparison is of ratios, unit-free). :func:`copy_side_detail` returns the evidence too and lets
the two windows differ: FOR-06 weighs a day against the day it matches (another station's, or
another day of the same station) with shorter blocks and per-edge means.
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


def copy_side_detail(x: np.ndarray, y: np.ndarray, s: int, e: int, *, ys: int | None = None, ye: int | None = None,
                     edge_hours: int = 6, step_s: int = 3600, min_ratio: float = MIN_RATIO,
                     min_scales: float = MIN_SCALES, per_edge: bool = False) -> dict[str, float | int]:
    """:func:`copy_side` with its evidence: ``side`` (+1, −1, 0), each side's summed edge jump
    (``jump_x``, ``jump_y``, units of the series), typical block-to-block change (``scale_x``,
    ``scale_y``) and edges seen. ``x``'s window is [s, e); ``y``'s is [ys, ye) (default the same) —
    a day copied from *another* day (FOR-06) compares the copy's edges with the original's.
    ``min_ratio``/``min_scales``: the thresholds (defaults :data:`MIN_RATIO`, :data:`MIN_SCALES`).
    ``per_edge``: compare the mean jump per edge, so that a window with one edge seen (the first or
    last day of a series) can still be weighed against one with two; by default (XV-04) both sides
    must have the same edges."""
    ys = s if ys is None else ys
    ye = e if ye is None else ye
    k = max(1, int(round(edge_hours * 3600 / max(step_s, 1))))
    jx, nx = _edge_jump(x, s, e, k)
    jy, ny = _edge_jump(y, ys, ye, k)
    sx, sy = _block_change_scale(x, k), _block_change_scale(y, k)
    out: dict[str, float | int] = {"side": 0, "jump_x": round(jx, 6), "jump_y": round(jy, 6),
                                   "scale_x": round(sx, 6), "scale_y": round(sy, 6), "edges": min(nx, ny)}
    if nx == 0 or ny == 0 or (nx != ny and not per_edge) or not (np.isfinite(sx) and np.isfinite(sy)):
        return out
    if per_edge:
        jx, jy, nx, ny = jx / nx, jy / ny, 1, 1
    if jx >= min_ratio * jy and jx >= min_scales * nx * max(sx, 1e-12):
        out["side"] = 1
    elif jy >= min_ratio * jx and jy >= min_scales * ny * max(sy, 1e-12):
        out["side"] = -1
    return out


def copy_side(x: np.ndarray, y: np.ndarray, s: int, e: int, *, edge_hours: int = 6, step_s: int = 3600) -> int:
    """+1 when ``x`` is the copy of ``y`` over [s, e) (x's series jumps at the edges, y's runs on),
    −1 when ``y`` is the copy of ``x``, 0 when the edges cannot tell (both stations at one level,
    no data outside the window). ``x`` and ``y`` are aligned on one time grid of ``step_s``."""
    return int(copy_side_detail(x, y, s, e, edge_hours=edge_hours, step_s=step_s)["side"])
