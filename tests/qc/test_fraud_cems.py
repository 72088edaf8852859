"""CEMS-01/02/04/06 (flue-gas CEMS consistency) on simulated coal power outlets.

Data: :func:`tianlan.sim.cems_series.cems_frame` — hourly means of minute samples of coal power
outlets with the unit's load, random shutdowns (marked, load 0, O2 near air, concentrations near
zero) and unmarked SO2 upsets; scenarios from :mod:`tianlan.sim.fraud`. Measured on 20 outlets × 61
days (40 station-months), findings with score ≥ 0.8 per station-month on clean data and recall on
30 injections each:

    CEMS-01  clean 0 (no converted values in the frame; recompute cases built below)
    CEMS-02  clean 0;   cems_dilution recall 1.00 (O2 +2.2…+5 points, concentrations × 0.55…0.8)
    CEMS-04  clean 0 (the marked shutdowns are coherent);  cems_lockstep recall 0.2 (substituted
             values that stay at working level while the unit stops)
    CEMS-06  clean 0.05 (one R² collapse, one upset-driven shift); scaling recall 0.9–0.97
             (emission at a given load shifted), cems_lockstep recall 0.23
"""

from __future__ import annotations

import calendar

import numpy as np
import polars as pl
import pytest

from tianlan.qc.core import Context, Mark, Series, Status, get
from tianlan.sim.cems_series import cems_frame
from tianlan.sim.fraud import inject, random_injections

HOUR = 3600
T0 = calendar.timegm((2019, 1, 1, 0, 0, 0)) - 8 * HOUR
CODES = ("a21026", "a21002", "a34013", "a19001", "a01012", "a01013", "a01014", "a01011", "a00000", "load")
CONC = ("a21026", "a21002", "a34013")


def run(det: str, series: Series, ctx: Context, **kw: object) -> list:
    spec = get(det)
    return spec.func(series, ctx, **spec.resolve(kw))


def contexts(frame: pl.DataFrame, o2_ref: float = 6.0) -> dict[str, Context]:
    """One context per outlet, as the runner builds them: its channels, its marks, its o2_ref."""
    out = {}
    for (st,), part in frame.group_by(["station"]):
        part = part.sort("time_utc")
        t = part["time_utc"].to_numpy()
        ser = {c: Series(str(st), c, t, part[c].cast(pl.Float64).fill_null(np.nan).to_numpy()) for c in CODES}
        m = part["mark"].to_list()
        marks, i = [], 0
        while i < len(m):
            if m[i] is None:
                i += 1
                continue
            j = i
            while j + 1 < len(m) and m[j + 1] == m[i]:
                j += 1
            marks.append(Mark(int(t[i]), int(t[j]) + HOUR, str(m[i])))
            i = j + 1
        out[str(st)] = Context(str(st), series=ser, marks=marks, attrs={"o2_ref": o2_ref, "kind": "source"})
    return out


@pytest.fixture(scope="module")
def fleet() -> pl.DataFrame:
    frame, _ = cems_frame(12, days=61, seed=7)
    return frame


def findings(det: str, ctxs: dict[str, Context], codes: tuple[str, ...]) -> list[tuple[str, str, object]]:
    return [(st, c, f) for st, ctx in ctxs.items() for c in codes if c in ctx.series for f in run(det, ctx.series[c], ctx)]


def hits(found: list, truths: list, ctxs: dict[str, Context]) -> float:
    n = 0
    for tr in truths:
        t = ctxs[tr.station].series["a19001"].times
        n += any(st == tr.station and f.score >= 0.8 and t[f.start] < tr.end_utc and t[f.end - 1] + HOUR > tr.start_utc
                 for st, _c, f in found)
    return n / len(truths)


