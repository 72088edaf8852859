"""Temporal detectors TMP-01..07 on constructed series: each fires on its case, stays quiet on clean data."""

from __future__ import annotations

import calendar
import json

import numpy as np
import pytest

from tianlan.errors import InputError
from tianlan.qc.core import Context, Finding, Series, Status, get

T0 = calendar.timegm((2024, 1, 1, 0, 0, 0)) - 8 * 3600  # 2024-01-01 00:00 Beijing
H = 3600
DAY = 86400


def hourly(values, code: str = "a34004", *, start: int = T0, flags=None) -> Series:
    v = np.asarray(values, dtype=float)
    return Series("S1", code, start + H * np.arange(v.size, dtype=np.int64), v, flags=flags)


def run(det: str, series: Series, ctx: Context | None = None, **params) -> list[Finding]:
    """``det`` with its defaults overridden by ``params``; every evidence payload must be strict JSON."""
    spec = get(det)
    out = spec.func(series, ctx or Context(series.station, series={series.parameter: series}), **spec.resolve(params))
    for f in out:
        json.dumps(f.evidence, allow_nan=False)
    return out


def air(n: int, level: float = 80.0, seed: int = 0, resolution: float = 1.0) -> np.ndarray:
    """Urban-looking hourly values: a diurnal cycle and AR(1) noise on the log scale, rounded."""
    rng = np.random.default_rng(seed)
    e = np.zeros(n)
    for i in range(1, n):
        e[i] = 0.9 * e[i - 1] + rng.normal(0, 0.12)
    v = level * np.exp(0.25 * np.sin(np.arange(n) * 2 * np.pi / 24) + e)
    return np.round(v / resolution) * resolution


TMP = ["TMP-01", "TMP-02", "TMP-03", "TMP-04", "TMP-05", "TMP-06", "TMP-07"]


@pytest.mark.parametrize("det", TMP)
def test_parameters_resolve_and_unknown_ones_are_errors(det: str) -> None:
    spec = get(det)
    assert spec.family == "tmp" and spec.doc
    assert spec.resolve({}) == spec.defaults()
    with pytest.raises(InputError, match=f"{det}.window"):
        spec.resolve({"window": 3})


@pytest.mark.parametrize("det", TMP)
@pytest.mark.parametrize("code", ["a34004", "a21026", "a21005"])
def test_clean_series_are_quiet(det: str, code: str) -> None:
    level, res = {"a34004": (80.0, 1.0), "a21026": (40.0, 1.0), "a21005": (3.0, 0.1)}[code]
    s = hourly(air(60 * 24, level, seed=7, resolution=res), code)
    ctx = Context("S1", series={code: s}, limits={"a34004": 75, "a21026": 150, "a21005": 4},
                  events=[{"time_utc": T0 + 30 * DAY, "kind": "parameter", "key": code}])
    assert [(f.reason, f.start) for f in run(det, s, ctx) if f.status >= Status.SUSPECT] == []


def test_tmp01_spike_down_and_back() -> None:
    v = air(10 * 24)
    v[100] = 4.0
    f = run("TMP-01", hourly(v))
    assert [(x.reason, x.start, x.end) for x in f] == [("spike", 100, 101)]
    assert f[0].evidence["values"][1] == 4.0 and f[0].score >= 10
    v[100] = 0.0
    assert run("TMP-01", hourly(v))[0].status in (Status.SUSPECT, Status.FAIL)
    v[100] = np.nan
    v[150] = 2000.0
    v[151] = np.nan  # a value next to a gap is not judged
    assert run("TMP-01", hourly(v)) == []


def test_tmp02_step_that_holds_but_not_a_spike() -> None:
    v = air(10 * 24)
    v[120:] = v[120:] * 20
    f = run("TMP-02", hourly(v))
    assert [(x.reason, x.start, x.end) for x in f] == [("step-up", 119, 121)]
    w = air(10 * 24)
    w[120] *= 20  # reverts at once: TMP-01's business
    assert run("TMP-02", hourly(w)) == []
    assert run("TMP-02", hourly(v), threshold=5.0) == []


