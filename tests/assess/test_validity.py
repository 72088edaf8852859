"""Validity rules (GB 3095 Table 4) at their exact edges, flag screening, edition by data date."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import numpy as np
import pytest

from tianlan.assess.aggregate import daily_mean, hourly_mean, monthly_mean
from tianlan.assess.validity import (
    RULES_2012,
    RULES_2026,
    Coverage,
    flag_is_valid,
    flag_reason,
    month_valid,
    rules_for,
    rules_for_standard,
    screen,
    year_valid,
)

SHARED = Path(os.environ.get("TIANLAN_SHARED_DIR", Path(__file__).resolve().parents[2].parent / "shared"))
VECTORS = SHARED / "reference" / "standards" / "test_vectors.json"


def vector(vid: str) -> dict:
    if not VECTORS.exists():
        pytest.skip(f"test vectors not found at {VECTORS} (set TIANLAN_SHARED_DIR to the shared folder)")
    return next(v for v in json.loads(VECTORS.read_text(encoding="utf-8"))["vectors"] if v["id"] == vid)


# -- flags ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("flag", ["N", None, "", " N ", "3"])
def test_valid_flags(flag: str | None) -> None:
    assert flag_is_valid(flag)


@pytest.mark.parametrize("flag", ["F", "M", "S", "D", "C", "T", "B", "P", "0", "2", "X", "n"])
def test_invalidating_flags(flag: str) -> None:
    assert not flag_is_valid(flag)


def test_flag_reason_names_the_meaning() -> None:
    assert "maintenance" in flag_reason("M") and "维护" in flag_reason("M")
    assert "calibration" in flag_reason("C")
    assert "unknown" in flag_reason("Q")


def test_screen_blanks_and_counts_flagged() -> None:
    v, present, flagged = screen([1.0, 2.0, None, 4.0, 5.0], ["N", "M", "N", "T", None])
    assert present == 4 and flagged == 2
    assert np.isnan(v[1]) and np.isnan(v[2]) and np.isnan(v[3]) and v[4] == 5.0


# -- 1 h from minutes: 45 minutes -------------------------------------------------------------------


def test_hour_needs_45_minutes() -> None:
    a44 = hourly_mean([10.0] * 44 + [None] * 16, pollutant="SO2")
    a45 = hourly_mean([10.0] * 45 + [None] * 15, pollutant="SO2")
    assert a44.value is None and a44.coverage == Coverage(60, 44, 44, 0, 45)
    assert a45.value == 10.0 and a45.coverage.valid == 45 and a45.coverage.missing == 15


def test_flagged_minutes_do_not_count_towards_45() -> None:
    values = [10.0] * 50 + [99.0] * 10
    flags = ["N"] * 44 + ["C"] * 6 + ["N"] * 10
    a = hourly_mean(values, flags, pollutant="NO2")
    # 54 valid (44 + 10), 6 calibration minutes excluded and counted
    assert a.coverage == Coverage(60, 60, 54, 6, 45)
    assert a.value == pytest.approx((44 * 10 + 10 * 99) / 54)
    b = hourly_mean([10.0] * 50, ["N"] * 44 + ["M"] * 6, pollutant="NO2")
    assert b.value is None and b.coverage.flagged == 6 and b.coverage.valid == 44


# -- daily mean: 20 hours --------------------------------------------------------------------------


def test_assess_007_daily_mean_needs_20_hours() -> None:
    v = vector("ASSESS-007")
    got = [daily_mean([50.0] * n + [None] * (24 - n), pollutant="PM2.5").valid for n in v["inputs"]["valid_hours"]]
    assert got == v["expected"]["daily_mean_valid"]


@pytest.mark.parametrize("pollutant", ["SO2", "NO2", "CO", "PM10", "PM2.5"])
def test_daily_19_vs_20_hours_each_pollutant(pollutant: str) -> None:
    assert daily_mean([1.0] * 19 + [None] * 5, pollutant=pollutant).value is None
    assert daily_mean([1.0] * 20 + [None] * 4, pollutant=pollutant).value == 1.0


def test_daily_flagged_hours_excluded_and_counted() -> None:
    hours = [30.0] * 24
    flags = ["N"] * 19 + ["D"] * 5
    a = daily_mean(hours, flags, pollutant="SO2")
    assert a.value is None and a.coverage == Coverage(24, 24, 19, 5, 20)
    b = daily_mean(hours, ["N"] * 20 + ["B"] * 4, pollutant="SO2")
    assert b.value == 30.0 and b.coverage.flagged == 4


def test_tsp_pb_bap_need_24_hours() -> None:
    assert RULES_2012.hours_for_day("TSP") == 24 and RULES_2026.hours_for_day("Pb") == 24
    assert daily_mean([1.0] * 23 + [None], pollutant="BaP").value is None


# -- month and year --------------------------------------------------------------------------------


def test_month_27_days_february_25() -> None:
    assert not month_valid(26, 2019, 1, RULES_2012) and month_valid(27, 2019, 1, RULES_2012)
    assert not month_valid(24, 2019, 2, RULES_2012) and month_valid(25, 2019, 2, RULES_2012)
    assert not month_valid(24, 2020, 2, RULES_2012) and month_valid(25, 2020, 2, RULES_2012)  # leap year too
    assert monthly_mean([5.0] * 26 + [None] * 5, 2019, 1).value is None
    m = monthly_mean([5.0] * 27 + [None] * 4, 2019, 1)
    assert m.value == 5.0 and m.coverage == Coverage(31, 27, 27, 0, 27)
    assert monthly_mean([5.0] * 25 + [None] * 3, 2019, 2).value == 5.0
    assert monthly_mean([5.0] * 24 + [None] * 4, 2019, 2).value is None


def test_year_324_days_and_each_month() -> None:
    full = {m: 27 for m in range(1, 13)} | {2: 25}
    assert year_valid(324, 2019, RULES_2012, full)
    assert not year_valid(323, 2019, RULES_2012, full)
    assert year_valid(324, 2019, RULES_2012)  # month counts not given: the 324 rule alone
    short = full | {7: 26}
    assert not year_valid(340, 2019, RULES_2012, short)


# -- editions by data date -------------------------------------------------------------------------


def test_rules_switch_on_2026_03_01() -> None:
    assert rules_for(dt.date(2026, 2, 28)) is RULES_2012
    assert rules_for(dt.date(2026, 3, 1)) is RULES_2026
    assert rules_for(dt.datetime(2026, 3, 1, 0, 30)) is RULES_2026
    assert rules_for(dt.date(2019, 1, 1), choice="HJ633-2026") is RULES_2026
    assert rules_for_standard("GB 3095-2026") is RULES_2026
    with pytest.raises(ValueError):
        rules_for_standard("GB 3095-1996")


def test_both_editions_have_the_table_4_numbers() -> None:
    for r in (RULES_2012, RULES_2026):
        assert r.minutes_for_hour("SO2") == 45 and r.hours_for_day("NO2") == 20 and r.o3_8h_min_hours == 6
        assert r.days_for_month(2026, 2) == 25 and r.days_for_month(2026, 4) == 27 and r.days_for_year(2026) == 324
        assert r.mda8_min_windows == 14
