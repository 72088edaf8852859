"""FOR-05's window test (:mod:`tianlan.qc.fraud.forensic_missing`): short deletion sprees scanned
with sliding windows of one or more lengths against the whole record (gap-pattern shift null,
Westfall–Young maxT per series), the second ring of network stations that gives the neighbours'
level where no neighbour reports, and the rank helpers they share with the month tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tianlan.qc.checks._common import runs as true_runs
from tianlan.qc.core import Context, Finding, Series, Status
from tianlan.qc.fraud.forensic_common import (
    BEIJING_OFFSET_S,
    _aligned,
    _column_median,
    _index_range,
    _iso,
    _score,
)

#: The second ring's per-network cache: (id of Context.network, parameter, grid start, length,
#: step, log offset) → (the network mapping itself — guards against a reused id —, station codes,
#: their values on the grid, their daily means of log values). A batch scan aligns each parameter
#: of the network once.
_RING_CACHE: dict[tuple[Any, ...], tuple[Any, list[str], np.ndarray, np.ndarray]] = {}
_RING_CACHE_SIZE = 8


def _daily_log_means(values: np.ndarray, day: np.ndarray, n_days: int, offset: float) -> np.ndarray:
    """Rows of ``values`` → mean of log(x + ``offset``) per day index ``day`` (NaN: fewer than 12 values)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        lg = np.log(np.maximum(values, 0) + offset)
    ok = np.isfinite(lg)
    sums = np.zeros((values.shape[0], n_days))
    cnts = np.zeros((values.shape[0], n_days))
    np.add.at(sums.T, day, np.where(ok, lg, 0.0).T)
    np.add.at(cnts.T, day, ok.T.astype(np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        out: np.ndarray = np.where(cnts >= 12, sums / cnts, np.nan)
    return out


def _days_of(grid: np.ndarray) -> tuple[np.ndarray, int]:
    day = (grid + BEIJING_OFFSET_S) // 86400
    idx = (day - day[0]).astype(np.int64)
    return idx, int(idx[-1]) + 1


def _network_matrix(network: Mapping[str, Mapping[str, Series]], parameter: str, grid: np.ndarray,
                    offset: float) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Every network station's ``parameter`` on ``grid`` (rows) and its daily log means."""
    step = int(grid[1] - grid[0])
    key = (id(network), parameter, int(grid[0]), grid.size, step, offset)
    hit = _RING_CACHE.get(key)
    if hit is not None and hit[0] is network:
        return hit[1], hit[2], hit[3]
    codes = [st for st, by_code in network.items() if by_code.get(parameter) is not None and len(by_code[parameter])]
    vals = (np.vstack([_aligned(grid, network[st][parameter]) for st in codes]) if codes
            else np.empty((0, grid.size)))
    day, n_days = _days_of(grid)
    daily = _daily_log_means(vals, day, n_days, offset)
    if len(_RING_CACHE) >= _RING_CACHE_SIZE:
        _RING_CACHE.pop(next(iter(_RING_CACHE)))
    _RING_CACHE[key] = (network, codes, vals, daily)
    return codes, vals, daily


def second_ring_level(series: Series, ctx: Context, grid: np.ndarray, own: np.ndarray, *, exclude: set[str],
                      k: int, offset: float, min_corr: float = 0.5, min_days: int = 30) -> np.ndarray | None:
    """Per step of ``grid``, the median of the same parameter over the ``k`` stations of the
    network (:attr:`Context.network`; neither the station nor ``exclude``, its neighbours) whose
    daily means of log values, log(x + ``offset``), correlate best with the station's own
    ``own`` (Pearson r ≥ ``min_corr`` over ≥ ``min_days`` common days with ≥ 12 values); NaN where
    none of them reports. None when no station qualifies (streaming QC has no network)."""
    if k <= 0 or not ctx.network or grid.size < 2:
        return None
    codes, vals, daily = _network_matrix(ctx.network, series.parameter, grid, offset)
    keep = [i for i, st in enumerate(codes) if st != series.station and st not in exclude]
    if not keep:
        return None
    day, n_days = _days_of(grid)
    x = _daily_log_means(own[None, :], day, n_days, offset)[0]
    ly = daily[keep]
    ok = np.isfinite(ly) & np.isfinite(x)[None, :]
    n = ok.sum(axis=1).astype(np.float64)
    xa = np.where(ok, x[None, :], 0.0)
    ya = np.where(ok, ly, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mx, my = xa.sum(axis=1) / n, ya.sum(axis=1) / n
        cov = (xa * ya).sum(axis=1) / n - mx * my
        vx = (xa * xa).sum(axis=1) / n - mx * mx
        vy = (ya * ya).sum(axis=1) / n - my * my
        r = cov / np.sqrt(vx * vy)
    good = (n >= min_days) & (vx > 1e-12) & (vy > 1e-12) & np.isfinite(r) & (r >= min_corr)
    if not good.any():
        return None
    order = sorted(np.flatnonzero(good).tolist(), key=lambda i: (-float(r[i]), codes[keep[i]]))[:k]
    m = vals[[keep[i] for i in order]]
    cnt = np.isfinite(m).sum(axis=0)
    level = _column_median(m, cnt)
    level[cnt < 1] = np.nan
    return level


def _fast_len(n: int) -> int:
    """The smallest 2^a·3^b·5^c ≥ ``n`` (an FFT length without large prime factors)."""
    best = 1 << max(0, (n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            v = p35 * (1 << max(0, (-(-n // p35) - 1).bit_length()))
            best = min(best, v)
            p35 *= 3
        p5 *= 5
    return best


def _percentiles(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(percentile rank in (0, 1) of every finite value of ``x`` over the record, 0 elsewhere; finite mask)."""
    ok = np.isfinite(x)
    pct = np.zeros(x.size)
    if ok.any():
        pct[ok] = (average_ranks(x[ok]) - 0.5) / int(ok.sum())
    return pct, ok


def _auc(x: np.ndarray, sel: np.ndarray) -> float:
    """Mann–Whitney AUC of ``x[sel]`` against ``x[~sel]`` (ties half)."""
    r = average_ranks(x)
    m, k = int(sel.sum()), x.size
    return (float(r[sel].sum()) - m * (m + 1) / 2.0) / (m * (k - m))


def _window_findings(own: np.ndarray, rel: np.ndarray, grid: np.ndarray, step: int,
                     nbs: dict[str, Series], flagged: list[Any], *, window_days: float | Sequence[float],
                     window_step_days: float, min_missing: int, min_auc: float, min_runs: int, alpha: float,
                     min_shift: int, series: Series) -> list[Finding]:
    """FOR-05's window test: short deletion sprees (a week of power cuts at the haze hours) that a
    calendar month or a two-week window dilutes, each window against the whole record.

    Windows of ``window_days`` (one length, or several: every length's windows join one family)
    slide by ``window_step_days`` over the regular ``grid``. The family
    is every window with at least ``min_missing`` missing and as many reported steps with a known
    ``rel`` (the neighbours' log level relative to its local median), in at least ``min_runs``
    separate gaps, and not already flagged by the month or two-week tests (``flagged``). A window's
    statistic is the mean percentile rank (over the record, 0–1) of ``rel`` at its missing steps
    minus that at its reported steps. Its null comes from laying the window's missing/reported
    pattern over every other stretch of the record (shifts ≥ the longest window and ≥ ``min_shift``; the
    gaps and the pollution episodes keep their autocorrelation), standardised per window. The
    whole family is tested at once with the Westfall–Young maxT step: the adjusted p-value of a
    window is the share of shifts at which the *largest* standardised statistic of any window of
    the family reaches the window's observed one (shifting every window by the same amount is
    shifting the whole gap record), so at most ``alpha`` chance of any false window in the series,
    without Bonferroni's penalty for the overlap of sliding windows (nor for testing a spree at
    two window lengths: a week's cut fits the short window, three weeks' the long one).
    A window is flagged when that
    p-value is below ``alpha`` and its own Mann–Whitney AUC reaches ``min_auc`` (a large effect).
    Overlapping flagged windows make one finding (SUSPECT, ``selective_missingness``, score 0.8
    at ``min_auc``, evidence ``test: window``)."""
    n = grid.size
    lengths = sorted({max(1, int(round(d * 86400 / step)))
                      for d in ([window_days] if isinstance(window_days, int | float) else window_days) if d > 0})
    if not lengths:
        return []
    wmax = lengths[-1]
    hop = max(1, int(round(window_step_days * 86400 / step)))
    if n < 3 * wmax:
        return []
    least = max(1, int(min_missing))
    miss = ~np.isfinite(own)
    cm = np.concatenate(([0], np.cumsum(miss)))
    # gap starts (cumulative), to count the separate gaps of a window quickly
    gap_start = miss & ~np.concatenate(([False], miss[:-1]))
    cg = np.concatenate(([0], np.cumsum(gap_start)))

    def covered(gs: int, wlen: int) -> bool:
        a, b = _iso(int(grid[gs])), _iso(int(grid[gs + wlen - 1]) + step)
        return any(a < f1 and b > f0 for f0, f1 in flagged)

    def n_gaps(gs: int, wlen: int) -> int:  # gaps starting in the window, plus one running into it
        return int(cg[gs + wlen] - cg[gs]) + int(gs > 0 and miss[gs] and miss[gs - 1])

    family = [(gs, wlen) for wlen in lengths for gs in range(0, n - wlen + 1, hop)
              if cm[gs + wlen] - cm[gs] >= least and n_gaps(gs, wlen) >= min_runs and not covered(gs, wlen)]
    if not family:
        return []
    pn, kn = _percentiles(rel)
    shifts = np.arange(n)
    valid = np.minimum(shifts, n - shifts) >= max(wmax, min_shift)  # whole-record shifts of the null
    if not valid.any():
        return []
    # Circular sums Σ_j pattern[j]·y[(o + j) mod n] for every offset o, as linear correlations with y
    # extended by its first (longest) window (FFT length 2^a·3^b·5^c: fast whatever n is).
    size = _fast_len(n + wmax - 1)
    fk = np.fft.rfft(np.concatenate((kn, kn[:wmax - 1])).astype(np.float64), size)
    fp = np.fft.rfft(np.concatenate((pn, pn[:wmax - 1])), size)
    tested: list[tuple[int, int, float]] = []  # (start, length, observed z)
    max_null = np.full(n, -np.inf)  # per shift, the largest z over the family (Westfall–Young maxT)
    batch = 64
    for b0 in range(0, len(family), batch):
        starts = [(gs, wl) for gs, wl in family[b0:b0 + batch]
                  if least <= int((miss[gs:gs + wl] & kn[gs:gs + wl]).sum()) <= int(kn[gs:gs + wl].sum()) - least]
        if not starts:
            continue
        # rows 0..k-1: the window's missing steps with a known level; rows k..2k-1: its reported ones
        k = len(starts)
        pat = np.zeros((2 * k, size))
        for i, (gs, wl) in enumerate(starts):
            pat[i, :wl] = miss[gs:gs + wl] & kn[gs:gs + wl]
            pat[k + i, :wl] = ~miss[gs:gs + wl] & kn[gs:gs + wl]
        fpat = np.conj(np.fft.rfft(pat, axis=1))
        cnt = np.rint(np.fft.irfft(fpat * fk, size, axis=1)[:, :n])  # of them, with a known level there
        tot = np.fft.irfft(fpat * fp, size, axis=1)[:, :n]
        ka, kb, sa, sb = cnt[:k], cnt[k:], tot[:k], tot[k:]
        with np.errstate(invalid="ignore", divide="ignore"):
            stat = sa / ka - sb / kb
        stat[(ka < least) | (kb < least)] = np.nan
        for i, (gs, wl) in enumerate(starts):
            z = stat[i, (gs + shifts) % n]  # z[s]: the window's pattern shifted by s
            ref = z[valid & np.isfinite(z)]
            if ref.size < 2 or not np.isfinite(z[0]):
                continue
            sd = float(ref.std())
            z = (z - float(ref.mean())) / (sd if sd > 0 else 1.0)  # standardised: windows compare in the max
            np.fmax(max_null, np.where(np.isfinite(z), z, -np.inf), out=max_null)
            tested.append((gs, wl, float(z[0])))
    null = max_null[valid]
    hits: list[tuple[int, int, dict[str, Any]]] = []
    for gs, wl, z0 in tested:
        p = float((1 + np.count_nonzero(null >= z0 - 1e-12)) / (1 + null.size))
        if p >= alpha:
            continue
        mw, kw = miss[gs:gs + wl], kn[gs:gs + wl]
        auc = _auc(rel[gs:gs + wl][kw], mw[kw])
        if auc < min_auc:
            continue
        t0, t1 = int(grid[gs]), int(grid[gs + wl - 1]) + step
        hits.append((gs, gs + wl, {"window": [_iso(t0), _iso(t1)], "days": round(wl * step / 86400, 3),
                                   "missing": int(mw.sum()), "gaps": len(true_runs(mw)), "auc": round(auc, 4),
                                   "z": round(z0, 3), "p_value": p, "shifts": int(null.size)}))
    hits.sort(key=lambda h: (h[0], h[1]))
    out: list[Finding] = []
    groups: list[list[tuple[int, int, dict[str, Any]]]] = []
    for h in hits:
        if groups and h[0] < max(g[1] for g in groups[-1]):
            groups[-1].append(h)
        else:
            groups.append([h])
    for g in groups:
        gs, ge = g[0][0], max(h[1] for h in g)
        t0, t1 = int(grid[gs]), int(grid[ge - 1]) + step
        # the finding covers the gaps of the flagged windows that meet a level above its local
        # median (the evidence), not the reported days at the windows' edges
        up = np.isfinite(rel[gs:ge]) & (rel[gs:ge] > 0)
        ev = [(r0, r1) for r0, r1 in true_runs(miss[gs:ge]) if up[r0:r1].any()]
        g0, g1 = (gs + ev[0][0], gs + ev[-1][1]) if ev else (gs, ge)
        s, e = _index_range(series.times, int(grid[g0]), int(grid[g1 - 1]) + step)
        if e <= s:
            s, e = _index_range(series.times, t0, t1)
        if e <= s:
            continue
        best = min(g, key=lambda h: (h[2]["p_value"], -h[2]["z"]))[2]
        out.append(Finding(s, e, Status.SUSPECT, "selective_missingness", _score(best["auc"] - 0.5, min_auc - 0.5), {
            "test": "window", "window_test": best, "month": str(np.datetime64(t0 + BEIJING_OFFSET_S, "s"))[:7],
            "period": [_iso(t0), _iso(t1)], "neighbours": list(nbs),
            "gaps_span": [_iso(int(grid[g0])), _iso(int(grid[g1 - 1]) + step)],
            "windows_flagged": len(g), "family": len(tested), "p_value": best["p_value"],
            "_ev_gaps": [(gs + r0, gs + r1) for r0, r1 in ev],
            "thresholds": {"window_days": window_days, "window_step_days": window_step_days,
                           "min_missing_window": min_missing, "min_auc": min_auc, "min_runs": min_runs,
                           "alpha": alpha},
        }))
    return out


def average_ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``x`` with ties sharing their average rank (as the Mann–Whitney test uses)."""
    order = np.argsort(x, kind="mergesort")
    xs = x[order]
    first = np.concatenate(([True], xs[1:] != xs[:-1]))
    group = np.cumsum(first) - 1
    starts = np.flatnonzero(first)
    ends = np.concatenate((starts[1:], [x.size]))
    avg = (starts + ends + 1) / 2.0  # mean of the 1-based ranks starts+1 … ends
    out = np.empty(x.size)
    out[order] = avg[group]
    return out
