"""FOR-02 — digit forensics: a change in the last-digit preference of a station-month (Stoerk 2016;
qc_fraud.md §D.2(b)), against the station's other months and its neighbours in the same month.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tianlan.qc.core import Context, Finding, Param, Series, Status, detector
from tianlan.qc.fraud.forensic_common import (
    FORENSIC_PARAMETERS,
    _index_range,
    _month_bounds,
    _months,
    _neighbour_series,
    _score,
    resolution,
)

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

