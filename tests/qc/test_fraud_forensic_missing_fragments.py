"""FOR-05's deletion fragments (tianlan.qc.fraud.forensic_missing_fragments): runs of gaps between
short reported fragments located one deletion episode at a time; a lone block outage is no run; a
run cut at the daily peak as a whole is not a cut at the peaks; the month test's finding is split
into its episodes; and a parameter whose neighbours are not high at the haze hours is tested
against the neighbours' PM2.5 for the hours it lost together with the station's PM2.5."""

from __future__ import annotations

import numpy as np
import pytest

from tianlan.qc.config import SiteScope, default_config
from tianlan.qc.core import Context, Finding, Series, Status, get
from tianlan.qc.fraud.forensic_missing import _cut_with, local_threshold
from tianlan.qc.fraud.forensic_missing_fragments import _fragment_findings, fragment_runs, split_episodes

T0 = 1546300800 - 8 * 3600  # 2019-01-01 00:00 Beijing time (UTC s)
DAYS = 120


#: FOR-05 as the built-in configuration runs it at air stations (src/tianlan/qc/default.yaml)
AIR = {"episode_gap_h": 6.0, "fragment_max_h": 6.0}


def run(series: Series, ctx: Context, **params: object) -> list[Finding]:
    spec = get("FOR-05")
    return spec.func(series, ctx, **spec.resolve({**AIR, **params}))


def test_built_in_configuration_turns_episodes_and_fragments_on_at_air_stations_only() -> None:
    cfg = default_config()
    air = cfg.plan("FOR-05", SiteScope("A", "air"), "a34004")
    assert len(air) == 1 and {k: float(air[0].params[k]) for k in AIR} == AIR
    water = cfg.plan("FOR-05", SiteScope("W", "water"), "w01018")
    assert water and all(float(p.params.get("episode_gap_h", 0)) == 0 for p in water)
    assert get("FOR-05").params["episode_gap_h"].default == 0  # the detector alone: one finding per test


def network(seed: int, n_st: int = 4, code: str = "a34004") -> dict[str, Series]:
    """Hourly PM2.5-like series sharing a regional AR(1) signal and its hour-to-hour swings (AR(1)
    0.6): the swings make a haze episode cut at its peaks a run of gaps between short fragments."""
    rng = np.random.default_rng(seed)
    n = DAYS * 24
    t = T0 + 3600 * np.arange(n, dtype=np.int64)
    reg = np.zeros(n)
    swing = np.zeros(n)
    e = rng.normal(0, 0.3, n)
    for i in range(1, n):
        reg[i] = 0.97 * reg[i - 1] + rng.normal(0, 0.1)
        swing[i] = 0.6 * swing[i - 1] + e[i]
    out = {}
    for k in range(n_st):
        loc = np.zeros(n)
        for i in range(1, n):
            loc[i] = 0.8 * loc[i - 1] + rng.normal(0, 0.1)
        out[f"S{k}"] = Series(f"S{k}", code, t, np.round(np.exp(3.8 + reg + swing + loc)))
    return out


def cut_peaks(v: np.ndarray, sl: slice, q: float = 0.7, pad: int = 1) -> np.ndarray:
    """The simulator's selective_missing over ``sl``: every hour at or above the window's ``q``
    quantile, ± ``pad`` h, gone."""
    out = v.copy()
    w = v[sl]
    hit = np.flatnonzero(w >= np.nanquantile(w, q))
    gone = np.unique(np.clip((hit[:, None] + np.arange(-pad, pad + 1)[None, :]).ravel(), 0, w.size - 1))
    seg = out[sl]
    seg[gone] = np.nan
    return out


def iso_s(text: str) -> int:
    return int(np.datetime64(text.rstrip("Z"), "s").astype(np.int64))


def test_fragment_runs_join_gaps_over_short_fragments_and_skip_lone_blocks() -> None:
    miss = np.zeros(60, dtype=bool)
    miss[2:5] = miss[6:8] = miss[10:12] = True  # three gaps, fragments of 1 and 2 steps
    miss[25:40] = True  # a block outage: one gap
    miss[50:52] = miss[59:60] = True  # two gaps 7 steps apart: not joined at max_fragment 6
    got = fragment_runs(miss, max_fragment=6, min_gaps=2)
    assert got == [(2, 12, [(2, 5), (6, 8), (10, 12)])]
    assert fragment_runs(miss, max_fragment=7, min_gaps=2)[-1] == (50, 60, [(50, 52), (59, 60)])
    assert fragment_runs(miss, max_fragment=6, min_gaps=4) == []


def _level(net: dict[str, Series], st: str) -> tuple[np.ndarray, np.ndarray]:
    """The neighbours' median level and its log relative to the local (7-day) median, as FOR-05 reads it."""
    nb = np.nanmedian(np.vstack([net[k].values for k in net if k != st]), axis=0)
    t = net[st].times
    return nb, np.log(nb + 1.0) - np.log(local_threshold(nb, t, 0.5, 7) + 1.0)


