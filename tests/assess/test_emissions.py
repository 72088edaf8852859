"""CEMS conversions, hourly values, mass and exceedance: the CEMS vectors, properties, exclusions."""

from __future__ import annotations

import json
import os
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tianlan.assess import emissions as em
from tianlan.assess.emissions import (
    NO2_PER_NO_ROUNDED,
    OutletLimits,
    daily_mass_t,
    emission_limit_table,
    emission_mass,
    emission_rate_kg_h,
    flow_to_dry_standard,
    from_dry,
    from_standard_state,
    hourly_means,
    judge_exceedances,
    mg_to_ppm,
    min_valid_minutes,
    nox_as_no2,
    o2_correct,
    o2_uncorrect,
    overlaps,
    pollutant_code,
    ppm_to_mg,
    to_dry,
    to_standard_state,
)
from tianlan.errors import InputError

SHARED = Path(os.environ.get("TIANLAN_SHARED_DIR", Path(__file__).resolve().parents[2].parent / "shared"))
VECTORS = SHARED / "reference" / "standards" / "test_vectors.json"
REFERENCE_LIMITS = SHARED / "reference" / "standards" / "emission_limits.csv"
needs_vectors = pytest.mark.skipif(not VECTORS.exists(), reason=f"reference test vectors absent: {VECTORS}")

CEMS = [v for v in json.loads(VECTORS.read_text("utf-8"))["vectors"] if v["id"].startswith("CEMS-")] if VECTORS.exists() else []

T0 = 1_700_000_000 - 1_700_000_000 % 3600  # an hour boundary (UTC)


def _compute(vec: dict) -> dict[str, float]:
    i = vec["inputs"]
    cat = vec["category"]
    if cat == "o2_conversion":
        return {"c_converted_mg_m3": o2_correct(i["c_measured_mg_m3"], i["o2_measured_pct"], i["o2_reference_pct"])}
    if cat == "emission_rate":
        return {"so2_kg_h": emission_rate_kg_h(i["so2_mg_m3"], i["flow_dry_std_m3_h"])}
    if cat == "emission_mass":
        return {"daily_t": daily_mass_t(i["hourly_kg"])}
    if cat == "moisture":
        return {"so2_dry_mg_m3": to_dry(i["so2_wet_mg_m3"], i["xsw_pct"])}
    if cat == "nox_as_no2":
        return {"nox_as_no2_mg_m3": nox_as_no2(i["no_mg_m3"], i["no2_mg_m3"])}
    if cat == "ppm_to_mg":
        return {"so2_mg_m3": ppm_to_mg(i["so2_ppm"], i["M_SO2"])}
    raise AssertionError(f"unknown category {cat}")


@needs_vectors
def test_all_cems_vectors_present() -> None:
    assert {v["id"] for v in CEMS} == {f"CEMS-{i:03d}" for i in range(1, 11)}


@needs_vectors
@pytest.mark.parametrize("vec", CEMS, ids=lambda v: v["id"])
def test_cems_vectors(vec: dict) -> None:
    got = _compute(vec)
    for key, want in vec["expected"].items():
        # expected values are printed rounded: ours must round to the same figure
        places = len(repr(float(want)).split(".")[1])
        assert round(got[key], places) == want, (key, got[key], want)
        if "computed" in vec and "exact" in vec["computed"]:
            from fractions import Fraction

            assert got[key] == pytest.approx(float(Fraction(str(vec["computed"]["exact"]))), rel=1e-12)


def test_nox_rounded_factor() -> None:
    assert round(nox_as_no2(100, 5, factor=NO2_PER_NO_ROUNDED), 1) == 158.0
    assert round(nox_as_no2(100, 5), 1) == 158.3


def test_o2_guards() -> None:
    with pytest.raises(InputError) as e:
        o2_correct(10, 21, 6)
    assert e.value.field == "O2"
    with pytest.raises(InputError):
        o2_correct(10, 22, 6)
    with pytest.raises(InputError):
        o2_correct(10, -1, 6)
    with pytest.raises(InputError):
        o2_correct(10, 19.5, 6, max_o2=19)
    with pytest.raises(InputError) as e:
        o2_correct(10, 5, 21)
    assert e.value.field == "o2_ref"
    out = o2_correct([10, 10, 10, 10], [5, 21, np.nan, 20.9], 6)
    assert out[0] == pytest.approx(9.375) and np.isnan(out[1]) and np.isnan(out[2]) and out[3] == pytest.approx(1500)
    assert o2_correct(50, 4, 6) < 50  # below the reference the converted value is lower (CEMS-005), no floor


