"""FOR-05's window test (tianlan.qc.fraud.forensic_missing): a week of power cuts timed to the
station's own haze hours, diluted in its calendar months, is found by the sliding-window test with
a whole-record shift null (Westfall–Young maxT over the windows); random gaps of the same size are
not; a station whose second neighbour is down still has a level to test against, and one whose
neighbours cut the same haze hours gets it from the second ring of network stations. The own-level
test (stations without neighbours) takes its reference from the days without gaps."""

from __future__ import annotations

import numpy as np
import pytest

from tianlan.qc.core import Context, Series, get
from tianlan.qc.fraud.forensic_missing import own_level_missingness
from tianlan.qc.fraud.forensic_missing_window import _window_findings, second_ring_level

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
    # … and it covers the window's gaps at high levels, not the reported days at the windows' edges
    g0, g1 = (int(np.datetime64(t.rstrip("Z"), "s").astype(np.int64)) for t in ev["gaps_span"])
    p0, p1 = (int(np.datetime64(t.rstrip("Z"), "s").astype(np.int64)) for t in ev["period"])
    assert (t_lo, t_hi + 3600) == (g0, g1) and g0 == s0 - 3600 * int(np.isnan(v[SPREE.start - 1]))
    assert p0 < g0 and g1 <= p1  # the flagged windows reach further than their gaps


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


def test_second_ring_gives_the_level_where_the_neighbours_cut_the_same_haze_hours() -> None:
    # S1's two neighbours delete their own haze hours in the same week (a city's stations colluding,
    # or the benchmark's injections at neighbouring stations): the neighbours' level is unknown at
    # exactly the hours S1 dropped. The network's other stations (S3, S4) still report there.
    net = network(seed=29, n_st=5)
    st = "S1"
    cut = {k: Series(k, "PM2.5", net[k].times, spree(net[k].values, q=0.6)) for k in ("S0", "S2")}
    ser = Series(st, "PM2.5", net[st].times, spree(background_gaps(net[st].values, 1)))
    ctx = Context(station=st, series={"PM2.5": ser}, neighbours={k: {"PM2.5": s} for k, s in cut.items()},
                  limits={"PM2.5": 75.0}, network={k: {"PM2.5": s} for k, s in {**net, **cut, st: ser}.items()})
    # (a 120-day record has ~2 400 shifts: the family-wise level is set to 0.01 here, the contrast
    # is what counts) — without the second ring nothing is tested at all, even at 0.5
    assert window_findings(run(ser, ctx, second_ring=0, window_alpha=0.5)) == []
    fs = window_findings(run(ser, ctx, window_alpha=0.01))
    assert len(fs) == 1 and fs[0].evidence["p_value"] < 0.01 and fs[0].evidence["window_test"]["auc"] >= 0.9
    assert ser.times[fs[0].start] <= net[st].times[SPREE.stop - 1] and ser.times[fs[0].end - 1] >= net[st].times[SPREE.start]
    # without a network (streaming QC) the test runs as before, on the neighbours alone
    assert window_findings(run(ser, Context(station=st, series=ctx.series, neighbours=ctx.neighbours,
                                            limits=ctx.limits), window_alpha=0.5)) == []


def test_second_ring_level_picks_the_best_tracking_stations_not_the_neighbours() -> None:
    net = network(seed=14, n_st=5)
    rng = np.random.default_rng(5)
    t = net["S0"].times
    net["N"] = Series("N", "PM2.5", t, np.round(np.exp(rng.normal(3.8, 0.5, t.size))))  # unrelated: r < 0.5
    ser = net["S1"]
    ctx = Context(station="S1", series={"PM2.5": ser}, neighbours={"S0": {"PM2.5": net["S0"]}},
                  network={k: {"PM2.5": s} for k, s in net.items()})
    got = second_ring_level(ser, ctx, t, ser.values, exclude={"S0"}, k=2, offset=1.0)
    assert got is not None
    # the median of two of S2, S3, S4: never S1 itself, the neighbour S0 or the unrelated N
    cands = [net[k].values for k in ("S2", "S3", "S4")]
    pairs = [(np.asarray(a) + np.asarray(b)) / 2 for i, a in enumerate(cands) for b in cands[i + 1:]]
    assert any(np.allclose(got, p) for p in pairs)
    one = second_ring_level(ser, ctx, t, ser.values, exclude={"S0"}, k=1, offset=1.0)
    assert one is not None and any(np.array_equal(one, c) for c in cands)
    assert second_ring_level(ser, Context(station="S1"), t, ser.values, exclude=set(), k=3, offset=1.0) is None
    assert second_ring_level(ser, ctx, t, ser.values, exclude=set(), k=0, offset=1.0) is None


def _outlet(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """61 days of an hourly SO2-like outlet series (AR(1) around 20 mg/m³, 1 higher from day 45)."""
    rng = np.random.default_rng(seed)
    n = 61 * 24
    t = T0 + 3600 * np.arange(n, dtype=np.int64)
    a = np.zeros(n)
    for i in range(1, n):
        a[i] = 0.7 * a[i - 1] + rng.normal(0, 2.0)
    return t, np.round(20 + a + np.where(np.arange(n) >= 45 * 24, 1.0, 0.0), 1)


def _cut(x: np.ndarray, sl: slice, q: float) -> np.ndarray:
    out = x.copy()
    w = x[sl]
    hit = np.flatnonzero(w >= np.nanquantile(w, q))
    seg = out[sl]
    seg[np.unique(np.clip(np.concatenate([hit - 1, hit, hit + 1]), 0, w.size - 1))] = np.nan
    return out


@pytest.mark.parametrize("seed", [0, 5])
def test_own_level_reference_leaves_out_the_days_of_another_spree(seed: int) -> None:
    # Two sprees at one outlet (no neighbours): the first (January, three weeks, top 40 % cut) lowers
    # the top of the record; against the rest of the record as it stands the second (late February,
    # a slightly dirtier fortnight, top 27 % cut) keeps "enough" high values. The reference leaves
    # out the days with ≥ 10 % gaps, and the second spree is found.
    t, x = _outlet(seed)
    kw = dict(window_days=7.0, quantile=0.75, min_missing_share=0.1, min_runs=3, alpha=0.01, min_risk_ratio=2.0,
              min_missing_high=8)
    assert own_level_missingness(Series("P", "a21026", t, x), **kw) == []  # type: ignore[arg-type]
    v = _cut(_cut(x, slice(5 * 24, 26 * 24), 0.6), slice(48 * 24, 60 * 24), 0.73)
    fs = own_level_missingness(Series("P", "a21026", t, v), **kw)  # type: ignore[arg-type]
    late = [f for f in fs if f.start >= 40 * 24]
    assert len(late) == 1 and late[0].end > 48 * 24 and late[0].evidence["p_value"] < 0.01
    assert any(f.end <= 30 * 24 for f in fs)  # the first spree too
    # against every value outside the window (the January spree's truncated days included) the
    # window's present values are not short of high ones by 2×: that reference hid it
    fin = np.isfinite(v)
    s, e = late[0].start, late[0].end
    old = float(np.quantile(np.concatenate((v[:s][fin[:s]], v[e:][fin[e:]])), 0.75))
    present = v[s:e][fin[s:e]]
    assert late[0].evidence["reference_threshold"] > old
    assert present.size * 0.25 / max(int((present > old).sum()), 0.5) < 2.0
