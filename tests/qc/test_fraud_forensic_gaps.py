"""FOR-05's rank test (mass deletion at a low trigger) and FOR-01's prefix-sum window statistics."""

from __future__ import annotations

import numpy as np
from test_fraud_forensic import T0, ctx_of, run, synthetic_network

from tianlan.qc.core import Series
from tianlan.qc.fraud.forensic import (
    NeighbourTailPrefix,
    average_ranks,
    log_ratios,
    neighbour_tail,
    rank_shift_auc,
)


def _low_trigger_deletion(seed: int, start_day: int, days: int) -> tuple[dict[str, Series], Series]:
    """Every hour of S2 at or above the window's 30th percentile, ±1 h, deleted over ``days`` days:
    most of the window's hours go missing, most of them below the neighbours' upper quartile (the
    injector's selective_missing with a low trigger)."""
    net = synthetic_network(seed=seed)
    s = net["S2"]
    v = s.values.copy()
    w = slice(start_day * 24, (start_day + days) * 24)
    seg = v[w]
    hit = seg >= np.quantile(seg, 0.3)
    hit = hit | np.roll(hit, 1) | np.roll(hit, -1)
    seg[hit] = np.nan
    return net, Series("S2", "PM2.5", s.times, v)


def test_for05_rank_test_catches_mass_deletion_the_split_misses() -> None:
    net, ser = _low_trigger_deletion(seed=5, start_day=62, days=14)  # 4–18 March
    ctx = ctx_of(net, "S2")
    assert run("FOR-05", net["S2"], ctx) == []
    assert run("FOR-05", ser, ctx, min_auc=0.0) == []  # the 2×2 split at the upper quartile alone: nothing
    fs = run("FOR-05", ser, ctx)
    assert [(f.evidence["month"], f.evidence["test"]) for f in fs] == [("2019-03", "rank")]
    rk = fs[0].evidence["rank_test"]
    assert rk["auc"] >= 0.714 and rk["p_value"] < 0.01 and rk["missing"] >= 72 and rk["gaps_above_local_median"] >= 3


def test_for05_rank_test_over_two_week_windows_across_a_month_end() -> None:
    net, ser = _low_trigger_deletion(seed=5, start_day=52, days=14)  # 22 February – 8 March
    ctx = ctx_of(net, "S2")
    assert run("FOR-05", net["S2"], ctx) == []
    fs = run("FOR-05", ser, ctx)
    assert fs and all(f.evidence["test"] == "rank" for f in fs)
    # neither calendar month shows it: the finding is a two-week window
    assert all(int(ser.times[f.end - 1]) + 3600 - int(ser.times[f.start]) <= 14 * 86400 for f in fs)
    lo = min(int(ser.times[f.start]) for f in fs)
    hi = max(int(ser.times[f.end - 1]) for f in fs)
    assert lo <= T0 + 66 * 86400 and hi >= T0 + 52 * 86400  # a finding overlaps the deletion


def test_for05_month_finding_covers_the_gaps_not_the_whole_month() -> None:
    """A month test's finding spans the gaps that carry the evidence (a spree over 8–18 March),
    so its alarm neither reaches nor corroborates other alarms in the rest of the month; the
    month tested stays in the evidence (``period``)."""
    net = synthetic_network(seed=4)
    s = net["S2"]
    others = np.nanmedian(np.vstack([net[k].values for k in net if k != "S2"]), axis=0)
    rng = np.random.default_rng(4)
    v = s.values.copy()
    spree = slice(66 * 24, 77 * 24)  # 8–18 March (Beijing days)
    hi = others[spree] > np.quantile(others[spree], 0.7)
    seg = v[spree]
    seg[hi & (rng.random(seg.size) < 0.8)] = np.nan
    keep = np.isfinite(v) | (rng.random(v.size) < 0.5)  # half the missing hours are absent rows, not NaN
    ser = Series("S2", "PM2.5", s.times[keep], v[keep])
    fs = run("FOR-05", ser, ctx_of(net, "S2"))
    month = [f for f in fs if f.evidence["test"] == "split"]
    assert [f.evidence["month"] for f in month] == ["2019-03"]
    f = month[0]
    start, end = int(ser.times[f.start]), int(ser.times[f.end - 1]) + 3600
    assert T0 + 66 * 86400 <= start < end <= T0 + 77 * 86400  # inside the spree …
    assert end - start >= 2 * 86400  # … around its deleted haze hours
    assert f.evidence["period"] == ["2019-02-28T16:00:00Z", "2019-03-31T16:00:00Z"]  # the month tested
    g0, g1 = (np.datetime64(t.rstrip("Z"), "s").astype(np.int64) for t in f.evidence["gaps_span"])
    assert g0 <= start and end <= g1 and g1 - g0 < 11 * 86400  # the gaps' span (first row present in it)


def test_for05_random_mass_outages_are_not_selection() -> None:
    net = synthetic_network(seed=4)
    s = net["S2"]
    rng = np.random.default_rng(1)
    v = s.values.copy()
    for day in rng.choice(np.arange(60, 90), 12, replace=False):  # 12 one-day outages in March at random
        v[day * 24:(day + 1) * 24] = np.nan
    assert run("FOR-05", Series("S2", "PM2.5", s.times, v), ctx_of(net, "S2")) == []


def test_rank_shift_auc_matches_mann_whitney_and_is_half_for_unrelated_gaps() -> None:
    rng = np.random.default_rng(3)
    level = rng.normal(size=600)
    miss = level > 0.3
    r = rank_shift_auc(miss, level, min_shift=24)
    assert r["auc"] == 1.0 and r["missing"] == int(miss.sum())
    x, y = level[miss], level[~miss]
    # against the brute-force U statistic on a mixed case with ties
    lv = np.round(rng.normal(size=600), 1)
    m = (lv + rng.normal(scale=1.0, size=600)) > 0.5
    u = sum(float(np.sum(a > lv[~m]) + 0.5 * np.sum(a == lv[~m])) for a in lv[m])
    assert abs(rank_shift_auc(m, lv)["auc"] - round(u / (m.sum() * (~m).sum()), 4)) < 1e-4
    assert x.size and y.size
    assert abs(rank_shift_auc(rng.random(600) < 0.3, level)["auc"] - 0.5) < 0.08
    assert np.allclose(average_ranks(np.array([3.0, 1.0, 3.0, 2.0])), [3.5, 1.0, 3.5, 2.0])


def test_neighbour_tail_prefix_equals_the_direct_statistic() -> None:
    net = synthetic_network(seed=2)
    v = net["S1"].values.copy()
    v[::17] = np.nan
    level = np.nanmedian(np.vstack([net[k].values for k in net if k != "S1"]), axis=0)
    ratios = log_ratios(v, level)
    pre = NeighbourTailPrefix(v, level, ratios, 75.0, 6.0)
    for s, e in ((0, 96), (500, 740), (1000, 1001), (2000, 2880)):
        want = neighbour_tail(v[s:e], level[s:e], ratios, 75.0, 6.0)
        got = pre.window(s, e)
        for k in ("hours", "count_below", "count_above", "expected_below", "expected_above", "shortfall"):
            assert abs(got[k] - want[k]) < 2e-3, (s, e, k)
        assert abs(got["p_value"] - want["p_value"]) < 1e-9
