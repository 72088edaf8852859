"""FOR-01 on clipping: a finding's period is that of the bunched values (not of the windows tested),
and the companion test's strong-evidence floor (tianlan.qc.fraud.forensic_bunching)."""

from __future__ import annotations

import numpy as np
from test_fraud_forensic import ctx_of, run, synthetic_network
from test_fraud_forensic_paired import _at_limit, _clip

from tianlan.qc.core import Series
from tianlan.qc.fraud.forensic_bunching import _paired, evidence_span
from tianlan.qc.fraud.forensic_tail import NeighbourTailPrefix, log_ratios


def test_evidence_span_is_first_to_last_value_just_below() -> None:
    v = np.array([50.0, 72.0, np.nan, 80.0, 60.0, 75.0, 69.0, 40.0])
    assert evidence_span(v, 0, v.size, 75.0, 6.0) == (1, 6)  # 72 … 75 (a value equal to the limit complies)
    assert evidence_span(v, 2, v.size, 75.0, 6.0) == (5, 6)  # 69 is not in (69, 75]
    assert evidence_span(v, 6, 8, 75.0, 6.0) == (6, 8)  # nothing just below: the window itself


def test_period_is_the_bunched_values_within_the_windows_flagged() -> None:
    """Twelve hours held at 108 µg/m³ while the neighbours are above 130 (a stretch like 1042A's of
    April 2019, bunched under the IAQI-150 breakpoint 115): the finding's period holds the twelve
    hours, begins and ends on a value in (106, 115], lies inside the windows flagged and is shorter
    than them."""
    checked = 0
    for seed in (0, 1):
        net = synthetic_network(seed=seed)
        s = net["S1"]
        level = np.median(np.vstack([net[k].values for k in net if k != "S1"]), axis=0)
        a = next(i for i in range(24, s.values.size - 12) if (level[i:i + 12] > 130).all())
        v = s.values.copy()
        v[a:a + 12] = 108.0
        net2 = {**net, "S1": Series("S1", "PM2.5", s.times, v)}
        found = [f for f in run("FOR-01", net2["S1"], ctx_of(net2, "S1")) if f.evidence["cutoff"] == 115.0]
        assert len(found) == 1, seed
        f = found[0]
        h = f.evidence["half_width"]
        assert f.start <= a and a + 12 <= f.end
        assert 115.0 - h < v[f.start] <= 115.0 and 115.0 - h < v[f.end - 1] <= 115.0
        union = [np.datetime64(x.rstrip("Z"), "s").astype(np.int64) for x in f.evidence["windows_union"]]
        assert union[0] <= s.times[f.start] and s.times[f.end - 1] + 3600 <= union[1]
        assert (f.end - f.start) * 3600 < union[1] - union[0]
        assert f.evidence["window_days"] in (2.0, 4.0, 10.0, 30.0) and isinstance(f.evidence["calendar_month"], bool)
        checked += 1
    assert checked == 2


def test_clipping_period_is_local() -> None:
    """A 4-day clipping found at the limit: the finding overlaps it, begins and ends on values just
    below the limit and spans at most twice the strongest window flagged (not a calendar month)."""
    tried = 0
    for seed in (0, 2, 4):
        net = synthetic_network(seed=seed)
        s = net["S1"]
        for d0 in range(5, 110, 7):
            a, b = d0 * 24, (d0 + 4) * 24
            if not 10 <= int(np.sum(s.values[a:b] > 75)) <= 40:
                continue
            v, _ = _clip(s.values, a, b)
            net2 = {**net, "S1": Series("S1", "PM2.5", s.times, v)}
            got = _at_limit(run("FOR-01", net2["S1"], ctx_of(net2, "S1")), a, b)
            if not got:
                continue
            tried += 1
            f = got[0]
            assert f.start < b and a < f.end
            assert 69 < v[f.start] <= 75 and 69 < v[f.end - 1] <= 75
            assert f.end - f.start <= 2 * f.evidence["window_days"] * 24  # sliding windows, not a month
    assert tried >= 5


def _episode(parked_pm10_follows: bool) -> tuple[Series, np.ndarray, np.ndarray, np.ndarray]:
    """15 hours of an episode (every 8 h) that the neighbours put at 86 µg/m³: 12 parked at 72,
    3 left above at 80; PM10 either of the true PM2.5 (the parked hours' ratio collapses) or of
    the parked values (PM10 agrees with them)."""
    rng = np.random.default_rng(11)
    n = 2000
    level = np.exp(rng.normal(np.log(60), 0.35, n))
    truth = level * np.exp(rng.normal(0, 0.1, n))
    near = np.arange(0, 120, 8)
    level[:120], truth[:120] = 55.0, 50.0
    level[near] = 86.0
    truth[near] = 86.0 * np.exp(rng.normal(0, 0.03, near.size))
    values = np.round(truth)
    values[near[:12]], values[near[12:]] = 72.0, 80.0
    pm10 = np.round((values if parked_pm10_follows else truth) / 0.6 * np.exp(rng.normal(0, 0.04, n)))
    return Series("S1", "PM2.5", 1_546_300_800 + 3600 * np.arange(n, dtype=np.int64), values), values, level, pm10


def test_companion_strong_floor() -> None:
    """12 parked hours with 3 left above where both models expect ~14 exceedances: the shortfall
    (≈ 4.6) is under the floor of 6 and the neighbours' Poisson p (≈ 5e-4) above the strong
    alpha, but both exact p-values are far below it, so the companion test passes with the strong
    floor (score ≥ 0.8); with the strong floor off, or with a PM10 that agrees with the parked
    values, it does not."""
    common = {"min_below": 4, "min_shortfall": 6.0, "alpha": 0.01, "contrast": 2.0, "half_window": 3,
              "companion_alpha": 0.01, "strong_shortfall": 3.0}
    s_, values, level, pm10 = _episode(parked_pm10_follows=False)
    tails = {75.0: NeighbourTailPrefix(values, level, log_ratios(values, level), 75.0, 6.0)}
    pt = tails[75.0].paired(0, 120, exact=True)
    assert pt is not None and 3.0 <= pt["shortfall"] < 6.0 and pt["p_value"] > 1e-4
    got = _paired(0, 120, 75.0, 6.0, s_, values, level, ("a34002", pm10), tails, {}, strong_alpha=1e-4, **common)
    assert got is not None and got["predictor"] == "neighbours+companion" and got["shortfall_floor"] == 3.0
    assert got["p_exact_neighbours"] < 1e-4 and got["p_exact_companion"] < 1e-4
    assert got["companion_statistics"]["shortfall"] >= 3.0 and got["bin_contrast"] >= 2.0
    assert 0.8 * got["shortfall"] / got["shortfall_floor"] >= 0.8
    assert _paired(0, 120, 75.0, 6.0, s_, values, level, ("a34002", pm10), tails, {}, strong_alpha=0.0,
                   **common) is None
    s2, v2, l2, pm10_follows = _episode(parked_pm10_follows=True)
    tails2 = {75.0: NeighbourTailPrefix(v2, l2, log_ratios(v2, l2), 75.0, 6.0)}
    assert _paired(0, 120, 75.0, 6.0, s2, v2, l2, ("a34002", pm10_follows), tails2, {}, strong_alpha=1e-4,
                   **common) is None
