"""FOR-05 — selective missingness: gaps when the neighbours are high (split and rank tests with a
circular-shift null over calendar months and two-week windows, and a sliding 7- and 10-day window
scan with a whole-record shift null and maxT control), and the own-level test for stations without usable neighbours (flue-gas
outlets, water stations: the values left around the gaps lose the top of the distribution). The
fragment test and the split of findings into deletion episodes live in
:mod:`~tianlan.qc.fraud.forensic_missing_fragments`.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

import numpy as np

from tianlan.errors import InputError
from tianlan.qc.checks._common import runs as true_runs
from tianlan.qc.core import Context, Finding, Param, Series, Status, detector
from tianlan.qc.fraud.forensic_common import (
    BEIJING_OFFSET_S,
    FORENSIC_PARAMETERS,
    _aligned,
    _binom_cdf,
    _column_median,
    _index_range,
    _iso,
    _months,
    _neighbour_series,
    _score,
    _windows,
)
from tianlan.qc.fraud.forensic_missing_fragments import _fragment_findings, split_episodes
from tianlan.qc.fraud.forensic_missing_window import (  # noqa: F401 (average_ranks: re-exported)
    _window_findings,
    average_ranks,
    second_ring_level,
)


def _circular_corr(fx: np.ndarray, y: np.ndarray) -> np.ndarray:
    """r[s] = Σ_t x[t]·y[(t+s) mod n] for every shift s, given ``fx`` = rfft(x) (FFT)."""
    n = y.size
    return np.rint(np.fft.irfft(np.conj(fx) * np.fft.rfft(y), n))


def local_threshold(level: np.ndarray, grid: np.ndarray, q: float, days: int) -> np.ndarray:
    """Per slot of the regular ``grid``, the ``q`` quantile of ``level`` over the ``days`` Beijing
    days centred on its day (NaN where fewer than 24 values are known)."""
    step = int(grid[1] - grid[0]) if grid.size > 1 else 3600
    spd = max(1, 86400 // step)
    lead = int(((grid[0] + BEIJING_OFFSET_S) % 86400) // step)
    n_days = -(-(lead + level.size) // spd)
    half = days // 2
    padded = np.full((n_days + days - 1) * spd, np.nan)
    padded[half * spd + lead:half * spd + lead + level.size] = level
    win = np.lib.stride_tricks.sliding_window_view(padded.reshape(-1, spd), days, axis=0)  # (n_days, spd, days)
    win = win.reshape(n_days, spd * days)
    count = np.isfinite(win).sum(axis=1)
    srt = np.sort(win, axis=1)  # NaN last; linear interpolation between order statistics (numpy's default)
    pos = q * np.maximum(count - 1, 0)
    i0 = np.floor(pos).astype(np.int64)
    i1 = np.minimum(i0 + 1, np.maximum(count - 1, 0))
    v0 = np.take_along_axis(srt, i0[:, None], axis=1)[:, 0]
    v1 = np.take_along_axis(srt, i1[:, None], axis=1)[:, 0]
    thr = np.where(count >= 24, v0 + (pos - i0) * (v1 - v0), np.nan)
    out: np.ndarray = np.repeat(thr, spd)[lead:lead + level.size]
    return out


@detector(
    "FOR-05",
    name="Selective missingness (gaps when neighbours are high)",
    family="for",
    targets=["selective recording or deletion (B5)", "power cut at high pollution (B10)", "2015 measures 4(10)"],
    params={
        "high_quantile": Param(0.75, "quantile", "neighbour level above this local quantile = 'neighbours high'"),
        "local_days": Param(7, "days", "days (centred) the 'high' quantile is taken over; 0 = the whole month"),
        "min_neighbours": Param(2, "stations", "neighbours reporting in an hour for its level to count"),
        "alpha": Param(0.01, "", "circular-shift permutation p-value of the risk difference"),
        "min_risk_ratio": Param(2.0, "ratio", "effect size floor: P(missing | high) ÷ P(missing | low)"),
        "min_risk_diff": Param(0.10, "share", "effect size floor: P(missing | high) − P(missing | low)"),
        "min_missing_high": Param(8, "steps", "fewest missing values in 'neighbours high' hours"),
        "min_runs": Param(3, "gaps", "fewest distinct gaps touching 'neighbours high' hours (one outage is not selection)"),
        "min_shift_h": Param(24, "h", "smallest circular shift used for the null distribution"),
        "min_auc": Param(0.714, "probability", "rank test: effect size floor, P(neighbour level at a missing hour > at "
                         "a reported hour) (0.714 = Cohen's d 0.8, a large effect; Rice & Harris 2005); 0 = off"),
        "min_missing_rank": Param(72, "steps", "rank test: fewest missing steps with a known neighbour level (3 days of "
                                  "hours: the rank test is for mass deletion; sparse selective gaps are the split test's)"),
        "window_days": Param(7.0, "days", "window test: windows of this many days sliding by ``window_step_days``, each "
                             "against the whole record (a short spree in a long month is diluted there); 0 = off"),
        "window_long_days": Param(10.0, "days", "window test: a second window length in the same family (maxT over "
                                  "both): a spree of two or three weeks is diluted in a week's window; 0 = off"),
        "window_step_days": Param(1.0, "days", "window test: hop between windows"),
        "second_ring": Param(3, "stations", "window test: where no neighbour reports, the level of this many network "
                             "stations (not neighbours) whose record tracks the station's best (daily log means, "
                             "r ≥ 0.5); neighbours that cut their data at the same haze hours otherwise hide the "
                             "level exactly there; 0 = off"),
        "min_missing_window": Param(24, "steps", "window test: fewest missing steps with a known neighbour level"),
        "window_alpha": Param(0.002, "", "window test: family-wise error per series (maxT over its windows); a fifth of "
                              "``alpha``: the scan runs after the month tests on the same gaps and must not double their "
                              "false findings"),
        "fragment_max_h": Param(0.0, "h", "fragment test: reported fragments of at most this many hours join the "
                                "gaps around them into one run (a deletion episode); 0 = off (the built-in "
                                "configuration sets 6 for air stations)"),
        "fragment_min_gaps": Param(3, "gaps", "fragment test: fewest gaps in a run (a lone gap is a block outage)"),
        "fragment_min_missing": Param(6, "steps", "fragment test: fewest missing steps of known neighbour level in a run"),
        "fragment_alpha": Param(0.002, "", "fragment test: family-wise error per series (maxT over its runs)"),
        "episode_gap_h": Param(0.0, "h", "a finding of the month, two-week or window test is split into deletion "
                               "episodes: its evidence gaps at most this many reported hours apart are one episode; 0 = "
                               "one finding from the first gap to the last (the built-in configuration sets 6 for air "
                               "stations)"),
        "episode_min_gaps": Param(2, "gaps", "fewest evidence gaps in an episode (a lone gap is a block outage and makes "
                                  "none; with no episode left the finding keeps its whole span)"),
        "level_parameter": Param("a34004", "code", "a series whose gaps the neighbours' own level does not "
                                 "explain is tested again against the neighbours' level of this parameter (PM2.5: a cut "
                                 "at haze hours removes every parameter); '' = off"),
        "own_level": Param("auto", "", "own-level test (the station's own values left around its gaps, truncated "
                           "top): auto (too few neighbours report, or a water station) | no_neighbours | always | never"),
        "own_window_days": Param(7.0, "days", "own-level test: windows of this many days, sliding by half"),
        "own_quantile": Param(0.75, "quantile", "own-level test: 'high' = above this quantile of the rest of the record"),
        "own_quantile_upper": Param(0.0, "quantile", "own-level test: a second, higher 'high' quantile tested in the same "
                                    "window (each of the two at alpha/2, Bonferroni): a cut at the top fifth of the "
                                    "window leaves a noisy series' values above the 0.75 quantile nearly as often as "
                                    "before, and none above the 0.9; 0 = off (the built-in configuration sets 0.9 for "
                                    "flue-gas outlets and water stations)"),
        "own_gap_edge": Param(0.0, "", "own-level test: a window must also show its gaps at the top of its values (the "
                              "reported hours at the gaps' edges the highest left, against the same gap pattern laid "
                              "elsewhere on the record): the binomial counts a slow river's hours as independent and "
                              "flags random gaps in a low-water week; 0 = off (the built-in configuration sets 0.01 for "
                              "water stations)"),
        "min_missing_share": Param(0.1, "share", "own-level test: fewest missing values in a window"),
        "neighbour_lag_h": Param(0.0, "h", "each neighbour's series is shifted by the lag (at most this many hours "
                                 "either way) at which it correlates best with the station's own (log values): a "
                                 "river's neighbours see the same water hours earlier or later; 0 = off (the "
                                 "built-in configuration sets 24 for water stations)"),
    },
    parameters=FORENSIC_PARAMETERS,
)
def selective_missingness(series: Series, ctx: Context, *, high_quantile: float, local_days: int, min_neighbours: int,
                          alpha: float,
                          min_risk_ratio: float, min_risk_diff: float, min_missing_high: int, min_runs: int,
                          min_shift_h: float, own_level: str = "auto", own_window_days: float = 7.0,
                          own_quantile: float = 0.75, min_missing_share: float = 0.1, min_auc: float = 0.714,
                          own_quantile_upper: float = 0.0, neighbour_lag_h: float = 0.0,
                          min_missing_rank: int = 72, window_days: float = 7.0, window_step_days: float = 1.0,
                          min_missing_window: int = 24, window_alpha: float = 0.002,
                          second_ring: int = 3, window_long_days: float = 10.0, fragment_max_h: float = 0.0,
                          fragment_min_gaps: int = 3, fragment_min_missing: int = 6,
                          fragment_alpha: float = 0.002, episode_gap_h: float = 0.0,
                          episode_min_gaps: int = 2, level_parameter: str = "a34004",
                          own_gap_edge: float = 0.0) -> list[Finding]:
    """Station-months where the series is missing far more often when its neighbours are high
    (catalogue FOR-05).

    On the regular grid of the month (``series.step_s``), the neighbours' level is the median of the
    same parameter over neighbours reporting (≥ ``min_neighbours``); 'high' = above its
    ``high_quantile`` over the ``local_days`` around the hour (local, so a week of selective gaps in
    a month with a dirtier or cleaner week elsewhere still shows). 2×2 table missing × high/low; effect sizes: risk ratio and risk
    difference. The p-value comes from circularly shifting the missing indicator against the
    neighbour level by every shift ≥ ``min_shift_h`` (keeps the autocorrelation of both, so long
    gaps and pollution episodes do not fake significance). A single long outage in a haze episode
    is still one coincidence, so ≥ ``min_runs`` separate gaps must touch high hours. Finding:
    SUSPECT, ``selective_missingness``, score 0.8 at ``min_risk_ratio`` rising to 1 at 1.25 × it,
    from the first to the last gap that carries the evidence (``gaps_span``; the month tested is
    ``period``); evidence: the table,
    neighbours used, the level threshold and the first missing-high hours.

    Window test (``window_days`` > 0, :func:`_window_findings`): a spree of a week or two — a
    power cut at every haze hour of ten days — is diluted in its calendar month (or split across
    two) and the rank test above needs ``min_missing_rank`` missing hours. Every
    ``window_days`` window (sliding by ``window_step_days``) with ≥ ``min_missing_window``
    missing steps in ≥ ``min_runs`` gaps is ranked against the whole record, with the neighbours'
    level taken wherever *one* neighbour reports (a station with two neighbours otherwise loses
    its level whenever either is down), and the windows of a series are tested together
    (Westfall–Young maxT, family-wise error ``window_alpha``). Windows of ``window_long_days``
    join the same family (a spree of two or three weeks is diluted in a week's window). Where no
    neighbour reports, the level comes from the ``second_ring`` network stations whose record
    tracks the station's best (:func:`second_ring_level`): neighbours that cut their own haze
    hours at the same time otherwise hide the level exactly at the hours in question.

    Deletion episodes (``episode_gap_h`` > 0, :func:`split_episodes`): each finding of the tests
    above becomes one finding per episode of its evidence gaps (≤ ``episode_gap_h`` apart, ≥
    ``episode_min_gaps`` gaps, the gaps higher than the hours between them). Fragment test
    (``fragment_max_h`` > 0, :func:`_fragment_findings`): runs of gaps between short reported
    fragments, each tested by the neighbours' level at its gaps against its fragments (reason
    ``selective_missingness_fragments``), where no other test flagged. Lead pollutant
    (``level_parameter``): a series none of this flags, at a station whose ``level_parameter``
    series FOR-05 flags, is tested again on the hours it lost together with that series,
    against the neighbours' level of that parameter.

    Own level (``own_level``): a station with fewer than ``min_neighbours`` neighbours (a flue-gas
    outlet is compared with no other) — with ``auto`` (default) also every water station, whose
    neighbours see the river hours later; with ``always`` every station — is also tested against
    its own record (:func:`own_level_missingness`: windows whose gaps took the top of the
    station's distribution with them; the reference leaves out the days with gaps, where another
    spree has taken the top too); ``own_quantile_upper`` tests its windows at a second quantile.

    Travel lag (``neighbour_lag_h`` > 0, :func:`travel_lag`): each neighbour's series is shifted by
    the lag at which it tracks the station best, so a river neighbour's level at an hour is the
    water the station had then (the built-in configuration, water stations).
    """
    if own_level not in ("auto", "no_neighbours", "always", "never"):
        raise InputError("FOR-05.own_level", f"{own_level!r}: auto, no_neighbours, always or never")
    nbs = _travel_aligned(series, _neighbour_series(series, ctx), neighbour_lag_h)
    own: list[Finding] = []
    if own_level == "auto":  # a river's neighbours see the water hours later: test a water station's own values too
        own_level = "always" if ctx.attrs.get("kind") == "water" else "no_neighbours"
    if own_level == "always" or (own_level == "no_neighbours" and len(nbs) < min_neighbours):
        own = own_level_missingness(series, window_days=own_window_days, quantile=own_quantile,
                                    min_missing_share=min_missing_share, min_runs=min_runs, alpha=alpha,
                                    min_risk_ratio=min_risk_ratio, min_missing_high=min_missing_high,
                                    upper_quantile=own_quantile_upper, gap_edge=own_gap_edge)
    if len(nbs) < min_neighbours:
        return own
    kw: dict[str, Any] = dict(
        high_quantile=high_quantile, local_days=local_days, min_neighbours=min_neighbours, alpha=alpha,
        min_risk_ratio=min_risk_ratio, min_risk_diff=min_risk_diff, min_missing_high=min_missing_high,
        min_runs=min_runs, min_shift_h=min_shift_h, min_auc=min_auc, min_missing_rank=min_missing_rank,
        window_days=window_days, window_step_days=window_step_days, min_missing_window=min_missing_window,
        window_alpha=window_alpha, second_ring=second_ring, window_long_days=window_long_days,
        fragment_max_h=fragment_max_h, fragment_min_gaps=fragment_min_gaps,
        fragment_min_missing=fragment_min_missing, fragment_alpha=fragment_alpha, episode_gap_h=episode_gap_h,
        episode_min_gaps=episode_min_gaps)
    found = _cached_neighbour_missingness(series, ctx, nbs, kw)
    if not found and level_parameter and series.parameter != level_parameter:
        # a cut removes every parameter at once; the hours that were cut are told by the level of
        # the pollutant that was high (ozone, CO… of the neighbours need not be high at PM haze hours)
        # … where the station's own lead series shows a cut at all (its result is cached for its own call)
        lead = ctx.series.get(level_parameter)
        nbs_l = (_travel_aligned(lead, _neighbour_series(lead, ctx), neighbour_lag_h)
                 if lead is not None and len(lead) else {})
        proxy = None
        if len(nbs_l) >= min_neighbours and lead is not None and _cached_neighbour_missingness(lead, ctx, nbs_l, kw):
            proxy = _cut_with(series, lead)
        if proxy is not None:
            found = _cached_neighbour_missingness(proxy, ctx, nbs_l, kw)
            for f in found:
                f.evidence["level_parameter"] = level_parameter
                f.evidence["parameter_tested"] = series.parameter
    return found + own


def travel_lag(series: Series, other: Series, max_lag_h: float, min_common: int = 48) -> tuple[int, float]:
    """(lag in s, Pearson r): the shift of ``other``'s times, within ±``max_lag_h``, at which its
    log values, log(1 + x), correlate best with ``series``'s on common reported steps (≥
    ``min_common``); (0, NaN) when no shift has that many. A positive lag: ``other`` sees the water
    that many seconds before the station (an upstream station)."""
    step = int(series.step_s)
    if step <= 0 or not len(series) or not len(other):
        return 0, math.nan
    k_max = int(max_lag_h * 3600 // step)
    grid = np.arange(int(series.times[0]), int(series.times[-1]) + step, step, dtype=np.int64)
    with np.errstate(invalid="ignore"):
        x = np.log1p(np.maximum(_aligned(grid, series), 0))
        y = np.log1p(np.maximum(_aligned(grid, other), 0))
    best_r, best = -math.inf, 0
    for lag in range(-k_max, k_max + 1):
        a, b = (x[lag:], y[:y.size - lag]) if lag >= 0 else (x[:lag], y[-lag:])
        ok = np.isfinite(a) & np.isfinite(b)
        if int(ok.sum()) < min_common:
            continue
        a, b = a[ok] - a[ok].mean(), b[ok] - b[ok].mean()
        den = math.sqrt(float((a * a).sum()) * float((b * b).sum()))
        r = float((a * b).sum()) / den if den > 0 else -math.inf
        if r > best_r:
            best_r, best = r, lag
    return (best * step, best_r) if math.isfinite(best_r) else (0, math.nan)


def _travel_aligned(series: Series, nbs: dict[str, Series], max_lag_h: float) -> dict[str, Series]:
    """``nbs`` with each series' times shifted by its :func:`travel_lag` (``max_lag_h`` ≤ 0: as given).
    The level of a river's neighbours at an hour is then the water the station itself had."""
    if max_lag_h <= 0 or not len(series):
        return nbs
    out = {}
    for st, nb in nbs.items():
        lag, _ = travel_lag(series, nb, max_lag_h)
        out[st] = nb if lag == 0 else Series(nb.station, nb.parameter, nb.times + lag, nb.values, step_s=nb.step_s)
    return out