@pytest.mark.parametrize("seed", [3, 5, 8])
def test_fragment_test_flags_runs_cut_at_the_peaks_not_random_flicker(seed: int) -> None:
    net = network(seed=seed)
    st = "S1"
    x = net[st].values
    t = net[st].times
    nb, rel = _level(net, st)
    kw = dict(max_fragment_h=6.0, min_gaps=3, min_missing=6, min_auc=0.714, alpha=0.01, min_shift=24)
    # the record clean apart from short random gaps, in flickering runs too: nothing
    rng = np.random.default_rng(seed)
    base = x.copy()
    for s in rng.integers(0, x.size - 30, 12):
        for k in range(0, 24, 4):
            base[s + k:s + k + int(rng.integers(1, 3))] = np.nan
    ser = Series(st, "a34004", t, base)
    assert _fragment_findings(base, rel, t, 3600, {}, series=ser, level=nb, **kw) == []  # type: ignore[arg-type]
    # eight days cut at the hours the level is high (top 30 %): runs of gaps between short fragments
    sl = slice(60 * 24, 68 * 24)
    v = base.copy()
    v[sl.start + np.flatnonzero(nb[sl] >= np.quantile(nb[sl], 0.7))] = np.nan
    ser = Series(st, "a34004", t, v)
    fs = _fragment_findings(v, rel, t, 3600, {"S0": net["S0"]}, series=ser, level=nb, **kw)  # type: ignore[arg-type]
    assert fs, "the cut haze hours are flagged"
    for f in fs:
        ev = f.evidence
        assert f.reason == "selective_missingness_fragments" and f.status == Status.SUSPECT and f.score >= 0.8
        assert t[sl.start] <= t[f.start] and t[f.end - 1] < t[sl.stop]  # inside the cut days
        assert ev["p_value"] < 0.01 and ev["auc"] >= 0.714 and len(ev["gaps"]) >= 3 and ev["contrast"] > 0
        assert ev["mean_percentile_at_gaps"] > ev["mean_percentile_at_fragments"]
        lv = ev["neighbour_level"]
        assert lv["median_at_gaps"] > lv["median_at_fragments"] and lv["median_at_gaps"] > lv["median_reported_record"]
        assert np.isnan(v[f.start]) and np.isnan(v[f.end - 1])  # from the first gap to the end of the last
    # as many hours cut in the same days, at the hours the level is lowest: nothing
    w = base.copy()
    w[sl.start + np.flatnonzero(nb[sl] <= np.quantile(nb[sl], 0.3))] = np.nan
    ser = Series(st, "a34004", t, w)
    assert _fragment_findings(w, rel, t, 3600, {}, series=ser, level=nb, **kw) == []  # type: ignore[arg-type]


def test_a_run_at_the_daily_peak_as_a_whole_is_not_a_cut_at_the_peaks() -> None:
    # gaps alternating with reported hours through the peak of the neighbours' level (afternoon
    # maintenance, an unstable analyser): the reported hours between the gaps sit as high as the gaps
    net = network(seed=5)
    st = "S1"
    x, t = net[st].values.copy(), net[st].times
    nb, rel = _level(net, st)
    peak = int(np.nanargmax(nb[24:-24])) + 24
    v = x.copy()
    lo = peak - 6
    for k in range(lo, peak + 7, 3):  # 2 h gap, 1 h reported, around the peak
        v[k:k + 2] = np.nan
    frag = np.flatnonzero(~np.isnan(v[lo:peak + 7])) + lo
    v[frag] = x[frag]
    nb2 = nb.copy()
    nb2[frag] = nb[peak] * 1.05  # the fragments are the top of the day
    rel2 = np.log(nb2 + 1.0) - np.log(np.nanmedian(nb2) + 1.0)
    kw = dict(max_fragment_h=6.0, min_gaps=3, min_missing=6, min_auc=0.714, alpha=0.5, min_shift=24)
    ser = Series(st, "a34004", t, v)
    assert _fragment_findings(v, rel2, t, 3600, {}, series=ser, level=nb2, **kw) == []  # type: ignore[arg-type]