def test_tmp03_flat_runs_suspect_then_fail_and_floor_exempt() -> None:
    v = air(5 * 24)
    v[30:38] = 83.0  # 8 h of one PM2.5 value: suspect (T = 6 h)
    v[60:75] = 91.0  # 15 h: fail (2T)
    f = run("TMP-03", hourly(v))
    assert [(x.status, x.start, x.end) for x in f] == [(Status.SUSPECT, 30, 38), (Status.FAIL, 60, 75)]
    assert f[1].evidence["hours"] == 15 and f[1].evidence["suspect_hours"] == 6
    so2 = air(5 * 24, 40.0)
    so2[10:40] = 2.0  # 30 h at the analyser floor: clean air, exempt
    so2[50:60] = 45.0  # 10 h: below the gas period of 12 h
    assert run("TMP-03", hourly(so2, "a21026")) == []
    so2[70:83] = 45.0
    assert [(x.status, x.start) for x in run("TMP-03", hourly(so2, "a21026"))] == [(Status.SUSPECT, 70)]


def test_tmp03_judges_a_run_by_the_stations_own_persistence() -> None:
    """A gas value held for 12–48 h (the injector's ``flat``): FAIL when the station's analyser
    normally moves at that level — also at low levels that the fixed rule exempted — but exempt
    where the station's own low values repeat that long anyway."""
    no2 = air(30 * 24, 20.0, seed=5)
    no2[200:214] = 21.0  # 14 h: under the fixed rule only SUSPECT (gas 2T = 24 h), level 1
    (f,) = run("TMP-03", hourly(no2, "a21004"))
    assert (f.status, f.start, f.end) == (Status.FAIL, 200, 214)
    assert f.evidence["persistence"]["expected_runs"] < 0.001 and f.evidence["values_around"]
    assert run("TMP-03", hourly(no2, "a21004"), alpha=None)[0].status == Status.SUSPECT  # the catalogue rule alone
    so2 = air(30 * 24, 8.0, seed=6)
    so2[300:340] = 8.0  # 40 h at 8 µg/m³: below 20 steps, exempt before; the analyser moves there
    (f,) = run("TMP-03", hourly(so2, "a21026"))
    assert f.status == Status.FAIL and f.start <= 300 and f.end >= 340  # the hour before may read 8 too
    assert run("TMP-03", hourly(so2, "a21026"), alpha=None) == []
    sticky = np.round(8.0 + np.repeat(np.random.default_rng(1).integers(-1, 2, 30), 24)).astype(float)
    sticky[300:340] = 8.0  # a station whose low SO2 repeats for days (coarse analyser): not improbable
    assert run("TMP-03", hourly(sticky, "a21026")) == []


def test_tmp03_coarse_resolution_and_gaps() -> None:
    co = air(3 * 24, 3.0, resolution=0.1)
    co[10:24] = 2.9  # 14 h of one value at 0.1 mg/m³ resolution: suspect (gas T = 12 h)
    assert [x.start for x in run("TMP-03", hourly(co, "a21005"))] == [10]
    co[10:24:2] = 3.0  # alternating 2.9 / 3.0: one full reporting step apart, not flat
    assert run("TMP-03", hourly(co, "a21005")) == []
    v = air(3 * 24)
    v[20:24] = 70.0
    v[24] = np.nan  # a run cannot span a gap
    v[25:29] = 70.0
    assert run("TMP-03", hourly(v)) == []


def test_tmp03_a_series_reporting_finer_than_the_table_is_judged_at_its_own_step() -> None:
    """CODMn's table step is 0.1 mg/L; a station transmitting 0.01 has held nothing while its
    readings move within 0.1 (2.53 … 2.62), and has when it repeats one value exactly."""
    rng = np.random.default_rng(3)
    codmn = np.round(3.0 + 0.4 * np.sin(np.arange(96) * 2 * np.pi / 24) + rng.normal(0, 0.05, 96), 2)
    ctx = Context("S1", attrs={"kind": "water"})
    wobble = codmn.copy()
    wobble[30:60] = np.round(2.575 + np.tile([-0.045, -0.02, 0.0, 0.02, 0.045, 0.01], 5), 2)  # within 0.1, never equal
    assert run("TMP-03", hourly(wobble, "w01019"), ctx) == []
    assert [x.start for x in run("TMP-03", hourly(wobble, "w01019"), ctx, tolerance=0.1)] == [30]  # the table's step
    held = codmn.copy()
    held[30:60] = 2.57
    (f,) = run("TMP-03", hourly(held, "w01019"), ctx)
    assert (f.start, f.evidence["tolerance"]) == (30, 0.01)


def test_tmp03_lives_in_checks_flat_and_temporal_re_exports_it() -> None:
    from tianlan.qc.checks import flat, temporal

    spec = get("TMP-03")
    assert spec.func is flat.flat_line is temporal.flat_line and spec.func.__module__ == "tianlan.qc.checks.flat"
    assert (spec.name, spec.family, spec.version) == ("flat line", "tmp", "1")
    assert temporal.FLAT_COMPANIONS is flat.FLAT_COMPANIONS and temporal._flat_context is flat._flat_context
    assert spec.defaults()["drift_ln"] == 0.3 and spec.defaults()["alpha"] == 0.03