def test_registered_with_metadata() -> None:
    for det, params in (("CEMS-01", CONC), ("CEMS-02", ("a19001",)),
                        ("CEMS-04", (*CONC, "a00000", "a19001", "a01012", "a01011")), ("CEMS-06", CONC)):
        spec = get(det)
        assert spec.family == "cems" and spec.systems == ("source",) and spec.parameters == params
        assert all(p.doc for p in spec.params.values())


@pytest.mark.parametrize("det,codes", [("CEMS-01", CONC), ("CEMS-02", ("a19001",)),
                                       ("CEMS-04", (*CONC, "a00000", "a19001", "a01012", "a01011")), ("CEMS-06", CONC)])
def test_clean_fleet_is_quiet(det: str, codes: tuple[str, ...], fleet: pl.DataFrame) -> None:
    ctxs = contexts(fleet)
    found = [x for x in findings(det, ctxs, codes) if x[2].score >= 0.8]
    station_months = len(ctxs) * 61 / 30.44
    assert len(found) / station_months <= 0.1, [(st, c, f.reason) for st, c, f in found]


# --- CEMS-01 ----------------------------------------------------------------------------------


def converted_case(o2_ref_used: float, hours: int = 48) -> tuple[Series, Context]:
    rng = np.random.default_rng(2)
    t = T0 + HOUR * np.arange(hours, dtype=np.int64)
    so2 = np.round(18 * np.exp(rng.normal(0, 0.2, hours)), 2)
    o2 = np.round(10 + rng.normal(0, 0.5, hours), 2)
    zs = np.round(so2 * (21 - 6.0) / (21 - o2), 2)
    zs[20:30] = np.round(so2[20:30] * (21 - o2_ref_used) / (21 - o2[20:30]), 2)
    ser = {"a21026": Series("P", "a21026", t, so2), "a21026:zs": Series("P", "a21026:zs", t, zs),
           "a19001": Series("P", "a19001", t, o2)}
    return ser["a21026"], Context("P", series=ser, attrs={"o2_ref": 6.0})


def test_cems01_converted_with_another_reference_o2() -> None:
    s, ctx = converted_case(o2_ref_used=9.0)  # the DAS converts to 9 % for ten hours
    found = run("CEMS-01", s, ctx)
    assert [(f.start, f.end) for f in found] == [(20, 30)]
    f = found[0]
    assert f.status == Status.FAIL and f.score == 1.0
    assert f.evidence["implied_o2_ref_median"] == pytest.approx(9.0, abs=0.1) and f.evidence["o2_ref"] == 6.0
    assert len(f.evidence["recomputed"]) == 10
    # checked as the converted series it says the same
    assert [(g.start, g.end) for g in run("CEMS-01", ctx.series["a21026:zs"], ctx)] == [(20, 30)]


def test_cems01_consistent_values_and_rounding_pass() -> None:
    s, ctx = converted_case(o2_ref_used=6.0)
    assert run("CEMS-01", s, ctx) == []
    # without o2_ref the reference is inferred from the data (and noted)
    s, ctx = converted_case(o2_ref_used=9.0)
    found = run("CEMS-01", s, Context("P", series=ctx.series))
    assert found and found[0].evidence["o2_ref_inferred"] and found[0].evidence["o2_ref"] == pytest.approx(6.0, abs=0.1)


def test_cems01_inputs_partly_present() -> None:
    s, ctx = converted_case(o2_ref_used=6.0)
    no_o2 = Context("P", series={k: v for k, v in ctx.series.items() if k != "a19001"}, attrs=ctx.attrs)
    found = run("CEMS-01", s, no_o2)
    assert len(found) == 1 and found[0].status == Status.NOT_EVALUATED and found[0].evidence["missing"] == ["a19001"]
    no_zs = Context("P", series={k: v for k, v in ctx.series.items() if k != "a21026:zs"}, attrs=ctx.attrs)
    assert run("CEMS-01", s, no_zs) == []


# --- CEMS-02 ----------------------------------------------------------------------------------