def _cached_neighbour_missingness(series: Series, ctx: Context, nbs: dict[str, Series],
                                  kw: dict[str, Any]) -> list[Finding]:
    """:func:`_neighbour_missingness`, once per station, parameter, record and settings: a series
    that lost exactly the hours its station's PM2.5 lost is, as the lead-pollutant pass builds it,
    the PM2.5 series itself (``Context.cache``; copies of the findings are returned)."""
    fin = np.isfinite(series.values)
    digest = hashlib.blake2b(series.times.tobytes() + fin.tobytes() + np.where(fin, series.values, 0.0).tobytes(),
                             digest_size=16).hexdigest()
    key = ("FOR-05/neighbours", series.station, series.parameter, digest, repr(sorted(kw.items())),
           tuple((st, int(s.times[0]) if len(s) else 0) for st, s in nbs.items()))  # (shifted by travel_lag)
    hit = ctx.cache.get(key)
    if hit is None:
        hit = _neighbour_missingness(series, ctx, nbs, **kw)
        ctx.cache[key] = hit
    return [Finding(f.start, f.end, f.status, f.reason, f.score, dict(f.evidence)) for f in hit]


def _cut_with(series: Series, lead: Series | None) -> Series | None:
    """The hours ``series`` lost together with the ``lead`` parameter of its station, as a series of
    that parameter (the lead's values where it reports, NaN where both are missing): a cut removes
    every parameter at once, and an analyser of its own that drops out (a PM10 tape in fog) is
    not one. None without a lead series."""
    if lead is None or not len(lead) or not len(series):
        return None
    idx = np.clip(np.searchsorted(lead.times, series.times), 0, lead.times.size - 1)
    there = lead.times[idx] == series.times
    lv = np.where(there, lead.values[idx], np.nan)
    both = ~np.isfinite(series.values) & ~np.isfinite(lv)
    fill = float(np.nanmedian(lv)) if np.isfinite(lv).any() else 0.0
    vals = np.where(both, np.nan, np.where(np.isfinite(lv), lv, fill))
    return Series(series.station, lead.parameter, series.times, vals, step_s=series.step_s)


