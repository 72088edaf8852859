"""Forensic detectors (qc_fraud.md §F, FOR family): statistical traces that values were edited, parked
under a cut-off, selectively dropped or copied.

Each detector works per *station-month* (calendar month in Beijing time, UTC+8) — the unit the
false-alarm budget of issue 4 is counted in — and returns at most one finding per month and test
(FOR-01: per cut-off; FOR-06: one per copied day). They are evidence for a person, so every finding is ``SUSPECT`` and
carries counts, the reference it was compared with, the effect size and the p-value, never a
verdict on validity (DESIGN §3; qc_fraud.md §0 item 9).

Two gates, always both (FOR-01/02/05; FOR-06 matches copies exactly or nearly). Real hourly data
are large and never exactly textbook-distributed, so a p-value alone fires on everything
(qc_fraud.md §D.2(b): genuine PM data "fail" last-digit and Benford tests at p ≈ 1e-15). A finding
needs an **effect size** above a floor chosen from the clean Hebei 2019 data (the real-data test
asserts the resulting finding rates) **and** a small p-value from a null that respects the data's
structure (conditional Poisson, circular shifts), which only guards against noise in small samples.

Measured on the clean Hebei 2019 data (53 stations, January–June, 313 station-months, the six
pollutants, GB 3095 grade II limits, production neighbour rule), findings per station-month:
FOR-01 0.013 (4), FOR-02 0, FOR-05 0.0064 (2), FOR-06 0; under the default alarm policy each
finding is one level-2 alarm. Injected into the same data (event recall): ``tianlan.sim.fraud``
clipping (3–10 days parked under the PM2.5 limit) 0.72–0.85 over three seeds, every value above
the PM2.5/PM10 limit clipped for a month 0.89–0.93; 25 % of a month's values rounded to 0/5
0.88–0.98; ``selective_missing`` 0.82–0.88; ``copied`` 0.49 — 38 of 39 copies of the station's
own days or of a neighbour's day, but 1 of 41 copies from a station that is not among the
neighbours the context holds (see FOR-06). ``tests/qc/test_fraud_forensic.py`` asserts ceilings
on the clean rates and floors on recall.

FOR-01 with its truncated-tail test at limits (flue gas converted to the reference O2; with
neighbours, the expected exceedances predicted hour by hour from them): clean Hebei findings 0.035
per station-month (11 of 313), the benchmark's ``clipping`` scenario found by FOR-01 alone in 16
of 20 injections (14 with the bin test alone); simulated CEMS outlets (no neighbours): clean 0,
``clipping`` 0.90 (0.15 before the O2 conversion). FOR-05 at a station without neighbours (a
flue-gas outlet) tests the station's own values left around its gaps: clean simulated outlets 0,
``selective_missing`` 1.00.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

import numpy as np

from tianlan.errors import InputError
from tianlan.qc.checks._common import runs as true_runs
from tianlan.qc.core import Context, Finding, Param, Series, Status, detector

BEIJING_OFFSET_S = 8 * 3600

#: Pollutants the forensic tests run on when a configuration names none (HJ 212 codes): the six air
#: criteria pollutants, flue-gas SO2/NOx/NO/particulates and the water-quality pollutants. Not
#: meteorology or process signals: neighbouring stations legitimately share a weather feed, and
#: temperature or flow digits say nothing about editing.
FORENSIC_PARAMETERS: tuple[str, ...] = (
    "a34004", "a34002", "a21026", "a21004", "a21005", "a05024",
    "a21002", "a21003", "a34013",
    "w01018", "w01019", "w21003", "w21011", "w21001", "w01009",
)

#: Series parameter (HJ 212 code or CNEMC column name) → HJ 633 breakpoint column of its hourly value.
#: Hourly PM is published against the 24 h breakpoints (HJ 633-2012 published practice).
IAQI_INDICATOR: dict[str, str] = {
    "a34004": "pm25_24h", "PM2.5": "pm25_24h",
    "a34002": "pm10_24h", "PM10": "pm10_24h",
    "a21026": "so2_1h", "SO2": "so2_1h",
    "a21004": "no2_1h", "NO2": "no2_1h",
    "a21005": "co_1h", "CO": "co_1h",
    "a05024": "o3_1h", "O3": "o3_1h",
}


# ----------------------------------------------------------------------------------------------- helpers

def _months(times: np.ndarray) -> Iterator[tuple[str, int, int]]:
    """(``YYYY-MM``, start, end) index ranges of the Beijing calendar months of ascending ``times``."""
    if times.size == 0:
        return
    m = (times + BEIJING_OFFSET_S).astype("datetime64[s]").astype("datetime64[M]")
    cut = np.flatnonzero(m[1:] != m[:-1]) + 1
    starts = np.concatenate(([0], cut))
    ends = np.concatenate((cut, [times.size]))
    for s, e in zip(starts, ends, strict=True):
        yield str(m[s]), int(s), int(e)


def _month_bounds(label: str) -> tuple[int, int]:
    """UTC epoch seconds [start, end) of a Beijing calendar month ``YYYY-MM``."""
    m = np.datetime64(label, "M")
    return (int(m.astype("datetime64[s]").astype(np.int64)) - BEIJING_OFFSET_S,
            int((m + 1).astype("datetime64[s]").astype(np.int64)) - BEIJING_OFFSET_S)


def resolution(values: np.ndarray) -> float:
    """The reporting resolution of ``values``: 1, 0.1, 0.01 or 0.001; 0.0 if finer (continuous)."""
    v = values[np.isfinite(values)]
    if v.size == 0:
        return 1.0
    for k in range(4):
        s = 10.0**k
        if np.all(np.abs(v * s - np.round(v * s)) < 1e-6 * max(1.0, s)):
            return 1.0 / s
    return 0.0


def _aligned(times: np.ndarray, other: Series) -> np.ndarray:
    """``other``'s values at ``times`` (NaN where it has none)."""
    if other.times.size == times.size and np.array_equal(other.times, times):
        return other.values
    out = np.full(times.size, np.nan)
    if len(other) == 0:
        return out
    i = np.searchsorted(other.times, times)
    i = np.minimum(i, other.times.size - 1)
    hit = other.times[i] == times
    out[hit] = other.values[i[hit]]
    return out


