"""MARK-01/02/03 on a simulated coal-boiler outlet: false marks, marks on exceedances, late marks."""

from __future__ import annotations

import numpy as np
import pytest

from tianlan.qc.core import REGISTRY, Context, Mark, Series, Status, get, load_all

T0 = 1704067200 - 8 * 3600  # 2024-01-01 00:00 Beijing time (UTC s)
H = 3600
LIMIT = 35.0  # SO2 ultra-low emission, mg/m3


def run(did: str, series: Series, ctx: Context, **params: object) -> list:
    spec = get(did)
    return spec.func(series, ctx, **spec.resolve(params))


def outlet(days: int = 60, seed: int = 0, stop: tuple[int, int] | None = (20 * 24, 23 * 24)) -> dict[str, Series]:
    """Hourly SO2, load, flow, flue temperature and O2 of a boiler that runs, with one real stop."""
    rng = np.random.default_rng(seed)
    n = days * 24
    t = T0 + H * np.arange(n, dtype=np.int64)
    run_ = np.ones(n, dtype=bool)
    if stop:
        run_[stop[0]:stop[1]] = False
    load = np.where(run_, 300 * (0.85 + 0.1 * np.sin(2 * np.pi * np.arange(n) / 24)) + rng.normal(0, 5, n), rng.uniform(0, 2, n))
    flow = np.where(run_, 1.2e6 * load / 300 + rng.normal(0, 2e4, n), rng.uniform(0, 1e4, n))
    temp = np.where(run_, 55 + rng.normal(0, 1.5, n), 12 + rng.normal(0, 2, n))
    o2 = np.where(run_, 6.5 + rng.normal(0, 0.3, n), 20.8 + rng.normal(0, 0.05, n))
    so2 = np.where(run_, np.round(np.clip(18 + rng.normal(0, 4, n), 1, None), 1), 0.0)
    return {"a21026": Series("P1", "a21026", t, so2), "load": Series("P1", "load", t, load),
            "a00000": Series("P1", "a00000", t, flow), "a01012": Series("P1", "a01012", t, temp),
            "a19001": Series("P1", "a19001", t, o2)}


def ctx_of(sig: dict[str, Series], marks: list[Mark], limits: dict[str, float] | None = None) -> Context:
    return Context(station="P1", series=sig, marks=marks, limits=limits if limits is not None else {"a21026": LIMIT})


def test_registered() -> None:
    load_all()
    for did in ("MARK-01", "MARK-02", "MARK-03"):
        spec = REGISTRY[did]
        assert spec.family == "mark" and spec.systems == ("source",) and spec.doc and all(p.doc for p in spec.params.values())


# ------------------------------------------------------------------------------------------------ MARK-01

def test_mark01_true_stop_is_consistent_and_false_stop_is_found() -> None:
    sig = outlet()
    real = Mark(T0 + 20 * 24 * H, T0 + 23 * 24 * H, "shutdown", T0 + 20 * 24 * H)
    assert run("MARK-01", sig["a21026"], ctx_of(sig, [real])) == []
    false = Mark(T0 + 40 * 24 * H, T0 + 40 * 24 * H + 10 * H, "shutdown", T0 + 40 * 24 * H)
    fs = run("MARK-01", sig["a21026"], ctx_of(sig, [real, false]))
    assert len(fs) == 1
    f = fs[0]
    assert f.reason == "stop_mark_while_operating" and f.status is Status.SUSPECT and f.score == 1.0
    assert (f.start, f.end) == (40 * 24, 40 * 24 + 10)
    ev = f.evidence
    assert ev["mark"] == "shutdown" and ev["contradicting_share"] == 1.0
    assert set(ev["signals"]) == {"load", "a00000", "a01012", "a19001"}
    assert ev["signal_medians_in_mark"]["load"] > 200 and ev["signal_medians_in_mark"]["a19001"] < 8


