"""FOR-05 on innocent missingness (docs/qc-benchmark-log.md, "FOR-05 on random outages"): hours deleted at random
times, independent of the level — scattered single hours and outages of 2–48 h placed uniformly,
a few per cent of the hours — must not read as selective deletion. The simulated clean water and
CEMS sets have no such gaps, so the benchmark's clean row cannot show this; these are the control.

The own-level test's binomial counts a window's hours as independent draws. On a slowly varying
river they are not: a low-water week has few values above the record's 0.75 quantile whether or not
hours are missing, and random gaps in it were flagged (measured through run_batch + build_episodes,
4 rivers × 4 stations × 61 days, 3 % single hours + 5 % outages: 100–112 FOR-05 level-≥2 alarms per
seed, 3.2–3.5 per station-month). Water stations now also need the gap-edge test
(``own_gap_edge``): the reported hours at the gaps' edges are the highest left in the window,
against the same gap pattern laid elsewhere on the record."""

from __future__ import annotations

import numpy as np
import polars as pl

from tianlan.qc.config import SiteScope, default_config
from tianlan.qc.core import Context, Finding, Series, get
from tianlan.sim.cems_series import cems_frame, water_frame
from tianlan.sim.outages import random_outages as delete_at_random

#: seeds of the random deletions
SEEDS = (1, 2, 3)


def for05(frame: pl.DataFrame, kind: str, neighbours: dict[str, list[str]],
          **override: float) -> list[tuple[str, str, Finding]]:
    """FOR-05 as the built-in configuration runs it at sites of ``kind`` on every series of ``frame``
    (``override``: parameters set on top of the configuration)."""
    spec = get("FOR-05")
    cfg = default_config()
    cols = [c for c, d in frame.schema.items() if c not in ("station", "time_utc", "mark") and d.is_numeric()]
    series: dict[str, dict[str, Series]] = {}
    for (st,), part in frame.sort("time_utc").group_by(["station"]):
        t = part["time_utc"].to_numpy().astype(np.int64)
        series[str(st)] = {c: Series(str(st), c, t, part[c].cast(pl.Float64).fill_null(np.nan).to_numpy())
                           for c in cols}
    out = []
    for st, own in sorted(series.items()):
        ctx = Context(st, series=own, attrs={"kind": kind},
                      neighbours={o: series[o] for o in neighbours.get(st, [])})
        for par, s in own.items():
            plan = cfg.plan("FOR-05", SiteScope(st, kind), par)
            if not plan:
                continue
            out += [(st, par, f) for f in spec.func(s, ctx, **spec.resolve({**plan[0].params, **override}))]
    return out


def water() -> tuple[pl.DataFrame, dict[str, list[str]]]:
    """The benchmark's simulated water (4 rivers × 4 stations × 61 days, seed 11); neighbours: the
    stations of the same river."""
    frame, sites = water_frame(4, 4, days=61, seed=11)
    river = dict(zip(sites["station"].to_list(), sites["river"].to_list(), strict=True))
    return frame, {s: [o for o in river if o != s and river[o] == river[s]] for s in river}


def own_level(found: list[tuple[str, str, Finding]]) -> list[tuple[str, str, Finding]]:
    return [x for x in found if x[2].reason == "selective_missingness_own_level"]


def test_random_outages_on_a_slow_river_are_not_selective_missingness() -> None:
    """Own-level findings on random gaps of the simulated water (16 stations × 9 parameters × 61
    days, 32 station-months): with the gap-edge test at most 2 per seed and 3 over the three seeds
    (measured 0, 2, 1); without it, dozens on every river (the control shows what it guards against)."""
    frame, nbs = water()
    assert not own_level(for05(frame, "water", nbs))  # the clean set has no gaps
    per_seed = []
    for seed in SEEDS:
        gapped = delete_at_random(frame, seed)
        found = own_level(for05(gapped, "water", nbs))
        assert all(f.evidence["gap_edge"]["p_value"] < 0.01 for _, _, f in found)
        per_seed.append(len(found))
    assert max(per_seed) <= 2 and sum(per_seed) <= 3, per_seed
    before = own_level(for05(delete_at_random(frame, SEEDS[0]), "water", nbs, own_gap_edge=0.0))
    assert len(before) >= 20 and len({st[:3] for st, _, _ in before}) == 4, len(before)


def found_cuts(gap_edge: float | None = None) -> int:
    """Rivers (of 4) whose second station, cut at every hour at or above a fortnight's 0.7
    quantile (±1 h) of NH3-N, the own-level test finds (``gap_edge``: ``own_gap_edge`` instead of
    the configuration's)."""
    frame, _ = water()
    lo, hi = 20 * 24, 34 * 24
    found_rivers = 0
    for river in ("W1", "W2", "W3", "W4"):
        st = f"{river}02"
        part = frame.filter(pl.col("station") == st).sort("time_utc")
        t = part["time_utc"].to_numpy().astype(np.int64)
        x = part["w21003"].to_numpy().astype(np.float64)
        seg = x[lo:hi]
        cut = np.convolve(seg >= np.quantile(seg, 0.7), np.ones(3), "same") > 0
        x[lo:hi] = np.where(cut, np.nan, seg)
        s = Series(st, "w21003", t, x)
        spec = get("FOR-05")
        plan = default_config().plan("FOR-05", SiteScope(st, "water"), "w21003")
        fs = spec.func(s, Context(st, series={"w21003": s}, attrs={"kind": "water"}),
                       **spec.resolve({**plan[0].params, **({} if gap_edge is None else {"own_gap_edge": gap_edge})}))
        own = [f for f in fs if f.reason == "selective_missingness_own_level"]
        if any(f.start < hi and f.end > lo for f in own):
            found_rivers += 1
            assert all(f.evidence["gap_edge"] is None or f.evidence["gap_edge"]["mean_percentile"] > 0.7
                       for f in own if f.start < hi and f.end > lo)
    return found_rivers


def test_the_gap_edge_test_keeps_a_cut_at_the_rivers_high_water() -> None:
    """The edges of the cut's gaps are the highest hours left: with the gap-edge test the own-level
    test still finds the cut on 3 of the 4 rivers (4 without it)."""
    assert found_cuts() >= 3
    assert found_cuts(0.0) >= found_cuts()


def test_random_outages_at_flue_gas_outlets_stay_rare() -> None:
    """CEMS (20 outlets × 61 days, the benchmark's seed 7; no neighbours: the own-level test alone).
    A stack's hour-to-hour noise makes its hours nearly independent, so the binomial holds there and
    the gap-edge test (which needs a smooth series) stays off: random gaps give at most 0.25 findings
    per station-month (measured 0.12–0.22 through run_batch with 3 % single hours + 5 % outages;
    0 with either alone)."""
    frame, _ = cems_frame(20, days=61, seed=7)
    assert for05(frame, "source", {}) == []
    station_months = 20 * 61 / 30.44
    for seed in SEEDS:
        found = for05(delete_at_random(frame, seed), "source", {})
        assert len(found) / station_months <= 0.25, (seed, len(found))
        assert for05(delete_at_random(frame, seed, outage=0.0), "source", {}) == []
        assert for05(delete_at_random(frame, seed, single=0.0), "source", {}) == []