def test_cems02_dilution_scenario(fleet: pl.DataFrame) -> None:
    injected, truths = random_injections(fleet, ["cems_dilution"], 12, 11)
    ctxs = contexts(injected)
    found = findings("CEMS-02", ctxs, ("a19001",))
    assert hits(found, truths, ctxs) >= 0.9
    st, _, f = next(x for x in found if x[0] == truths[0].station)
    ev = f.evidence
    assert f.status == Status.SUSPECT and ev["steadiness_proxy"] == "load"
    assert ev["o2_excess_median"] >= 2.0 and ev["concentration_ratio_pooled"] < 0.9
    assert ev["dilution_implied_by_o2"] == pytest.approx(ev["concentration_ratio_pooled"], abs=0.15)


def test_cems02_without_load_uses_flow(fleet: pl.DataFrame) -> None:
    station = sorted(fleet["station"].unique().to_list())[0]
    start = int(fleet["time_utc"].min()) + 30 * 24 * HOUR  # type: ignore[operator]
    injected, truth = inject(fleet.filter(pl.col("station") == station), "cems_dilution", station=station,
                             start_utc=start, hours=12, rng=1, fraction=0.3)
    ctx = contexts(injected)[station]
    no_load = Context(station, series={k: v for k, v in ctx.series.items() if k != "load"}, attrs=ctx.attrs)
    found = run("CEMS-02", no_load.series["a19001"], no_load)
    t = no_load.series["a19001"].times
    assert any(t[f.start] < truth.end_utc and t[f.end - 1] >= truth.start_utc for f in found)
    assert found[0].evidence["steadiness_proxy"] == "a00000"
    # no process proxy or no concentration: nothing to judge
    bare = Context(station, series={"a19001": ctx.series["a19001"], "a21026": ctx.series["a21026"]})
    assert run("CEMS-02", bare.series["a19001"], bare) == []


# --- CEMS-04 ----------------------------------------------------------------------------------


def test_cems04_zeros_while_operating_but_not_in_shutdown(fleet: pl.DataFrame) -> None:
    ctxs = contexts(fleet)
    # the fleet's marked shutdowns bring concentrations to ~0 with the other signals stopped: quiet
    assert [x for x in findings("CEMS-04", ctxs, (*CONC, "a00000"))] == []
    st = sorted(ctxs)[1]
    ctx = ctxs[st]
    dust = ctx.series["a34013"].values.copy()
    operating = np.flatnonzero(ctx.series["load"].values > 60)
    k = int(operating[100])
    dust[k:k + 5] = 0.0
    ser = {**ctx.series, "a34013": Series(st, "a34013", ctx.series["a34013"].times, dust)}
    found = run("CEMS-04", ser["a34013"], Context(st, series=ser, marks=ctx.marks))
    assert [(f.start, f.end) for f in found] == [(k, k + 5)]
    ev = found[0].evidence
    assert found[0].score == 1.0 and set(ev["inputs"]) == {"a34013", "load", "a00000", "a19001", "a01012"}
    assert ev["shutdown_signs"] == [0] * 5
    # flagged as analyser fault (HJ 212 'D'), the zeros are explained
    flags = np.full(dust.size, "N", dtype=object)
    flags[k:k + 5] = "D"
    ser["a34013"] = Series(st, "a34013", ctx.series["a34013"].times, dust, flags=flags)
    assert run("CEMS-04", ser["a34013"], Context(st, series=ser)) == []


def test_cems04_values_while_stopped_and_no_state_signals(fleet: pl.DataFrame) -> None:
    ctxs = contexts(fleet)
    st = next(s for s, c in ctxs.items() if c.marks)
    ctx = ctxs[st]
    m = ctx.marks[0]
    t = ctx.series["a21026"].times
    stop = (t >= m.start_utc + 3 * HOUR) & (t < m.end_utc)
    so2 = ctx.series["a21026"].values.copy()
    so2[stop] = 18.0 + np.arange(stop.sum()) % 3  # the analyser keeps "measuring" a running unit
    ser = {**ctx.series, "a21026": Series(st, "a21026", t, so2)}
    found = run("CEMS-04", ser["a21026"], Context(st, series=ser, marks=ctx.marks))
    assert found and "stopped" in found[0].reason and found[0].evidence["marks"][0]["mark"] == "shutdown"
    assert run("CEMS-04", ser["a21026"], Context(st, series={"a21026": ser["a21026"]})) == []