def _neighbour_series(series: Series, ctx: Context) -> dict[str, Series]:
    """The neighbours' series of the same parameter, by station."""
    out = {}
    for st, by_code in ctx.neighbours.items():
        s = by_code.get(series.parameter)
        if s is not None and st != series.station and len(s):
            out[st] = s
    return out


def _binom_sf(k: int, n: int, p: float) -> float:
    """P(X ≥ k) for X ~ Binomial(n, p), exact (log-space sum)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    lp, lq = math.log(p), math.log1p(-p)
    total = 0.0
    for j in range(k, n + 1):
        term = math.exp(math.lgamma(n + 1) - math.lgamma(j + 1) - math.lgamma(n - j + 1) + j * lp + (n - j) * lq)
        total += term
        if term < total * 1e-17:
            break
    return min(1.0, total)


def _binom_cdf(k: int, n: int, p: float) -> float:
    """P(X ≤ k) for X ~ Binomial(n, p), exact (log-space sum of the lower terms)."""
    if k >= n:
        return 1.0
    if p <= 0:
        return 1.0
    if p >= 1:
        return 0.0
    lp, lq = math.log(p), math.log1p(-p)
    return min(1.0, sum(math.exp(math.lgamma(n + 1) - math.lgamma(j + 1) - math.lgamma(n - j + 1) + j * lp + (n - j) * lq)
                        for j in range(k + 1)))


def _index_range(times: np.ndarray, t0: int, t1: int) -> tuple[int, int]:
    return int(np.searchsorted(times, t0, "left")), int(np.searchsorted(times, t1, "left"))


def _iso(t: int) -> str:
    return str(np.datetime64(int(t), "s")) + "Z"


def _score(effect: float, threshold: float) -> float:
    """Evidence score on the alarm policy's [0, 1] scale: 0.8 at the effect-size floor, 1 at 1.25 × it."""
    if threshold <= 0:
        return 1.0
    return round(min(1.0, 0.8 * effect / threshold), 4)


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


def _windows(times: np.ndarray, days: float) -> Iterator[tuple[int, int]]:
    """Index ranges of windows of ``days`` Beijing days, starting at midnight every ``days``/2 days."""
    if times.size == 0:
        return
    length = int(round(days * 86400))
    hop = max(86400, length // 2)
    t = int(times[0]) - (int(times[0]) + BEIJING_OFFSET_S) % 86400
    while t <= int(times[-1]):
        s, e = int(np.searchsorted(times, t, "left")), int(np.searchsorted(times, t + length, "left"))
        if e > s:
            yield s, e
        if t + length > int(times[-1]):
            break
        t += hop


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
        "tail_alpha": Param(0.001, "", "truncated-tail test: p-value of the count above the limit"),
        "tail_window_days": Param(4.0, "days", "truncated-tail test: also in windows of this many days and of half as "
                                  "many (sliding by half, at least a day); 0 = only the bin test's windows"),
    },
    parameters=FORENSIC_PARAMETERS,
)
def threshold_bunching(series: Series, ctx: Context, *, window_days: float, width_frac: float, min_width: int,
                       min_ratio: float, alpha: float, min_below: int, min_coverage: float, min_neighbour_step: float,
                       iaqi_breakpoints: bool, edition: str, o2_conversion: bool = True, tail_ratio: float = 2.5,
                       min_tail_below: int = 5, min_expected_above: float = 4.0,
                       tail_window_days: float = 4.0, tail_alpha: float = 0.001,
                       neighbour_tail_ratio: float = 6.0, neighbour_tail_alpha: float = 0.01) -> list[Finding]:
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
    a cut-off is shared. Overlapping windows flagged at one cut-off make one finding over their
    union (SUSPECT, ``bunching_below_cutoff``, score 0.8 at ``min_ratio`` rising to 1 at 1.25 × it),
    with the statistics of the strongest window and, for context, the same test at two placebo
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
    if window_days > 0:
        wins += [(s, e, window_days * 86400 / step) for s, e in _windows(series.times, window_days)]
    n_bin_wins = len(wins)
    fin_all = np.isfinite(values)
    limit_cuts = {c for c, what in cuts if what.startswith("limit")} if max(tail_ratio, neighbour_tail_ratio) > 0 else set()
    if limit_cuts and tail_window_days > 0:  # short windows: the truncated-tail test only
        for days in (tail_window_days, tail_window_days / 2):
            wins += [(s, e, days * 86400 / step) for s, e in _windows(series.times, days)]
    tail_totals: dict[float, tuple[int, int]] = {}
    ratios: np.ndarray | None = None
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
                if (need > 0 and excess_ok and tail["count_below"] >= min_tail_below
                        and tail["expected_above"] >= min_expected_above and tail["shortfall"] >= need
                        and tail["p_value"] is not None
                        and tail["p_value"] < (tail_alpha if level is None else neighbour_tail_alpha)):
                    passed = True
                    score = max(score if ratio >= min_ratio else 0.0, _score(tail["shortfall"], need))
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
                if n_b >= 5 and n_o >= 3 and not d >= min_neighbour_step:
                    continue
            ev["window"] = [_iso(int(series.times[s])), _iso(int(series.times[e - 1]) + step)]
            ev["placebo"] = [{k: p[k] for k in ("cutoff", "count_below", "expected_below", "ratio", "p_value")}
                             for p in (bunching(v, c, res=res, width_frac=width_frac, min_width=min_width)
                                       for c in (cut * 0.75, cut * 1.25))]
            hits.setdefault(cut, []).append((s, e, ev))
    out: list[Finding] = []
    for _cut, found in sorted(hits.items()):
        found.sort(key=lambda x: x[0])
        groups: list[list[tuple[int, int, dict[str, Any]]]] = []
        for h in found:
            if groups and h[0] < max(g[1] for g in groups[-1]):
                groups[-1].append(h)
            else:
                groups.append([h])
        for g in groups:
            s, e = g[0][0], max(x[1] for x in g)
            best = max(g, key=lambda x: x[2]["score"])[2]
            out.append(Finding(s, e, Status.SUSPECT, "bunching_below_cutoff", best.pop("score"), {
                **best, "period": [_iso(int(series.times[s])), _iso(int(series.times[e - 1]) + step)],
                "windows_flagged": len(g), "resolution": res, "neighbours": list(_neighbour_series(series, ctx)),
                "o2_converted": converted,
                "thresholds": {"window_days": window_days, "min_ratio": min_ratio, "alpha": alpha, "min_below": min_below,
                               "min_neighbour_step": min_neighbour_step, "tail_ratio": tail_ratio,
                               "min_tail_below": min_tail_below, "min_expected_above": min_expected_above},
            }))
    return out


