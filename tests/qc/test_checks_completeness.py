"""Completeness detectors CMP-01..04 on constructed series: each fires on its case, stays quiet on clean data."""

from __future__ import annotations

import calendar
import json

import numpy as np
import pytest

from tianlan.errors import InputError
from tianlan.qc.core import Context, Finding, Mark, Series, Status, get

T0 = calendar.timegm((2024, 3, 1, 0, 0, 0)) - 8 * 3600  # 2024-03-01 00:00 Beijing, UTC s
H = 3600


def hourly(values, code: str = "a34004", *, start: int = T0, step: int = H, flags=None, received=None) -> Series:
    v = np.asarray(values, dtype=float)
    return Series("S1", code, start + step * np.arange(v.size, dtype=np.int64), v, flags=flags, received=received, step_s=step)


def run(det: str, series: Series, ctx: Context | None = None, **params) -> list[Finding]:
    """``det`` with its defaults overridden by ``params``; every evidence payload must be strict JSON."""
    spec = get(det)
    ctx = ctx or Context(series.station, series={series.parameter: series})
    out = spec.func(series, ctx, **spec.resolve(params))
    for f in out:
        json.dumps(f.evidence, allow_nan=False)
    return out


def clean(n: int, level: float = 60.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.round(level * np.exp(0.3 * np.sin(np.arange(n) * 2 * np.pi / 24) + rng.normal(0, 0.1, n)))


@pytest.mark.parametrize("det", ["CMP-01", "CMP-02", "CMP-03", "CMP-04"])
def test_parameters_resolve_and_unknown_ones_are_errors(det: str) -> None:
    spec = get(det)
    assert spec.family == "cmp" and spec.doc
    assert spec.resolve(None) == spec.defaults()
    for name, p in spec.params.items():
        assert p.doc, f"{det}.{name} has no doc"
    with pytest.raises(InputError, match=f"{det}.bogus"):
        spec.resolve({"bogus": 1})


# --- CMP-01 -------------------------------------------------------------------------------------


def test_cmp01_day_with_too_few_valid_hours_is_missing() -> None:
    v = clean(72)
    v[24 + 3:24 + 8] = np.nan  # day 2: 19 valid hours
    f = run("CMP-01", hourly(v))
    assert [(x.reason, x.status, x.start, x.end) for x in f] == [("day-incomplete", Status.MISSING, 24, 48)]
    assert f[0].evidence["valid_hours"] == 19 and f[0].evidence["required"] == 20
    v[24 + 3] = 1.0  # 20 valid hours: enough
    assert run("CMP-01", hourly(v)) == []


def test_cmp01_days_cut_by_the_window_are_not_judged() -> None:
    v = clean(60)
    v[:5] = np.nan
    assert run("CMP-01", hourly(v, start=T0 + 6 * H)) == []  # first day starts at 06:00: not whole


def test_cmp01_flags_make_values_invalid() -> None:
    v = clean(48)
    flags = np.array(["N"] * 48, dtype=object)
    flags[30:36] = "M"
    f = run("CMP-01", hourly(v, flags=flags))
    assert [x.reason for x in f] == ["day-incomplete"]


def test_cmp01_month_rules_gb3095() -> None:
    n = 31 * 24
    v = clean(n)
    v[10 * 24:15 * 24] = np.nan  # 26 valid days in March: below 27
    f = [x for x in run("CMP-01", hourly(v)) if x.reason == "month-incomplete"]
    assert len(f) == 1 and f[0].status == Status.MISSING and f[0].evidence["valid_days"] == 26
    assert (f[0].start, f[0].end) == (0, n)
    v[:25 * 24] = np.nan  # 6 valid days: the station mostly stopped
    f = [x for x in run("CMP-01", hourly(v)) if x.reason == "month-incomplete"]
    assert f[0].status == Status.SUSPECT
    feb = calendar.timegm((2024, 2, 1, 0, 0, 0)) - 8 * 3600
    w = clean(29 * 24)
    w[:4 * 24] = np.nan  # 25 valid days in February: enough
    assert [x for x in run("CMP-01", hourly(w, start=feb)) if x.reason == "month-incomplete"] == []
    assert run("CMP-01", hourly(clean(n))) == []


def test_cmp01_o3_8h_windows() -> None:
    v = clean(48)
    v[30:33] = np.nan  # windows ending 32..37 hold 5 valid hours of 8
    f = run("CMP-01", hourly(v, "a05024"))
    assert [x.reason for x in f] == ["o3-8h-incomplete"]
    assert run("CMP-01", hourly(v, "a34004")) == []


def test_cmp01_hours_from_minute_data_hj76() -> None:
    v = np.full(3 * 60, 5.0)
    v[60:80] = np.nan  # the second hour: 40 valid minutes
    f = run("CMP-01", hourly(v, "a21026", step=60))
    assert [(x.reason, x.start, x.end) for x in f] == [("hour-incomplete", 60, 120)]
    assert f[0].evidence["valid"] == 40 and f[0].evidence["required"] == 45


def test_cmp01_daily_values_count_as_days() -> None:
    v = np.full(31, 40.0)
    v[3:8] = np.nan  # 26 daily values in March
    f = run("CMP-01", hourly(v, step=86400))
    assert [(x.reason, x.status) for x in f] == [("month-incomplete", Status.MISSING)]
    assert f[0].evidence["valid_days"] == 26
    assert run("CMP-01", hourly(np.full(31, 40.0), step=86400)) == []


# --- CMP-02 -------------------------------------------------------------------------------------


def test_cmp02_unexplained_gap_is_suspect_and_a_flag_explains_it() -> None:
    v = clean(48)
    v[10:15] = np.nan
    flags = np.array(["N"] * 48, dtype=object)
    f = run("CMP-02", hourly(v, flags=flags))
    assert [(x.reason, x.status, x.start, x.end) for x in f] == [("gap-unexplained", Status.SUSPECT, 10, 15)]
    assert f[0].evidence["intervals"] == 5
    flags[10:15] = "D"
    f = run("CMP-02", hourly(v, flags=flags))
    assert [(x.reason, x.status) for x in f] == [("gap-explained", Status.MISSING)]
    assert f[0].evidence["explained_by"] == "flag:D"


def test_cmp02_short_gaps_and_clean_series_are_quiet() -> None:
    v = clean(48)
    v[5:7] = np.nan  # two intervals: allowed
    assert run("CMP-02", hourly(v, flags=["N"] * 48)) == []
    assert run("CMP-02", hourly(clean(48), flags=["N"] * 48)) == []


def test_cmp02_absent_rows_are_a_gap_too_and_marks_explain() -> None:
    s = hourly(clean(48), flags=["N"] * 48)
    keep = np.r_[0:20, 26:48]
    s = Series("S1", "a34004", s.times[keep], s.values[keep], flags=s.flags[keep])
    f = run("CMP-02", s)
    assert len(f) == 1 and f[0].evidence["intervals"] == 6 and f[0].status == Status.SUSPECT
    assert f[0].evidence["gap_start_utc"] == T0 + 20 * H and f[0].evidence["gap_end_utc"] == T0 + 26 * H
    ctx = Context("S1", series={"a34004": s}, marks=[Mark(T0 + 19 * H, T0 + 22 * H, "maintenance")])
    assert run("CMP-02", s, ctx)[0].evidence["explained_by"] == "mark:maintenance"


def test_cmp02_network_wide_gap_is_explained_by_the_neighbours() -> None:
    v = clean(48)
    v[10:15] = np.nan
    s = hourly(v, flags=["N"] * 48)
    nbs = {f"N{i}": {"a34004": hourly(v, flags=["N"] * 48)} for i in range(3)}
    f = run("CMP-02", s, Context("S1", series={"a34004": s}, neighbours=nbs))
    assert f[0].status == Status.MISSING and f[0].evidence["explained_by"] == "network"
    nbs = {f"N{i}": {"a34004": hourly(clean(48, seed=i))} for i in range(3)}
    assert run("CMP-02", s, Context("S1", series={"a34004": s}, neighbours=nbs))[0].status == Status.SUSPECT


def test_cmp02_without_any_flags_only_long_gaps_are_suspect() -> None:
    v = clean(24 * 4)
    v[10:15] = np.nan
    v[40:70] = np.nan
    f = run("CMP-02", hourly(v))
    assert [(x.reason, x.status) for x in f] == [("gap-reason-unknown", Status.MISSING), ("gap-unexplained", Status.SUSPECT)]


# --- CMP-03 -------------------------------------------------------------------------------------


def test_cmp03_late_values_and_a_backfill_burst() -> None:
    n = 48
    s = hourly(clean(n))
    rec = s.times + H + 60.0
    rec[5] += 3 * H  # one value 3 h late
    rec[20:30] = s.times[29] + H + 6 * H + np.arange(10) * 30.0  # ten old values sent within 5 min
    s.received = rec
    f = run("CMP-03", s)
    assert [(x.reason, x.start, x.end) for x in f] == [("late", 5, 6), ("backfill-burst", 20, 30)]
    assert all(x.status == Status.SUSPECT for x in f)
    assert f[1].evidence["values"] == 10
    ctx = Context("S1", series={"a34004": s}, events=[{"time_utc": int(s.times[19]), "kind": "comm"}])
    f = run("CMP-03", s, ctx)  # a logged comms outage excuses the backfill after it, not the older late value
    assert [(x.reason, x.start) for x in f] == [("late", 5)]


def test_cmp03_on_time_data_are_quiet_and_stale_feeds_are_suspect() -> None:
    s = hourly(clean(24))
    s.received = s.times + H + 90.0
    assert run("CMP-03", s) == []
    ctx = Context("S1", series={"a34004": s}, attrs={"now_utc": int(s.times[-1]) + 5 * H})
    f = run("CMP-03", s, ctx)
    assert [(x.reason, x.start) for x in f] == [("stale", 23)]


# --- CMP-04 -------------------------------------------------------------------------------------


def test_cmp04_factor_left_out_while_others_report() -> None:
    pm = hourly(clean(48), flags=["N"] * 48)
    v = clean(48, 10, seed=3)
    v[12:18] = np.nan
    so2 = hourly(v, "a21026", flags=["N"] * 48)
    ctx = Context("S1", series={"a34004": pm, "a21026": so2})
    f = run("CMP-04", so2, ctx)
    assert [(x.reason, x.status, x.start, x.end) for x in f] == [("factor-absent", Status.SUSPECT, 12, 18)]
    flags = np.array(["N"] * 48, dtype=object)
    flags[12:18] = "D"  # the analyser said it was faulty: reported, with a reason
    so2 = hourly(v, "a21026", flags=flags)
    assert run("CMP-04", so2, Context("S1", series={"a34004": pm, "a21026": so2})) == []
    so2 = hourly(v, "a21026")  # no flags at all: a day is needed
    assert run("CMP-04", so2, Context("S1", series={"a34004": pm, "a21026": so2})) == []


def test_cmp04_expected_factor_never_reported_once_per_station() -> None:
    pm = hourly(clean(24))
    so2 = hourly(clean(24, 10), "a21026")
    ctx = Context("S1", series={"a34004": pm, "a21026": so2}, attrs={"expected_parameters": ["PM2.5", "SO2", "CO", "a21004"]})
    f_pm, f_so2 = run("CMP-04", pm, ctx), run("CMP-04", so2, ctx)
    assert f_pm == []  # reported on the first code the station has: a21026
    assert [(x.reason, x.start, x.end) for x in f_so2] == [("factor-not-reported", 0, 24)]
    assert f_so2[0].evidence["missing"] == ["a21004", "a21005"]
    ctx = Context("S1", series={"a34004": pm, "a21026": so2}, attrs={"expected_parameters": ["a34004", "a21026"]})
    assert run("CMP-04", so2, ctx) == [] and run("CMP-04", pm, ctx) == []