def test_other_guards() -> None:
    for fn, args in [(to_dry, (10, 100)), (to_dry, (10, -1)), (from_dry, (10, 120))]:
        with pytest.raises(InputError):
            fn(*args)
    with pytest.raises(InputError):
        to_standard_state(10, temp_c=100, ba_pa=1000, ps_pa=-2000)
    with pytest.raises(InputError):
        ppm_to_mg(1, 0)
    with pytest.raises(InputError):
        emission_rate_kg_h(10, -5)
    assert np.isnan(to_dry([10, 10], [10, 100])[1])


def test_standard_state_and_flow() -> None:
    # at 0 °C and 101325 Pa the working state is the standard state
    assert to_standard_state(50, temp_c=0, ba_pa=101325) == pytest.approx(50)
    # hot gas is less dense: the standard-state concentration is higher
    assert to_standard_state(50, temp_c=136.5, ba_pa=101325) == pytest.approx(75)
    assert flow_to_dry_standard(1000, temp_c=136.5, ba_pa=101325, moisture_pct=10) == pytest.approx(600)


@settings(max_examples=300, deadline=None)
@given(c=st.floats(0, 1e4), o2=st.floats(0, 20.9), ref=st.floats(0, 20.9))
def test_o2_identity_and_inverse(c: float, o2: float, ref: float) -> None:
    assert o2_correct(c, ref, ref) == pytest.approx(c, rel=1e-12, abs=1e-12)
    assert o2_uncorrect(o2_correct(c, o2, ref), o2, ref) == pytest.approx(c, rel=1e-9, abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(c=st.floats(0.01, 1e4), o2a=st.floats(0, 20.5), o2b=st.floats(0, 20.5), ref=st.sampled_from([3, 3.5, 6, 9, 15]))
def test_o2_correction_increases_with_o2(c: float, o2a: float, o2b: float, ref: float) -> None:
    lo, hi = min(o2a, o2b), max(o2a, o2b)
    assert o2_correct(c, lo, ref) <= o2_correct(c, hi, ref)


@settings(max_examples=300, deadline=None)
@given(c=st.floats(0, 1e4), m=st.floats(0, 60), t=st.floats(-20, 400), ba=st.floats(8e4, 1.1e5), ps=st.floats(-5e3, 5e3),
       mm=st.sampled_from([em.M_SO2, em.M_NO, em.M_NO2]))
def test_conversions_invert(c: float, m: float, t: float, ba: float, ps: float, mm: float) -> None:
    assert from_dry(to_dry(c, m), m) == pytest.approx(c, rel=1e-12, abs=1e-12)
    s = to_standard_state(c, temp_c=t, ba_pa=ba, ps_pa=ps)
    assert from_standard_state(s, temp_c=t, ba_pa=ba, ps_pa=ps) == pytest.approx(c, rel=1e-12, abs=1e-12)
    assert mg_to_ppm(ppm_to_mg(c, mm), mm) == pytest.approx(c, rel=1e-12, abs=1e-12)
    # the vectorised form gives the scalar result
    arr = to_dry(np.array([c, c]), np.array([m, m]))
    assert arr.tolist() == [to_dry(c, m)] * 2


def test_mass_over_a_period() -> None:
    hours = T0 + 3600 * np.arange(6)
    rates = np.array([36.0, 36.0, np.nan, 30.0, 30.0, 30.0])
    r = emission_mass(rates, hours)
    assert (r.kg, r.hours_counted, r.hours_missing) == (162.0, 5, 1)
    w = emission_mass(rates, hours, start_utc=T0 + 3600, end_utc=T0 + 10 * 3600)
    assert (w.kg, w.hours_counted, w.hours_missing) == (126.0, 4, 5)  # 9 hours in the window, 4 with a rate
    assert w.t == pytest.approx(0.126)
    with pytest.raises(InputError):
        emission_mass(rates, hours[:3])
    with pytest.raises(InputError):
        emission_mass([-1.0])


# -- hourly values ----------------------------------------------------------------------------------


def test_min_valid_minutes() -> None:
    assert min_valid_minutes() == 45
    assert min_valid_minutes(300) == 9
    assert min_valid_minutes(3600) == 1
    with pytest.raises(InputError):
        min_valid_minutes(7 * 60)


def test_hourly_validity_rule_45_minutes() -> None:
    t = T0 + 60 * np.arange(180)  # three hours of minute data
    v = np.full(180, 10.0)
    f = np.full(180, "N", dtype="<U1")
    f[60:60 + 15] = "M"  # hour 2: 45 valid -> valid
    f[120:120 + 16] = "F"  # hour 3: 44 valid -> invalid, flagged F
    v[0] = np.nan  # hour 1: 59 valid
    h = hourly_means(t, v, f)
    assert h.hour_start_utc.tolist() == [T0, T0 + 3600, T0 + 7200]
    assert h.n_valid.tolist() == [59, 45, 44] and h.n_total.tolist() == [60, 60, 60]
    assert h.valid.tolist() == [True, True, False]
    assert h.flag.tolist() == ["N", "N", "F"]
    assert h.mean[:2].tolist() == [10.0, 10.0] and np.isnan(h.mean[2])


def test_hourly_grid_shows_missing_hours() -> None:
    t = np.concatenate([T0 + 60 * np.arange(60), T0 + 3 * 3600 + 60 * np.arange(60)])
    h = hourly_means(t, np.arange(120.0), start_utc=T0 - 3600, end_utc=T0 + 5 * 3600)
    assert h.hour_start_utc.size == 6
    assert h.valid.tolist() == [False, True, False, False, True, False]
    assert h.flag.tolist() == ["", "N", "", "", "N", ""]
    assert h.mean[1] == pytest.approx(29.5) and h.mean[4] == pytest.approx(89.5)


def test_hourly_input_errors() -> None:
    with pytest.raises(InputError) as e:
        hourly_means([T0, T0 + 60], [1.0])
    assert e.value.field == "values"
    with pytest.raises(InputError):
        hourly_means([T0 + 0.5], [1.0])
    with pytest.raises(InputError):
        hourly_means([T0], [1.0], ["N", "N"])


@settings(max_examples=60, deadline=None)
@given(data=st.lists(st.tuples(st.integers(0, 4 * 3600 - 1), st.floats(0, 500), st.sampled_from("NNNNNFMDCT")),
                     min_size=1, max_size=400), need=st.integers(1, 10))
def test_hourly_means_equal_a_plain_group_by(data: list[tuple[int, float, str]], need: int) -> None:
    t = np.array([T0 + d[0] for d in data])
    v = np.array([d[1] for d in data])
    f = np.array([d[2] for d in data])
    h = hourly_means(t, v, f, min_valid=need)
    groups: dict[int, list[float]] = defaultdict(list)
    bad: dict[int, Counter[str]] = defaultdict(Counter)
    for ti, vi, fi in data:
        hour = (T0 + ti) // 3600 * 3600
        if fi == "N":
            groups[hour].append(vi)
        else:
            bad[hour][fi] += 1
    for k, hs in enumerate(h.hour_start_utc.tolist()):
        vals = groups.get(hs, [])
        assert h.n_valid[k] == len(vals)
        if len(vals) >= need:
            assert h.valid[k] and h.mean[k] == pytest.approx(sum(vals) / len(vals), rel=1e-12, abs=1e-9)
            assert h.flag[k] == "N"
        else:
            assert not h.valid[k] and np.isnan(h.mean[k])
            top = max(bad[hs].values(), default=0)
            if top == 0:
                assert h.flag[k] == ""
            else:
                assert bad[hs][h.flag[k]] == top


def test_a_year_of_minutes_is_fast() -> None:
    import time

    n = 366 * 24 * 60
    t = T0 + 60 * np.arange(n)
    rng = np.random.default_rng(1)
    v = rng.uniform(0, 50, n)
    f = np.where(rng.random(n) < 0.02, "M", "N")
    t0 = time.perf_counter()
    h = hourly_means(t, v, f)
    assert time.perf_counter() - t0 < 5.0
    assert h.hour_start_utc.size == 366 * 24


# -- limits and exceedance ---------------------------------------------------------------------------


ATTRS = {"limits": {"a21026": 35, "NOx": 50, "PM": 10}, "o2_ref": 6, "standard": "GB 13223-2011"}


def test_limits_from_registry_attrs() -> None:
    lim = OutletLimits.from_attrs(ATTRS)
    assert lim.limits == {"a21026": 35.0, "a21002": 50.0, "a34013": 10.0}
    assert (lim.o2_ref, lim.standard) == (6.0, "GB 13223-2011")
    assert OutletLimits.from_attrs({"limits": {"a21026": 100}}).o2_ref is None
    for bad, fld in [({}, "attrs.limits"), ({"limits": {"a21026": -1}}, "attrs.limits.a21026"),
                     ({"limits": {"a21026": 1}, "o2_ref": 21}, "attrs.o2_ref"),
                     ({"limits": {"SO2": 1, "a21026": 2}}, "attrs.limits.a21026"),
                     ({"limits": {"a21026": 1}, "standard": 5}, "attrs.standard")]:
        with pytest.raises(InputError) as e:
            OutletLimits.from_attrs(bad)
        assert e.value.field == fld
    with pytest.raises(InputError):
        pollutant_code("smog")


def test_emission_limit_table_matches_reference() -> None:
    rows = emission_limit_table()
    assert len(rows) == 59
    coal = [r for r in rows if r.standard == "GB 13271-2014" and r.fuel_or_unit == "coal" and r.condition == "new"]
    assert {r.code: r.limit_mg_m3 for r in coal} == {"a34013": 50, "a21026": 300, "a21002": 300, "a20057": 0.05}
    assert all(r.reference_o2 == 9 for r in coal) and all(r.valid_from == "2014-07-01" for r in coal)
    assert {r.reference_o2 for r in rows if r.standard.startswith("ultra-low")} == {6.0}
    if REFERENCE_LIMITS.exists():
        import csv

        ref = list(csv.DictReader(REFERENCE_LIMITS.open(encoding="utf-8")))
        assert [(r["pollutant"], float(r["limit_mg_m3"]), r["confirmation"]) for r in ref] == [
            (r.pollutant, r.limit_mg_m3, r.confirmation) for r in rows]


def _hours(n: int) -> np.ndarray:
    return T0 + 3600 * np.arange(n)


def test_exceedance_with_flags_and_marks_excluded_and_recorded() -> None:
    lim = OutletLimits.from_attrs(ATTRS)
    h = _hours(8)
    so2 = np.array([30.0, 40.0, 60.0, 80.0, 90.0, 28.0, np.nan, 50.0])
    o2 = np.array([6.0, 6.0, 6.0, 6.0, 6.0, 8.5, 6.0, 6.0])
    flags = {"a21026": ["N", "N", "F", "N", "N", "N", "N", "T"]}
    marks = [(int(h[3]) + 600, int(h[4]) + 1200, "停炉 / unit shutdown")]  # overlaps hours 3 and 4
    r = judge_exceedances(h, {"SO2": so2}, lim, o2=o2, flags=flags, marks=marks)
    assert r.standard == "GB 13223-2011" and r.o2_ref == 6.0 and r.hours == 8
    assert [(e.hour_start_utc, e.value, e.limit) for e in r.exceedances] == [(int(h[1]), 40.0, 35.0)]
    assert r.exceedances[0].multiple == pytest.approx(5 / 35)
    # hour 5: 28 at 8.5 % O2 -> 33.6 at 6 %: compliant (CEMS-001)
    assert r.converted["a21026"][5] == pytest.approx(33.6)
    assert r.judged == {"a21026": 3} and r.excluded_hours("SO2") == 5
    got = {(x.source, x.reason, x.start_utc, x.end_utc, x.hours) for x in r.exclusions}
    assert got == {
        ("device_flag", "F", int(h[2]), int(h[3]), 1),
        ("device_flag", "T", int(h[7]), int(h[7]) + 3600, 1),
        ("enterprise_mark", "停炉 / unit shutdown", int(h[3]), int(h[5]), 2),
        ("missing", "no_valid_value", int(h[6]), int(h[7]), 1),
    }
    details = {x.reason: x.detail for x in r.exclusions}
    assert "instrument stopped" in details["F"] and "停运" in details["F"]
    assert "review manually" in details["T"]
    assert r.no_data == ("a21002", "a34013") and r.no_limit == ()


def test_o2_flag_and_high_o2_exclude_every_pollutant() -> None:
    lim = OutletLimits.from_attrs(ATTRS)
    h = _hours(5)
    r = judge_exceedances(h, {"a21026": [40.0] * 5, "a21002": [10.0] * 5, "a21005": [1.0] * 5}, lim,
                          o2=[6, 21, 25, np.nan, 6], flags={"a19001": ["N", "N", "N", "N", "C"]})
    assert r.judged == {"a21026": 1, "a21002": 1}
    assert [e.hour_start_utc for e in r.exceedances] == [int(h[0])]
    so2 = [(x.source, x.reason, x.hours) for x in r.exclusions if x.pollutant == "a21026"]
    assert so2 == [("oxygen", "o2_unusable", 3), ("device_flag", "O2:C", 1)]
    assert r.no_limit == ("a21005",)
    with pytest.raises(InputError) as e:
        judge_exceedances(h, {"a21026": [1.0] * 5}, lim)
    assert e.value.field == "o2"


def test_already_converted_and_no_reference_o2() -> None:
    h = _hours(3)
    lim = OutletLimits.from_attrs(ATTRS)
    r = judge_exceedances(h, {"a21026": [35.0, 35.0000001, 36.0]}, lim, already_converted=True)
    assert [e.hour_start_utc for e in r.exceedances] == [int(h[1]), int(h[2])]
    plain = OutletLimits.from_attrs({"limits": {"a21026": 100}, "standard": "permit 123"})
    r2 = judge_exceedances(h, {"a21026": [99.0, 100.0, 101.0]}, plain)
    assert [e.value for e in r2.exceedances] == [101.0]


def test_equal_to_limit_after_conversion_is_compliant() -> None:
    # 28 mg/m3 at 8.5 % O2 is exactly 33.6 at 6 %; a limit of 33.6 is met, not exceeded
    lim = OutletLimits(limits={"a21026": 33.6}, o2_ref=6, standard="test")
    r = judge_exceedances(_hours(1), {"a21026": [28.0]}, lim, o2=[8.5])
    assert r.exceedances == () and r.judged == {"a21026": 1}


def test_exclusion_runs_merge_consecutive_hours() -> None:
    lim = OutletLimits.from_attrs({"limits": {"a21026": 35}})
    h = np.concatenate([_hours(4), T0 + 3600 * np.arange(6, 8)])  # a gap between hour 3 and hour 6
    r = judge_exceedances(h, {"a21026": [1.0] * 6}, lim, flags={"a21026": ["F"] * 6})
    assert [(x.start_utc, x.hours) for x in r.exclusions] == [(T0, 4), (T0 + 6 * 3600, 2)]


def test_minute_data_to_exceedance() -> None:
    """Minute data -> hourly means (45-minute rule) -> converted hourly values -> judgement."""
    n = 3 * 60
    t = T0 + 60 * np.arange(n)
    so2 = np.full(n, 30.0)
    so2[60:120] = 45.0
    o2 = np.full(n, 6.0)
    fl = np.full(n, "N")
    fl[120:140] = "C"  # hour 3: 40 valid minutes -> invalid
    hs = hourly_means(t, so2, fl)
    ho = hourly_means(t, o2)
    r = judge_exceedances(hs.hour_start_utc, {"a21026": hs.mean}, OutletLimits.from_attrs(ATTRS), o2=ho.mean,
                          flags={"a21026": hs.flag, "a19001": ho.flag})
    assert [e.hour_start_utc for e in r.exceedances] == [T0 + 3600]
    assert [(x.source, x.reason) for x in r.exclusions] == [("device_flag", "C")]


def test_judge_input_errors() -> None:
    lim = OutletLimits.from_attrs(ATTRS)
    with pytest.raises(InputError) as e:
        judge_exceedances([T0 + 5], {"a21026": [1.0]}, lim, o2=[6])
    assert e.value.field == "hour_start_utc"
    with pytest.raises(InputError) as e:
        judge_exceedances(_hours(2), {"a21026": [1.0]}, lim, o2=[6, 6])
    assert e.value.field == "concentrations.a21026"
    with pytest.raises(InputError) as e:
        judge_exceedances(_hours(1), {"a21026": [1.0]}, lim, o2=[6], marks=[(T0 + 10, T0, "x")])
    assert e.value.field == "marks[0]"
    with pytest.raises(InputError) as e:
        judge_exceedances(_hours(2), {"a21026": [1.0, 2.0]}, lim, o2=[6, 6], flags={"a21026": ["N"]})
    assert e.value.field == "flags.a21026"


def test_missing_flags() -> None:
    """A minute without a flag never counts; an hour value without a flag is excluded as such."""
    t = T0 + 60 * np.arange(60)
    f = np.array(["N"] * 50 + [None] * 10, dtype=object)
    h = hourly_means(t, np.ones(60), f)
    assert h.n_valid.tolist() == [50] and h.flag.tolist() == ["N"]
    h2 = hourly_means(t, np.ones(60), np.array([None] * 60, dtype=object))
    assert h2.valid.tolist() == [False] and h2.flag.tolist() == [""]
    lim = OutletLimits.from_attrs({"limits": {"a21026": 35}})
    r = judge_exceedances(_hours(2), {"a21026": [50.0, np.nan]}, lim, flags={"a21026": ["", ""]})
    assert [(x.source, x.reason, x.hours) for x in r.exclusions] == [("device_flag", "", 1), ("missing", "no_valid_value", 1)]
    assert "flag missing" in r.exclusions[0].detail and r.exceedances == ()


def test_overlaps() -> None:
    h = _hours(3)
    assert overlaps(h, [(T0 + 3600, T0 + 3601, "m")]).tolist() == [False, True, False]
    assert overlaps(h, [(T0 - 10, T0, "m")]).tolist() == [False, False, False]  # ends where hour 0 starts