def _prefix(mask: np.ndarray) -> np.ndarray:
    """Prefix counts of ``mask`` (length n + 1): the count over [s, e) is ``p[e] − p[s]``."""
    return np.concatenate(([0], np.cumsum(np.asarray(mask, dtype=np.int64))))


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


class NeighbourTailPrefix:
    """:func:`neighbour_tail` for any index window [s, e) of a record: the per-hour expected
    probabilities (above the cut-off, just below it) and the observed indicators are computed once
    for the whole record and summed over windows by prefix sums. Same statistics as
    :func:`neighbour_tail` on ``values[s:e]``, ``level[s:e]``; the p-value is computed only when the
    shortfall reaches ``p_from_shortfall`` (else None: it would not decide)."""

    def __init__(self, values: np.ndarray, level: np.ndarray, ratios: np.ndarray, cut: float, h: float) -> None:
        ok = np.isfinite(values) & np.isfinite(level) & (level > 0) & (values > 0)
        self.reference = int(ratios.size)
        self.usable = ratios.size >= 100
        self.hours = _prefix(ok)
        lv = np.where(ok, level, 1.0)
        n = max(ratios.size, 1)
        at_cut = np.searchsorted(ratios, np.log(cut / lv), "right")
        at_low = np.searchsorted(ratios, np.log(max(cut - h, 1e-9) / lv), "right")
        zero = np.zeros(1)
        self.e_above = np.concatenate((zero, np.cumsum(np.where(ok, (ratios.size - at_cut) / n, 0.0))))
        self.e_below = np.concatenate((zero, np.cumsum(np.where(ok, (at_cut - at_low) / n, 0.0))))
        x = np.where(ok, values, np.nan)
        with np.errstate(invalid="ignore"):
            self.above = _prefix(x > cut)
            self.below = _prefix((x > cut - h) & (x <= cut))

    def window(self, s: int, e: int, *, p_from_shortfall: float = 0.0) -> dict[str, Any]:
        hours = int(self.hours[e] - self.hours[s])
        out: dict[str, Any] = {"hours": hours, "reference_hours": self.reference, "neighbour_predicted": True}
        if hours == 0 or not self.usable:
            return {**out, "count_below": 0, "count_above": 0, "expected_below": 0.0, "expected_above": 0.0,
                    "shortfall": 0.0, "p_value": 1.0}
        e_above = float(self.e_above[e] - self.e_above[s])
        e_below = max(float(self.e_below[e] - self.e_below[s]), 0.0)
        n_above = int(self.above[e] - self.above[s])
        n_below = int(self.below[e] - self.below[s])
        shortfall = round(e_above / max(n_above, 0.5), 3)
        p = _poisson_cdf(n_above, e_above) if shortfall >= p_from_shortfall else None
        return {**out, "count_below": n_below, "count_above": n_above, "expected_below": round(e_below, 3),
                "expected_above": round(max(e_above, 0.0), 3), "shortfall": shortfall, "p_value": p}


