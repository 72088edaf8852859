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
from collections.abc import Mapping
from typing import Any

import numpy as np

from tianlan.qc.checks._common import smallest_step

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


# --- one decision per station pair: every copied parameter together ---------------------------------

#: Pooled over the copied parameters, the copier's summed edge jumps (in typical block changes)
#: must be at least this many times the source's …
POOLED_MIN_RATIO = 1.5
#: … and the source's edges must look like any hour of its own series: at most this many typical
#: block changes per parameter (simulated water, seeds 2019 and 7 × 50 copies: sources median 1.2,
#: 90th percentile 2.3; copiers median 5.3). A window whose own edges jump more is foreign to its
#: station whatever the matched window does (a day copied from a day that was itself a copy).
POOLED_NATURAL_MAX = 3.0


def _edge_terms(v: np.ndarray, s: int, e: int, k: int, skip: frozenset[str]) -> list[float]:
    """|inside median − outside median| of ``k`` elements at each edge of [s, e) not in ``skip``
    (``"start"``, ``"end"``) with data on both sides (units of the series)."""
    out = []
    for name, inside, outside in (("start", (s, s + k), (s - k, s)), ("end", (e - k, e), (e, e + k))):
        if name in skip or outside[0] < 0 or outside[1] > v.size:
            continue
        a, b = v[max(inside[0], 0):min(inside[1], v.size)], v[outside[0]:outside[1]]
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        if a.size and b.size:
            out.append(abs(float(np.median(a)) - float(np.median(b))))
    return out


def shared_edges(s: int, e: int, ys: int, ye: int) -> tuple[frozenset[str], frozenset[str]]:
    """The edges two windows of *one* series share (a day copied onto the next day or the day
    before): ``x``'s start is ``y``'s end when ``ye == s``, and the other way round. Such an edge is
    the same pair of hours seen from both windows, so it cannot tell the copy from its original."""
    sx, sy = set(), set()
    if ye == s:
        sx.add("start")
        sy.add("end")
    if e == ys:
        sx.add("end")
        sy.add("start")
    return frozenset(sx), frozenset(sy)


def pooled_copy_side(pairs: list[tuple[np.ndarray, np.ndarray, int, int, int, int, frozenset[str], frozenset[str]]],
                     *, edge_hours: int = 2, step_s: int = 3600, min_ratio: float = POOLED_MIN_RATIO,
                     min_scales: float = 1.0, natural_max: float = POOLED_NATURAL_MAX,
                     min_parameters: int = 2) -> dict[str, float | int]:
    """Which side of a copy is the copier, from every parameter the copy took at once.

    A copy replaces a station's whole record over the window (every pollutant, §A.7 B4), so the
    copier's series jump at the same edges in every copied parameter, while the source's run on in
    all of them. One parameter alone often cannot tell (two stations of one river at similar
    levels: XV-04's test undecided on 120 of 250 parameter-copies of the simulated water set);
    the sum over the parameters can. ``pairs``: per parameter (x, y, s, e, ys, ye, skip_x, skip_y)
    — this station's series and window, the matched series and window, and the edges to leave
    out of each (:func:`shared_edges`). Each parameter contributes the mean jump per edge seen,
    in its own station's typical block-to-block change (unit-free), for each side; a parameter
    whose edges are not seen on both sides is left out. ``side`` +1 (this station is the copy)
    when the summed terms are ≥ ``min_ratio`` × the matched side's and ≥ ``min_scales`` per
    parameter while the matched side's stay within ``natural_max`` per parameter (an original
    flows into its own hours), −1 the other way round, 0 otherwise (both windows jump — both may
    be copies — or neither, or fewer than ``min_parameters`` parameters weighed: one parameter is
    the per-parameter test's, with its stricter ratio); evidence: both sums and the parameters used."""
    k = max(1, int(round(edge_hours * 3600 / max(step_s, 1))))
    tx = ty = 0.0
    used = 0
    for x, y, s, e, ys, ye, skip_x, skip_y in pairs:
        jx, jy = _edge_terms(x, s, e, k, skip_x), _edge_terms(y, ys, ye, k, skip_y)
        sx, sy = _block_change_scale(x, k), _block_change_scale(y, k)
        if not jx or not jy or not (np.isfinite(sx) and np.isfinite(sy)):
            continue
        tx += float(np.mean(jx)) / max(sx, 1e-12)
        ty += float(np.mean(jy)) / max(sy, 1e-12)
        used += 1
    side = 0
    if used < max(1, min_parameters):
        pass
    elif tx >= min_ratio * ty and tx >= min_scales * used and ty <= natural_max * used:
        side = 1
    elif ty >= min_ratio * tx and ty >= min_scales * used and tx <= natural_max * used:
        side = -1
    return {"side": side, "pooled_jump": round(tx, 4), "matched_pooled_jump": round(ty, 4), "parameters": used}


