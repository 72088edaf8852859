"""FOR-05 at water stations and flue-gas outlets (src/tianlan/qc/default.yaml; docs/qc-benchmark-log.md, "Water
and CEMS: selective missingness recall"): a river neighbour is read at its travel lag, one reporting
river neighbour gives the level, and the own-level test also tests the 0.9 quantile, so that a
station whose river neighbours cut the same high water, and an outlet that cuts the top fifth of a
noisy stack series, are found; random gaps of the same size are not; air stations run as before."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

from tianlan.qc.config import SiteScope, default_config
from tianlan.qc.core import Context, Finding, Series, get
from tianlan.qc.fraud.forensic_missing import own_level_missingness, travel_lag
from tianlan.sim.cems_series import water_frame

sys.path.insert(0, str(Path(__file__).parent))
from test_fraud_forensic_missing_fragments import cut_peaks  # noqa: E402

T0 = 1546300800 - 8 * 3600  # 2019-01-01 00:00 Beijing time (UTC s)
#: FOR-05 as the built-in configuration runs it at water stations and flue-gas outlets
WATER = {"min_neighbours": 1.0, "neighbour_lag_h": 24.0, "own_quantile_upper": 0.9}
SOURCE = {"own_quantile_upper": 0.9}


def run(series: Series, ctx: Context, **params: object) -> list[Finding]:
    spec = get("FOR-05")
    return spec.func(series, ctx, **spec.resolve(params))


def test_built_in_configuration_sets_the_water_and_outlet_options_and_leaves_air_alone() -> None:
    cfg = default_config()
    spec = get("FOR-05")
    water = cfg.plan("FOR-05", SiteScope("W", "water"), "w21003")
    assert len(water) == 1 and {k: float(water[0].params[k]) for k in WATER} == WATER
    assert float(water[0].params.get("episode_gap_h", 0)) == 0 and float(water[0].params.get("fragment_max_h", 0)) == 0
    source = cfg.plan("FOR-05", SiteScope("C", "source"), "a21026")
    assert len(source) == 1 and float(source[0].params["own_quantile_upper"]) == 0.9
    assert float(source[0].params.get("neighbour_lag_h", 0)) == 0
    air = cfg.plan("FOR-05", SiteScope("A", "air"), "a34004")
    assert len(air) == 1
    for k in ("min_neighbours", "neighbour_lag_h", "own_quantile_upper"):
        assert air[0].params.get(k, spec.params[k].default) == spec.params[k].default
    assert spec.params["neighbour_lag_h"].default == 0 and spec.params["own_quantile_upper"].default == 0


def river(seed: int, n_days: int = 40, lag_h: int = 6) -> tuple[np.ndarray, list[np.ndarray]]:
    """Times and the series of four stations down one river: a slow common signal each station sees
    ``lag_h`` hours after the one above it, times its own slow variation."""
    rng = np.random.default_rng(seed)
    n = n_days * 24
    ext = n + 3 * lag_h
    sig = np.zeros(ext)
    for i in range(1, ext):
        sig[i] = 0.95 * sig[i - 1] + rng.normal(0, 0.08)
    t = T0 + 3600 * np.arange(n, dtype=np.int64)
    out = []
    for j in range(4):
        loc = np.zeros(n)
        for i in range(1, n):
            loc[i] = 0.9 * loc[i - 1] + rng.normal(0, 0.02)
        lo = 3 * lag_h - j * lag_h
        out.append(np.round(0.5 * np.exp(sig[lo:lo + n] + loc), 3))
    return t, out


def test_travel_lag_reads_the_river_lag_both_ways() -> None:
    t, st = river(3)
    me = Series("R2", "w21003", t, st[1])
    lag_up, r_up = travel_lag(me, Series("R1", "w21003", t, st[0]), 24)
    lag_down, r_down = travel_lag(me, Series("R3", "w21003", t, st[2]), 24)
    assert lag_up == 6 * 3600 and lag_down == -6 * 3600  # upstream sees the water 6 h earlier
    assert r_up > 0.9 and r_down > 0.9
    assert travel_lag(me, Series("R3", "w21003", t, st[2]), 0)[0] == 0  # off
    far = Series("X", "w21003", t + 400 * 86400, st[2])
    lag, r = travel_lag(me, far, 24)
    assert lag == 0 and math.isnan(r)  # no common hours


def overlaps(fs: list[Finding], s: Series, sl: slice) -> bool:
    t0, t1 = int(s.times[sl.start]), int(s.times[sl.stop - 1])
    return any(int(s.times[f.start]) <= t1 and int(s.times[f.end - 1]) >= t0 for f in fs)


#: a fortnight (days 20–34) of cuts at the station; its river neighbours cut their own high water
#: over the same days (± 2 days)
SPREE = slice(20 * 24, 34 * 24)


def river_case(seed: int, random_gaps: bool = False) -> tuple[Series, Context]:
    """One simulated river (tianlan.sim.cems_series.water_frame: four stations 6 h apart), NH3-N
    (w21003). The second station cuts every hour at or above the fortnight's 0.7 quantile, ±1 h
    (or, ``random_gaps``, as many hours in 8-hour gaps at random times); the first and third cut
    their own high water the same way over the fortnight ± 2 days; the fourth reports throughout."""
    fr, _ = water_frame(1, 4, days=61, seed=seed)
    codes = ["W101", "W102", "W103", "W104"]
    t = fr.filter(fr["station"] == "W101")["time_utc"].to_numpy()
    v = {c: fr.filter(fr["station"] == c)["w21003"].to_numpy().astype(np.float64) for c in codes}
    cut = cut_peaks(v["W102"], SPREE, 0.7)
    if random_gaps:
        rng = np.random.default_rng(seed)
        x = v["W102"].copy()
        seg = x[SPREE]
        for s0 in rng.choice(np.arange(seg.size - 12), size=int(np.isnan(cut[SPREE]).sum()) // 8, replace=False):
            seg[s0:s0 + 8] = np.nan
        x[SPREE] = seg
        cut = x
    v["W102"] = cut
    for c in ("W101", "W103"):
        v[c] = cut_peaks(v[c], slice(SPREE.start - 48, SPREE.stop + 48), 0.7)
    s = {c: Series(c, "w21003", t, v[c]) for c in codes}
    ctx = Context("W102", series={"w21003": s["W102"]}, attrs={"kind": "water"},
                  neighbours={c: {"w21003": s[c]} for c in codes if c != "W102"})
    return s["W102"], ctx


def test_river_neighbours_that_cut_the_same_water_still_tell_the_level() -> None:
    """Neighbour tests only (own_level never): with the air defaults (two reporting neighbours, the
    same hour) the cut is missed, the neighbours being cut at the same high water; read at their
    travel lag with one reporting neighbour enough, it is found. Random gaps are not."""
    for seed in (1, 2, 6):
        s, ctx = river_case(seed)
        assert not overlaps([f for f in run(s, ctx, own_level="never") if f.score >= 0.8], s, SPREE), seed
        ctx.cache.clear()
        found = [f for f in run(s, ctx, own_level="never", **WATER) if f.score >= 0.8]
        assert overlaps(found, s, SPREE) and all(f.reason.startswith("selective_missingness") for f in found), seed
        s, ctx = river_case(seed, random_gaps=True)
        assert [f for f in run(s, ctx, own_level="never", **WATER) if f.score >= 0.8] == [], seed


def stack(seed: int, n_days: int = 60) -> Series:
    """Hourly SO2 of a stack: a steady level with independent hour-to-hour noise (lognormal, 15 %)."""
    rng = np.random.default_rng(seed)
    t = T0 + 3600 * np.arange(n_days * 24, dtype=np.int64)
    return Series("C1", "a21026", t, np.round(12.0 * np.exp(rng.normal(0, 0.15, t.size)), 2))


def test_own_level_upper_quantile_finds_a_cut_at_the_top_fifth_of_a_noisy_stack() -> None:
    kw = dict(window_days=7.0, quantile=0.75, min_missing_share=0.1, min_runs=3, alpha=0.01, min_risk_ratio=2.0,
              min_missing_high=8)
    """Two weeks cut at their 0.85 quantile (±1 h): the values left above the record's 0.75 quantile
    thin out only a little; none is left above its 0.9 quantile."""
    week = slice(28 * 24, 42 * 24)
    hits = {0.0: 0, 0.9: 0}
    for seed in range(8):
        s = stack(seed)
        cut = Series(s.station, s.parameter, s.times, cut_peaks(s.values, week, 0.85))
        for upper in hits:
            hits[upper] += overlaps(own_level_missingness(cut, upper_quantile=upper, **kw), cut, week)  # type: ignore[arg-type]
    assert hits[0.9] == 8 and hits[0.0] <= 6
    # as many hours gone at random times: the second quantile costs no more than its share of alpha
    # (each window is tested at alpha/2 twice; 1 of 200 such series flagged when measured, 0 without)
    false = 0
    for seed in range(40):
        s = stack(seed)
        rng = np.random.default_rng(100 + seed)
        x = s.values.copy()
        n_gone = int(np.isnan(cut_peaks(s.values, week, 0.85)).sum())
        x[week.start + rng.choice(week.stop - week.start, size=n_gone, replace=False)] = np.nan
        false += bool(own_level_missingness(Series(s.station, s.parameter, s.times, x), upper_quantile=0.9, **kw))  # type: ignore[arg-type]
    assert false <= 1
    fs = own_level_missingness(cut, upper_quantile=0.9, **kw)  # type: ignore[arg-type]
    assert fs[0].evidence["quantiles_tested"] == [0.75, 0.9] and fs[0].evidence["thresholds"]["upper_quantile"] == 0.9
