"""FOR-01's companion test: the station's own PM10 (with the neighbours) predicts PM2.5 hour by hour
(tianlan.qc.fraud.forensic_companion), and the paired tail test's exact p-value is trusted where
the neighbours' and the companion's predictions both say the parked hours should have exceeded."""

from __future__ import annotations

import itertools
import math

import numpy as np
from test_fraud_forensic import run, synthetic_network
from test_fraud_forensic_paired import _at_limit, _clip

from tianlan.qc.core import Context, Series
from tianlan.qc.fraud.forensic_companion import companion_model, companion_series, local_ratio
from tianlan.qc.fraud.forensic_tail import poisson_binomial_cdf


def _with_pm10(net: dict[str, Series], seed: int = 0) -> dict[str, Series]:
    """PM10 of every station: its PM2.5 ÷ a ratio drifting over days (0.45–0.75) with 4 % hourly noise."""
    rng = np.random.default_rng(100 + seed)
    out = {}
    for k, s in net.items():
        n = s.values.size
        drift = np.cumsum(rng.normal(0, 0.02, n))
        drift = 0.15 * np.tanh(drift - drift.mean())
        ratio = 0.6 + drift
        out[k] = Series(k, "PM10", s.times, np.round(s.values / ratio * np.exp(rng.normal(0, 0.04, n))))
    return out


def _ctx(pm25: dict[str, Series], pm10: dict[str, Series], st: str, *, kind: str | None = None) -> Context:
    return Context(station=st, series={"PM2.5": pm25[st], "PM10": pm10[st]},
                   neighbours={k: {"PM2.5": pm25[k], "PM10": pm10[k]} for k in pm25 if k != st},
                   limits={"PM2.5": 75.0}, attrs={"kind": kind} if kind else {})


def test_poisson_binomial_cdf_equals_enumeration() -> None:
    q = np.array([0.2, 0.9, 0.55, 0.7, 0.05])
    for k in range(q.size + 1):
        want = sum(math.prod(qi if b else 1 - qi for qi, b in zip(q, bits, strict=True))
                   for bits in itertools.product((0, 1), repeat=q.size) if sum(bits) <= k)
        assert abs(poisson_binomial_cdf(q, k) - want) < 1e-12
    assert abs(poisson_binomial_cdf(q, 0) - float(np.prod(1 - q))) < 1e-15


def test_local_ratio_leaves_out_the_hour_and_the_excluded_hours() -> None:
    v = np.array([10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0])
    c = np.array([20.0, 40.0, 60.0, 400.0, 100.0, 120.0, 140.0])  # hour 3 alone has another ratio
    m = local_ratio(v, c, np.zeros(v.size, bool), 2)
    assert abs(m[3] - math.log(0.5)) < 1e-12  # the hour itself is left out
    assert abs(m[2] - math.log(0.5)) < 1e-12  # median of 0.5, 0.5, 0.1, 0.5
    excl = np.zeros(v.size, bool)
    excl[3] = True
    assert abs(local_ratio(v, c, excl, 2)[2] - math.log(0.5)) < 1e-12
    few = local_ratio(v, c, np.ones(v.size, bool), 2)
    assert np.isnan(few).all()  # every hour left out: nothing to estimate from


def test_prediction_is_unchanged_by_clipping() -> None:
    """The hours left out of the local ratio are those above limit − h, and clipping maps such hours
    to such hours: the predicted level of every hour is the same with and without the parking, so
    a parked hour is predicted from what the companion and the hours around it say."""
    net = synthetic_network(seed=2)
    pm10 = _with_pm10(net, 2)
    s = net["S1"]
    level = np.nanmedian(np.vstack([net[k].values for k in net if k != "S1"]), axis=0)
    clean = companion_model(s.values, pm10["S1"].values, 75.0, 6.0, neighbour_level=level)
    v, n = _clip(s.values, 30 * 24, 40 * 24)
    assert n > 5
    clipped = companion_model(v, pm10["S1"].values, 75.0, 6.0, neighbour_level=level)
    assert clean is not None and clipped is not None
    np.testing.assert_array_equal(clean[0], clipped[0])
    assert clean[2]["base"].startswith("√") and clean[2]["residual_hours"] >= 100
    # the companion model is sharper than the station's usual ratio to its neighbours
    res = np.log(s.values / clean[0])
    nb = np.log(s.values / level)
    ok = np.isfinite(res) & np.isfinite(nb) & (clean[0] > 37.5)
    q_own, q_nb = np.quantile(res[ok], [0.1, 0.9]), np.quantile(nb[ok], [0.1, 0.9])
    assert q_own[1] - q_own[0] < 0.8 * (q_nb[1] - q_nb[0])
    ctx = _ctx(net, pm10, "S1")
    assert companion_series(s, ctx)[0] == "a34002"  # type: ignore[index]
    assert companion_series(Series("S1", "NO2", s.times, s.values), ctx) is None