def _neighbour_missingness(series: Series, ctx: Context, nbs: dict[str, Series], *, high_quantile: float,
                           local_days: int, min_neighbours: int, alpha: float, min_risk_ratio: float,
                           min_risk_diff: float, min_missing_high: int, min_runs: int,
                           min_shift_h: float, min_auc: float = 0.714, min_missing_rank: int = 72,
                           window_days: float = 0.0, window_step_days: float = 1.0,
                           min_missing_window: int = 24, window_alpha: float = 0.002,
                           second_ring: int = 0, window_long_days: float = 0.0, fragment_max_h: float = 0.0,
                           fragment_min_gaps: int = 3, fragment_min_missing: int = 6,
                           fragment_alpha: float = 0.002, episode_gap_h: float = 0.0,
                           episode_min_gaps: int = 2) -> list[Finding]:
    """FOR-05 against the neighbours' level (the detector's first test): the 2×2 split at the
    local upper quantile, and the rank test over the whole distribution (:func:`rank_shift_auc`)."""
    step = int(series.step_s)
    times_all = [series.times] + [s.times for s in nbs.values()]
    lo_t = min(int(t[0]) for t in times_all if t.size)
    hi_t = max(int(t[-1]) for t in times_all if t.size)
    grid_all = np.arange(lo_t, hi_t + step, step, dtype=np.int64)
    if grid_all.size < 2:
        return []
    own = _aligned(grid_all, series)
    nbv = np.vstack([_aligned(grid_all, s) for s in nbs.values()])
    n_rep = np.isfinite(nbv).sum(axis=0)
    level_all = _column_median(nbv, n_rep)
    level_all[n_rep < min_neighbours] = np.nan
    thr_all = local_threshold(level_all, grid_all, high_quantile, int(local_days)) if local_days > 0 else None
    rel_all = None
    if min_auc > 0:  # the neighbours' level relative to its local median: a dirtier week is not "high" by itself
        from tianlan.qc.checks._common import info

        pi = info(series, ctx)
        c = pi.log_offset if pi is not None and pi.log_offset > 0 else 1.0
        med_all = (local_threshold(level_all, grid_all, 0.5, int(local_days)) if local_days > 0
                   else np.full(level_all.size, np.nanmedian(level_all) if np.isfinite(level_all).any() else np.nan))
        with np.errstate(invalid="ignore", divide="ignore"):
            rel_all = np.log(np.maximum(level_all, 0) + c) - np.log(np.maximum(med_all, 0) + c)
    min_shift = max(1, int(round(min_shift_h * 3600 / step)))
    out: list[Finding] = []
    rank_ok = rel_all is not None

    def test(label: str, gs: int, ge: int, rank_only: bool) -> Finding | None:
        level = level_all[gs:ge]
        miss = ~np.isfinite(own[gs:ge])
        known = np.isfinite(level)
        n = level.size
        if known.sum() < max(24, 10 * min_missing_high) or n <= 2 * min_shift + 1:
            return None
        if thr_all is None:
            thr_m = np.full(n, float(np.quantile(level[known], high_quantile)))
        else:
            thr_m = thr_all[gs:ge]
            known &= np.isfinite(thr_m)
        high = known & (level > thr_m)
        low = known & ~high
        thr = float(np.median(thr_m[known])) if known.any() else math.nan
        n_hi, n_lo = int(high.sum()), int(low.sum())
        if n_hi == 0 or n_lo == 0:
            return None
        fm = np.fft.rfft(miss.astype(np.float64))
        a = _circular_corr(fm, high.astype(np.float64))
        c = _circular_corr(fm, low.astype(np.float64))
        rd = a / n_hi - c / n_lo
        a0, c0 = int(a[0]), int(c[0])
        p_hi, p_lo = a0 / n_hi, c0 / n_lo
        rr = p_hi / ((c0 + 0.5) / (n_lo + 1))
        runs = [(r0, r1) for r0, r1 in true_runs(miss) if high[r0:r1].any()]
        split_ok = (not rank_only and a0 >= min_missing_high and rr >= min_risk_ratio and p_hi - p_lo >= min_risk_diff
                    and len(runs) >= min_runs)
        p = math.nan
        if split_ok:
            null = rd[min_shift:n - min_shift + 1]
            p = float((1 + np.count_nonzero(null >= rd[0] - 1e-12)) / (1 + null.size))
            split_ok = p < alpha
        rank: dict[str, Any] | None = None
        if rel_all is not None and not split_ok and rank_ok:
            rel = rel_all[gs:ge]
            rank = rank_shift_auc(miss, rel, fm=fm, min_shift=min_shift)
            # separate gaps among the hours whose level is above its local median (one outage is not selection)
            up = np.isfinite(rel) & (rel > 0)
            rank["gaps_above_local_median"] = sum(1 for r0, r1 in true_runs(miss) if up[r0:r1].any())
            if not (rank["missing"] >= min_missing_rank and rank["auc"] >= min_auc and rank["p_value"] < alpha
                    and rank["gaps_above_local_median"] >= min_runs):
                return None
        elif not split_ok:
            return None
        t0, t1 = int(grid_all[gs]), int(grid_all[ge - 1]) + step
        # The finding covers the gaps that carry the evidence (split: gaps touching 'high' hours;
        # rank: gaps touching hours above the local median), not the whole tested month: a week of
        # deleted haze hours is located there, and a month-long finding would corroborate every
        # other alarm of the station's month (alarms.episodes) with evidence that is not there.
        ev_runs = runs if rank is None else [(r0, r1) for r0, r1 in true_runs(miss) if up[r0:r1].any()]
        g0, g1 = (gs + ev_runs[0][0], gs + ev_runs[-1][1]) if ev_runs else (gs, ge)
        s, e = _index_range(series.times, int(grid_all[g0]), int(grid_all[g1 - 1]) + step)
        if e <= s:
            s, e = _index_range(series.times, t0, t1)
        if e <= s:
            return None
        hit = np.flatnonzero(miss & high)
        ev_gaps = [(gs + r0, gs + r1) for r0, r1 in ev_runs]
        score = _score(rr, min_risk_ratio) if rank is None else _score(rank["auc"] - 0.5, min_auc - 0.5)
        return (Finding(s, e, Status.SUSPECT, "selective_missingness", score, {
            "test": "split" if rank is None else "rank", "rank_test": rank,
            "month": label[:7], "period": [_iso(t0), _iso(t1)], "neighbours": list(nbs),
            "gaps_span": [_iso(int(grid_all[g0])), _iso(int(grid_all[g1 - 1]) + step)],
            "neighbour_level_threshold_median": thr, "high_quantile": high_quantile,
            "local_days": local_days,
            "table": {"missing_high": a0, "high": n_hi, "missing_low": c0, "low": n_lo},
            "p_missing_high": round(p_hi, 4), "p_missing_low": round(p_lo, 4), "risk_ratio": round(rr, 3),
            "risk_difference": round(p_hi - p_lo, 4), "p_value": p if rank is None else rank["p_value"],
            "gaps_touching_high": len(runs), "_ev_gaps": ev_gaps,
            "first_missing_high_hours": [_iso(int(grid_all[gs + i])) for i in hit[:24]],
            "thresholds": {"alpha": alpha, "min_risk_ratio": min_risk_ratio, "min_risk_diff": min_risk_diff,
                           "min_missing_high": min_missing_high, "min_runs": min_runs, "min_auc": min_auc,
                           "min_missing_rank": min_missing_rank},
        }))

    for label, gs, ge in _months(grid_all):
        f = test(label, gs, ge, False)
        if f is not None:
            out.append(f)
    # The rank test also over two-week windows sliding by one (a deletion spree straddling the end
    # of a month is diluted in both months), where no month was flagged.
    spd = max(1, 86400 // step)
    width = 14 * spd
    flagged = [(f.evidence["period"]) for f in out]
    if rank_ok and grid_all.size > width:
        for gs in range(0, grid_all.size - width // 2, 7 * spd):
            ge = min(gs + width, grid_all.size)
            t0, t1 = int(grid_all[gs]), int(grid_all[ge - 1]) + step
            if any(_iso(t0) < b and _iso(t1) > a for a, b in flagged):
                continue
            if np.count_nonzero(~np.isfinite(own[gs:ge])) < min_missing_rank:
                continue
            f = test(str(np.datetime64(t0 + BEIJING_OFFSET_S, "s"))[:10], gs, ge, True)
            if f is not None:
                out.append(f)
                flagged.append(f.evidence["period"])
    rel_ep = rel_all  # the neighbours' relative level the episodes are read against
    if rel_all is not None and (window_days > 0 or fragment_max_h > 0):
        # the window test takes the neighbours' level wherever one reports (a station with two
        # neighbours loses its level whenever either is down; the rank test tolerates the noise)
        days_1 = int(local_days) if local_days > 0 else 7
        level_1 = _column_median(nbv, n_rep)
        level_1[n_rep < 1] = np.nan
        med_1 = local_threshold(level_1, grid_all, 0.5, days_1)
        with np.errstate(invalid="ignore", divide="ignore"):
            rel_1 = np.log(np.maximum(level_1, 0) + c) - np.log(np.maximum(med_1, 0) + c)
        # where no neighbour reports (and the station misses enough of those steps to matter), the
        # stations that track this one best
        if second_ring > 0 and np.count_nonzero((n_rep < 1) & ~np.isfinite(own)) >= min_missing_window:
            ring = second_ring_level(series, ctx, grid_all, own, exclude=set(nbs), k=second_ring, offset=c)
            if ring is not None:
                med_2 = local_threshold(ring, grid_all, 0.5, days_1)
                with np.errstate(invalid="ignore", divide="ignore"):
                    rel_2 = np.log(np.maximum(ring, 0) + c) - np.log(np.maximum(med_2, 0) + c)
                rel_1 = np.where(np.isfinite(rel_1), rel_1, rel_2)
                level_1 = np.where(np.isfinite(level_1), level_1, ring)
        rel_ep = rel_1
        if window_days > 0:
            out += _window_findings(own, rel_1, grid_all, step, nbs, flagged,
                                    window_days=(window_days, window_long_days) if window_long_days > 0 else window_days,
                                    window_step_days=window_step_days, min_missing=min_missing_window,
                                    min_auc=min_auc, min_runs=min_runs, alpha=window_alpha, min_shift=min_shift,
                                    series=series)
        if fragment_max_h > 0:
            frags = _fragment_findings(own, rel_1, grid_all, step, nbs, series=series, max_fragment_h=fragment_max_h,
                                       min_gaps=fragment_min_gaps, min_missing=fragment_min_missing, min_auc=min_auc,
                                       alpha=fragment_alpha, min_shift=min_shift, level=level_1)
            out = _add_fragments(out, frags)
    return split_episodes(out, series, grid_all, step, max_sep_h=episode_gap_h, min_gaps=episode_min_gaps,
                          rel=rel_ep)


def _add_fragments(tests: list[Finding], frags: list[Finding]) -> list[Finding]:
    """The fragment test's runs where no other test flagged the series (a run inside a flagged
    month is already one of its episodes, :func:`split_episodes`)."""
    return tests + [r for r in frags if not any(f.start < r.end and f.end > r.start for f in tests)]


def rank_shift_auc(miss: np.ndarray, level: np.ndarray, *, fm: np.ndarray | None = None,
                   min_shift: int = 24) -> dict[str, Any]:
    """Mann–Whitney rank test of ``level`` at missing vs reported steps, with a circular-shift null.

    AUC = P(level at a missing step > level at a reported step) (ties count half), from the rank
    sum of the missing steps among the steps with a known level. Missing that does not depend on
    the level gives 0.5; gaps that follow high levels, however low the trigger, push it up — the
    2×2 split at an upper quantile loses power when half of all hours are deleted (most deleted
    hours are then below the split). The p-value comes from shifting the missing indicator
    circularly against the level by every shift ≥ ``min_shift`` steps (both keep their
    autocorrelation): the share of shifts whose AUC is at least the observed one. ``fm``: the
    rFFT of ``miss`` when the caller has it."""
    known = np.isfinite(level)
    n = miss.size
    out: dict[str, Any] = {"missing": 0, "reported": 0, "auc": 0.5, "p_value": 1.0, "shifts": 0}
    n_known = int(known.sum())
    if n_known < 2 or n <= 2 * min_shift + 1:
        return out
    r = np.zeros(n)
    r[known] = average_ranks(level[known])
    f = np.fft.rfft(miss.astype(np.float64)) if fm is None else fm
    rank_sum = np.fft.irfft(np.conj(f) * np.fft.rfft(r), n)
    m = np.rint(np.fft.irfft(np.conj(f) * np.fft.rfft(known.astype(np.float64)), n))
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (rank_sum - m * (m + 1) / 2.0) / (m * (n_known - m))
    auc[(m <= 0) | (m >= n_known)] = np.nan
    m0 = int(m[0])
    out.update(missing=m0, reported=n_known - m0)
    if not np.isfinite(auc[0]):
        return out
    null = auc[min_shift:n - min_shift + 1]
    null = null[np.isfinite(null)]
    p = float((1 + np.count_nonzero(null >= auc[0] - 1e-12)) / (1 + null.size))
    out.update(auc=round(float(auc[0]), 4), p_value=p, shifts=int(null.size),
               null_auc_95=round(float(np.quantile(null, 0.95)), 4) if null.size else None)
    return out


def own_level_missingness(series: Series, *, window_days: float, quantile: float, min_missing_share: float,
                          min_runs: int, alpha: float, min_risk_ratio: float, min_missing_high: int,
                          upper_quantile: float = 0.0, gap_edge: float = 0.0) -> list[Finding]:
    """FOR-05 for a station without neighbours (a flue-gas outlet, an isolated station): windows whose
    gaps took the top of the station's own distribution with them.

    When values are dropped *because* they are high (a DAS switched off when the concentration
    rises, 2015 measures 4(10)), the values left in the window lose their upper tail: with q the
    ``quantile`` of the station's values outside the window, about (1 − q) of the window's values
    should lie above it; under selective deletion almost none do. In each window of ``window_days``
    (sliding by half) with at least ``min_missing_share`` of its slots missing in at least
    ``min_runs`` separate gaps, the count of present values above the reference quantile is
    compared with Binomial(present, 1 − q) (lower tail, p < ``alpha``); the effect size is the
    expected count ÷ the observed (≥ ``min_risk_ratio``), and at least ``min_missing_high``
    values must be missing. Gaps at random times leave the distribution as it was; a window that
    is merely cleaner has no reason to be gappy. With ``upper_quantile`` (> ``quantile``) the
    window is tested at both quantiles, each at ``alpha``/2 (Bonferroni): a cut at the top fifth of a
    noisy series (a stack's SO2 hour to hour) leaves about as many values above the 0.75 quantile
    as before and none above the 0.9 one. The binomial counts the window's hours as independent
    draws; on a slowly varying series (a river) they are not: a low-water week has few values above
    the record's quantile whether or not hours are missing, and the binomial then flags random gaps
    in it (docs/qc-benchmark-log.md, "FOR-05 on random outages"). With ``gap_edge`` a window flagged by the
    binomial must also pass the gap-edge test (:func:`_gap_edge_p`, p < ``gap_edge``): the reported
    hours at its gaps' edges are the highest left, against the same gap pattern laid elsewhere on
    the record (a circular-shift null that keeps the autocorrelation). Overlapping flagged windows make one finding
    (SUSPECT, ``selective_missingness_own_level``; score 0.8 at ``min_risk_ratio``, 1 at 1.25 × it).
    """
    x = series.values
    t = series.times
    step = int(series.step_s)
    fin = np.isfinite(x)
    if fin.sum() < 48:
        return []
    # The reference leaves out the days whose own gaps reach ``min_missing_share``: another spree of
    # selective gaps truncates the values left around it, and a reference taken there is lowered with
    # them (a second spree then looks untruncated against it).
    day = (t + BEIJING_OFFSET_S) // 86400
    _, inv = np.unique(day, return_inverse=True)
    share = np.bincount(inv, weights=(~fin).astype(np.float64)) / np.bincount(inv)
    ref_ok = fin & (share[inv] < min_missing_share)
    qs = (quantile, upper_quantile) if upper_quantile > quantile else (quantile,)
    found: list[tuple[int, int, dict[str, Any]]] = []
    for s, e in _windows(t, window_days):
        miss = ~fin[s:e]
        n_miss = int(miss.sum())
        if e - s < 24 or n_miss < max(min_missing_high, min_missing_share * (e - s)):
            continue
        gaps = true_runs(miss)
        if len(gaps) < min_runs:
            continue
        rest = np.concatenate((x[:s][ref_ok[:s]], x[e:][ref_ok[e:]]))
        if rest.size < 48:  # too few complete days: every value outside the window
            rest = np.concatenate((x[:s][fin[:s]], x[e:][fin[e:]]))
        if rest.size < 48:
            continue
        present = x[s:e][fin[s:e]]
        if present.size < 24:
            continue
        edge: tuple[float, float, int] | None = None
        for q in qs:
            thr = float(np.quantile(rest, q))
            k = int(np.count_nonzero(present > thr))
            expected = present.size * (1.0 - q)
            ratio = expected / max(k, 0.5)
            if ratio < min_risk_ratio:
                continue
            p = _binom_cdf(k, int(present.size), 1.0 - q)
            if p >= alpha / len(qs):
                continue
            if gap_edge > 0 and edge is None:  # the window's gaps, not its level: once per window
                edge = _gap_edge_p(x, fin, s, e)
            if edge is not None and edge[0] >= gap_edge:
                break
            found.append((s, e, {"window": [_iso(int(t[s])), _iso(int(t[e - 1]) + step)], "missing": n_miss,
                                 "slots": e - s, "gaps": len(gaps), "reference_quantile": q,
                                 "reference_threshold": round(thr, 6), "reference_values": int(rest.size),
                                 "present": int(present.size), "present_above": k,
                                 "expected_above": round(expected, 2), "ratio": round(ratio, 3), "p_value": p,
                                 "quantiles_tested": list(qs),
                                 "gap_edge": None if edge is None else {
                                     "p_value": edge[0], "mean_percentile": round(edge[1], 4), "edges": edge[2]},
                                 "present_max": round(float(present.max()), 6) if present.size else None}))
            break
    out: list[Finding] = []
    groups: list[list[tuple[int, int, dict[str, Any]]]] = []
    for h in found:
        if groups and h[0] < max(g[1] for g in groups[-1]):
            groups[-1].append(h)
        else:
            groups.append([h])
    for g in groups:
        s, e = g[0][0], max(x_[1] for x_ in g)
        best = max(g, key=lambda x_: x_[2]["ratio"])[2]
        out.append(Finding(s, e, Status.SUSPECT, "selective_missingness_own_level", _score(best["ratio"], min_risk_ratio), {
            **best, "mode": "own level (no neighbours)", "windows_flagged": len(g),
            "period": [_iso(int(t[s])), _iso(int(t[e - 1]) + step)],
            "thresholds": {"window_days": window_days, "quantile": quantile, "min_missing_share": min_missing_share,
                           "min_runs": min_runs, "alpha": alpha, "min_risk_ratio": min_risk_ratio,
                           "min_missing_high": min_missing_high, "upper_quantile": upper_quantile},
        }))
    return out




def _gap_edge_p(x: np.ndarray, fin: np.ndarray, s: int, e: int, min_shift: int = 24,
                max_shifts: int = 2000) -> tuple[float, float, int]:
    """Gap-edge test of one own-level window [s, e): (p-value, statistic, edges).

    The edges are the reported steps just before and just after each gap of the window. Statistic:
    their mean percentile among the window's reported values (ties half). A cut of every value above
    a threshold leaves the edges where the series crossed it, at the top of what is left; gaps at
    random times leave them anywhere. Null: the window's gap pattern laid over the record at every
    other start at least ``min_shift`` steps away (at most ``max_shifts`` of them, evenly spaced),
    the statistic recomputed on the values found there: this keeps the gap runs and the series'
    autocorrelation, so a slow river's smooth hours do not count as independent evidence.
    p = (1 + #{null ≥ observed}) / (1 + shifts); 1.0 without two edges or 19 shifts."""
    n, w = x.size, e - s
    miss = ~fin[s:e]
    gaps = true_runs(miss)
    rel = sorted({g0 - 1 for g0, _ in gaps if g0 >= 1} | {g1 for _, g1 in gaps if g1 < w})
    rel_a = np.array([r for r in rel if not miss[r]], dtype=np.int64)
    if rel_a.size < 2 or n - w < 2 * min_shift:
        return 1.0, math.nan, int(rel_a.size)

    def stat(j: int) -> float:
        xs, ok = x[j:j + w], fin[j:j + w] & ~miss
        vals = xs[ok]
        edge = rel_a[ok[rel_a]]
        if vals.size < 24 or edge.size < 2:
            return math.nan
        srt = np.sort(vals)
        ev = xs[edge]
        pct = (np.searchsorted(srt, ev, "left") + np.searchsorted(srt, ev, "right")) / (2.0 * srt.size)
        return float(pct.mean())

    obs = stat(s)
    if not math.isfinite(obs):
        return 1.0, obs, int(rel_a.size)
    starts = np.arange(n - w + 1)
    starts = starts[np.abs(starts - s) >= min_shift]
    if starts.size > max_shifts:
        starts = starts[np.linspace(0, starts.size - 1, max_shifts).astype(np.int64)]
    null = np.array([stat(int(j)) for j in starts])
    null = null[np.isfinite(null)]
    if null.size < 19:
        return 1.0, obs, int(rel_a.size)
    return float((1 + np.count_nonzero(null >= obs - 1e-12)) / (1 + null.size)), obs, int(rel_a.size)