def log_ratios(values: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Sorted ln(station ÷ neighbours' level) over the hours both are positive: the station's usual
    relation to its neighbours."""
    ok = np.isfinite(values) & np.isfinite(level) & (values > 0) & (level > 0)
    return np.sort(np.log(values[ok] / level[ok]))


def neighbour_tail(v: np.ndarray, level: np.ndarray, ratios: np.ndarray, cut: float, h: float) -> dict[str, Any]:
    """The truncated-tail test predicted from the neighbours: for each hour of the window with a
    value and a neighbour level L, the station's usual ratio to its neighbours (``ratios``, the
    empirical distribution over its record) gives P(value > cut) and P(value in (cut − h, cut]).
    Their sums are the expected counts above and just below; parking moves the expected
    exceedances into the bin below, so observed above ≪ expected and observed below ≫ expected,
    whereas a station merely cleaner than usual that week loses both. ``p_value``: Poisson lower
    tail of the count above (a guard for small counts; hours are not independent, the effect sizes
    decide)."""
    ok = np.isfinite(v) & np.isfinite(level) & (level > 0) & (v > 0)
    out: dict[str, Any] = {"hours": int(ok.sum()), "reference_hours": int(ratios.size), "neighbour_predicted": True}
    if not ok.any() or ratios.size < 100:
        return {**out, "count_below": 0, "count_above": 0, "expected_below": 0.0, "expected_above": 0.0,
                "shortfall": 0.0, "p_value": 1.0}
    lv = level[ok]
    n = ratios.size
    at_cut = np.searchsorted(ratios, np.log(cut / lv), "right")
    at_low = np.searchsorted(ratios, np.log(max(cut - h, 1e-9) / lv), "right")
    e_above = float(np.sum(n - at_cut) / n)
    e_below = float(np.sum(at_cut - at_low) / n)
    x = v[ok]
    n_above = int(np.count_nonzero(x > cut))
    n_below = int(np.count_nonzero((x > cut - h) & (x <= cut)))
    p = _poisson_cdf(n_above, e_above)
    return {**out, "count_below": n_below, "count_above": n_above, "expected_below": round(e_below, 3),
            "expected_above": round(e_above, 3), "shortfall": round(e_above / max(n_above, 0.5), 3), "p_value": p}


def _poisson_cdf(k: int, mu: float) -> float:
    """P(X ≤ k) for X ~ Poisson(mu)."""
    if mu <= 0:
        return 1.0
    return min(1.0, sum(math.exp(j * math.log(mu) - mu - math.lgamma(j + 1)) for j in range(k + 1)))


def tail_counts(values: np.ndarray, cut: float, h: float) -> tuple[int, int]:
    """(values in (cut − h, cut], values above cut) of finite ``values``."""
    return (int(np.count_nonzero((values > cut - h) & (values <= cut))), int(np.count_nonzero(values > cut)))


def truncated_tail(v: np.ndarray, cut: float, h: float, totals: tuple[int, int], *,
                   p_from_shortfall: float = 0.0) -> dict[str, Any]:
    """The truncated-tail test at a limit: values just below it, B = (cut − h, cut], against values
    above it, U = (cut, ∞), in the window, compared with the same split in the rest of the record.

    Parking every would-be exceedance just under the limit moves U into B, so the window's share
    U/(B + U) collapses while B swells; a window that is merely cleaner has fewer values in B
    *and* U. Under the null (the window's values near and above the limit split as the station's
    other values do) U ~ Binomial(B + U, π), π = U_rest/(B_rest + U_rest), with a half count added
    to each of the rest's cells; ``p_value`` is the lower tail, ``shortfall`` = expected U ÷
    max(observed U, 0.5) the effect size; the p-value is computed only from a shortfall of
    ``p_from_shortfall`` on (else None).
    """
    n_b, n_u = tail_counts(v, cut, h)
    rest_b, rest_u = max(totals[0] - n_b, 0), max(totals[1] - n_u, 0)
    pi = (rest_u + 0.5) / (rest_b + rest_u + 1.0)
    m = n_b + n_u
    expected = m * pi
    shortfall = expected / max(n_u, 0.5)
    p = (_binom_cdf(n_u, m, pi) if m else 1.0) if shortfall >= p_from_shortfall else None
    return {"count_below": n_b, "count_above": n_u, "rest_below": rest_b, "rest_above": rest_u,
            "share_above_rest": round(pi, 4), "expected_above": round(expected, 3),
            "shortfall": round(shortfall, 3), "p_value": p}


# ----------------------------------------------------------------------------------------------- FOR-02

#: Largest histogram (in resolution units) the digit test builds; finer or wider data are not tested.
_MAX_UNITS = 2_000_000

#: Centred 11-tap moving average with half weights at both ends: every last digit counts exactly
#: once, so the smoothed histogram keeps the density's shape but none of its digit preference.
_SMOOTH = np.array([0.5, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0.5]) / 10.0


def digit_counts(values: np.ndarray, res: float, *, min_units: int = 20) -> np.ndarray | None:
    """Observed and expected last-digit counts, shape (2, 10), of values ≥ ``min_units`` resolution units.

    The last digit of a value depends on where it sits on the density: for values 10–19 it is the
    second digit after a leading 1, skewed towards 0 (qc_fraud.md §D.2(b)), and magnitudes change
    with the season. So the expected count of each digit comes from the value histogram (in
    resolution units) smoothed by a centred moving average that spans each digit exactly once: it
    keeps the local slope of the density (linear trends cancel) and removes any digit preference.
    None when the data are too fine or too wide for a histogram.
    """
    v = values[np.isfinite(values)]
    if res <= 0 or v.size == 0:
        return None
    u = np.round(np.abs(v) / res).astype(np.int64)
    if u.max() > _MAX_UNITS:
        return None
    c = np.bincount(u).astype(np.float64)
    sm = np.convolve(np.concatenate((np.zeros(5), c, np.zeros(5))), _SMOOTH, mode="valid")
    idx = np.arange(min_units, c.size)
    if idx.size == 0:
        return np.zeros((2, 10))
    d = idx % 10
    return np.vstack((np.bincount(d, weights=c[min_units:], minlength=10), np.bincount(d, weights=sm[min_units:], minlength=10)))


def heaping_profile(counts: np.ndarray) -> np.ndarray:
    """Observed minus expected share of each last digit (the station's digit preference)."""
    obs, exp = counts
    out: np.ndarray = obs / max(obs.sum(), 1.0) - exp / max(exp.sum(), 1e-12)
    return out


#: Second-digit Benford probabilities (Nigrini 2012), reported as a level in the evidence only.
BENFORD_2ND = np.array([sum(math.log10(1 + 1 / (10 * k + d)) for k in range(1, 10)) for d in range(10)])


@detector(
    "FOR-02",
    name="Digit forensics (change in last-digit distribution)",
    family="for",
    targets=["hand-typed or edited values (B6)", "substituted or simulated values (B4)", "2015 measures 4(12)"],
    params={
        "mad_min": Param(0.025, "share", "effect size floor: Nigrini MAD (mean |p_d − q_d| over the 10 digits)"),
        "noise_k": Param(2.0, "× expected MAD", "the MAD must also exceed this multiple of the MAD expected from sampling noise"),
        "min_digits": Param(300, "values", "fewest values ≥ 20 resolution units in the station-month"),
        "min_reference": Param(1000, "values", "fewest digits in a reference (own other months; neighbours)"),
        "min_neighbours": Param(1, "stations", "neighbours needed for the neighbour comparison (else own history only)"),
    },
    parameters=FORENSIC_PARAMETERS,
)
def digit_forensics(series: Series, ctx: Context, *, mad_min: float, noise_k: float, min_digits: int, min_reference: int,
                    min_neighbours: int) -> list[Finding]:
    """Station-months whose digit preference departs from the station's own other months *and* from
    its neighbours in the same month (catalogue FOR-02; Stoerk 2016; qc_fraud.md §D.2(b)).

    The last digit at the reporting resolution (µg/m³ units, CO tenths) of values ≥ 20 units. It is
    not uniform in genuine data — for two-digit values it is the second digit, and it follows the
    local slope of the density, which changes with the season — so each month's digits are taken
    relative to their smooth expectation (:func:`digit_counts`): the *digit preference*
    h_d = observed − expected share (:func:`heaping_profile`). The month's preference is compared
    with (a) the pooled preference of every other month of the series and (b) the pooled
    preference of the neighbours in the same month: a change, not a level. Effect size: Nigrini's
    MAD of the difference, mean_d |h_d − h_ref,d|. A finding (SUSPECT, ``digit_pattern_change``,
    score 0.8 when the smaller MAD is at ``mad_min``, 1 at 1.25 × it) needs both MADs ≥
    ``mad_min`` and ≥ ``noise_k`` × the MAD expected from sampling alone (√(2/π)·mean σ_d,
    σ_d² = q_d(1−q_d)(1/n + 1/n_ref)). Without enough neighbours the own-history comparison decides
    alone. Evidence: the month's shares, smooth expectation and preference, both references, both
    MADs, the second-digit Benford MAD of the month (a level, for context only) and the digit most
    in excess.
    """
    res = resolution(series.values)
    if res <= 0:
        return []
    months = list(_months(series.times))
    if len(months) < 2:
        return []
    got = [digit_counts(series.values[s:e], res) for _, s, e in months]
    counts = [c for c in got if c is not None]
    if len(counts) < len(got):
        return []
    total = np.sum(counts, axis=0)
    nbs = _neighbour_series(series, ctx)
    out: list[Finding] = []

    def noise(q: np.ndarray, n: float, n_ref: float) -> float:
        return float(math.sqrt(2 / math.pi) * np.mean(np.sqrt(q * (1 - q) * (1 / n + 1 / n_ref))))

    for (label, s, e), cnt in zip(months, counts, strict=True):
        n = float(cnt[0].sum())
        if n < min_digits:
            continue
        ref = total - cnt
        n_ref = float(ref[0].sum())
        if n_ref < min_reference:
            continue
        h = heaping_profile(cnt)
        h_own = heaping_profile(ref)
        q = cnt[1] / max(cnt[1].sum(), 1e-12)
        mad_own = float(np.mean(np.abs(h - h_own)))
        if mad_own < max(mad_min, noise_k * noise(q, n, n_ref)):
            continue
        t0, t1 = _month_bounds(label)
        nb_cnt = np.zeros((2, 10))
        used = []
        for st, ns in nbs.items():
            i0, i1 = _index_range(ns.times, t0, t1)
            c_nb = digit_counts(ns.values[i0:i1], res)
            if c_nb is not None and c_nb[0].sum() > 0:
                nb_cnt += c_nb
                used.append(st)
        n_nb = float(nb_cnt[0].sum())
        ev: dict[str, Any] = {"month": label, "digits": int(n), "resolution": res,
                              "shares": np.round(cnt[0] / n, 4).tolist(), "smooth_expectation": np.round(q, 4).tolist(),
                              "digit_preference": np.round(h, 4).tolist(),
                              "own_other_months_preference": np.round(h_own, 4).tolist(),
                              "own_reference_digits": int(n_ref), "mad_vs_own": round(mad_own, 5),
                              "preference_mad": round(float(np.mean(np.abs(h))), 5),
                              "benford_2nd_mad": round(float(np.mean(np.abs(cnt[0] / n - BENFORD_2ND))), 5),
                              "excess_digit": int(np.argmax(h - h_own)),
                              "thresholds": {"mad_min": mad_min, "noise_k": noise_k}}
        score = mad_own
        if len(used) >= min_neighbours and n_nb >= min_reference:
            h_nb = heaping_profile(nb_cnt)
            mad_nb = float(np.mean(np.abs(h - h_nb)))
            ev.update({"neighbours": used, "neighbour_preference": np.round(h_nb, 4).tolist(), "neighbour_digits": int(n_nb),
                       "mad_vs_neighbours": round(mad_nb, 5)})
            if mad_nb < max(mad_min, noise_k * noise(q, n, n_nb)):
                continue
            score = min(mad_own, mad_nb)
        else:
            ev["neighbours"] = []
        out.append(Finding(s, e, Status.SUSPECT, "digit_pattern_change", _score(score, mad_min), ev))
    return out


# ----------------------------------------------------------------------------------------------- FOR-05

def _circular_corr(fx: np.ndarray, y: np.ndarray) -> np.ndarray:
    """r[s] = Σ_t x[t]·y[(t+s) mod n] for every shift s, given ``fx`` = rfft(x) (FFT)."""
    n = y.size
    return np.rint(np.fft.irfft(np.conj(fx) * np.fft.rfft(y), n))


def _column_median(a: np.ndarray, n_finite: np.ndarray) -> np.ndarray:
    """Median of each column of ``a`` over its finite values (NaN where none)."""
    srt = np.sort(a, axis=0)  # NaN sort last
    k = np.maximum(n_finite, 1)
    lo = np.take_along_axis(srt, ((k - 1) // 2)[None, :], axis=0)[0]
    hi = np.take_along_axis(srt, (k // 2)[None, :], axis=0)[0]
    out: np.ndarray = np.where(n_finite > 0, (lo + hi) / 2, np.nan)
    return out


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
        "own_level": Param("auto", "", "own-level test (the station's own values left around its gaps, truncated "
                           "top): auto (too few neighbours report, or a water station) | no_neighbours | always | never"),
        "own_window_days": Param(7.0, "days", "own-level test: windows of this many days, sliding by half"),
        "own_quantile": Param(0.75, "quantile", "own-level test: 'high' = above this quantile of the rest of the record"),
        "min_missing_share": Param(0.1, "share", "own-level test: fewest missing values in a window"),
    },
    parameters=FORENSIC_PARAMETERS,
)
def selective_missingness(series: Series, ctx: Context, *, high_quantile: float, local_days: int, min_neighbours: int,
                          alpha: float,
                          min_risk_ratio: float, min_risk_diff: float, min_missing_high: int, min_runs: int,
                          min_shift_h: float, own_level: str = "auto", own_window_days: float = 7.0,
                          own_quantile: float = 0.75, min_missing_share: float = 0.1, min_auc: float = 0.714,
                          min_missing_rank: int = 72) -> list[Finding]:
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
    over the month; evidence: the table,
    neighbours used, the level threshold and the first missing-high hours.

    Own level (``own_level``): a station with fewer than ``min_neighbours`` neighbours (a flue-gas
    outlet is compared with no other) — with ``auto`` (default) also every water station, whose
    neighbours see the river hours later; with ``always`` every station — is also tested against
    its own record (:func:`own_level_missingness`: windows whose gaps took the top of the
    station's distribution with them).
    """
    if own_level not in ("auto", "no_neighbours", "always", "never"):
        raise InputError("FOR-05.own_level", f"{own_level!r}: auto, no_neighbours, always or never")
    nbs = _neighbour_series(series, ctx)
    own: list[Finding] = []
    if own_level == "auto":  # a river's neighbours see the water hours later: test a water station's own values too
        own_level = "always" if ctx.attrs.get("kind") == "water" else "no_neighbours"
    if own_level == "always" or (own_level == "no_neighbours" and len(nbs) < min_neighbours):
        own = own_level_missingness(series, window_days=own_window_days, quantile=own_quantile,
                                    min_missing_share=min_missing_share, min_runs=min_runs, alpha=alpha,
                                    min_risk_ratio=min_risk_ratio, min_missing_high=min_missing_high)
    if len(nbs) < min_neighbours:
        return own
    return _neighbour_missingness(series, ctx, nbs, high_quantile=high_quantile, local_days=local_days,
                                  min_neighbours=min_neighbours, alpha=alpha, min_risk_ratio=min_risk_ratio,
                                  min_risk_diff=min_risk_diff, min_missing_high=min_missing_high, min_runs=min_runs,
                                  min_shift_h=min_shift_h, min_auc=min_auc, min_missing_rank=min_missing_rank) + own


def _neighbour_missingness(series: Series, ctx: Context, nbs: dict[str, Series], *, high_quantile: float,
                           local_days: int, min_neighbours: int, alpha: float, min_risk_ratio: float,
                           min_risk_diff: float, min_missing_high: int, min_runs: int,
                           min_shift_h: float, min_auc: float = 0.714, min_missing_rank: int = 72) -> list[Finding]:
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
        s, e = _index_range(series.times, t0, t1)
        if e <= s:
            return None
        hit = np.flatnonzero(miss & high)
        score = _score(rr, min_risk_ratio) if rank is None else _score(rank["auc"] - 0.5, min_auc - 0.5)
        return (Finding(s, e, Status.SUSPECT, "selective_missingness", score, {
            "test": "split" if rank is None else "rank", "rank_test": rank,
            "month": label[:7], "period": [_iso(t0), _iso(t1)], "neighbours": list(nbs),
            "neighbour_level_threshold_median": thr, "high_quantile": high_quantile,
            "local_days": local_days,
            "table": {"missing_high": a0, "high": n_hi, "missing_low": c0, "low": n_lo},
            "p_missing_high": round(p_hi, 4), "p_missing_low": round(p_lo, 4), "risk_ratio": round(rr, 3),
            "risk_difference": round(p_hi - p_lo, 4), "p_value": p if rank is None else rank["p_value"],
            "gaps_touching_high": len(runs),
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
                          min_runs: int, alpha: float, min_risk_ratio: float, min_missing_high: int) -> list[Finding]:
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
    is merely cleaner has no reason to be gappy. Overlapping flagged windows make one finding
    (SUSPECT, ``selective_missingness_own_level``; score 0.8 at ``min_risk_ratio``, 1 at 1.25 × it).
    """
    x = series.values
    t = series.times
    step = int(series.step_s)
    fin = np.isfinite(x)
    if fin.sum() < 48:
        return []
    found: list[tuple[int, int, dict[str, Any]]] = []
    for s, e in _windows(t, window_days):
        miss = ~fin[s:e]
        n_miss = int(miss.sum())
        if e - s < 24 or n_miss < max(min_missing_high, min_missing_share * (e - s)):
            continue
        gaps = true_runs(miss)
        if len(gaps) < min_runs:
            continue
        rest = np.concatenate((x[:s][fin[:s]], x[e:][fin[e:]]))
        if rest.size < 48:
            continue
        thr = float(np.quantile(rest, quantile))
        present = x[s:e][fin[s:e]]
        k = int(np.count_nonzero(present > thr))
        expected = present.size * (1.0 - quantile)
        ratio = expected / max(k, 0.5)
        if present.size < 24 or ratio < min_risk_ratio:
            continue
        p = _binom_cdf(k, int(present.size), 1.0 - quantile)
        if p >= alpha:
            continue
        found.append((s, e, {"window": [_iso(int(t[s])), _iso(int(t[e - 1]) + step)], "missing": n_miss,
                             "slots": e - s, "gaps": len(gaps), "reference_quantile": quantile,
                             "reference_threshold": round(thr, 6), "reference_values": int(rest.size),
                             "present": int(present.size), "present_above": k, "expected_above": round(expected, 2),
                             "ratio": round(ratio, 3), "p_value": p,
                             "present_max": round(float(present.max()), 6) if present.size else None}))
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
                           "min_missing_high": min_missing_high},
        }))
    return out


# ----------------------------------------------------------------------------------------------- FOR-06

def day_matrix(series: Series) -> tuple[np.ndarray, np.ndarray]:
    """(days, D × slots matrix): the series laid out by Beijing calendar day (NaN where missing).

    ``days`` are day numbers since 1970-01-01 (Beijing dates)."""
    step = int(series.step_s)
    slots = max(1, 86400 // step)
    local = series.times + BEIJING_OFFSET_S
    day = local // 86400
    slot = np.minimum((local % 86400) // step, slots - 1)
    days, inv = np.unique(day, return_inverse=True)
    mat = np.full((days.size, slots), np.nan)
    mat[inv, slot] = series.values
    return days, mat


def _informative(mat: np.ndarray, unit: float, min_distinct: int, min_present: float) -> tuple[np.ndarray, np.ndarray]:
    """(comparable, complete) days: ≥ ``min_present`` of the slots reported with ≥ ``min_distinct``
    distinct values (flat days are TMP-03's), and those among them with every slot reported."""
    fin = np.isfinite(mat)
    d = np.diff(np.sort(np.round(mat / unit), axis=1), axis=1)  # NaN sort last; their diffs are NaN
    distinct = 1 + np.sum((d != 0) & np.isfinite(d), axis=1)
    ok: np.ndarray = (fin.sum(axis=1) >= min_present * mat.shape[1]) & (distinct >= min_distinct)
    return ok, ok & fin.all(axis=1)


#: Stands for a missing slot in the integer day vectors: a copy keeps the gaps of its source.
_GAP = np.int64(-(2**62))


def _quantised(mat: np.ndarray, unit: float) -> np.ndarray:
    fin = np.isfinite(mat)
    out: np.ndarray = np.where(fin, np.round(np.where(fin, mat, 0.0) / unit), 0).astype(np.int64)
    out[~fin] = _GAP
    return out


def _znorm(mat: np.ndarray) -> np.ndarray:
    mu = mat.mean(axis=1, keepdims=True)
    sd = mat.std(axis=1, keepdims=True)
    sd[sd == 0] = np.inf
    out: np.ndarray = (mat - mu) / sd
    return out


def affine_residual(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """(scale, offset, largest |residual|) of the least-squares fit y ≈ scale·x + offset."""
    a, b = np.polyfit(x, y, 1)
    return float(a), float(b), float(np.max(np.abs(y - (a * x + b))))


_KEY_WEIGHTS = np.random.default_rng(212).integers(1, 2**62, size=1440, dtype=np.int64) | 1


def _row_keys(q: np.ndarray) -> np.ndarray:
    """A 64-bit key per row of integers (wrapping dot product with fixed odd weights); equal rows get
    equal keys, and a shared key is confirmed by comparing the rows."""
    w = np.resize(_KEY_WEIGHTS, q.shape[1])
    with np.errstate(over="ignore"):
        out: np.ndarray = (q * w).sum(axis=1)
    return out


def _day_label(d: int) -> str:
    return str(np.datetime64(int(d), "D"))


_KIND_ORDER = {"copied_from_station": 0, "repeated_day": 1, "near_copy_of_station": 2, "near_repeated_day": 3}


class _Days:
    """One station's days of one parameter, prepared once for FOR-06: day numbers, the D × slots
    matrix, comparable and complete days, the quantised rows and their 64-bit keys."""

    __slots__ = ("days", "mat", "ok", "full", "q", "keys")

    def __init__(self, series: Series, unit: float, min_distinct: int, min_present: float) -> None:
        self.days, self.mat = day_matrix(series)
        self.ok, self.full = _informative(self.mat, unit, min_distinct, min_present)
        self.q = _quantised(self.mat, unit)
        self.keys = _row_keys(self.q)


#: FOR-06's per-network cache: (id of Context.network, parameter, unit, step, day rules) → (the
#: network mapping itself — guards against a reused id —, station → _Days, sorted keys of every
#: comparable day, their station and row). A batch scan indexes each parameter of the network once.
_NETWORK_CACHE: dict[tuple[Any, ...], tuple[Any, dict[str, _Days], np.ndarray, np.ndarray, np.ndarray]] = {}
_NETWORK_CACHE_SIZE = 8


def _network_days(network: Mapping[str, Mapping[str, Series]], parameter: str, unit: float, step: int,
                  min_distinct: int, min_present: float
                  ) -> tuple[dict[str, _Days], np.ndarray, np.ndarray, np.ndarray]:
    """Every station's prepared days of ``parameter`` and a sorted key index over their comparable days."""
    key = (id(network), parameter, unit, step, min_distinct, min_present)
    hit = _NETWORK_CACHE.get(key)
    if hit is not None and hit[0] is network:
        return hit[1], hit[2], hit[3], hit[4]
    per: dict[str, _Days] = {}
    keys, owners, rows = [], [], []
    for k, (st, by_code) in enumerate(network.items()):
        s = by_code.get(parameter)
        if s is None or not len(s) or int(s.step_s) != step:
            continue
        d = _Days(s, unit, min_distinct, min_present)
        per[st] = d
        idx = np.flatnonzero(d.ok)
        keys.append(d.keys[idx])
        owners.append(np.full(idx.size, k, dtype=np.int64))
        rows.append(idx)
    all_keys = np.concatenate(keys) if keys else np.empty(0, np.int64)
    order = np.argsort(all_keys, kind="stable")
    out = (per, all_keys[order], (np.concatenate(owners) if owners else np.empty(0, np.int64))[order],
           (np.concatenate(rows) if rows else np.empty(0, np.int64))[order])
    if len(_NETWORK_CACHE) >= _NETWORK_CACHE_SIZE:
        _NETWORK_CACHE.pop(next(iter(_NETWORK_CACHE)))
    _NETWORK_CACHE[key] = (network, *out)
    return out


@detector(
    "FOR-06",
    name="Copied or simulated daily sequences",
    family="for",
    targets=["signal substitution or simulation (B4)", "copies between stations", "2015 measures 5(1), 5(5)"],
    params={
        "min_distinct": Param(8, "values", "a day needs this many distinct values to be compared (flat days are TMP-03)"),
        "min_present": Param(0.75, "share of the day", "a day needs this share of its slots reported (exact copies keep "
                             "the source's gaps; near-copies need complete days)"),
        "rho_min": Param(0.999, "correlation", "near-copy: correlation of the z-normalised day profiles at least this"),
        "affine_tol": Param(2.0, "resolution units", "near-copy: after the best scale-and-offset map, every slot within this"),
        "near_days": Param(True, "", "also look for near-copies between different days of the same station"),
    },
    parameters=FORENSIC_PARAMETERS,
)
def copied_sequences(series: Series, ctx: Context, *, min_distinct: int, min_present: float, rho_min: float,
                     affine_tol: float, near_days: bool) -> list[Finding]:
    """Days whose profile repeats another day of the station or a neighbour's day (catalogue FOR-06).

    Each Beijing calendar day with ≥ ``min_present`` of its slots reported and ≥ ``min_distinct``
    distinct values is a vector (24 values for hourly data). **Exact copies**: the vectors in
    resolution units, gaps included (a copy keeps its source's gaps), are hashed; a day equal to
    another day of the station (``repeated_day``) or to any day of a neighbour
    (``copied_from_station``) is a finding. **Near-copies** (a copy rescaled, offset or
    re-rounded; complete days only): z-normalised distance d = √(2·m·(1−ρ)) with ρ ≥ ``rho_min`` *and*, after the
    least-squares scale-and-offset map, every slot within ``affine_tol`` resolution units — for the
    same day at each neighbour (``near_copy_of_station``) and, with ``near_days``, between days of
    the station (``near_repeated_day``). On Hebei 2019 genuine neighbours a few km apart reach
    ρ ≈ 0.999 on smooth O3 days, but then differ by ≥ 3.7 units somewhere after the best affine map;
    no two days of one station reach ρ 0.998. A shared plume spike can push a genuine ρ to 0.9997,
    which the affine gate rejects. No matrix-profile library is needed: days are the natural
    subsequence of hourly data, and hashing plus one matrix product per neighbour is exact and fast.
    Exact copies between stations are looked up in ``ctx.network`` (every station of the scan; one
    key index per network and parameter, built once) — a day may be copied from any station of
    the province, not only a neighbour: of the injector's copies from another station 1 in 40
    came from a neighbour, so with neighbours alone FOR-06 found 13 of 20 ``copied`` days on Hebei
    2019. Without a network (streaming) the neighbours are the pool. Near-copies are sought among
    the neighbours only (a correlation per day pair; the network would cost D² per station).
    Finding: SUSPECT over the day, score 1 for an exact copy, 0.8 → 1 as ρ goes from ``rho_min``
    to 1 for a near-copy; evidence: the match(es), ρ, distance,
    affine map and both vectors.
    """
    res = resolution(series.values)
    unit = res if res > 0 else 1e-6
    days, mat = day_matrix(series)
    ok, full = _informative(mat, unit, min_distinct, min_present)
    if not ok.any():
        return []
    q = _quantised(mat, unit)
    z = _znorm(np.where(np.isfinite(mat), mat, 0.0))
    m_slots = mat.shape[1]
    matches: dict[int, list[dict[str, Any]]] = {}

    def near(x: np.ndarray, y: np.ndarray, r: float) -> dict[str, Any] | None:
        a, b, worst = affine_residual(x, y)
        if worst > affine_tol * unit:
            return None
        return {"rho": round(r, 6), "z_distance": round(math.sqrt(max(0.0, 2 * m_slots * (1 - r))), 4),
                "scale": round(a, 4), "offset": round(b, 4), "max_residual": round(worst, 4)}

    keys = _row_keys(q)
    idx_ok = np.flatnonzero(ok)
    uk, inv, cnt = np.unique(keys[idx_ok], return_inverse=True, return_counts=True)
    for g in np.flatnonzero(cnt > 1):
        grp = idx_ok[inv == g]
        for i in grp:
            for j in grp:
                if j != i and np.array_equal(q[i], q[j]):
                    matches.setdefault(int(i), []).append({"kind": "repeated_day", "station": series.station,
                                                           "day": _day_label(days[j]), "rho": 1.0})
    nbs = _neighbour_series(series, ctx)
    # exact copies: against every station of the network when the scan provides one (a day may be
    # copied from any station, not only a neighbour), else against the neighbours
    pool: Mapping[str, Mapping[str, Series]] = ctx.network or {st: {series.parameter: ns} for st, ns in nbs.items()}
    step = int(series.step_s)
    if pool is ctx.network:
        per, net_keys, net_owner, net_row = _network_days(pool, series.parameter, unit, step, min_distinct, min_present)
    else:
        per = {st: _Days(sr, unit, min_distinct, min_present) for st, by in pool.items()
               if (sr := by.get(series.parameter)) is not None and len(sr) and int(sr.step_s) == step}
        net_keys = net_owner = net_row = np.empty(0, np.int64)
        parts = [(k, np.flatnonzero(d.ok)) for k, d in enumerate(per.values())]
        if parts:
            net_keys = np.concatenate([list(per.values())[k].keys[ix] for k, ix in parts])
            net_owner = np.concatenate([np.full(ix.size, k, np.int64) for k, ix in parts])
            net_row = np.concatenate([ix for _, ix in parts])
            order = np.argsort(net_keys, kind="stable")
            net_keys, net_owner, net_row = net_keys[order], net_owner[order], net_row[order]
    names = list(pool) if pool is ctx.network else list(per)
    exact_by: dict[str, set[int]] = {}
    if net_keys.size:
        lo = np.searchsorted(net_keys, keys[idx_ok], "left")
        hi = np.searchsorted(net_keys, keys[idx_ok], "right")
        for i, a, b in zip(idx_ok[hi > lo], lo[hi > lo], hi[hi > lo], strict=True):
            seen: set[str] = set()
            for k in range(int(a), int(b)):
                st = names[int(net_owner[k])]
                if st == series.station or st in seen:
                    continue
                src = per[st]
                j = int(net_row[k])
                if np.array_equal(q[i], src.q[j]):
                    seen.add(st)
                    exact_by.setdefault(st, set()).add(int(i))
                    matches.setdefault(int(i), []).append({
                        "kind": "copied_from_station", "station": st, "day": _day_label(src.days[j]), "rho": 1.0,
                        "neighbour": st in nbs, "distance_km": ctx.distances_km.get(st),
                        "neighbour_values": src.mat[j].tolist()})
    # near-copies (rescaled, offset, re-rounded): the same day at each neighbour
    for st, ns in nbs.items():
        if int(ns.step_s) != step:
            continue
        d = per.get(st) or _Days(ns, unit, min_distinct, min_present)
        ndays, nmat, nfull = d.days, d.mat, d.full
        exact = exact_by.get(st, set())
        _, ia, ib = np.intersect1d(days, ndays, return_indices=True)
        sel = full[ia] & nfull[ib]
        ia, ib = ia[sel], ib[sel]
        if ia.size == 0:
            continue
        rho = np.sum(z[ia] * _znorm(np.where(np.isfinite(nmat[ib]), nmat[ib], 0.0)), axis=1) / m_slots
        for i, j, r in zip(ia, ib, rho, strict=True):
            if r >= rho_min and int(i) not in exact:
                hit = near(nmat[j], mat[i], float(r))
                if hit is not None:
                    matches.setdefault(int(i), []).append({"kind": "near_copy_of_station", "station": st,
                                                           "day": _day_label(ndays[j]), **hit, "neighbour": True,
                                                           "distance_km": ctx.distances_km.get(st),
                                                           "neighbour_values": nmat[j].tolist()})
    if near_days:
        idx = np.flatnonzero(full)
        if idx.size > 1:
            zz = z[idx]
            r = zz @ zz.T / m_slots
            np.fill_diagonal(r, -1.0)
            for a, b in zip(*np.nonzero(r >= rho_min), strict=True):
                i, j = int(idx[a]), int(idx[b])
                if q[i].tobytes() == q[j].tobytes():
                    continue
                hit = near(mat[j], mat[i], float(r[a, b]))
                if hit is not None:
                    matches.setdefault(i, []).append({"kind": "near_repeated_day", "station": series.station,
                                                      "day": _day_label(days[j]), **hit})

    out: list[Finding] = []
    local_day = (series.times + BEIJING_OFFSET_S) // 86400
    for i, ms in sorted(matches.items()):
        s, e = int(np.searchsorted(local_day, days[i], "left")), int(np.searchsorted(local_day, days[i], "right"))
        ms.sort(key=lambda m: (_KIND_ORDER[m["kind"]], -m["rho"]))
        lead = ms[0]
        score = 1.0 if lead["kind"] in ("copied_from_station", "repeated_day") else \
            round(0.8 + 0.2 * max(0.0, lead["rho"] - rho_min) / max(1e-12, 1 - rho_min), 4)
        out.append(Finding(s, e, Status.SUSPECT, lead["kind"], score, {
            "day": _day_label(days[i]), "values": mat[i].tolist(), "resolution": res, "matches": ms[:10],
            "thresholds": {"rho_min": rho_min, "affine_tol": affine_tol, "min_distinct": min_distinct},
        }))
    return out