def test_mark01_maintenance_while_the_analyser_kept_measuring() -> None:
    sig = outlet()
    real = Mark(T0 + 20 * 24 * H, T0 + 23 * 24 * H, "shutdown")
    m = Mark(T0 + 30 * 24 * H, T0 + 30 * 24 * H + 6 * H, "maintenance")
    fs = run("MARK-01", sig["a21026"], ctx_of(sig, [real, m]))
    assert [f.reason for f in fs] == ["maintenance_mark_while_measuring"]
    # the same mark with the analyser flagged M (maintenance) during it is consistent
    flags = np.full(len(sig["a21026"]), "N", dtype=object)
    flags[30 * 24:30 * 24 + 6] = "M"
    s = sig["a21026"]
    flagged = Series(s.station, s.parameter, s.times, s.values, flags=flags)
    assert run("MARK-01", flagged, ctx_of({**sig, "a21026": flagged}, [real, m])) == []
    # … and so is an analyser that reads nothing during it
    v = s.values.copy()
    v[30 * 24:30 * 24 + 6] = np.nan
    off = Series(s.station, s.parameter, s.times, v)
    assert run("MARK-01", off, ctx_of({**sig, "a21026": off}, [real, m])) == []
    # a site with a second analyser: one of them off under the mark is enough to make it plausible
    nox = Series("P1", "a21002", s.times, np.round(s.values * 2 + 5, 1))
    site = {**sig, "a21026": off, "a21002": nox}
    assert run("MARK-01", nox, ctx_of(site, [real, m], limits={"a21002": 50.0})) == []
    fs = run("MARK-01", nox, ctx_of({**sig, "a21002": nox}, [real, m], limits={"a21002": 50.0}))
    assert [f.reason for f in fs] == ["maintenance_mark_while_measuring"]
    assert fs[0].evidence["analysers_measuring"] == ["a21002", "a21026"]


def test_mark01_unmarked_stop() -> None:
    sig = outlet()
    fs = run("MARK-01", sig["a21026"], ctx_of(sig, []))
    assert [(f.reason, f.start, f.end) for f in fs] == [("unmarked_stop", 20 * 24, 23 * 24)]
    assert fs[0].evidence["hours"] == 72.0
    assert run("MARK-01", sig["a21026"], ctx_of(sig, []), check_unmarked=False) == []


def test_mark_findings_are_reported_once_per_site() -> None:
    sig = outlet()
    nox = Series("P1", "a21002", sig["a21026"].times, sig["a21026"].values * 2)
    sig = {**sig, "a21002": nox}
    false = Mark(T0 + 40 * 24 * H, T0 + 40 * 24 * H + 10 * H, "shutdown", created_utc=T0 + 60 * 24 * H)
    c = ctx_of(sig, [false], limits={"a21026": LIMIT, "a21002": 50.0})
    # the lead parameter is the first pollutant with a limit (a21002 NOx); the others stay quiet
    for did, reasons in (("MARK-01", ["stop_mark_while_operating", "unmarked_stop"]), ("MARK-03", ["late_mark"])):
        got = {code: [f.reason for f in run(did, sig[code], c)] for code in sig}
        assert got == {code: reasons if code == "a21002" else [] for code in sig}, did


def test_mark01_needs_process_signals() -> None:
    sig = outlet()
    only = {"a21026": sig["a21026"]}
    false = Mark(T0 + 40 * 24 * H, T0 + 40 * 24 * H + 10 * H, "shutdown")
    assert run("MARK-01", sig["a21026"], ctx_of(only, [false])) == []
    # one signal is enough when it is all there is
    fs = run("MARK-01", sig["a21026"], ctx_of({"a21026": sig["a21026"], "a19001": sig["a19001"]}, [false]), check_unmarked=False)
    assert [f.reason for f in fs] == ["stop_mark_while_operating"]


# ------------------------------------------------------------------------------------------------ MARK-02

def with_exceedances(sig: dict[str, Series], starts: list[int], hours: int = 3) -> Series:
    s = sig["a21026"]
    v = s.values.copy()
    for h0 in starts:
        v[h0:h0 + hours] = LIMIT * np.array([1.3, 1.6, 1.4][:hours])
    return Series(s.station, s.parameter, s.times, v)


def test_mark02_marks_placed_on_would_be_exceedances() -> None:
    sig = outlet(stop=None)
    starts = [100 + 150 * k for k in range(8)]
    s = with_exceedances(sig, starts)
    rng = np.random.default_rng(1)
    honest = [Mark(T0 + int(h) * H, T0 + (int(h) + 4) * H, "maintenance") for h in rng.choice(1400, 8, replace=False)]
    assert run("MARK-02", s, ctx_of(sig, honest)) == []
    cheat = [Mark(T0 + h0 * H, T0 + (h0 + 3) * H, "maintenance") for h0 in starts[:6]]
    fs = run("MARK-02", s, ctx_of(sig, honest + cheat))
    assert len(fs) == 1
    f = fs[0]
    ev = f.evidence
    assert f.reason == "marks_on_exceedances" and f.status is Status.SUSPECT and f.score == 1.0
    assert ev["exceedance_episodes"] == 8 and ev["marked_exceedance_episodes"] >= 6 and ev["p_value"] < 1e-5
    assert ev["exceedance_hours"] == 24 and ev["marked_exceedance_hours"] >= 18
    assert ev["ratio"] > 10 and len(ev["marks"]) >= 6 and all(m["hours_over_limit"] >= 1 for m in ev["marks"])
    assert s.times[f.start] <= T0 + starts[0] * H and s.times[f.end - 1] >= T0 + (starts[5] + 2) * H


