"""FOR-05's fragment test (:mod:`tianlan.qc.fraud.forensic_missing`): deletion fragments — runs of
gaps separated by short reported fragments, whose gap hours fall where the neighbours are high.

Deleting the hours when the value would be high (a power cut or a DAS switched off whenever the
concentration rises, 2015 measures 4(10)) leaves a characteristic trace in a haze episode: the
record is cut into short reported fragments — the hours the concentration dipped below the cut —
between gaps, and the gaps sit exactly where the neighbours' level peaks. A genuine outage (power,
comms) is a block, one gap, at whatever level the region happens to be; random comms flicker
fragments the record at random levels. Each *run* (a deletion episode) is located and tested on
its own, so an officer gets one alarm per episode of cut haze hours with the hours, the
neighbours' levels at them and the statistic.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tianlan.qc.checks._common import runs as true_runs
from tianlan.qc.core import Finding, Series, Status
from tianlan.qc.fraud.forensic_common import _index_range, _iso, _score
from tianlan.qc.fraud.forensic_missing_window import _auc, _fast_len, _percentiles

REASON = "selective_missingness_fragments"


def fragment_runs(miss: np.ndarray, *, max_fragment: int, min_gaps: int) -> list[tuple[int, int, list[tuple[int, int]]]]:
    """Runs of gaps joined by reported fragments of at most ``max_fragment`` steps.

    ``miss``: the missing indicator on the regular grid. Returns (start, end, gaps) per run of at
    least ``min_gaps`` gaps (``end`` exclusive: the end of the run's last gap); a lone gap — a
    block outage — never makes a run."""
    gaps = true_runs(miss)
    out: list[tuple[int, int, list[tuple[int, int]]]] = []
    cur: list[tuple[int, int]] = []
    for g in gaps:
        if cur and g[0] - cur[-1][1] > max_fragment:
            if len(cur) >= min_gaps:
                out.append((cur[0][0], cur[-1][1], cur))
            cur = []
        cur.append(g)
    if len(cur) >= min_gaps:
        out.append((cur[0][0], cur[-1][1], cur))
    return out


def _fragment_findings(own: np.ndarray, rel: np.ndarray, grid: np.ndarray, step: int, nbs: dict[str, Series], *,
                       series: Series, max_fragment_h: float, min_gaps: int, min_missing: int, min_auc: float,
                       alpha: float, min_shift: int, max_run_days: float = 14.0,
                       level: np.ndarray | None = None) -> list[Finding]:
    """FOR-05's fragment test over one series on the regular ``grid``.

    ``own``: the station's values (NaN = missing); ``rel``: the neighbours' log level relative to
    its local median (the second ring filling steps where no neighbour reports; NaN = unknown);
    ``level``: the neighbours' level itself (evidence only). A run (:func:`fragment_runs`: ≥
    ``min_gaps`` gaps joined by reported fragments ≤ ``max_fragment_h`` hours, spanning at most
    ``max_run_days``) with ≥ ``min_missing`` missing steps of known level is tested by where its
    gaps fall: the statistic is the mean percentile rank (over the record, 0–1) of ``rel`` at the
    run's missing steps. Its null lays the run's gap pattern over every other stretch of the record
    (shifts ≥ the run's length and ≥ ``min_shift``; gaps and pollution episodes keep their
    autocorrelation), standardised per run; the runs of a series are tested together (Westfall–Young
    maxT over the shifts: family-wise error ``alpha``). A run is flagged when that p-value is below
    ``alpha`` and its gap hours' AUC against every reported step of the record reaches ``min_auc``
    (a large effect). Finding: SUSPECT, ``selective_missingness_fragments``, from the run's first
    gap to the end of its last, score 0.8 at ``min_auc``; evidence: the gap hours, the neighbours'
    level at the gap hours vs the fragments and the record, the statistic, the thresholds."""
    n = grid.size
    miss = ~np.isfinite(own)
    max_frag = max(0, int(round(max_fragment_h * 3600 / step)))
    max_len = max(1, int(round(max_run_days * 86400 / step)))
    pct, known = _percentiles(rel)
    cand = []
    for a, b, gaps in fragment_runs(miss, max_fragment=max_frag, min_gaps=min_gaps):
        if b - a > max_len:
            continue
        pat = miss[a:b] & known[a:b]
        rep = ~miss[a:b] & known[a:b]
        if int(pat.sum()) >= min_missing and rep.any():
            cand.append((a, b, gaps, pat, rep))
    if not cand:
        return []
    lmax = max(b - a for a, b, _, _, _ in cand)
    shifts = np.arange(n)
    floor = max(lmax, min_shift)
    valid = np.minimum(shifts, n - shifts) >= floor
    if n < 3 * floor or not valid.any():
        return []
    size = _fast_len(n + lmax - 1)
    fk = np.fft.rfft(np.concatenate((known, known[:lmax - 1])).astype(np.float64), size)
    fp = np.fft.rfft(np.concatenate((pct, pct[:lmax - 1])), size)
    k = len(cand)
    rows = np.zeros((2 * k, size))  # rows 0..k-1: a run's gap steps; k..2k-1: its fragment steps
    for i, (a, b, _, pat, rep) in enumerate(cand):
        rows[i, :b - a] = pat
        rows[k + i, :b - a] = rep
    fr = np.conj(np.fft.rfft(rows, axis=1))
    cnt = np.rint(np.fft.irfft(fr * fk, size, axis=1)[:, :n])
    tot = np.fft.irfft(fr * fp, size, axis=1)[:, :n]
    with np.errstate(invalid="ignore", divide="ignore"):
        stat = tot[:k] / cnt[:k] - tot[k:] / cnt[k:]
    max_null = np.full(n, -np.inf)
    tested: list[tuple[int, float, float]] = []  # (candidate index, z, observed contrast)
    for i, (a, _, _, pat, _rep) in enumerate(cand):
        idx = (a + shifts) % n
        z = stat[i, idx]
        # a shifted pattern must keep half its known gap steps and one known fragment step
        z = np.where((cnt[i, idx] >= max(1, int(pat.sum()) // 2)) & (cnt[k + i, idx] >= 1), z, np.nan)
        ref = z[valid & np.isfinite(z)]
        if ref.size < 2 or not np.isfinite(z[0]):
            continue
        sd = float(ref.std())
        zs = (z - float(ref.mean())) / (sd if sd > 0 else 1.0)
        np.fmax(max_null, np.where(valid & np.isfinite(zs), zs, -np.inf), out=max_null)
        tested.append((i, float(zs[0]), float(z[0])))
    null = max_null[valid]
    reported = ~miss & known
    out: list[Finding] = []
    for i, z0, contrast in tested:
        p = float((1 + np.count_nonzero(null >= z0 - 1e-12)) / (1 + null.size))
        if p >= alpha:
            continue
        a, b, gaps, pat, _ = cand[i]
        mean_pct = float(pct[a:b][pat].mean())
        sel = np.zeros(n, dtype=bool)
        sel[a:b] = pat
        both = sel | reported
        auc = _auc(rel[both], sel[both])
        frag = ~miss[a:b] & known[a:b]
        pct_frag = float(pct[a:b][frag].mean()) if frag.any() else None
        # selective: the gaps sit higher than the fragments left between them (a run cut at the
        # daily peak hours as a whole — maintenance in the afternoon — is not a cut at the peaks)
        if auc < min_auc or (pct_frag is not None and pct_frag >= mean_pct):
            continue
        lv_gap = lv_frag = None
        if level is not None:
            lv = level[a:b]
            mg, mf = miss[a:b] & np.isfinite(lv), ~miss[a:b] & np.isfinite(lv)
            lv_gap = float(np.median(lv[mg])) if mg.any() else None
            lv_frag = float(np.median(lv[mf])) if mf.any() else None
            if lv_gap is not None and lv_frag is not None and lv_frag >= lv_gap:
                continue
        s, e = _index_range(series.times, int(grid[a]), int(grid[b - 1]) + step)
        if e <= s:
            continue
        ev: dict[str, Any] = {
            "test": "fragments", "month": str(np.datetime64(int(grid[a]) + 8 * 3600, "s"))[:7],
            "period": [_iso(int(grid[a])), _iso(int(grid[b - 1]) + step)],
            "gaps_span": [_iso(int(grid[a])), _iso(int(grid[b - 1]) + step)], "neighbours": list(nbs),
            "gaps": [[_iso(int(grid[g0])), _iso(int(grid[g1 - 1]) + step)] for g0, g1 in gaps],
            "gap_hours": int(miss[a:b].sum()), "fragment_hours": int((~miss[a:b]).sum()),
            "fragments": len(gaps) - 1,
            "mean_percentile_at_gaps": round(mean_pct, 4),
            "mean_percentile_at_fragments": None if pct_frag is None else round(pct_frag, 4),
            "contrast": round(contrast, 4),
            "auc": round(auc, 4), "z": round(z0, 3), "p_value": p, "shifts": int(null.size), "runs_tested": len(tested),
            "thresholds": {"max_fragment_h": max_fragment_h, "min_gaps": min_gaps, "min_missing": min_missing,
                           "min_auc": min_auc, "alpha": alpha, "max_run_days": max_run_days},
        }
        if level is not None:
            ok = np.isfinite(level) & reported
            ev["neighbour_level"] = {
                "median_at_gaps": None if lv_gap is None else round(lv_gap, 3),
                "median_at_fragments": None if lv_frag is None else round(lv_frag, 3),
                "median_reported_record": round(float(np.median(level[ok])), 3) if ok.any() else None,
            }
        out.append(Finding(s, e, Status.SUSPECT, REASON, _score(auc - 0.5, min_auc - 0.5), ev))
    return out


def split_episodes(findings: list[Finding], series: Series, grid: np.ndarray, step: int, *, max_sep_h: float,
                   min_gaps: int, rel: np.ndarray | None = None) -> list[Finding]:
    """FOR-05's findings located episode by episode.

    A month, two-week or window finding carries the gaps that hold its evidence (on ``grid``,
    private evidence key ``_ev_gaps``, removed here). Its gaps at most ``max_sep_h`` reported hours
    apart make one deletion episode; every episode of at least ``min_gaps`` gaps becomes a finding
    of its own — the test's evidence, plus the episode's gaps (``episode``) — from its first gap to
    the end of its last, so an alarm covers the hours that were cut, not the reported days between
    two haze episodes. A lone gap is a block (a genuine outage looks like that) and makes no
    episode; with ``rel`` (the neighbours' relative level on ``grid``) neither does one whose
    reported hours between the gaps sit as high as the gaps (median) — an outage in a haze
    episode, not a cut at its peaks. A finding without any episode keeps its span from the first
    evidence gap to the last."""
    out: list[Finding] = []
    sep = int(round(max_sep_h * 3600 / step))
    for f in findings:
        gaps = f.evidence.pop("_ev_gaps", None)
        if not gaps or max_sep_h <= 0:
            out.append(f)
            continue
        groups: list[list[tuple[int, int]]] = [[gaps[0]]]
        for g in gaps[1:]:
            if g[0] - groups[-1][-1][1] <= sep:
                groups[-1].append(g)
            else:
                groups.append([g])
        eps = [g for g in groups if len(g) >= max(1, min_gaps)]
        located = []
        for g in eps:
            contrast = None
            if rel is not None:
                a0, b0 = g[0][0], g[-1][1]
                inside = np.zeros(b0 - a0, dtype=bool)
                for a, b in g:
                    inside[a - a0:b - a0] = True
                r = rel[a0:b0]
                rg, rf = r[inside & np.isfinite(r)], r[~inside & np.isfinite(r)]
                if rg.size and rf.size:
                    contrast = float(np.median(rg) - np.median(rf))
                    if contrast <= 0:
                        continue
            t0, t1 = int(grid[g[0][0]]), int(grid[g[-1][1] - 1]) + step
            s, e = _index_range(series.times, t0, t1)
            if e <= s:
                continue
            ev = dict(f.evidence)
            ev["gaps_span"] = [_iso(t0), _iso(t1)]
            ev["episode"] = {"gaps": [[_iso(int(grid[a])), _iso(int(grid[b - 1]) + step)] for a, b in g],
                             "gap_hours": int(sum(b - a for a, b in g) * step // 3600),
                             "episodes_in_finding": len(eps), "max_separation_h": max_sep_h, "min_gaps": min_gaps,
                             "level_gaps_minus_fragments": None if contrast is None else round(contrast, 4)}
            located.append(Finding(s, e, f.status, f.reason, f.score, ev))
        out.extend(located if located else [f])
    return out