# --- CEMS-06 ----------------------------------------------------------------------------------


def coupled(days: int = 50, seed: int = 4) -> dict[str, Series]:
    """A unit whose SO2 mass rate follows its load (no scrubber headroom): ln E = ln L + noise."""
    rng = np.random.default_rng(seed)
    n = days * 24
    t = T0 + HOUR * np.arange(n, dtype=np.int64)
    load = np.clip(75 + 20 * np.sin(2 * np.pi * np.arange(n) / 24) + rng.normal(0, 4, n), 35, 100)
    flow = np.round(1.3 * load + rng.normal(0, 1.0, n), 2)
    so2 = np.round(0.3 * load * np.exp(rng.normal(0, 0.06, n)), 2)
    o2 = np.round(9.8 + 6 * (0.85 - load / 100) + rng.normal(0, 0.2, n), 2)
    return {c: Series("U", c, t, v) for c, v in (("load", np.round(load, 1)), ("a00000", flow), ("a21026", so2),
                                                 ("a19001", o2))}


def test_cems06_decoupled_emission() -> None:
    ch = coupled()
    assert run("CEMS-06", ch["a21026"], Context("U", series=ch)) == []
    so2 = ch["a21026"].values.copy()
    k = 24 * 38
    so2[k:k + 96] = np.round(22.0 * np.exp(np.random.default_rng(9).normal(0, 0.05, 96)) * 130 / ch["a00000"].values[k:k + 96], 2)
    ser = {**ch, "a21026": Series("U", "a21026", ch["a21026"].times, so2)}  # mass rate flat whatever the load
    found = [f for f in run("CEMS-06", ser["a21026"], Context("U", series=ser)) if f.evidence["kind"] == "decoupling"]
    assert found and found[0].score >= 0.8 and found[0].start < k + 96 and found[0].end > k
    assert found[0].evidence["r2_usual"] >= 0.5 and found[0].evidence["r2_window_min"] <= 0.2


def test_cems06_emission_factor_shift_and_needs_load(fleet: pl.DataFrame) -> None:
    ch = coupled()
    so2 = ch["a21026"].values.copy()
    so2[24 * 30:] = np.round(so2[24 * 30:] * 0.7, 2)  # the analyser's slope changed
    ser = {**ch, "a21026": Series("U", "a21026", ch["a21026"].times, so2)}
    found = [f for f in run("CEMS-06", ser["a21026"], Context("U", series=ser)) if f.evidence["kind"] == "emission-factor shift"]
    assert found and found[0].evidence["shift_factor"] == pytest.approx(0.7, abs=0.06)
    assert found[0].start <= 24 * 33 and found[0].end > 24 * 30
    no_load = Context("U", series={k: v for k, v in ser.items() if k != "load"})
    assert run("CEMS-06", ser["a21026"], no_load) == []
    # the benchmark's scaling scenario on the simulated fleet
    injected, truths = random_injections(fleet, ["scaling"], 12, 5)
    ctxs = contexts(injected)
    assert hits(findings("CEMS-06", ctxs, CONC), truths, ctxs) >= 0.8