def station_copy_side(parameter: str, own: Mapping[str, Any], other: Mapping[str, Any], times: np.ndarray, s: int,
                      e: int, *, edge_hours: int = 6, step_s: int = 3600, min_equal: float = 0.9,
                      pooled_edge_hours: int = 2) -> dict[str, Any]:
    """XV-04's copy side for a verbatim copy of ``parameter`` between two stations over the same
    hours [s, e) of ``times``, decided from every parameter the copy took: ``own`` and ``other``
    are the two stations' series by code (XV-04: ``{**ctx.series, code: series}`` and
    ``ctx.neighbours[station]``);
    a parameter counts when both stations report it on ``times``' grid and its values are equal
    within half a resolution step in ≥ ``min_equal`` of the window's hours where both are present
    (``parameter`` itself always counts). The window is trimmed to the hours where most of those
    parameters are equal (a coarse parameter can equal its neighbour by chance an hour before the
    copy starts, which would put the edge test an hour off). :func:`pooled_copy_side` decides
    with ``pooled_edge_hours`` blocks; when it cannot, ``parameter`` alone does
    (:func:`copy_side` with ``edge_hours``). Returns ``side`` and the evidence."""
    grids = []
    own_x = None
    for code, sx in own.items():
        sy = other.get(code)
        if sy is None or not len(sx) or not len(sy):
            continue
        x, y = _on_grid(sx, times), _on_grid(sy, times)
        if x is None or y is None:
            continue
        if code == parameter:
            own_x = (x, y)
        else:
            a, b = x[s:e], y[s:e]
            ok = np.isfinite(a) & np.isfinite(b)
            fin = np.concatenate([a[ok], b[ok]])
            tol = smallest_step(fin) / 2.0 + 1e-9
            if ok.sum() < 0.5 * (e - s) or np.mean(np.abs(a[ok] - b[ok]) <= tol) < min_equal:
                continue
        grids.append((code, x, y))
    # trim: hours at the window's ends where fewer than half of the parameters are equal
    with np.errstate(invalid="ignore"):
        eq = np.array([np.abs(x[s:e] - y[s:e]) <= smallest_step(np.concatenate([x[s:e], y[s:e]])) / 2.0 + 1e-9
                       for _, x, y in grids]).reshape(len(grids), e - s)
    good = np.flatnonzero(eq.mean(axis=0) >= 0.5) if grids else np.empty(0, np.int64)
    ts, te = (s + int(good[0]), s + int(good[-1]) + 1) if good.size else (s, e)
    pairs = [(x, y, ts, te, ts, te, frozenset(), frozenset()) for _, x, y in grids]
    out: dict[str, Any] = dict(pooled_copy_side(pairs, edge_hours=pooled_edge_hours, step_s=step_s))
    out["codes"] = [c for c, _, _ in grids]
    out["window"] = [ts, te]
    if out["side"] == 0 and own_x is not None:
        out["side"] = copy_side(own_x[0], own_x[1], s, e, edge_hours=edge_hours, step_s=step_s)
        out["decided_by"] = "parameter"
    else:
        out["decided_by"] = "station"
    return out


def _on_grid(series: Any, times: np.ndarray) -> np.ndarray | None:
    """``series``' values at ``times`` (NaN where it has none); None on another step."""
    t = np.asarray(series.times)
    if t.size == 0:
        return None
    out = np.full(times.size, np.nan)
    pos = np.searchsorted(t, times)
    ok = pos < t.size
    ok[ok] = t[pos[ok]] == times[ok]
    out[ok] = np.asarray(series.values, dtype=float)[pos[ok]]
    return out