def test_tmp03_meteorology_is_not_exempt_near_zero() -> None:
    temp = np.round(np.sin(np.arange(72) * 2 * np.pi / 24) * 4 - 1, 1)
    temp[30:40] = -0.4  # air temperature stuck for 10 h (T = 6 h for a non-gas): no detection floor
    assert [(x.status, x.start) for x in run("TMP-03", hourly(temp, "a01001"))] == [(Status.SUSPECT, 30)]


def test_tmp04_attenuated_signal() -> None:
    v = air(60 * 24, seed=3)
    rng = np.random.default_rng(0)
    v[40 * 24:43 * 24] = np.round(90 + rng.normal(0, 0.6, 72))  # three days of barely moving values
    f = run("TMP-04", hourly(v))
    assert len(f) == 1 and f[0].reason == "low-variance" and f[0].status == Status.SUSPECT
    assert f[0].start <= 40 * 24 + 2 and f[0].end >= 43 * 24 - 1


def test_tmp05_sprayed_inlet_with_gases_normal() -> None:
    n = 10 * 24
    pm = air(n, 150.0, seed=1)
    co = air(n, 2.0, seed=2, resolution=0.1)
    pm[100:104] = np.round(pm[100:104] * 0.2)  # four hours at a fifth, then back
    s = hourly(pm)
    ctx = Context("S1", series={"a34004": s, "a21005": hourly(co, "a21005")})
    f = run("TMP-05", s, ctx)
    assert [(x.reason, x.start, x.end) for x in f] == [("suppression", 100, 104)]
    assert f[0].evidence["corroborated"] and f[0].score > 0.7
    co2 = co.copy()
    co2[100:104] = np.round(co2[100:104] * 0.2, 1)  # CO fell too: an air mass, not the inlet
    assert run("TMP-05", s, Context("S1", series={"a34004": s, "a21005": hourly(co2, "a21005")})) == []
    no_recovery = pm.copy()
    no_recovery[104:] = np.round(no_recovery[104:] * 0.2)
    assert run("TMP-05", hourly(no_recovery), ctx) == []


def test_tmp06_long_stable_low_against_the_limit() -> None:
    n = 20 * 24
    v = air(n, 60.0)
    rng = np.random.default_rng(5)
    v[3 * 24:13 * 24] = np.round(20 + rng.normal(0, 0.4, 10 * 24), 1)  # ten days at 20, CV ≈ 2 %
    s = hourly(v)
    ctx = Context("S1", series={"a34004": s}, limits={"PM2.5": 75.0})
    f = run("TMP-06", s, ctx)
    assert [x.reason for x in f] == ["stable-low"]
    assert f[0].start <= 3 * 24 and f[0].end >= 13 * 24 - 24 and f[0].evidence["limit"] == 75.0
    assert run("TMP-06", s, Context("S1", series={"a34004": s})) == []  # no limit: not evaluated
    flow = hourly(np.zeros(n), "w00000")
    src = Context("S1", series={"a34004": s, "w00000": flow}, limits={"a34004": 75.0}, attrs={"kind": "source"})
    assert run("TMP-06", s, src) == []  # the process is not running


def test_tmp07_level_shift_at_a_parameter_event() -> None:
    n = 90 * 24
    v = air(n, 60.0, seed=11)
    v[45 * 24:] = np.round(v[45 * 24:] * 0.5)  # slope halved
    s = hourly(v)
    ev = {"time_utc": T0 + 45 * DAY + 10 * H, "kind": "parameter", "key": "a34004", "old": "1.00", "new": "0.50"}
    f = run("TMP-07", s, Context("S1", series={"a34004": s}, events=[ev]))
    assert [x.reason for x in f] == ["level-shift-at-event"]
    assert abs(f[0].evidence["shift"] + np.log(2)) < 0.25 and f[0].evidence["event"]["new"] == "0.50"
    assert f[0].start == 45 * 24
    assert run("TMP-07", s) == []  # no event: a univariate shift is not reported by default
    assert [x.reason for x in run("TMP-07", s, unexplained_shift=0.5)] == ["level-shift"]
    far = {**ev, "time_utc": T0 + 20 * DAY}
    assert run("TMP-07", s, Context("S1", series={"a34004": s}, events=[far])) == []