def test_minute_data_are_accepted() -> None:
    """CEMS-02/04/06 run on minute series too (HJ 212 minute data, step 60 s)."""
    ch = coupled(days=20)
    rep = 60
    t = T0 + 60 * np.arange(ch["load"].times.size * rep, dtype=np.int64)
    minute = {c: Series("U", c, t, np.repeat(s.values, rep), step_s=60) for c, s in ch.items()}
    ctx = Context("U", series=minute)
    assert run("CEMS-06", minute["a21026"], ctx) == []
    assert run("CEMS-04", minute["a21026"], ctx) == []
    o2 = minute["a19001"].values.copy()
    so2 = minute["a21026"].values.copy()
    k = 14 * 24 * 60
    o2[k:k + 240] = o2[k:k + 240] + 0.3 * (20.9 - o2[k:k + 240])
    so2[k:k + 240] *= 0.7
    minute["a19001"] = Series("U", "a19001", t, o2, step_s=60)
    minute["a21026"] = Series("U", "a21026", t, so2, step_s=60)
    found = run("CEMS-02", minute["a19001"], Context("U", series=minute))
    assert found and found[0].start >= k and found[0].end <= k + 240
    # XV-04 on minute data: the load signal (varying minute to minute) wired into SO2 for two days
    load = np.round(minute["load"].values + np.random.default_rng(3).normal(0, 0.5, t.size), 1)
    minute["load"] = Series("U", "load", t, load, step_s=60)
    so2 = minute["a21026"].values.copy()
    j = 5 * 24 * 60
    so2[j:j + 2880] = np.round(0.3 * load[j:j + 2880] + 2.0, 2)
    minute["a21026"] = Series("U", "a21026", t, so2, step_s=60)
    found = run("XV-04", minute["a21026"], Context("U", series=minute))
    assert found and found[0].evidence["channels"] == ["a21026", "load"] and found[0].status == Status.FAIL
    assert j - 60 <= found[0].start and found[0].end <= j + 2880 + 60  # windows are tested hourly on minute data


# --- CEMS-04 frozen signal ----------------------------------------------------------------------


def test_cems04_frozen_while_operating(fleet: pl.DataFrame) -> None:
    """A pollutant held at its last value while the unit runs is found at level-2 strength; the
    same constant while the unit is stopped (the shutdown's load 0, humidity floor) is not."""
    frame, truths = random_injections(fleet, ["flat"], 12, 11, overrides={"flat": {}}, hours={"flat": (4, 12)})
    ctxs = contexts(frame)
    found = [(st, c, f) for st, c, f in findings("CEMS-04", ctxs, CONC) if "frozen" in f.reason]
    assert hits(found, truths, ctxs) == 1.0
    f = found[0][2]
    assert f.status == Status.SUSPECT and f.score >= 0.8
    assert f.evidence["kind"] == "frozen" and f.evidence["chance_of_run"] < 0.01
    # a shutdown holds load and concentrations near constant: nothing frozen is reported there
    clean = contexts(fleet)
    for ctx in clean.values():
        for c in (*CONC, "a00000", "a19001", "a01012", "a01011"):
            assert not [f for f in run("CEMS-04", ctx.series[c], ctx) if "frozen" in f.reason], (ctx.station, c)


def test_cems04_frozen_needs_an_improbable_run() -> None:
    """A coarse signal that repeats often by itself must be frozen much longer than a fine one."""
    rng = np.random.default_rng(3)
    n = 24 * 20
    t = T0 + HOUR * np.arange(n, dtype=np.int64)
    load = 80 + rng.normal(0, 3, n)
    fine = np.round(20 * np.exp(rng.normal(0, 0.2, n)), 2)
    coarse = np.round(20 + rng.normal(0, 0.6, n))  # whole mg/m³: repeats every few hours by itself
    fine[200:204] = fine[199]
    coarse[200:204] = coarse[199]
    for values, expect in ((fine, True), (coarse, False)):
        s = Series("P", "a21026", t, values)
        ctx = Context("P", series={"a21026": s, "load": Series("P", "load", t, load)}, attrs={"kind": "source"})
        got = [f for f in run("CEMS-04", s, ctx) if "frozen" in f.reason]
        assert bool(got) is expect, got
