"""FOR-01 — threshold bunching below limits and HJ 633 IAQI breakpoints (qc_fraud.md §D.2(c), §F).

Values parked just under a cut-off: the bin-ratio test (:func:`bunching`, :class:`BinPrefix`) in
calendar months and sliding windows, and at limits the truncated-tail tests of
:mod:`tianlan.qc.fraud.forensic_tail`. Values in the series' unit (µg/m³, mg/m³ for CO; flue gas
converted to the reference O2, HJ 75-2017). Every finding is SUSPECT (evidence, never a verdict).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import cache
from typing import Any

import numpy as np

from tianlan.qc.core import Context, Finding, Param, Series, Status, detector
from tianlan.qc.fraud.for01_regional import (
    REGIONAL,
    REGIONAL_MIN_HOURS,
    REGIONAL_TOLERANCE_LN,
    REGIONAL_WEIGHT,
    reads_the_air,
)
from tianlan.qc.fraud.forensic_common import (
    FORENSIC_PARAMETERS,
    _aligned,
    _binom_sf,
    _column_median,
    _iso,
    _months,
    _neighbour_series,
    _prefix,
    _score,
    _windows,
    resolution,
)
from tianlan.qc.fraud.forensic_companion import companion_model, companion_series
from tianlan.qc.fraud.forensic_tail import NeighbourTailPrefix, log_ratios, tail_counts, truncated_tail
from tianlan.qc.fraud.hourly_grade import DAILY_LIMIT_WEIGHT, judged_hourly

IAQI_INDICATOR: dict[str, str] = {
    "a34004": "pm25_24h", "PM2.5": "pm25_24h",
    "a34002": "pm10_24h", "PM10": "pm10_24h",
    "a21026": "so2_1h", "SO2": "so2_1h",
    "a21004": "no2_1h", "NO2": "no2_1h",
    "a21005": "co_1h", "CO": "co_1h",
    "a05024": "o3_1h", "O3": "o3_1h",
}



# ----------------------------------------------------------------------------------------------- FOR-01

@cache
def _breakpoints(edition: str, indicator: str) -> tuple[tuple[float, int], ...]:
    """(breakpoint, IAQI) of ``indicator`` strictly above IAQI 0 and below the top of the scale."""
    from tianlan.assess.editions import spec

    pts = spec(edition).breakpoints[indicator]
    return tuple((float(bp), iaqi) for bp, iaqi in pts if 0 < iaqi < pts[-1][1])


def cutoffs(parameter: str, limits: Mapping[str, float], *, use_iaqi: bool = True,
            edition: str = "HJ633-2012") -> list[tuple[float, str]]:
    """(cut-off, what it is) for a parameter: its limit from ``limits`` and its HJ 633 IAQI breakpoints."""
    out: dict[float, str] = {}
    ind = IAQI_INDICATOR.get(parameter)
    if use_iaqi and ind is not None:
        for c, iaqi in _breakpoints(edition, ind):
            out[c] = f"IAQI {iaqi} breakpoint ({edition} {ind})"
    lim = limits.get(parameter)
    if lim is not None and lim > 0:
        out[float(lim)] = "limit" + (f"; {out[float(lim)]}" if float(lim) in out else "")
    return sorted(out.items())


def bunching(values: np.ndarray, cut: float, *, res: float, width_frac: float, min_width: int,
             p_from_ratio: float = 0.0, p_from_below: int = 0) -> dict[str, Any]:
    """Counts and statistics of the bin-ratio bunching test at ``cut``.

    Bins of width h (``width_frac``·cut rounded to the data resolution, at least ``min_width``
    resolution units): B = (c−h, c] just at or below the cut-off (a value equal to a limit complies),
    A = (c, c+h] just above and L = (c−2h, c−h] further below. Under a density that is locally linear
    across the three bins, E[B] = (L + A)/2, so conditional on N = L + B + A the count B is
    Binomial(N, 1/3) (the conditional form of a Poisson test); parking values under the cut-off
    fills B and empties A. ``ratio`` = B / ((L + A)/2) is the effect size, ``p`` the one-sided
    binomial p-value. Convex tails make the test conservative; at a density mode it is not, which
    the effect-size floor absorbs (measured on real data). The p-value is computed only when the
    ratio reaches ``p_from_ratio`` and the count ``p_from_below`` (else None: it would not decide).
    """
    unit = res if res > 0 else max(abs(cut) * 1e-3, 1e-9)
    h = max(min_width, round(width_frac * cut / unit)) * unit
    eps = unit * 1e-6
    lo2, lo, hi = cut - 2 * h, cut - h, cut + h
    n_l = int(np.count_nonzero((values > lo2 + eps) & (values <= lo + eps)))
    n_b = int(np.count_nonzero((values > lo + eps) & (values <= cut + eps)))
    n_a = int(np.count_nonzero((values > cut + eps) & (values <= hi + eps)))
    expected = (n_l + n_a) / 2.0
    ratio = n_b / max(expected, 0.5)
    p = _binom_sf(n_b, n_l + n_b + n_a, 1.0 / 3.0) if ratio >= p_from_ratio and n_b >= p_from_below else None
    return {"cutoff": cut, "half_width": round(h, 6), "below": [round(lo, 6), cut], "count_below": n_b,
            "count_further_below": n_l, "count_above": n_a, "expected_below": expected, "ratio": round(ratio, 4),
            "p_value": p}


def evidence_span(values: np.ndarray, s: int, e: int, cut: float, h: float) -> tuple[int, int]:
    """The index range [first, last + 1) of the values of [s, e) in the bin just below the cut-off,
    B = (cut − h, cut] — the values every FOR-01 statistic rests on; [s, e) itself if B is empty.

    A finding's period is trimmed to it: the tested windows (calendar months, 10-day windows) say
    where the test looked, the bunched values where the evidence lies. A month-long period around
    twelve parked hours would absorb, as one alarm episode, any other finding of the month."""
    eps = max(abs(cut), 1.0) * 1e-9
    with np.errstate(invalid="ignore"):
        idx = np.flatnonzero((values[s:e] > cut - h + eps) & (values[s:e] <= cut + eps))
    if idx.size == 0:
        return s, e
    return s + int(idx[0]), s + int(idx[-1]) + 1


def _neighbour_level(series: Series, ctx: Context) -> np.ndarray | None:
    """Median of the neighbours' values of the same parameter at the series' times (None: no neighbour)."""
    nbs = _neighbour_series(series, ctx)
    if not nbs:
        return None
    nbv = np.vstack([_aligned(series.times, s) for s in nbs.values()])
    return _column_median(nbv, np.isfinite(nbv).sum(axis=0))


def neighbour_step(v: np.ndarray, level: np.ndarray, cut: float, h: float) -> tuple[float, int, int]:
    """(step, n_B, n_ref): median log(neighbours ÷ station) over values in B = (c−h, c] minus the
    same over the reference values L ∪ A = (c−2h, c−h] ∪ (c, c+h] (L and A straddle B, so regression
    to the mean cancels to first order), or over every value outside B when L ∪ A holds fewer than
    3. Parked values sit in B while the neighbours go on rising, so the step is positive; a genuine
    level that merely lingers near the cut-off keeps its relation to the neighbours."""
    ok = np.isfinite(v) & np.isfinite(level) & (v > 0) & (level > 0)
    in_b = ok & (v > cut - h) & (v <= cut)
    ref = ok & (((v > cut - 2 * h) & (v <= cut - h)) | ((v > cut) & (v <= cut + h)))
    if ref.sum() < 3:
        ref = ok & ~in_b
    if not in_b.any() or not ref.any():
        return math.nan, int(in_b.sum()), int(ref.sum())
    r = np.log(level / np.where(ok, v, 1.0))
    return float(np.median(r[in_b]) - np.median(r[ref])), int(in_b.sum()), int(ref.sum())


@detector(
    "FOR-01",
    name="Threshold bunching below limits and IAQI breakpoints",
    family="for",
    targets=["values parked just under a limit or cut-off (B7)", "clipping just below a limit", "2015 measures 4(12)"],
    params={
        "window_days": Param(10.0, "days", "length of the short windows tested (sliding by half) besides calendar "
                             "months; 0 = calendar months only"),
        "width_frac": Param(0.08, "fraction of the cut-off", "half-width h of the bins compared, rounded to the data resolution"),
        "min_width": Param(2, "resolution units", "smallest h (so a bin holds at least two reportable values)"),
        "min_ratio": Param(3.0, "ratio", "effect size floor: count just below ÷ its expectation from the adjacent bins"),
        "alpha": Param(0.001, "", "one-sided binomial p-value of the count just below (several cut-offs are tested)"),
        "min_below": Param(12, "values", "fewest values just below the cut-off before a finding"),
        "min_coverage": Param(0.6, "share", "fewest valid values in a window, as a share of its slots"),
        "min_neighbour_step": Param(0.05, "log units", "with neighbours: the station must sit lower against its neighbours "
                                    "when just below the cut-off than when around it by at least this"),
        "iaqi_breakpoints": Param(True, "", "also test the HJ 633 IAQI breakpoints of air pollutants"),
        "edition": Param("HJ633-2012", "", "HJ 633 edition whose breakpoints are tested"),
        "o2_conversion": Param(True, "", "flue-gas pollutants are tested converted to the site's reference O2 "
                               "(attrs o2_ref, O2 a19001), as their limits apply (HJ 75-2017)"),
        "tail_ratio": Param(2.5, "ratio", "truncated-tail test at limits: values above the limit expected from the rest "
                            "of the record ÷ observed in the window at least this; 0 = off"),
        "min_tail_below": Param(5, "values", "truncated-tail test: fewest values just below the limit in the window"),
        "min_expected_above": Param(4.0, "values", "truncated-tail test: fewest values expected above the limit"),
        "neighbour_tail_ratio": Param(6.0, "ratio", "truncated-tail test with neighbours (expected counts predicted "
                                      "hour by hour from them): the same effect-size floor; 0 = off"),
        "neighbour_tail_alpha": Param(0.01, "", "truncated-tail test with neighbours: p-value of the count above"),
        "paired_min_below": Param(4, "values", "paired tail test (hour by hour against the neighbours, given the value "
                                  "came within h of the limit): fewest values just below; 0 = off"),
        "paired_contrast": Param(2.0, "ratio", "paired tail test: the bin just below must be swollen (observed ÷ "
                                 "expected) at least this many times more than the bin below it"),
        "companion_window_h": Param(3, "h", "companion test (PM2.5 predicted from the station's own PM10 with the "
                                    "neighbours): half-width of the window of the local ratio; 0 = off"),
        "paired_strong_alpha": Param(0.0001, "", "paired tail test: below this p-value a smaller shortfall "
                                     "(paired_strong_shortfall) suffices (companion test: both exact "
                                     "p-values below it); 0 = off"),
        "paired_strong_shortfall": Param(3.0, "ratio", "paired tail test: the shortfall floor under paired_strong_alpha"),
        "companion_alpha": Param(0.01, "", "companion test: the exact p-values of the paired test under both "
                                 "models (neighbours; the companion with them) must each be below this"),
        "tail_alpha": Param(0.001, "", "truncated-tail test: p-value of the count above the limit"),
        "tail_window_days": Param(4.0, "days", "truncated-tail test: also in windows of this many days and of half as "
                                  "many (sliding by half, at least a day); 0 = only the bin test's windows"),
        "daily_limit_weight": Param(DAILY_LIMIT_WEIGHT, "", "score factor at an air gas's 24-hour limit that is no "
                                    "1-hour breakpoint (NO2 80 µg/m³, CO 4 mg/m³: hours are judged on the 1-hour "
                                    "scale; hourly_grade) — a notice by the default policy; 1: off"),
        "regional_weight": Param(REGIONAL_WEIGHT, "", "score factor at an air station when O3 (regional: formed over "
                                 "hours across a city) sat just below the cut-off at its neighbours' level "
                                 "(for01_regional) — a notice by the default policy; 1: off"),
        "regional_tolerance_ln": Param(REGIONAL_TOLERANCE_LN, "ln units", "… at every such hour at least the "
                                       "neighbours' median less this"),
        "regional_min_hours": Param(REGIONAL_MIN_HOURS, "h", "… over at least this many hours just below"),
    },
    parameters=FORENSIC_PARAMETERS,
)
def threshold_bunching(series: Series, ctx: Context, *, window_days: float, width_frac: float, min_width: int,
                       min_ratio: float, alpha: float, min_below: int, min_coverage: float, min_neighbour_step: float,
                       iaqi_breakpoints: bool, edition: str, o2_conversion: bool = True, tail_ratio: float = 2.5,
                       min_tail_below: int = 5, min_expected_above: float = 4.0,
                       tail_window_days: float = 4.0, tail_alpha: float = 0.001,
                       neighbour_tail_ratio: float = 6.0, neighbour_tail_alpha: float = 0.01,
                       paired_min_below: int = 4, paired_contrast: float = 2.0, companion_window_h: int = 3,
                       companion_alpha: float = 0.01, paired_strong_alpha: float = 0.0001,
                       paired_strong_shortfall: float = 3.0,
                       daily_limit_weight: float = DAILY_LIMIT_WEIGHT, regional_weight: float = REGIONAL_WEIGHT,
                       regional_tolerance_ln: float = REGIONAL_TOLERANCE_LN,
                       regional_min_hours: int = REGIONAL_MIN_HOURS) -> list[Finding]:
    """Periods whose values bunch just at or below a limit or IAQI breakpoint (catalogue FOR-01).

    Cut-offs: ``ctx.limits[series.parameter]`` and, for the six air pollutants, the HJ 633 IAQI
    breakpoints (Ghanem & Zhang 2014; qc_fraud.md §D.2(c)). Tested windows: each calendar month and
    windows of ``window_days`` days sliding by half a window (a clipping of a few days is diluted
    in a month: with months alone 60 % of the injector's 3–10-day clippings were found, with
    10-day windows too 78 %; clipping spread over a month is best seen whole). In each window the
    bin-ratio test of :func:`bunching`: ratio ≥ ``min_ratio``, p < ``alpha``, ≥ ``min_below`` values
    just below. With neighbours reporting the same parameter a second, independent gate: the
    station must drop against its neighbours just below the cut-off (:func:`neighbour_step` ≥
    ``min_neighbour_step``) — parked values stop while the neighbours go on, a genuine plateau near
    a cut-off is shared. Overlapping windows flagged at one cut-off make one finding (SUSPECT,
    ``bunching_below_cutoff``, score 0.8 at ``min_ratio`` rising to 1 at 1.25 × it; its period
    below), with the statistics of the strongest window and, for context, the same test at two placebo
    cut-offs (±25 %).

    Flue-gas pollutants with ``attrs["o2_ref"]`` and an O2 series are tested on the converted
    (折算) values, as their limits apply (``o2_conversion``; HJ 75-2017). At limits (not IAQI
    breakpoints) a second statistic, the **truncated tail**, also in windows of
    ``tail_window_days`` and half that: parking every would-be exceedance just under the limit
    empties the values above it. Without neighbours (:func:`truncated_tail`) the window's split of
    values just below vs above the limit is compared with the rest of the station's record
    (``tail_ratio``, ``tail_alpha``); with neighbours (:func:`neighbour_tail`) the expected counts
    above and just below are predicted hour by hour from the neighbours' level and the station's
    usual ratio to it, and the count just below must also have swollen to twice its expectation
    (``neighbour_tail_ratio``, ``neighbour_tail_alpha``; a week merely cleaner than the neighbours
    loses both). Both need ≥ ``min_tail_below`` values just below and ≥ ``min_expected_above``
    expected above; the neighbour-step gate applies as for the bin test. Score 0.8 at the ratio.

    With neighbours, a third statistic at limits, the **paired** tail
    (:meth:`~tianlan.qc.fraud.forensic_tail.NeighbourTailPrefix.paired`): over the hours whose value
    came within h of the limit or above it, the neighbours at each hour give the chance it was
    above; their sum is the count expected above (Σπ), against the count observed. It passes with
    ≥ ``paired_min_below`` values just below, shortfall Σπ ÷ observed ≥ ``neighbour_tail_ratio``,
    Poisson p < ``neighbour_tail_alpha`` and the bin just below swollen ≥ ``paired_contrast`` times
    more than the bin below it (a station merely lower than usual swells both). It sees a handful
    of parked values that the unconditional count dilutes over every hour of the window, and it is
    exempt from the neighbour-step gate, which it refines: that gate compares medians over bins and
    vetoed parked exceedances that were local peaks (station far above its neighbours, parked still
    above them). Score 0.8 at the ratio, rising with the shortfall. Not at water stations (site
    kind ``water``): a river's neighbours see the water hours later, so an hour is not paired with
    theirs. Below ``paired_strong_alpha`` a shortfall of ``paired_strong_shortfall`` suffices (a
    window that also holds exceedances outside the parked episode dilutes the shortfall, not the
    p-value; the score is then 0.8 at that floor). For PM2.5, the **companion test** (:func:`_paired`): the station's own PM10
    (PM2.5) with the neighbours predicts the value hour by hour
    (:mod:`tianlan.qc.fraud.forensic_companion`, ``companion_window_h``), and where the exact
    Poisson-binomial p-values under both predictions are below ``companion_alpha`` (the same
    floors and contrast) the paired test passes too; where both are below ``paired_strong_alpha``
    both shortfalls need only reach ``paired_strong_shortfall``, as for the neighbours alone.

    A finding's **period** is that of the bunched values, not of the windows tested: overlapping
    windows flagged at one cut-off make one finding, and its period runs from the first to the
    last value just below the cut-off (c − h, c] in the sliding windows flagged (10, 4 or 2
    days), or in the calendar month when only the month was flagged (:func:`evidence_span`;
    ``window_days`` and ``calendar_month`` of the strongest window in the evidence), with the
    union of the windows in ``windows_union``. A month-long period around twelve parked hours
    made one alarm episode of every other FOR-01 finding of the month (measured on the Hebei
    clipping benchmark: a clipping found at the limit was absorbed into the month-long alarm of
    a flat stretch at an IAQI breakpoint, and scored as missed).

    At an ambient-air station, a finding at a gas's 24-hour limit that is no 1-hour breakpoint
    (NO2 80 µg/m³, CO 4 mg/m³: hourly gas values are judged on their 1-hour scale, HJ 633-2012) has
    its score multiplied by ``daily_limit_weight`` — a notice, not a warning
    (:mod:`tianlan.qc.fraud.hourly_grade`); the evidence says ``judged_hourly``. So is an O3
    finding at an air station whose hours just below the cut-off read at least the neighbours'
    median less ``regional_tolerance_ln`` at every hour (ozone is regional: the air stayed under
    the cut-off; score × ``regional_weight``, :mod:`tianlan.qc.fraud.for01_regional`; the evidence
    gives ``neighbour_level_below`` and ``notice: "for01_regional"``).
    """
    cuts = cutoffs(series.parameter, ctx.limits, use_iaqi=iaqi_breakpoints, edition=edition)
    if not cuts or len(series) == 0:
        return []
    # A flue-gas limit applies to the O2-converted (折算) value (HJ 75-2017; GB 13223-2011): parked
    # values sit just under the limit after conversion, so the measured values bunch nowhere.
    from tianlan.qc.fraud.marks import compared_values

    values, converted = compared_values(series, ctx, convert=o2_conversion)
    res = 0.0 if converted else resolution(series.values)
    step = int(series.step_s)
    level = _neighbour_level(series, ctx)
    wins = [(s, e, 30 * 86400 / step) for _, s, e in _months(series.times)]
    n_months = len(wins)
    if window_days > 0:
        wins += [(s, e, window_days * 86400 / step) for s, e in _windows(series.times, window_days)]
    n_bin_wins = len(wins)
    fin_all = np.isfinite(values)
    limit_cuts = {c for c, what in cuts if what.startswith("limit")} if max(tail_ratio, neighbour_tail_ratio) > 0 else set()
    if limit_cuts and tail_window_days > 0:  # short windows: the truncated-tail test only
        for days in (tail_window_days, tail_window_days / 2):
            wins += [(s, e, days * 86400 / step) for s, e in _windows(series.times, days)]
    tail_totals: dict[float, tuple[int, int]] = {}
    # The paired test pairs each hour with the neighbours at that hour: air stations share the air
    # mass, but a river's neighbours see the water hours later (as FOR-05's own-level rule says).
    paired_on = paired_min_below > 0 and neighbour_tail_ratio > 0 and ctx.attrs.get("kind") != "water"
    ratios: np.ndarray | None = None
    # The station's own companion (PM10 for PM2.5) predicts the value at the same hour
    # (:mod:`tianlan.qc.fraud.forensic_companion`): a second model for the paired test.
    comp = companion_series(series, ctx) if paired_min_below > 0 and companion_window_h > 0 and not converted else None
    own: dict[float, tuple[NeighbourTailPrefix, dict[str, Any]] | None] = {}
    hits: dict[float, list[tuple[int, int, dict[str, Any]]]] = {}
    # Window counts come from prefix sums over the whole record (one pass per cut-off), so each of
    # the thousands of windows costs O(1); the full statistics are recomputed only for a hit.
    n_fin = _prefix(fin_all)
    bins = {cut: BinPrefix(values, cut, res=res, width_frac=width_frac, min_width=min_width) for cut, _ in cuts}
    tails: dict[float, NeighbourTailPrefix] = {}
    for w_i, (s, e, slots) in enumerate(wins):
        if n_fin[e] - n_fin[s] < min_coverage * slots:
            continue
        v_all = values[s:e]
        v: np.ndarray | None = None
        short = w_i >= n_bin_wins
        for cut, what in cuts:
            if short and cut not in limit_cuts:
                continue
            bp = bins[cut]
            n_l, n_b, n_a = bp.counts(s, e)
            ratio = round(n_b / max((n_l + n_a) / 2.0, 0.5), 4)
            passed = (not short and n_b >= min_below and ratio >= min_ratio
                      and _binom_sf(n_b, n_l + n_b + n_a, 1.0 / 3.0) < alpha)
            if not passed and cut not in limit_cuts:
                continue
            score = _score(ratio, min_ratio)
            hw = bp.half_width
            tail = None
            paired: dict[str, Any] | None = None
            if cut in limit_cuts:
                need = tail_ratio if level is None else neighbour_tail_ratio
                if level is None:
                    if cut not in tail_totals:
                        tail_totals[cut] = tail_counts(values[fin_all], cut, hw)
                    if v is None:
                        v = v_all[np.isfinite(v_all)]
                    tail = truncated_tail(v, cut, hw, tail_totals[cut], p_from_shortfall=tail_ratio)
                    excess_ok = True
                else:  # with neighbours: what the station's usual relation to them predicts, hour by hour
                    if ratios is None:
                        ratios = log_ratios(values, level)
                    if cut not in tails:
                        tails[cut] = NeighbourTailPrefix(values, level, ratios, cut, hw)
                    tail = tails[cut].window(s, e, p_from_shortfall=need)
                    excess_ok = tail["count_below"] >= 2.0 * tail["expected_below"]
                paired = _paired(s, e, cut, hw, series, values, level, comp, tails if paired_on else {}, own,
                                 min_below=paired_min_below, min_shortfall=neighbour_tail_ratio,
                                 alpha=neighbour_tail_alpha, contrast=paired_contrast,
                                 half_window=companion_window_h, companion_alpha=companion_alpha,
                                 strong_alpha=paired_strong_alpha, strong_shortfall=paired_strong_shortfall)
                if (need > 0 and excess_ok and tail["count_below"] >= min_tail_below
                        and tail["expected_above"] >= min_expected_above and tail["shortfall"] >= need
                        and tail["p_value"] is not None
                        and tail["p_value"] < (tail_alpha if level is None else neighbour_tail_alpha)):
                    passed = True
                    score = max(score if ratio >= min_ratio else 0.0, _score(tail["shortfall"], need))
            if paired is not None:
                tail = {**(tail or {}), "paired": paired}
                if not passed:
                    passed, score = True, _score(paired["shortfall"], paired["shortfall_floor"])
            if not passed:
                continue
            if v is None:
                v = v_all[np.isfinite(v_all)]
            st = bunching(v, cut, res=res, width_frac=width_frac, min_width=min_width,
                          p_from_ratio=min_ratio, p_from_below=min_below)
            ev: dict[str, Any] = {"cutoff_kind": what, **st, "values_in_window": int(v.size), "score": score}
            if tail is not None:
                ev["truncated_tail"] = tail
            if level is not None:
                d, n_b, n_o = neighbour_step(v_all, level[s:e], cut, st["half_width"])
                ev.update({"neighbour_step": None if math.isnan(d) else round(d, 4), "neighbour_hours_below": n_b,
                           "neighbour_hours_reference": n_o})
                # the paired test already compares each hour with the neighbours at that hour
                if paired is None and n_b >= 5 and n_o >= 3 and not d >= min_neighbour_step:
                    continue
            ev["window"] = [_iso(int(series.times[s])), _iso(int(series.times[e - 1]) + step)]
            ev["window_days"] = round(slots * step / 86400, 2)
            ev["calendar_month"] = w_i < n_months
            ev["placebo"] = [{k: p[k] for k in ("cutoff", "count_below", "expected_below", "ratio", "p_value")}
                             for p in (bunching(v, c, res=res, width_frac=width_frac, min_width=min_width)
                                       for c in (cut * 0.75, cut * 1.25))]
            hits.setdefault(cut, []).append((s, e, ev))
    out: list[Finding] = []
    for cut, found in sorted(hits.items()):
        found.sort(key=lambda x: x[0])
        groups: list[list[tuple[int, int, dict[str, Any]]]] = []
        for h in found:
            if groups and h[0] < max(g[1] for g in groups[-1]):
                groups[-1].append(h)
            else:
                groups.append([h])
        for g in groups:
            ws, we = g[0][0], max(x[1] for x in g)
            best = max(g, key=lambda x: x[2]["score"])[2]
            # the period: the bunched values of the sliding windows flagged, of the month if only it was
            local = [x for x in g if not x[2]["calendar_month"]] or g
            spans = [evidence_span(values, a, b, cut, x["half_width"]) for a, b, x in local]
            s, e = min(a for a, _ in spans), max(b for _, b in spans)
            score = best.pop("score")
            hourly = judged_hourly(series.parameter, str(best.get("cutoff_kind", "")), ctx.attrs.get("kind"))
            if not hourly:
                score *= daily_limit_weight
            extra: dict[str, Any] = {}
            if (regional_weight < 1 and not converted and ctx.attrs.get("kind") == "air"
                    and series.parameter.split(":")[0] in REGIONAL):
                air = reads_the_air(values, level, s, e, cut, float(best["half_width"]),
                                    tolerance=regional_tolerance_ln, min_hours=int(regional_min_hours))
                if air is not None:
                    extra["neighbour_level_below"] = air
                    if air["reads_the_air"]:
                        score *= regional_weight
                        extra["notice"] = "for01_regional"
            out.append(Finding(s, e, Status.SUSPECT, "bunching_below_cutoff", score, {
                **best, **extra, "judged_hourly": hourly,
                "period": [_iso(int(series.times[s])), _iso(int(series.times[e - 1]) + step)],
                "windows_union": [_iso(int(series.times[ws])), _iso(int(series.times[we - 1]) + step)],
                "windows_flagged": len(g), "resolution": res, "neighbours": list(_neighbour_series(series, ctx)),
                "o2_converted": converted,
                "thresholds": {"window_days": window_days, "min_ratio": min_ratio, "alpha": alpha, "min_below": min_below,
                               "min_neighbour_step": min_neighbour_step, "tail_ratio": tail_ratio,
                               "min_tail_below": min_tail_below, "min_expected_above": min_expected_above},
            }))
    return out



def _paired(s: int, e: int, cut: float, h: float, series: Series, values: np.ndarray, level: np.ndarray | None,
            comp: tuple[str, np.ndarray] | None, tails: dict[float, NeighbourTailPrefix],
            own: dict[float, tuple[NeighbourTailPrefix, dict[str, Any]] | None], *, min_below: int,
            min_shortfall: float, alpha: float, contrast: float, half_window: int,
            companion_alpha: float, strong_alpha: float = 0.0, strong_shortfall: float = 3.0) -> dict[str, Any] | None:
    """The paired tail test of [s, e) at the limit ``cut`` (None: not passed).

    1. **Neighbours** (``tails``): Poisson p-value of Σπ < ``alpha``, as
       :meth:`NeighbourTailPrefix.paired` describes.
    2. **Companion** (``own``, built here on first use; PM2.5 with PM10 and neighbours): the
       station's own co-pollutant with the neighbours predicts the value hour by hour
       (:func:`~tianlan.qc.fraud.forensic_companion.companion_model`). The exact Poisson-binomial
       p-value (Π(1 − π) when nothing exceeded) is much stronger than the Poisson bound but treats
       hours as independent, which they are not (alone, on the neighbours, it doubled FOR-01's
       clean findings); it is trusted only where the two predictions, which err partly apart,
       **both** give p < ``companion_alpha`` (an intersection–union test: requiring two owes no
       correction), each with the effect-size floors and the bin contrast; below
       ``strong_alpha`` (both exact p-values) the shortfalls need only reach ``strong_shortfall``.

    The family-wise level is at most ``alpha`` + ``companion_alpha`` (the union of the two
    tests). Returns the passing statistics with ``predictor`` (``neighbours`` or
    ``neighbours+companion``), the companion model's description and, for the hours near or
    above the limit, the observed value, each model's prediction and π."""
    nb = tails.get(cut) if level is not None else None
    if nb is None or not nb.usable:
        return None
    floor = min(min_shortfall, strong_shortfall) if strong_alpha > 0 else min_shortfall
    pt = nb.paired(s, e, min_below=min_below, min_shortfall=floor, exact=comp is not None)
    if pt is None or pt["bin_contrast"] < contrast:
        return None
    if (pt["p_value"] < alpha and pt["shortfall"] >= min_shortfall) or pt["p_value"] < strong_alpha:
        floor_used = min_shortfall if pt["p_value"] < alpha and pt["shortfall"] >= min_shortfall else strong_shortfall
        return {**pt, "shortfall_floor": floor_used, "predictor": "neighbours",
                "model": "neighbours' median × the station's usual ratio to it",
                "hours": nb.near_hours(s, e, series.times)}
    if comp is None or companion_alpha <= 0 or pt["p_exact"] >= companion_alpha:
        return None
    if cut not in own:
        built = companion_model(values, comp[1], cut, h, half_window=half_window, neighbour_level=level)
        own[cut] = None if built is None else (
            NeighbourTailPrefix(values, built[0], built[1], cut, h), {"companion": comp[0], **built[2]})
    if own[cut] is None:
        return None
    pre, info = own[cut]  # type: ignore[misc]
    po = pre.paired(s, e, min_below=min_below, min_shortfall=floor, exact=True)
    if po is None or po["bin_contrast"] < contrast or po["p_exact"] >= companion_alpha:
        return None
    # both models' shortfalls reach the floor, or (as for the neighbours alone) both exact
    # p-values are below ``strong_alpha`` and the shortfalls reach ``strong_shortfall``
    full = pt["shortfall"] >= min_shortfall and po["shortfall"] >= min_shortfall
    if not full and not max(pt["p_exact"], po["p_exact"]) < strong_alpha:
        return None
    hours = nb.near_hours(s, e, series.times)
    by_time = {ho["time"]: ho for ho in pre.near_hours(s, e, series.times)}
    for hh in hours:
        ho = by_time.get(hh["time"], {})
        hh.update({"predicted_neighbours": hh.pop("predicted"), "pi_neighbours": hh.pop("pi"),
                   "predicted_companion": ho.get("predicted"), "pi_companion": ho.get("pi")})
    return {**pt, "shortfall_floor": min_shortfall if full else strong_shortfall, "predictor": "neighbours+companion",
            "p_value": max(pt["p_exact"], po["p_exact"]),
            "p_poisson_neighbours": pt["p_value"], "p_exact_neighbours": pt["p_exact"],
            "p_exact_companion": po["p_exact"], "companion_statistics":
                {k: po[k] for k in ("expected_above_given_near", "shortfall", "expected_below", "bin_contrast")},
            "model": info, "hours": hours}


class BinPrefix:
    """The three bin counts of :func:`bunching` at one cut-off for any index window [s, e) of a
    record, from prefix sums (the same bins, the same half-width and tolerance)."""

    def __init__(self, values: np.ndarray, cut: float, *, res: float, width_frac: float, min_width: int) -> None:
        unit = res if res > 0 else max(abs(cut) * 1e-3, 1e-9)
        h = max(min_width, round(width_frac * cut / unit)) * unit
        eps = unit * 1e-6
        self.half_width = round(h, 6)
        lo2, lo, hi = cut - 2 * h, cut - h, cut + h
        with np.errstate(invalid="ignore"):
            self.low = _prefix((values > lo2 + eps) & (values <= lo + eps))
            self.below = _prefix((values > lo + eps) & (values <= cut + eps))
            self.above = _prefix((values > cut + eps) & (values <= hi + eps))

    def counts(self, s: int, e: int) -> tuple[int, int, int]:
        """(further below L, just below B, just above A) over [s, e)."""
        return (int(self.low[e] - self.low[s]), int(self.below[e] - self.below[s]), int(self.above[e] - self.above[s]))