def test_mark02_random_marks_rarely_look_targeted() -> None:
    # honest marks fall where they fall: 12 marks of 2–11 h in 60 days with 10 exceedance episodes.
    # Measured over 300 seeds: 0 false findings (30 marks: 1 in 300); 4 of 10 episodes marked on
    # purpose on top of the honest marks: found in 95 %.
    sig = outlet(stop=None)
    false = found = 0
    for seed in range(60):
        rng = np.random.default_rng(seed)
        starts = sorted(int(x) for x in rng.choice(1400, 10, replace=False))
        s = with_exceedances(sig, starts)
        honest = [Mark(T0 + int(h) * H, T0 + (int(h) + int(rng.integers(2, 12))) * H, "maintenance")
                  for h in rng.choice(1400, 12, replace=False)]
        false += bool(run("MARK-02", s, ctx_of(sig, honest)))
        cheat = [Mark(T0 + h0 * H, T0 + (h0 + 3) * H, "maintenance") for h0 in rng.choice(starts, 4, replace=False)]
        found += bool(run("MARK-02", s, ctx_of(sig, honest + cheat)))
    assert false <= 1 and found >= 54


def test_mark02_one_coincidence_and_calibration_do_not_count() -> None:
    sig = outlet(stop=None)
    starts = [100 + 150 * k for k in range(8)]
    s = with_exceedances(sig, starts)
    one = [Mark(T0 + starts[0] * H, T0 + (starts[0] + 3) * H, "fault")]
    assert run("MARK-02", s, ctx_of(sig, one)) == []
    cal = [Mark(T0 + h0 * H, T0 + (h0 + 3) * H, "calibration") for h0 in starts]
    assert run("MARK-02", s, ctx_of(sig, cal)) == []
    assert run("MARK-02", s, ctx_of(sig, cal, limits={})) == []


def test_mark02_minute_data_judged_on_hourly_means() -> None:
    rng = np.random.default_rng(3)
    n = 30 * 24 * 60
    t = T0 + 60 * np.arange(n, dtype=np.int64)
    v = np.clip(18 + rng.normal(0, 4, n), 1, None)
    starts = [40 + 70 * k for k in range(8)]
    for h0 in starts:
        v[h0 * 60:(h0 + 2) * 60] = 50.0
    s = Series("P1", "a21026", t, v, step_s=60)
    marks = [Mark(T0 + h0 * H, T0 + (h0 + 2) * H, "maintenance") for h0 in starts[:5]]
    fs = run("MARK-02", s, Context(station="P1", series={"a21026": s}, marks=marks, limits={"a21026": LIMIT}))
    assert len(fs) == 1 and fs[0].evidence["exceedance_hours"] == 16 and fs[0].evidence["marked_exceedance_hours"] == 10
    assert (fs[0].evidence["exceedance_episodes"], fs[0].evidence["marked_exceedance_episodes"]) == (8, 5)


# ------------------------------------------------------------------------------------------------ MARK-03

def test_mark03_late_marks() -> None:
    sig = outlet(stop=None)
    s = with_exceedances(sig, [500])
    rec = s.times + 300.0
    s = Series(s.station, s.parameter, s.times, s.values, received=rec)
    sig = {**sig, "a21026": s}
    end = T0 + 503 * H
    late = Mark(T0 + 500 * H, end, "fault", created_utc=end + 15 * 86400)
    on_time = Mark(T0 + 800 * H, T0 + 804 * H, "maintenance", created_utc=T0 + 804 * H + 2 * 86400)
    unknown = Mark(T0 + 900 * H, T0 + 904 * H, "maintenance")
    fs = run("MARK-03", s, ctx_of(sig, [late, on_time, unknown]))
    assert len(fs) == 1
    f = fs[0]
    assert f.reason == "late_mark" and f.status is Status.FAIL and f.score == 1.0 and (f.start, f.end) == (500, 503)
    ev = f.evidence
    assert ev["late_days"] == 15.0 and ev["window_days"] == 10.0
    assert ev["values_received_before_mark"] == 3
    assert ev["over_limit"] == {"a21026": {"limit": LIMIT, "values_over_limit": 3, "max_value": LIMIT * 1.6}}
    # a longer allowed window, or a kind not checked, makes it pass
    assert run("MARK-03", s, ctx_of(sig, [late]), window_days=20) == []
    assert run("MARK-03", s, ctx_of(sig, [late]), kinds=["maintenance"]) == []


