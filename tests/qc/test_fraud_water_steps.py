"""WAT-04's which-side tests: the station's own level (water_level) and the step test (water_steps).

Simulated rivers (:func:`tianlan.sim.cems_series.water_frame`, 4 stations per river, 6 h apart)
with the benchmark's scenarios placed by hand where the pairwise tests used to go wrong: a middle
station whose two neighbours were diluted in the same days (it departs from both, but kept its own
level), and a river-end station rescaled while its adjacent station had been rescaled for days
(the level-shift test's two-week reference then holds the neighbour's change).
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from test_fraud_water import contexts, run

from tianlan.qc.core import Series
from tianlan.qc.fraud.water_level import own_level_moved, window_shift
from tianlan.qc.fraud.water_steps import river_steps, side_medians
from tianlan.sim.cems_series import water_frame
from tianlan.sim.fraud import inject

HOUR = 3600
DAY = 24 * HOUR


@pytest.fixture(scope="module")
def rivers() -> tuple[pl.DataFrame, pl.DataFrame]:
    return water_frame(4, 4, days=61, seed=11)


def overlapping(found: list, t: np.ndarray, start: int, end: int) -> list:
    return [f for f in found if t[f.start] < end and t[f.end - 1] + HOUR > start]


def test_window_shift_and_own_level() -> None:
    dm = np.r_[np.zeros(20), np.full(10, -0.4)]
    sh = window_shift(dm, 3, 3)
    assert np.isnan(sh[:4]).all() and np.isfinite(sh[4])  # too few days before, then two of three
    assert sh[22] == pytest.approx(-0.4) and sh[10] == pytest.approx(0.0) and sh[29] == pytest.approx(0.0)
    resid = dm.copy()
    moved = own_level_moved(dm, resid, 20, 25, -1, shift_days=3, shift_ref_days=14, shift_min=0.12, own_share=0.5)
    assert moved["moved"] and moved["own_shift"] == pytest.approx(-0.4)
    # the residual moved (a neighbour rose), the station's own level did not: not its shift
    still = own_level_moved(np.zeros(30), resid, 20, 25, -1, shift_days=3, shift_ref_days=14, shift_min=0.12,
                            own_share=0.5)
    assert not still["moved"] and still["own_shift"] == pytest.approx(0.0)


def _series(x: np.ndarray) -> Series:
    return Series("S", "w21003", np.arange(x.size, dtype=np.int64) * HOUR, np.exp(x))


def test_river_steps_on_arrays() -> None:
    rng = np.random.default_rng(3)
    n = 24 * 10
    river = np.cumsum(rng.normal(0, 0.01, n))
    x = river + rng.normal(0, 0.03, n)
    y = river + rng.normal(0, 0.03, n)
    x[120:] += np.log(0.7)  # a factor set at hour 120
    ref = {"station": "N", "direction": "upstream", "witness": False, "lag_h": 0, "lag_source": "attrs.travel_hours",
           "values": np.exp(y), "transformed": y}
    kw = {"step_hours": 24, "step_min": 0.2, "step_spread": 0.4, "step_own": 0.25, "step_z": 5.0, "min_scale": 0.03}
    found = river_steps(_series(x), [ref], x, **kw)
    assert len(found) == 1
    ev = found[0].evidence
    assert ev["kind"] == "step" and abs(ev["step_time_utc"] / HOUR - 120) <= 2
    assert ev["own_step"] == pytest.approx(np.log(0.7), abs=0.05) and found[0].score >= 0.8
    assert found[0].start <= 120 < found[0].end
    # the reference stepped too (a river event): no step of the station
    y2 = y.copy()
    y2[120:] += np.log(0.7)
    same = dict(ref, values=np.exp(y2), transformed=y2)
    assert river_steps(_series(x), [same], x, **kw) == []
    # a drift over two days is no step (not abrupt)
    x3 = river + rng.normal(0, 0.03, n)
    x3[96:144] += np.linspace(0, np.log(0.7), 48)
    x3[144:] += np.log(0.7)
    assert river_steps(_series(x3), [ref], x3, **kw) == []
    mb, ma = side_medians(np.r_[np.zeros(10), np.ones(10)], 4)
    assert mb[10] == 0 and ma[10] == 1 and np.isnan(mb[1])
    assert mb[2] == 0  # near the start of a record, half a window before the hour is enough


def test_middle_station_with_both_neighbours_diluted_is_not_blamed(rivers: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    frame, sites = rivers
    t0 = int(frame["time_utc"].min())  # type: ignore[arg-type]
    a, _ = inject(frame, "water_dilution", station="W202", start_utc=t0 + 21 * DAY + 20 * HOUR, hours=64, rng=3,
                  fraction=0.7)
    b, _ = inject(a, "water_dilution", station="W204", start_utc=t0 + 23 * DAY + HOUR, hours=54, rng=4, fraction=0.75)
    ctxs = contexts(b, sites)
    ctx = ctxs["W203"]
    t = ctx.series["w21003"].times
    span = (t0 + 21 * DAY, t0 + 27 * DAY)
    for code in ("w21003", "w01014", "w01019", "w21011"):
        assert overlapping(run("WAT-04", ctx.series[code], ctx), t, *span) == [], code
    codes = ("w21003", "w01014", "w01019", "w21011")

    def blamed(**kw: float) -> set[str]:
        return {c for c in codes for f in overlapping(run("WAT-04", ctx.series[c], ctx, **kw), t, *span)}

    # as before (no witness between two neighbours, no own-level gate): blamed on every channel
    assert blamed(witness_share=0.0, own_share=0.0) == set(codes)
    # the own level alone clears conductivity and COD (W203's NH3-N had a pulse of its own those days) …
    assert not blamed(witness_share=0.0) & {"w01014", "w01019"}
    # … the witness beyond a neighbour (W201, travel time estimated) alone clears every channel
    assert blamed(own_share=0.0) == set()
    refs = [f.evidence["references"] for f in run("WAT-04", ctx.series["w01014"], ctx)]
    assert all([(r["station"], r["witness"]) for r in rr] == [("W202", False), ("W204", False), ("W201", True)]
               for rr in refs)
    # the diluted stations themselves are still found
    for st in ("W202", "W204"):
        c = ctxs[st]
        assert overlapping(run("WAT-04", c.series["w01014"], c), t, *span), st


def test_end_station_rescaled_after_its_neighbour_is_found_by_the_step(rivers: tuple[pl.DataFrame, pl.DataFrame]) -> None:
    frame, sites = rivers
    t0 = int(frame["time_utc"].min())  # type: ignore[arg-type]
    a, _ = inject(frame, "scaling", station="W302", start_utc=t0 + 30 * DAY + 16 * HOUR, hours=22 * 24, rng=1,
                  factor=0.72, parameters=["w01019"])
    b, truth = inject(a, "scaling", station="W301", start_utc=t0 + 36 * DAY + 15 * HOUR, hours=18 * 24, rng=2,
                      factor=0.73, parameters=["w01019"])
    ctxs = contexts(b, sites)
    ctx = ctxs["W301"]
    s = ctx.series["w01019"]
    hit = overlapping(run("WAT-04", s, ctx), s.times, truth.start_utc, truth.end_utc)
    steps = [f for f in hit if f.evidence["kind"] == "step"]
    assert steps and steps[0].score >= 0.8
    ev = steps[0].evidence
    assert abs(ev["step_time_utc"] - truth.start_utc) <= 3 * HOUR and ev["own_step"] < -0.2
    assert [(r["station"], r["witness"]) for r in ev["references"]] == [("W302", False), ("W303", True)]
    assert all(r["residual_step"] < -0.2 for r in ev["references"])
    # the step test is what finds it: off, the level shift against the rescaled neighbour hides it
    assert not overlapping(run("WAT-04", s, ctx, step_hours=0), s.times, truth.start_utc, truth.end_utc)
    # and W302, whose level stayed when W301 stepped, is not blamed for it
    c2 = ctxs["W302"]
    assert not [f for f in run("WAT-04", c2.series["w01019"], c2)
                if f.evidence["kind"] == "step" and abs(f.evidence["step_time_utc"] - truth.start_utc) <= DAY]
