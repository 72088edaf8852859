"""FOR-05's window test (tianlan.qc.fraud.forensic_missing): a week of power cuts timed to the
station's own haze hours, diluted in its calendar months, is found by the sliding-window test with
a whole-record shift null (Westfall–Young maxT over the windows); random gaps of the same size are
not; a station whose second neighbour is down still has a level to test against."""

from __future__ import annotations

import numpy as np

from tianlan.qc.core import Context, Series, get
from tianlan.qc.fraud.forensic_missing import _window_findings

T0 = 1546300800 - 8 * 3600  # 2019-01-01 00:00 Beijing time (UTC s)
DAYS = 120


def run(series: Series, ctx: Context, **params: object) -> list:
    spec = get("FOR-05")
    return spec.func(series, ctx, **spec.resolve(params))


def network(seed: int, n_st: int = 4, diurnal_amp: float = 0.5) -> dict[str, Series]:
    """Hourly PM2.5-like series sharing a regional signal and a daily cycle (as
    tests/qc/test_fraud_forensic.py, with a stronger cycle: a haze-hour cut then makes a gap a day)."""
    rng = np.random.default_rng(seed)
    n = DAYS * 24
    t = T0 + 3600 * np.arange(n, dtype=np.int64)
    reg = np.zeros(n)
    for i in range(1, n):
        reg[i] = 0.97 * reg[i - 1] + rng.normal(0, 0.15)
    diurnal = diurnal_amp * np.sin(2 * np.pi * (np.arange(n) % 24) / 24)
    out = {}
    for k in range(n_st):
        loc = np.zeros(n)
        for i in range(1, n):
            loc[i] = 0.8 * loc[i - 1] + rng.normal(0, 0.1)
        out[f"S{k}"] = Series(f"S{k}", "PM2.5", t, np.round(np.exp(3.8 + reg + diurnal + loc)))
    return out


def ctx_of(net: dict[str, Series], st: str) -> Context:
    return Context(station=st, series={"PM2.5": net[st]}, neighbours={k: {"PM2.5": s} for k, s in net.items() if k != st},
                   limits={"PM2.5": 75.0})


#: 2019-02-25 00:00 … 2019-03-04 00:00 Beijing time: a week across the end of February
SPREE = slice(55 * 24, 62 * 24)


def spree(v: np.ndarray, q: float = 0.7) -> np.ndarray:
    """The simulator's selective_missing: every hour at or above the window's ``q`` quantile, ±1 h, gone."""
    out = v.copy()
    w = v[SPREE]
    hit = np.flatnonzero(w >= np.nanquantile(w, q))
    gone = np.unique(np.clip(np.concatenate([hit - 1, hit, hit + 1]), 0, w.size - 1))
    seg = out[SPREE]
    seg[gone] = np.nan
    return out


def background_gaps(v: np.ndarray, seed: int) -> np.ndarray:
    """A few short instrument gaps at random hours (what real stations have)."""
    rng = np.random.default_rng(seed)
    out = v.copy()
    for s in rng.integers(0, v.size - 6, 25):
        out[s:s + int(rng.integers(1, 6))] = np.nan
    return out


def window_findings(fs: list) -> list:
    return [f for f in fs if f.evidence.get("test") == "window"]


def test_week_long_spree_across_two_months_is_found_by_the_window_test() -> None:
    net = network(seed=29)
    st = "S1"
    base = background_gaps(net[st].values, 1)
    assert run(Series(st, "PM2.5", net[st].times, base), ctx_of(net, st)) == []
    v = spree(base)
    ser = Series(st, "PM2.5", net[st].times, v)
    # the month and two-week tests alone do not see it (diluted in February and in March)
    assert run(ser, ctx_of(net, st), window_days=0) == []
    fs = window_findings(run(ser, ctx_of(net, st)))
    assert len(fs) == 1
    f = fs[0]
    ev = f.evidence
    assert f.reason == "selective_missingness" and f.score >= 0.8  # level 2 under the default policy
    assert ev["p_value"] < 0.01 and ev["window_test"]["auc"] >= 0.714
    assert ev["family"] >= 1 and ev["windows_flagged"] >= 1 and ev["month"] in ("2019-02", "2019-03")
    # the finding overlaps the spree and stays within a window's length of it
    t_lo, t_hi = ser.times[f.start], ser.times[f.end - 1]
    s0, s1 = int(net[st].times[SPREE.start]), int(net[st].times[SPREE.stop - 1])
    assert t_lo <= s1 and t_hi >= s0
    assert t_lo >= s0 - 7 * 86400 and t_hi <= s1 + 7 * 86400


def test_as_many_random_gaps_in_the_same_week_are_not_flagged() -> None:
    net = network(seed=29)
    st = "S1"
    base = background_gaps(net[st].values, 1)
    n_gone = int(np.isnan(spree(base)[SPREE]).sum() - np.isnan(base[SPREE]).sum())
    rng = np.random.default_rng(3)
    v = base.copy()
    seg = v[SPREE]
    # the same number of missing hours, in gaps of 3 h at random places of the week
    starts = rng.choice(np.arange(0, seg.size - 3, 3), size=max(1, n_gone // 3), replace=False)
    for s in starts:
        seg[s:s + 3] = np.nan
    assert np.isnan(v[SPREE]).sum() >= n_gone - 3
    assert window_findings(run(Series(st, "PM2.5", net[st].times, v), ctx_of(net, st))) == []


def test_window_test_uses_the_one_neighbour_reporting() -> None:
    net = network(seed=14, n_st=3)  # S1 has two neighbours
    st = "S1"
    down = net["S2"].values.copy()
    down[40 * 24:75 * 24] = np.nan  # the second neighbour is down around the spree
    net2 = {**net, "S2": Series("S2", "PM2.5", net["S2"].times, down)}
    ser = Series(st, "PM2.5", net[st].times, spree(background_gaps(net[st].values, 1)))
    # two neighbours must report for the month tests' level: they have none around the spree
    assert run(ser, ctx_of(net2, st), window_days=0) == []
    fs = window_findings(run(ser, ctx_of(net2, st)))
    assert len(fs) == 1 and fs[0].evidence["p_value"] < 0.01
    assert fs[0].evidence["window_test"]["auc"] >= 0.714


def test_window_test_off_and_maxt_family() -> None:
    net = network(seed=29)
    st = "S1"
    v = spree(background_gaps(net[st].values, 1))
    ser = Series(st, "PM2.5", net[st].times, v)
    nb = np.nanmedian(np.vstack([net[k].values for k in net if k != st]), axis=0)
    rel = np.log(nb + 1.0) - np.log(np.nanmedian(nb) + 1.0)
    kw = dict(window_days=7.0, window_step_days=1.0, min_missing=24, min_auc=0.714, min_runs=3, alpha=0.01,
              min_shift=24, series=ser)
    found = _window_findings(v, rel, ser.times, 3600, {}, [], **kw)  # type: ignore[arg-type]
    assert len(found) == 1
    # a period already flagged by the month tests is neither tested nor counted again
    period = [found[0].evidence["period"][0], found[0].evidence["period"][1]]
    assert _window_findings(v, rel, ser.times, 3600, {}, [period], **kw) == []  # type: ignore[arg-type]
    # too short a record for a whole-record null: nothing
    short = slice(0, 14 * 24)
    assert _window_findings(v[short], rel[short], ser.times[short], 3600, {}, [], **kw) == []  # type: ignore[arg-type]