@pytest.mark.parametrize("late_days, score", [(10.5, 0.84), (12.5, 1.0)])
def test_mark03_score_grows_with_lateness(late_days: float, score: float) -> None:
    sig = outlet(stop=None)
    m = Mark(T0 + 10 * H, T0 + 12 * H, "shutdown", created_utc=T0 + 12 * H + late_days * 86400)
    (f,) = run("MARK-03", sig["a21026"], ctx_of(sig, [m]))
    assert f.score == pytest.approx(score, abs=1e-3)


def test_mark02_judges_flue_gas_converted_to_reference_o2() -> None:
    sig = outlet(stop=None)
    s = sig["a21026"]
    v = s.values.copy()
    starts = [100 + 150 * k for k in range(8)]
    for h0 in starts:
        v[h0:h0 + 3] = 30.0  # measured 30 mg/m3 at O2 6.5 %: 31 converted to 6 % — and 41 to 10 %
    o2 = sig["a19001"]
    o2v = o2.values.copy()
    for h0 in starts:
        o2v[h0:h0 + 3] = 10.0
    site = {**sig, "a21026": Series("P1", "a21026", s.times, v), "a19001": Series("P1", "a19001", o2.times, o2v)}
    marks = [Mark(T0 + h0 * H, T0 + (h0 + 3) * H, "maintenance") for h0 in starts[:6]]
    c = Context(station="P1", series=site, marks=marks, limits={"a21026": LIMIT}, attrs={"o2_ref": 6.0})
    (f,) = run("MARK-02", site["a21026"], c)
    assert f.evidence["o2_converted"] is True and f.evidence["exceedance_episodes"] == 8
    assert run("MARK-02", site["a21026"], c, o2_conversion=False) == []


def flagged(s: Series, flags: np.ndarray) -> Series:
    return Series(s.station, s.parameter, s.times, s.values, flags=flags)


def test_mark01_maintenance_mark_over_a_channel_dropped_from_the_records() -> None:
    """Under a maintenance mark the SO2 analyser sent nothing — no value, no HJ 212 flag — while the
    NOx analyser kept sending normal values: the channel was left out, not maintained. Equipment
    really under maintenance reports its records flagged M, and a DAS that is down sends nothing
    for every channel: neither is a finding."""
    sig = outlet()
    real = Mark(T0 + 20 * 24 * H, T0 + 23 * 24 * H, "shutdown")
    m = Mark(T0 + 30 * 24 * H, T0 + 30 * 24 * H + 6 * H, "maintenance")
    s = sig["a21026"]
    n = len(s)
    w = slice(30 * 24, 30 * 24 + 6)
    nox = Series("P1", "a21002", s.times, np.round(s.values * 2 + 5, 1), flags=np.full(n, "N", dtype=object))
    v = s.values.copy()
    v[w] = np.nan
    f = np.full(n, "N", dtype=object)
    f[w] = None
    gone = Series(s.station, s.parameter, s.times, v, flags=f)
    fs = run("MARK-01", gone, ctx_of({**sig, "a21026": gone, "a21002": nox}, [real, m]))
    assert [x.reason for x in fs] == ["maintenance_mark_channel_dropped"]
    assert fs[0].evidence["channels_dropped"] == ["a21026"] and fs[0].score >= 0.8
    assert (fs[0].start, fs[0].end) == (w.start, w.stop)
    # the same hours flagged M (records sent, marked maintenance): consistent
    fm = f.copy()
    fm[w] = "M"
    maint = flagged(gone, fm)
    assert run("MARK-01", maint, ctx_of({**sig, "a21026": maint, "a21002": nox}, [real, m])) == []
    # the whole DAS silent (every analyser without value and flag): an outage, not a skipped channel
    nv = nox.values.copy()
    nv[w] = np.nan
    nox_off = Series("P1", "a21002", s.times, nv, flags=f.copy())
    assert run("MARK-01", gone, ctx_of({**sig, "a21026": gone, "a21002": nox_off}, [real, m])) == []
    # without flags the absence cannot be told from a flagged gap: no finding (as before)
    plain = Series(s.station, s.parameter, s.times, v)
    assert run("MARK-01", plain, ctx_of({**sig, "a21026": plain, "a21002": Series("P1", "a21002", s.times, nox.values)},
                                        [real, m])) == []
    # switched off by configuration
    assert run("MARK-01", gone, ctx_of({**sig, "a21026": gone, "a21002": nox}, [real, m]), check_dropped=False) == []
