"""Scalar AQI (tianlan.assess.aqi): exact arithmetic, special rules, reports, primary/exceeding, NA rule."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction

import pytest

from tianlan.assess.aqi import (
    AqiResult,
    beyond_scale,
    daily_aqi,
    exact,
    hourly_aqi,
    iaqi,
    round_half_even,
    rounded_concentration,
)
from tianlan.assess.editions import Edition, spec
from tianlan.assess.levels import Level
from tianlan.errors import InputError

PUB, TEXT, NEW = Edition.HJ633_2012_PUBLISHED, Edition.HJ633_2012, Edition.HJ633_2026
ALL6 = {"SO2": 10, "NO2": 30, "CO": 0.5, "O3": 60, "PM10": 40, "PM2.5": 20}


def test_float_trap_co_2_2() -> None:
    naive = math.ceil((50 / 2) * (2.2 - 2) + 50)
    assert naive == 56  # the trap this guards against (IAQI-016)
    for ed in Edition:
        assert iaqi("co_24h", 2.2, ed) == 55
        assert iaqi("co_24h", "2.2", ed) == 55
        assert iaqi("co_24h", Decimal("2.2"), ed) == 55
        assert iaqi("co_24h", Fraction(11, 5), ed) == 55


def test_every_accepted_number_type() -> None:
    assert exact(35) == 35 and exact(35.0) == 35 and exact("35") == 35 and exact(Decimal("35.0")) == 35
    assert exact(None) is None and exact(float("nan")) is None and exact("") is None and exact("NA") is None
    for bad in (-1, -0.1, "-3", float("inf"), "inf", "abc", True):
        with pytest.raises(InputError):
            exact(bad)


def test_negative_and_unknown_indicator_rejected() -> None:
    with pytest.raises(InputError) as e:
        iaqi("pm25_24h", -1, TEXT)
    assert e.value.field == "pm25_24h"
    with pytest.raises(InputError) as e:
        iaqi("pm25_1h", 10, TEXT)
    assert e.value.field == "indicator"
    with pytest.raises(InputError) as e:
        hourly_aqi({"PM25": 10}, TEXT)
    assert e.value.field == "PM25"


def test_round_half_even() -> None:
    assert round_half_even(Fraction("35.5"), 0) == 36
    assert round_half_even(Fraction("34.5"), 0) == 34
    assert round_half_even(Fraction("1.25"), 1) == Fraction("1.2")
    assert round_half_even(Fraction("1.35"), 1) == Fraction("1.4")
    assert round_half_even(Fraction("1.2500001"), 1) == Fraction("1.3")
    assert round_half_even(Fraction(1, 3), 1) == Fraction("0.3")
    assert rounded_concentration("pm25_24h", 35.5, TEXT) == Fraction("35.5")  # 2012: no rounding
    assert rounded_concentration("co_1h", 1.35, NEW) == Fraction("1.4")


def test_2026_rounding_then_ceiling() -> None:
    assert iaqi("pm25_24h", 35.4, NEW) == 50  # 35 -> 50
    assert iaqi("pm25_24h", 35.4, TEXT) == 51  # 50.5 -> 51, no rounding in 2012
    assert iaqi("co_24h", 2.25, NEW) == 55  # 2.2 -> 55 (half to even)


def test_beyond_scale_caps_at_500() -> None:
    assert iaqi("pm25_24h", 500, TEXT) == 500 and not beyond_scale("pm25_24h", 500, TEXT)
    assert iaqi("pm25_24h", 500.1, TEXT) == 500 and beyond_scale("pm25_24h", 500.1, TEXT)
    assert iaqi("pm25_24h", 500.4, NEW) == 500 and not beyond_scale("pm25_24h", 500.4, NEW)  # rounds to 500
    r = daily_aqi({"PM2.5": 900}, TEXT)
    assert r.aqi == 500 and r.note is not None and "500" in r.note


def test_special_rules_above_800() -> None:
    # 2012: SO2 1 h > 800 has no 1 h IAQI; O3 8 h > 800 has no 8 h IAQI
    assert iaqi("so2_1h", 800, TEXT) == 200 and iaqi("so2_1h", 801, TEXT) is None
    assert iaqi("o3_8h", 800, TEXT) == 300 and iaqi("o3_8h", 800.5, TEXT) is None
    # 2026: fixed values; 800.4 rounds to 800 first
    assert iaqi("so2_1h", 900, NEW) == 200 and iaqi("so2_1h", 800.4, NEW) == 200
    assert iaqi("o3_8h", 5000, NEW) == 300
    # 2012 hourly without the 24 h value: SO2 gets no IAQI and the note says so
    r = hourly_aqi({**ALL6, "SO2": 900}, PUB)
    assert "SO2" not in r.iaqi and r.note is not None and "SO2" in r.note
    r = hourly_aqi({**ALL6, "SO2": 900}, PUB, so2_24h=3000)
    assert r.iaqi["SO2"] == 500 and r.note is not None and "500" in r.note


def test_2012_special_rules_break_monotonicity_as_written() -> None:
    # the standard's own discontinuity at 800: documented, not a bug of ours
    below = hourly_aqi({**ALL6, "SO2": 800}, PUB, so2_24h=100)
    above = hourly_aqi({**ALL6, "SO2": 801}, PUB, so2_24h=100)
    assert below.aqi == 200 and above.aqi == 75


def test_hourly_reports_by_edition() -> None:
    v = {"SO2": 30, "NO2": 120, "CO": 1.0, "O3": 210, "PM10": 200, "PM2.5": 150, "O3_8h": 165}
    pub = hourly_aqi(v, PUB)
    assert pub.iaqi == {"SO2": 10, "NO2": 60, "CO": 10, "O3": 105, "PM10": 125, "PM2.5": 200}  # no O3_8h
    assert pub.aqi == 200 and pub.primary == ("PM2.5",) and pub.exceeding == ("O3", "PM10", "PM2.5")
    text = hourly_aqi(v, TEXT, pm10_24h_sliding=90, pm25_24h_sliding=60)
    assert text.iaqi["O3_8h"] == 105 and text.iaqi["PM10"] == 70 and text.aqi == 105
    text_no_sliding = hourly_aqi(v, TEXT)
    assert "PM10" not in text_no_sliding.iaqi and text_no_sliding.note is not None
    assert "PM10_24h" in text_no_sliding.note
    new = hourly_aqi(v, NEW)
    assert new.iaqi == {"SO2": 10, "NO2": 60, "CO": 10, "O3": 105, "PM10": 131, "PM2.5": 200}
    assert new.exceeding == () and new.edition is NEW
    assert hourly_aqi(v, TEXT, o3_8h=100, pm10_24h_sliding=90, pm25_24h_sliding=60).iaqi["O3_8h"] == 50  # keyword wins


def test_daily_reports_by_edition() -> None:
    v = {"SO2": 8, "NO2": 35, "CO": 0.8, "O3": 250, "O3_8h": 120, "PM10": 100, "PM2.5": 55}
    old = daily_aqi(v, TEXT)
    assert old.iaqi["O3"] == 125 and old.aqi == 125 and old.primary == ("O3",)
    assert daily_aqi(v, PUB) == AqiResult(old.aqi, old.level, old.primary, old.iaqi, old.exceeding, PUB, old.note)
    new = daily_aqi(v, NEW)
    assert "O3" not in new.iaqi and new.aqi == 90 and new.primary == ("PM2.5",)


def test_primary_only_above_50_and_ties() -> None:
    r = daily_aqi({"PM10": 50, "PM2.5": 35}, TEXT)
    assert r.aqi == 50 and r.primary == () and r.level is Level.I
    r = daily_aqi({"SO2": 150, "NO2": 80, "CO": 4, "O3": 200, "O3_8h": 160, "PM10": 150, "PM2.5": 75}, TEXT)
    assert r.aqi == 100 and r.primary == ("SO2", "NO2", "CO", "O3", "PM10", "PM2.5") and r.exceeding == ()


def test_o3_tie_between_1h_and_8h_names_o3_once() -> None:
    r = daily_aqi({"O3": 250, "O3_8h": 187.5}, TEXT)
    assert r.iaqi["O3"] == r.iaqi["O3_8h"] == 125 and r.primary == ("O3",) and r.exceeding == ("O3",)


def test_na_rule_2026() -> None:
    partial = {k: x for k, x in ALL6.items() if k != "CO"}
    r = hourly_aqi(partial, NEW)
    assert r.aqi is None and r.level is None and r.primary == ()
    assert r.iaqi["PM2.5"] == 29  # sub-indices are still given
    assert r.note is not None and "NA" in r.note and "CO" in r.note
    r = hourly_aqi({**partial, "PM2.5": 150}, NEW)
    assert r.aqi == 200 and r.level is Level.IV and r.primary == ("PM2.5",)
    assert r.note is not None and "§5.3.1" in r.note and "NA" not in r.note.split(";")[-1]
    assert hourly_aqi(ALL6, NEW).note is None
    assert hourly_aqi({}, NEW).aqi is None
    # 2012: computed from what is there, missing listed
    r = hourly_aqi(partial, PUB)
    assert r.aqi == 40 and r.note is not None and "CO" in r.note and "NA" not in r.note
    assert hourly_aqi({}, PUB).aqi is None


def test_result_records_edition_and_level() -> None:
    r = hourly_aqi({"PM2.5": 115}, PUB)
    assert r.aqi == 150 and r.level is Level.III and r.edition is PUB
    assert r.level.category_cn == "轻度污染" and r.level.hex == "#FF7E00"


def test_every_breakpoint_gives_its_level_in_every_form() -> None:
    for ed in Edition:
        for ind, pts in spec(ed).breakpoints.items():
            for bp, level in pts:
                for form in (bp, float(bp), str(float(bp)), Decimal(str(float(bp)))):
                    assert iaqi(ind, form, ed) == level, (ed, ind, bp)


def test_indicator_names_are_case_and_unit_free() -> None:
    assert iaqi("PM25_24H", 76, TEXT) == iaqi("pm25_24h_ugm3", 76, TEXT) == 102
    assert beyond_scale("CO_1H", 151, NEW) and rounded_concentration("CO_24h_mgm3", 1.25, NEW) == Fraction("1.2")


def test_package_reexports() -> None:
    import tianlan.assess as assess

    assert assess.Edition is Edition and assess.hourly_aqi is hourly_aqi and assess.Level is Level
    with pytest.raises(AttributeError):
        assess.nothing_here  # noqa: B018
