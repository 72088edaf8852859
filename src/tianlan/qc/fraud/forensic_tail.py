"""The truncated-tail statistics of FOR-01 (:mod:`tianlan.qc.fraud.forensic_bunching`) at a limit.

Parking every would-be exceedance just under a limit empties the values above it and swells the
bin just below. Without neighbours (:func:`truncated_tail`) a window's split of values just below
vs above the limit is compared with the rest of the station's record; with neighbours
(:func:`neighbour_tail`, :class:`NeighbourTailPrefix`) the expected counts are predicted hour by
hour from the neighbours' level and the station's usual ratio to it (:func:`log_ratios`).
Values in the series' unit; ``cut`` is the limit, ``h`` the half-width of the bin just below.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tianlan.qc.fraud.forensic_common import _binom_cdf, _poisson_cdf, _prefix


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
            is_above, is_below = x > cut, (x > cut - h) & (x <= cut)
            is_further = (x > cut - 2 * h) & (x <= cut - h)
        self.above = _prefix(is_above)
        self.below = _prefix(is_below)
        # The paired statistic (:meth:`paired`): at each hour whose value is above cut − h, the
        # chance that it is above the cut, given the neighbours' level; and the bin below B.
        at_low2 = np.searchsorted(ratios, np.log(max(cut - 2 * h, 1e-9) / lv), "right")
        over_low = ratios.size - at_low
        with np.errstate(invalid="ignore", divide="ignore"):
            pi = np.where(over_low > 0, (ratios.size - at_cut) / np.maximum(over_low, 1), 0.0)
        self.e_paired = np.concatenate((zero, np.cumsum(np.where(ok & (is_above | is_below), pi, 0.0))))
        self._pi, self._near, self._level, self._values = pi, ok & (is_above | is_below), level, values
        self.further = _prefix(is_further)
        self.e_further = np.concatenate((zero, np.cumsum(np.where(ok, (at_low - at_low2) / n, 0.0))))

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

    def paired(self, s: int, e: int, *, min_below: int = 0, min_shortfall: float = 0.0,
               exact: bool = False) -> dict[str, Any] | None:
        """The **paired** truncated-tail statistic over [s, e): hour by hour, station against neighbours.

        Consider only the hours whose value reached the bin just below the cut-off or above it
        (value > cut − h). For each, the neighbours' level L and the station's usual ratio to them
        give π = P(value > cut | value > cut − h, L): how likely that hour was to exceed, given
        that it came that close. Under the null the count above is a sum of independent
        Bernoulli(π) (Poisson-binomial; its Poisson lower tail with the same mean is conservative
        for the count 0); parking every would-be exceedance in the bin below leaves 0 above where
        the neighbours said Σπ. Conditioning on "came close" makes a week that is merely cleaner
        than usual (fewer values near the cut-off) irrelevant, and pairs each parked hour with what
        the neighbours did at that hour: 7 parked values against Σπ = 5 are significant, where the
        unconditional count (expected above over *every* hour) is diluted by the hours that never
        came near the cut.

        ``bin_contrast``: (observed ÷ expected in the bin just below, B) ÷ (the same in the bin
        below it, L = (cut − 2h, cut − h]). A station sitting lower against its neighbours than
        usual swells B and L alike (contrast ≈ 1); parking fills B only. Expected counts are
        floored at 0.5 and L's observed count gets a half count (continuity). None (not computed)
        when fewer than ``min_below`` values are just below or the shortfall is under ``min_shortfall``.

        ``exact``: also ``p_exact``, the exact Poisson-binomial lower tail of the count above
        (:func:`poisson_binomial_cdf`; for the count 0 it is Π(1 − π)). It treats the hours as
        independent, which hours are not (a plume the prediction misses lifts several in a row),
        so it is used only where two models must both agree (FOR-01's companion test)."""
        n_below = int(self.below[e] - self.below[s])
        if n_below < min_below or not self.usable:
            return None
        mu = max(float(self.e_paired[e] - self.e_paired[s]), 0.0)
        n_above = int(self.above[e] - self.above[s])
        if mu / max(n_above, 0.5) < min_shortfall:
            return None
        n_further = int(self.further[e] - self.further[s])
        e_below = max(float(self.e_below[e] - self.e_below[s]), 0.0)
        e_further = max(float(self.e_further[e] - self.e_further[s]), 0.0)
        contrast = (n_below / max(e_below, 0.5)) / ((n_further + 0.5) / max(e_further, 0.5))
        extra: dict[str, Any] = {}
        if exact:
            idx = np.flatnonzero(self._near[s:e]) + s
            extra = {"p_exact": poisson_binomial_cdf(self._pi[idx], n_above)}
        return {**extra,"hours_near_or_above": n_above + n_below, "count_above": n_above, "count_below": n_below,
                "expected_above_given_near": round(mu, 3), "shortfall": round(mu / max(n_above, 0.5), 3),
                "p_value": _poisson_cdf(n_above, mu),
                "count_further_below": n_further, "expected_further_below": round(e_further, 3),
                "expected_below": round(e_below, 3), "bin_contrast": round(contrast, 3)}


    def near_hours(self, s: int, e: int, times: np.ndarray, *, most: int = 24) -> list[dict[str, Any]]:
        """The hours of [s, e) whose value came within h of the cut-off or above it: time (UTC ISO),
        observed value, predicted level and π (at most ``most``, the highest π first)."""
        idx = np.flatnonzero(self._near[s:e]) + s
        idx = idx[np.argsort(-self._pi[idx], kind="stable")][:most]
        return [{"time": str(np.datetime64(int(times[i]), "s")) + "Z", "observed": float(self._values[i]),
                 "predicted": round(float(self._level[i]), 2), "pi": round(float(self._pi[i]), 4)}
                for i in sorted(idx.tolist())]


def poisson_binomial_cdf(q: np.ndarray, k: int) -> float:
    """P(X ≤ k), X the number of successes of independent Bernoulli(q_i) (Poisson-binomial, exact
    by dynamic programming over the trials)."""
    dist = np.zeros(k + 2)
    dist[0] = 1.0
    for qi in np.clip(q, 0.0, 1.0):
        dist[1:] = dist[1:] * (1 - qi) + dist[:-1] * qi  # the last cell gathers "more than k"
        dist[0] *= 1 - qi
    return float(min(1.0, dist[: k + 1].sum()))


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