def test_companion_finds_clippings_and_says_what_it_used() -> None:
    """Short clippings at the synthetic stations, each alone: with the station's PM10 FOR-01 finds
    at least as many as without it, some only through the companion test (whose evidence names the
    model, both predictions and π of each hour), and none of the windows is flagged on the clean
    series."""
    found_with = found_without = tried = 0
    via_companion = []
    for seed in (0, 2, 4, 5):
        net = synthetic_network(seed=seed)
        pm10 = _with_pm10(net, seed)
        s = net["S1"]
        clean = run("FOR-01", s, _ctx(net, pm10, "S1"))
        for d0 in range(5, 110, 3):
            a, b = d0 * 24, (d0 + 4) * 24
            if not 3 <= int(np.sum(s.values[a:b] > 75)) <= 9:
                continue
            assert not _at_limit(clean, a, b)
            v, _ = _clip(s.values, a, b)
            net2 = {**net, "S1": Series("S1", "PM2.5", s.times, v)}
            ctx = _ctx(net2, pm10, "S1")
            tried += 1
            with_c = _at_limit(run("FOR-01", net2["S1"], ctx), a, b)
            without = _at_limit(run("FOR-01", net2["S1"], ctx, companion_window_h=0), a, b)
            found_with += bool(with_c)
            found_without += bool(without)
            for f in with_c:
                paired = (f.evidence.get("truncated_tail") or {}).get("paired")
                if paired and paired["predictor"] == "neighbours+companion":
                    via_companion.append(paired)
    assert tried >= 15
    print("companion test:", found_with, found_without, tried, len(via_companion))
    assert found_with >= found_without and via_companion, (found_with, found_without, tried)
    p = via_companion[0]
    assert p["p_exact_neighbours"] < 0.01 and p["p_exact_companion"] < 0.01 and p["bin_contrast"] >= 2.0
    assert p["model"]["companion"] == "a34002" and p["model"]["half_window_h"] == 3
    h = p["hours"][0]
    assert {"time", "observed", "predicted_neighbours", "pi_neighbours", "predicted_companion", "pi_companion"} <= set(h)


def test_dust_days_do_not_alarm() -> None:
    """Dust: for three days PM10 triples while PM2.5 goes on as before — the PM2.5/PM10 ratio
    collapses for real. PM2.5 is not parked, so the band just below the limit is not swollen and
    no companion finding is made (clean series, every station, dust at several times)."""
    for seed in (0, 2):
        net = synthetic_network(seed=seed)
        pm10 = _with_pm10(net, seed)
        for st in net:
            for d0 in range(10, 110, 20):
                p10 = pm10[st].values.copy()
                p10[d0 * 24:(d0 + 3) * 24] *= 3.0
                dusty = {**pm10, st: Series(st, "PM10", pm10[st].times, p10)}
                got = run("FOR-01", net[st], _ctx(net, dusty, st))
                assert not [f for f in got if ((f.evidence.get("truncated_tail") or {}).get("paired") or {})
                            .get("predictor") == "neighbours+companion"], (seed, st, d0)


def test_strong_evidence_floor_lets_a_diluted_shortfall_pass() -> None:
    """30 hours parked at 72 µg/m³ and 9 left above the limit, where the neighbours say ~39 should
    have exceeded: the shortfall (≈ 4) is under the floor of 6, but the p-value is far below
    ``paired_strong_alpha``, so the paired test passes with its own floor (score ≥ 0.8 → a level-2
    alarm); with the strong floor off it does not."""
    from tianlan.qc.fraud.forensic_bunching import _paired
    from tianlan.qc.fraud.forensic_tail import NeighbourTailPrefix, log_ratios

    rng = np.random.default_rng(7)
    n = 2000
    level = np.full(n, 100.0)
    values = np.round(level * np.exp(rng.normal(0, 0.1, n)))
    values[:30], values[30:39] = 72.0, 80.0
    s_ = Series("S1", "PM2.5", 1_546_300_800 + 3600 * np.arange(n, dtype=np.int64), values)
    tails = {75.0: NeighbourTailPrefix(values, level, log_ratios(values[100:], level[100:]), 75.0, 6.0)}
    common = {"min_below": 4, "min_shortfall": 6.0, "alpha": 0.01, "contrast": 2.0, "half_window": 3,
              "companion_alpha": 0.01}
    got = _paired(0, 40, 75.0, 6.0, s_, values, level, None, tails, {}, strong_alpha=1e-4, strong_shortfall=3.0,
                  **common)
    assert got is not None and got["predictor"] == "neighbours"
    assert 3.0 <= got["shortfall"] < 6.0 and got["p_value"] < 1e-4 and got["shortfall_floor"] == 3.0
    assert 0.8 * got["shortfall"] / got["shortfall_floor"] >= 0.8
    assert _paired(0, 40, 75.0, 6.0, s_, values, level, None, tails, {}, strong_alpha=0.0, **common) is None