def test_split_episodes_locates_each_episode_and_keeps_a_lone_block_as_it_was() -> None:
    t = T0 + 3600 * np.arange(200, dtype=np.int64)
    ser = Series("S", "a34004", t, np.ones(200))
    ev_gaps = [(10, 13), (15, 17), (19, 20), (60, 62), (64, 66), (120, 150)]
    f = Finding(10, 150, Status.SUSPECT, "selective_missingness", 0.9, {"test": "split", "_ev_gaps": ev_gaps})
    got = split_episodes([f], ser, t, 3600, max_sep_h=6.0, min_gaps=2)
    assert [(g.start, g.end) for g in got] == [(10, 20), (60, 66)]  # the lone 30 h block makes no episode
    assert all("_ev_gaps" not in g.evidence and g.evidence["test"] == "split" and g.score == 0.9 for g in got)
    assert got[0].evidence["episode"]["gaps"][0] == ["2019-01-01T02:00:00Z", "2019-01-01T05:00:00Z"]
    assert got[0].evidence["episode"]["gap_hours"] == 6 and got[1].evidence["episode"]["episodes_in_finding"] == 2
    # with the neighbours' level: an episode whose reported hours between the gaps sit as high as
    # the gaps (an outage in the haze, not a cut at its peaks) makes no alarm of its own
    rel = np.zeros(200)
    for a, b in ev_gaps[:3]:
        rel[a:b] = 1.0  # the first episode's gaps at the peaks, its fragments low
    rel[60:66] = 1.0  # the second episode: gaps and fragments alike
    f2 = Finding(10, 150, Status.SUSPECT, "selective_missingness", 0.9, {"_ev_gaps": ev_gaps})
    got = split_episodes([f2], ser, t, 3600, max_sep_h=6.0, min_gaps=2, rel=rel)
    assert [(g.start, g.end) for g in got] == [(10, 20)]
    assert got[0].evidence["episode"]["level_gaps_minus_fragments"] == 1.0
    # only blocks: the finding keeps its span; off: as it was
    only = Finding(10, 150, Status.SUSPECT, "selective_missingness", 0.9, {"_ev_gaps": [(10, 40), (120, 150)]})
    assert [(g.start, g.end) for g in split_episodes([only], ser, t, 3600, max_sep_h=6.0, min_gaps=2)] == [(10, 150)]
    off = Finding(10, 150, Status.SUSPECT, "selective_missingness", 0.9, {"_ev_gaps": ev_gaps})
    assert [(g.start, g.end) for g in split_episodes([off], ser, t, 3600, max_sep_h=0.0, min_gaps=2)] == [(10, 150)]


def _station_ctx(net: dict[str, Series], co_net: dict[str, Series], st: str, own: dict[str, Series]) -> Context:
    return Context(station=st, series=own,
                   neighbours={k: {"a34004": net[k], "a21005": co_net[k]} for k in net if k != st})


def test_detector_finds_episodes_and_other_parameters_through_the_lead_pollutant() -> None:
    net = network(seed=11, n_st=4)
    # CO whose neighbours do not follow the haze (their own regional signal)
    co_net = {k: Series(k, "a21005", s.times, np.round(np.exp(np.log(s.values[::-1]) - 3.0), 1))
              for k, s in network(seed=12, n_st=4, code="a21005").items()}
    st = "S1"
    t = net[st].times
    sl = slice(40 * 24, 61 * 24)  # three weeks of the peaks cut, every parameter at once
    pm = cut_peaks(net[st].values, sl, q=0.7)
    gone = np.isnan(pm) & ~np.isnan(net[st].values)
    co = co_net[st].values.copy()
    co[gone] = np.nan
    own = {"a34004": Series(st, "a34004", t, pm), "a21005": Series(st, "a21005", t, co)}
    ctx = _station_ctx(net, co_net, st, own)
    pm_f = [f for f in run(own["a34004"], ctx) if f.score >= 0.8]
    assert len(pm_f) >= 2, "one finding per deletion episode"
    for f in pm_f:
        assert t[sl.start] - 86400 <= t[f.start] and t[f.end - 1] <= t[sl.stop - 1] + 86400
    # CO's neighbours are not high at the hours cut: its own test is silent, the lead pollutant's is not
    assert [f for f in run(own["a21005"], ctx, level_parameter="") if f.score >= 0.8] == []
    co_f = [f for f in run(own["a21005"], ctx) if f.score >= 0.8]
    assert co_f and all(f.evidence["level_parameter"] == "a34004" and f.evidence["parameter_tested"] == "a21005"
                        for f in co_f)
    # CO gaps of its own (an analyser out at the same haze hours, PM2.5 reported) are not a cut
    own2 = {"a34004": Series(st, "a34004", t, net[st].values), "a21005": Series(st, "a21005", t, co)}
    ctx2 = _station_ctx(net, co_net, st, own2)
    assert [f for f in run(own2["a21005"], ctx2) if f.score >= 0.8] == []


def test_cut_with_keeps_only_the_hours_lost_with_the_lead() -> None:
    t = T0 + 3600 * np.arange(6, dtype=np.int64)
    x = Series("S", "a21005", t, [1.0, np.nan, np.nan, 1.0, np.nan, 1.0])
    lead = Series("S", "a34004", t[1:], [np.nan, 50.0, 60.0, np.nan, 70.0])  # no value at t[0]
    got = _cut_with(x, lead)
    assert got is not None and got.parameter == "a34004"
    assert np.isnan(got.values).tolist() == [False, True, False, False, True, False]
    assert got.values[2] == 50.0 and got.values[0] == 60.0  # the lead's value, or its median where it has none
    assert _cut_with(x, None) is None
