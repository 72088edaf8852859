"""Equipment-state detectors EQP-01/03/04 on constructed series: each fires on its case, stays quiet on clean data."""

from __future__ import annotations

import calendar
import json

import numpy as np
import pytest

from tianlan.errors import InputError
from tianlan.qc.core import Context, Finding, Mark, Series, Status, get

T0 = calendar.timegm((2024, 3, 4, 0, 0, 0)) - 8 * 3600  # Monday 2024-03-04 00:00 Beijing
H = 3600


def hourly(n: int, flags=None, code: str = "a21026") -> Series:
    v = np.round(20 + 5 * np.sin(np.arange(n) * 2 * np.pi / 24), 1)
    return Series("S1", code, T0 + H * np.arange(n, dtype=np.int64), v, flags=flags)


def run(det: str, series: Series, ctx: Context | None = None, **params) -> list[Finding]:
    """``det`` with its defaults overridden by ``params``; every evidence payload must be strict JSON."""
    spec = get(det)
    out = spec.func(series, ctx or Context(series.station, series={series.parameter: series}), **spec.resolve(params))
    for f in out:
        json.dumps(f.evidence, allow_nan=False)
    return out


@pytest.mark.parametrize("det", ["EQP-01", "EQP-03", "EQP-04"])
def test_parameters_resolve_and_unknown_ones_are_errors(det: str) -> None:
    spec = get(det)
    assert spec.family == "eqp" and spec.doc
    assert spec.resolve({}) == spec.defaults()
    with pytest.raises(InputError, match=f"{det}.limit"):
        spec.resolve({"limit": 1})


# --- EQP-01 -------------------------------------------------------------------------------------


def test_eqp01_status_makes_values_invalid_and_unexplained_status_is_suspect() -> None:
    flags = ["N"] * 24
    flags[5:8] = ["M"] * 3
    flags[12] = "T"  # above range: kept valid, not EQP-01's business
    s = hourly(24, flags)
    f = run("EQP-01", s)
    assert [(x.reason, x.status, x.start, x.end) for x in f] == [
        ("status-M", Status.FAIL, 5, 8), ("status-unexplained", Status.SUSPECT, 5, 8)]
    assert f[0].evidence["explained_by"] is None and f[0].score == 3.0
    ctx = Context("S1", marks=[Mark(T0 + 4 * H, T0 + 9 * H, "maintenance")])
    f = run("EQP-01", s, ctx)
    assert [(x.reason, x.status) for x in f] == [("status-M", Status.FAIL)]
    assert f[0].evidence["explained_by"] == "mark:maintenance"


def test_eqp01_events_schedule_and_unknown_flags() -> None:
    flags = ["N"] * 24
    flags[3] = "C"
    flags[15] = "D"
    flags[20] = "X"
    s = hourly(24, flags)
    ctx = Context("S1", events=[{"time_utc": T0 + 15 * H + 600, "kind": "fault", "key": "a21026"}],
                  attrs={"calibration_schedule": {"hours": [3]}})
    f = run("EQP-01", s, ctx)
    assert [(x.reason, x.status, x.start) for x in f] == [("status-C", Status.FAIL, 3), ("status-D", Status.FAIL, 15),
                                                          ("status-unknown", Status.SUSPECT, 20)]
    assert f[0].evidence["explained_by"] == "schedule" and f[1].evidence["explained_by"] == "event:fault"


def test_eqp01_normal_or_no_flags_are_quiet() -> None:
    assert run("EQP-01", hourly(24, ["N"] * 24)) == []
    assert run("EQP-01", hourly(24)) == []
    assert run("EQP-01", hourly(4, ["3", "1", "", None])) == []  # 2005 air digits normal / met, blanks


# --- EQP-03 -------------------------------------------------------------------------------------


def _check(hour: int, kind: str, drift: float | None, **kw) -> dict:
    return {"time_utc": T0 + hour * H, "kind": kind, "key": "a21026", "new": drift, **kw}


def test_eqp03_out_of_control_from_last_pass_to_next_pass() -> None:
    s = hourly(24 * 5)
    ev = [_check(2, "zero_check", 0.8), _check(26, "zero_check", 1.1), _check(50, "zero_check", 4.0),
          _check(74, "span_check", -3.2), _check(98, "zero_check", 0.5)]
    f = run("EQP-03", s, Context("S1", events=ev))
    assert [(x.reason, x.status, x.start, x.end) for x in f] == [("out-of-control", Status.FAIL, 26, 98)]
    assert len(f[0].evidence["failed_checks"]) == 2 and f[0].score == pytest.approx(4.0 / 2.5)


def test_eqp03_passing_checks_are_quiet_and_an_open_window_runs_to_the_end() -> None:
    s = hourly(48)
    ok = [_check(2, "zero_check", 0.8), _check(26, "span_check", -2.0)]
    assert run("EQP-03", s, Context("S1", events=ok)) == []
    other = [_check(10, "zero_check", 9.0, key="a21004")]  # another analyser
    assert run("EQP-03", s, Context("S1", events=[*ok, *other])) == []
    bad = [*ok, _check(30, "zero_check", None, passed=False)]
    f = run("EQP-03", s, Context("S1", events=bad))
    assert [(x.start, x.end) for x in f] == [(26, 48)]
    wide = run("EQP-03", s, Context("S1", events=bad), zero_limit=10.0)  # an explicit "passed" wins over the limit
    assert [(x.start, x.end) for x in wide] == [(26, 48)]


# --- EQP-04 -------------------------------------------------------------------------------------


def test_eqp04_calibration_outside_the_schedule_without_a_log_entry() -> None:
    flags = ["N"] * 48
    flags[3] = "C"  # 03:00: the scheduled hour
    flags[14:16] = ["C", "C"]  # 14:00–16:00 on day 1: not scheduled, not logged
    s = hourly(48, flags)
    sch = {"calibration_schedule": {"hours": [3]}}
    f = run("EQP-04", s, Context("S1", attrs=sch))
    assert [(x.reason, x.status, x.start, x.end) for x in f] == [("calibration-unscheduled", Status.SUSPECT, 14, 16)]
    logged = [{"time_utc": T0 + 14 * H, "kind": "calibration", "key": "a21026", "approved": True}]
    assert run("EQP-04", s, Context("S1", attrs=sch, events=logged)) == []
    rejected = [{**logged[0], "approved": False}]
    assert run("EQP-04", s, Context("S1", attrs=sch, events=rejected))[0].reason == "calibration-unapproved"
    assert [x.reason for x in run("EQP-04", s)] == ["calibration-unlogged", "calibration-unlogged"]  # no schedule


def test_eqp04_overdue_calibration_is_an_invalid_window() -> None:
    s = hourly(24 * 4, ["N"] * 96)
    ev = [{"time_utc": T0 + 2 * H, "kind": "zero_check", "key": "a21026", "new": 0.3}]
    sch = {"calibration_schedule": {"a21026": {"hours": [2], "max_interval_h": 24}}}
    f = run("EQP-04", s, Context("S1", attrs=sch, events=ev))
    assert [(x.reason, x.status, x.start, x.end) for x in f] == [("calibration-overdue", Status.FAIL, 26, 96)]
    daily = [{**ev[0], "time_utc": T0 + (2 + 24 * d) * H} for d in range(4)]
    assert run("EQP-04", s, Context("S1", attrs=sch, events=daily)) == []
    assert run("EQP-04", s) == []  # nothing known: nothing said
