"""Edition choice by the date of the data (reference README §0) and the dated standards files."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import numpy as np
import polars as pl
import pytest
from conftest import STANDARDS_REF
from hypothesis import given, settings
from hypothesis import strategies as st

from tianlan.assess.aqi_frame import EDITIONS, editions_column
from tianlan.assess.editions import (
    STANDARD_CHOICES,
    Edition,
    auto_periods,
    edition_for,
    load_breakpoints,
    parse_standard,
    spec,
    switch_points,
)
from tianlan.errors import InputError

PUB, TEXT, NEW = Edition.HJ633_2012_PUBLISHED, Edition.HJ633_2012, Edition.HJ633_2026
SWITCH = datetime(2026, 3, 1)


def test_edition_names() -> None:
    assert [e.value for e in Edition] == ["HJ633-2012", "HJ633-2012-published", "HJ633-2026"]
    assert STANDARD_CHOICES == ("auto", "HJ633-2012", "HJ633-2012-published", "HJ633-2026")
    assert switch_points() == (SWITCH,)


def test_daily_switch_by_calendar_date() -> None:
    assert edition_for(date(2026, 2, 28), "daily") is TEXT
    assert edition_for(date(2026, 3, 1), "daily") is NEW
    assert edition_for(datetime(2026, 2, 28, 23, 59), "daily") is TEXT  # a datetime counts by its date
    assert edition_for(datetime(2026, 3, 1, 0, 0), "daily") is NEW
    assert edition_for(date(2019, 6, 30), "daily") is TEXT


def test_hourly_switch_by_hour_ending_time() -> None:
    assert edition_for(datetime(2026, 2, 28, 23, 0), "hourly") is PUB
    assert edition_for(datetime(2026, 2, 28, 23, 59), "hourly") is PUB
    assert edition_for(datetime(2026, 2, 28, 23, 59, 59, 999999), "hourly") is PUB
    # the hour 23:00–24:00 of Feb 28 is labelled by its end, 2026-03-01 00:00: reported under 2026
    assert edition_for(datetime(2026, 3, 1, 0, 0), "hourly") is NEW
    assert edition_for(datetime(2026, 3, 1, 1, 0), "hourly") is NEW


def test_hourly_time_marking_the_start() -> None:
    # HJ 212 DataTime marks the start: 23:00 start = 24:00 end -> 2026; 22:00 start -> 2012
    assert edition_for(datetime(2026, 2, 28, 23, 0), "hourly", time_marks="start") is NEW
    assert edition_for(datetime(2026, 2, 28, 22, 0), "hourly", time_marks="start") is PUB
    assert edition_for(datetime(2026, 2, 28, 22, 59), "hourly", time_marks="start") is PUB


def test_zone_aware_times_are_converted_to_beijing() -> None:
    assert edition_for(datetime(2026, 2, 28, 16, 0, tzinfo=UTC), "hourly") is NEW  # = 2026-03-01 00:00 Beijing
    assert edition_for(datetime(2026, 2, 28, 15, 59, tzinfo=UTC), "hourly") is PUB
    assert edition_for(datetime(2026, 2, 28, 16, 0, tzinfo=UTC), "daily") is NEW
    tokyo = timezone(timedelta(hours=9))
    assert edition_for(datetime(2026, 3, 1, 0, 30, tzinfo=tokyo), "hourly") is PUB  # 23:30 Beijing


def test_named_edition_overrides_the_date() -> None:
    assert edition_for(date(2019, 1, 1), "daily", "HJ633-2026") is NEW
    assert edition_for(datetime(2027, 1, 1), "hourly", "HJ633-2012") is TEXT
    assert edition_for(datetime(2027, 1, 1), "hourly", Edition.HJ633_2012_PUBLISHED) is PUB
    assert parse_standard("auto") is None


@pytest.mark.parametrize("bad", ["HJ633-2013", "hj633-2026", "", "2026", "published"])
def test_unknown_standard_names_the_option(bad: str) -> None:
    with pytest.raises(InputError) as e:
        edition_for(date(2026, 1, 1), "daily", bad)
    assert e.value.field == "--standard"
    assert "HJ633-2026" in e.value.reason


def test_bad_report_and_bare_date_for_hourly() -> None:
    with pytest.raises(InputError) as e:
        edition_for(date(2026, 1, 1), "weekly")
    assert e.value.field == "--report"
    with pytest.raises(InputError) as e:
        edition_for(date(2026, 3, 1), "hourly")
    assert e.value.field == "time"


MINUTES = st.integers(min_value=-3 * 24 * 60, max_value=3 * 24 * 60)


@settings(max_examples=300, deadline=None)
@given(MINUTES)
def test_switch_exactly_at_2026_03_01_hourly(offset_min: int) -> None:
    t = SWITCH + timedelta(minutes=offset_min)
    assert edition_for(t, "hourly") is (NEW if t >= SWITCH else PUB)
    assert edition_for(t, "hourly", time_marks="start") is (NEW if t + timedelta(hours=1) >= SWITCH else PUB)
    assert edition_for(t, "daily") is (NEW if t.date() >= SWITCH.date() else TEXT)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=-72, max_value=72), min_size=1, max_size=40), st.sampled_from(["end", "start"]))
def test_vectorised_edition_choice_equals_scalar(hours: list[int], marks: str) -> None:
    times = [SWITCH + timedelta(hours=h) for h in hours]
    got = editions_column(pl.Series("time", times, dtype=pl.Datetime("us")), "hourly", time_marks=marks)  # type: ignore[arg-type]
    assert [EDITIONS[i] for i in got] == [edition_for(t, "hourly", time_marks=marks) for t in times]  # type: ignore[arg-type]
    days = sorted({t.date() for t in times})
    got_d = editions_column(pl.Series("time", days, dtype=pl.Date), "daily")
    assert [EDITIONS[i] for i in got_d] == [edition_for(d, "daily") for d in days]


def test_vectorised_edition_choice_zone_aware() -> None:
    s = pl.Series("time", [datetime(2026, 2, 28, 15, 0), datetime(2026, 2, 28, 16, 0)]).dt.replace_time_zone("UTC")
    assert [EDITIONS[i] for i in editions_column(s, "hourly")] == [PUB, NEW]
    named = editions_column(s, "hourly", "HJ633-2012")
    assert np.all(named == EDITIONS.index(TEXT))


def test_auto_table_is_contiguous_and_dated() -> None:
    periods = auto_periods()
    assert periods[0].start is None and periods[-1].end is None
    for a, b in zip(periods, periods[1:], strict=False):
        assert a.end is not None and b.start == a.end + timedelta(days=1)
    assert spec(NEW).valid_from == date(2026, 3, 1)
    assert spec(TEXT).valid_to == date(2026, 2, 28) == spec(PUB).valid_to


def test_edition_specs() -> None:
    assert [u.key for u in spec(PUB).hourly] == ["SO2", "NO2", "CO", "O3", "PM10", "PM2.5"]
    assert {u.key: u.input for u in spec(TEXT).hourly}["PM2.5"] == "pm25_24h_sliding"
    assert "O3" not in {u.key for u in spec(NEW).daily}
    assert spec(NEW).decimals("co_1h") == 1 and spec(NEW).decimals("pm25_24h") == 0
    assert spec(TEXT).decimals("co_1h") is None
    assert spec(NEW).exceeding_above is None and spec(TEXT).exceeding_above == 100
    assert spec(NEW).special["so2_1h"].iaqi == 200 and spec(NEW).special["o3_8h"].iaqi == 300
    assert spec(TEXT).special["so2_1h"].substitute == "so2_24h"


@pytest.mark.parametrize(
    "ours, reference",
    [
        ("hj633_2012_iaqi.csv", "hj633_iaqi.csv"),
        ("hj633_2026_iaqi.csv", "hj633_2026_iaqi.csv"),
        ("hj633_levels.csv", "hj633_levels.csv"),
        ("hj633_special_rules.csv", "hj633_special_rules.csv"),
    ],
)
def test_standards_files_are_verbatim_copies_of_the_reference(ours: str, reference: str) -> None:
    from importlib import resources

    ref = STANDARDS_REF / reference
    if not ref.is_file():
        pytest.skip(f"reference {ref} not found (set TIANLAN_SHARED_DIR to the shared folder)")
    packaged = resources.files("tianlan.assess").joinpath("standards", ours).read_bytes()
    assert packaged == ref.read_bytes()


def test_breakpoint_tables_differ_only_in_pm_at_100() -> None:
    old, new = load_breakpoints("hj633_2012_iaqi.csv"), load_breakpoints("hj633_2026_iaqi.csv")
    diff = {(k, lv) for k in old for (bp, lv) in old[k] if (bp, lv) not in new[k]}
    assert diff == {("pm10_24h", 100), ("pm25_24h", 100)}
    assert dict((lv, bp) for bp, lv in new["pm25_24h"])[100] == 60
    assert dict((lv, bp) for bp, lv in new["pm10_24h"])[100] == 120
