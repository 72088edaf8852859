"""FOR-01's paired truncated-tail test: a few values parked under a limit while the neighbours say
they should have exceeded it (tianlan.qc.fraud.forensic_tail.NeighbourTailPrefix.paired)."""

from __future__ import annotations

import math

import numpy as np
from test_fraud_forensic import T0, ctx_of, run, synthetic_network

from tianlan.qc.core import Context, Series
from tianlan.qc.fraud.forensic import NeighbourTailPrefix, log_ratios


def _clip(v: np.ndarray, a: int, b: int, seed: int = 1) -> tuple[np.ndarray, int]:
    """The injector's clipping on [a, b): every value ≥ 70 becomes an integer in [70, 74]."""
    out = v.copy()
    hit = np.zeros(v.size, bool)
    hit[a:b] = v[a:b] >= 70
    out[hit] = np.minimum(np.floor(np.random.default_rng(seed).uniform(70, 75, int(hit.sum()))), 74)
    return out, int(hit.sum())


def _at_limit(findings: list, a: int, b: int) -> list:
    return [f for f in findings if f.start < b and f.end > a and f.evidence.get("cutoff") == 75.0]


def test_paired_statistic_equals_the_direct_sum() -> None:
    net = synthetic_network(seed=3)
    v = net["S1"].values.copy()
    v[::13] = np.nan
    level = np.nanmedian(np.vstack([net[k].values for k in net if k != "S1"]), axis=0)
    ratios = log_ratios(v, level)
    pre = NeighbourTailPrefix(v, level, ratios, 75.0, 6.0)
    n = ratios.size
    for s, e in ((0, 96), (300, 700), (1500, 2880)):
        x, lv = v[s:e], level[s:e]
        ok = np.isfinite(x) & np.isfinite(lv) & (x > 0) & (lv > 0)
        near = ok & (np.nan_to_num(x) > 69.0)
        p_cut = np.array([(n - np.searchsorted(ratios, math.log(75.0 / L), "right")) / n for L in lv[near]])
        p_low = np.array([(n - np.searchsorted(ratios, math.log(69.0 / L), "right")) / n for L in lv[near]])
        mu = float(np.sum(np.where(p_low > 0, p_cut / np.maximum(p_low, 1e-300), 0.0)))
        got = pre.paired(s, e)
        assert got is not None
        assert abs(got["expected_above_given_near"] - mu) < 2e-3, (s, e)
        assert got["count_above"] == int(np.sum(near & (np.nan_to_num(x) > 75)))
        assert got["count_below"] == int(np.sum(near & (np.nan_to_num(x) <= 75)))
        lam = got["expected_above_given_near"]
        k = got["count_above"]
        want = min(1.0, sum(math.exp(j * math.log(lam) - lam - math.lgamma(j + 1)) for j in range(k + 1)))
        assert abs(got["p_value"] - want) < 1e-3 * max(want, 1e-3)
    # gates are applied before the p-value is computed
    assert pre.paired(0, 96, min_below=10_000) is None


def test_paired_test_finds_short_clippings_the_window_tests_missed() -> None:
    """4-day windows of the synthetic network with 4–9 would-be exceedances at one station, each
    clipped alone: the paired test finds more of them than FOR-01 without it, and none of the
    windows is flagged on the clean series."""
    found_new = found_old = tried = 0
    for seed in (0, 2, 4, 5):
        net = synthetic_network(seed=seed)
        s = net["S1"]
        clean = run("FOR-01", s, ctx_of(net, "S1"))
        for d0 in range(5, 110, 3):
            a, b = d0 * 24, (d0 + 4) * 24
            if not 4 <= int(np.sum(s.values[a:b] > 75)) <= 9:
                continue
            assert not _at_limit(clean, a, b)
            v, n_clipped = _clip(s.values, a, b)
            net2 = {**net, "S1": Series("S1", "PM2.5", s.times, v)}
            tried += 1
            new = _at_limit(run("FOR-01", net2["S1"], ctx_of(net2, "S1")), a, b)
            old = _at_limit(run("FOR-01", net2["S1"], ctx_of(net2, "S1"), paired_min_below=0), a, b)
            found_new += bool(new)
            found_old += bool(old)
            if new and not old:  # found by the paired test alone: its evidence is in the finding
                paired = new[0].evidence["truncated_tail"]["paired"]
                assert paired["count_above"] <= 1 and paired["bin_contrast"] >= 2.0 and paired["p_value"] < 0.01
    assert tried >= 15
    assert found_new >= found_old + 4, (found_new, found_old, tried)
    assert found_new >= 0.7 * tried


def test_a_station_lower_than_usual_is_not_parking() -> None:
    """A week in which the station reads 25 % lower against its neighbours swells the bin just
    below the limit and the bin below that alike: the bin contrast stays near 1."""
    net = synthetic_network(seed=0)
    s = net["S1"]
    level = np.nanmedian(np.vstack([net[k].values for k in net if k != "S1"]), axis=0)
    hits = 0
    for d0 in range(5, 110, 7):
        a, b = d0 * 24, (d0 + 7) * 24
        v = s.values.copy()
        v[a:b] = np.round(v[a:b] * 0.75)
        pre = NeighbourTailPrefix(v, level, log_ratios(v, level), 75.0, 6.0)
        pt = pre.paired(a, b, min_below=4, min_shortfall=6.0)
        if pt is not None and pt["p_value"] < 0.01 and pt["bin_contrast"] >= 2.0:
            hits += 1
        net2 = {**net, "S1": Series("S1", "PM2.5", s.times, v)}
        assert not [f for f in _at_limit(run("FOR-01", net2["S1"], ctx_of(net2, "S1")), a, b)
                    if "paired" in (f.evidence.get("truncated_tail") or {})]
    assert hits == 0
    assert int(s.times[0]) == T0


def test_not_paired_at_water_stations() -> None:
    """A river's neighbours see the water hours later: the hour-by-hour pairing is not made there."""
    net = synthetic_network(seed=0)
    s = net["S1"]
    a, b = 35 * 24, 39 * 24  # a clipping the paired test alone finds (see the test above)
    v, _ = _clip(s.values, a, b)
    net2 = {**net, "S1": Series("S1", "PM2.5", s.times, v)}
    air = ctx_of(net2, "S1")
    found = _at_limit(run("FOR-01", net2["S1"], air), a, b)
    assert found and "paired" in found[0].evidence["truncated_tail"]
    water = Context(station="S1", series=air.series, neighbours=air.neighbours, limits=air.limits, attrs={"kind": "water"})
    assert not [f for f in _at_limit(run("FOR-01", net2["S1"], water), a, b)
                if "paired" in (f.evidence.get("truncated_tail") or {})]
