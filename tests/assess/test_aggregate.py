"""Aggregation under validity rules: percentiles (HJ 663), O3 MDA8, the network grid, month/year."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tianlan.assess.aggregate import (
    MDA8_WINDOWS,
    daily_max_1h,
    daily_max_8h,
    daily_mean,
    daily_values,
    hourly_cube,
    hourly_from_minutes,
    month_statistics,
    o3_8h_mean,
    percentile,
    percentile_rows,
    period_percentile,
    round_gbt8170,
    sliding_mean,
    year_statistics,
)
from tianlan.assess.validity import Coverage
from tianlan.errors import InputError

SHARED = Path(os.environ.get("TIANLAN_SHARED_DIR", Path(__file__).resolve().parents[2].parent / "shared"))
VECTORS = SHARED / "reference" / "standards" / "test_vectors.json"
HEBEI = SHARED / "data" / "cnemc-hebei-2019"


def vector(vid: str) -> dict:
    if not VECTORS.exists():
        pytest.skip(f"test vectors not found at {VECTORS} (set TIANLAN_SHARED_DIR to the shared folder)")
    return next(v for v in json.loads(VECTORS.read_text(encoding="utf-8"))["vectors"] if v["id"] == vid)


# -- percentiles (HJ 663) ----------------------------------------------------------------------------


def test_assess_001_co_p95() -> None:
    v = vector("ASSESS-001")
    got = percentile(v["inputs"]["co_daily_mg_m3"], v["inputs"]["p"])
    assert round(got, 10) == v["expected"]["p95"]


def test_assess_002_o3_p90() -> None:
    v = vector("ASSESS-002")
    assert percentile(v["inputs"]["o3_mda8_ug_m3"], v["inputs"]["p"]) == pytest.approx(v["expected"]["p90"], abs=1e-9)


def test_percentile_is_the_linear_method_and_ignores_gaps() -> None:
    xs = [5.0, None, 1.0, 3.0, float("nan"), 2.0, 4.0]
    assert percentile(xs, 50) == 3.0
    assert percentile(xs, 100) == 5.0 and percentile(xs, 0) == 1.0
    assert percentile([7.0], 95) == 7.0
    assert np.isnan(percentile([None, None], 95))
    with pytest.raises(ValueError):
        percentile([1.0], 101)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(0, 1000, allow_nan=False), min_size=1, max_size=60),
       st.sampled_from([50, 90, 95, 98, 12.5]))
def test_percentile_matches_numpy_linear(xs: list[float], p: float) -> None:
    assert percentile(xs, p) == pytest.approx(float(np.percentile(xs, p, method="linear")), rel=1e-12, abs=1e-9)


def test_percentile_rows_per_row_counts() -> None:
    rows = np.array([[1, 2, 3, 4, np.nan], [10, np.nan, np.nan, np.nan, np.nan], [np.nan] * 5])
    got = percentile_rows(rows, 50)
    assert got[0] == 2.5 and got[1] == 10 and np.isnan(got[2])


def test_period_percentile_needs_its_days() -> None:
    a = period_percentile([1.0] * 26 + [None] * 5, 95, required=27, expected=31)
    assert a.value is None and a.coverage == Coverage(31, 26, 26, 0, 27)
    assert period_percentile([1.0] * 27 + [None] * 4, 95, required=27).value == 1.0


# -- O3 8 h and MDA8 ----------------------------------------------------------------------------------


def test_assess_005_mda8() -> None:
    v = vector("ASSESS-005")
    a = daily_max_8h(v["inputs"]["o3_hourly_ug_m3_hours_1_to_24"])
    assert a.coverage.valid == v["expected"]["valid_windows"]
    assert round(a.value, 2) == v["expected"]["mda8"]
    assert a.extra["window_end_hour"] == v["expected"]["window_end_hour"]
    assert round_gbt8170(a.value) == v["expected"]["mda8_rounded_integer"]


def test_assess_006_mda8_three_missing_morning_hours() -> None:
    v = vector("ASSESS-006")
    a = daily_max_8h(v["inputs"]["o3_hourly_ug_m3_hours_1_to_24"])
    windows = a.extra["windows"]
    assert (windows[0] is not None) == v["expected"]["window_ending_8_valid"]
    assert a.coverage.valid == v["expected"]["valid_windows"]
    assert a.valid == v["expected"]["day_mda8_valid"]
    assert round(a.value, 2) == v["expected"]["mda8"]


def test_8h_window_needs_6_hours() -> None:
    assert o3_8h_mean([100.0] * 5 + [None] * 3).value is None
    a = o3_8h_mean([100.0] * 6 + [None] * 2)
    assert a.value == 100.0 and a.coverage == Coverage(8, 6, 6, 0, 6)
    assert o3_8h_mean([100.0] * 8, ["N"] * 5 + ["C"] * 3).value is None


def test_mda8_13_windows_invalid_unless_above_limit() -> None:
    # Hours 1-4 missing: windows ending 8 and 9 have 4 and 5 hours (invalid); 10..24 valid = 15.
    base = [None] * 4 + [50.0] * 20
    assert daily_max_8h(base).coverage.valid == 15 and daily_max_8h(base).valid
    # Hours 1-5 missing: windows ending 8, 9, 10 invalid (3, 4, 5 hours) → 14 valid, still valid.
    h14 = [None] * 5 + [50.0] * 19
    assert daily_max_8h(h14).coverage.valid == 14 and daily_max_8h(h14).valid
    # Hours 1-6 missing → 13 valid windows: invalid …
    h13 = [None] * 6 + [50.0] * 18
    a = daily_max_8h(h13)
    assert a.coverage.valid == 13 and a.value is None
    # … unless the maximum exceeds 160 (after rounding to whole µg/m3).
    high = [None] * 6 + [170.0] * 18
    assert daily_max_8h(high).value == 170.0
    edge = [None] * 6 + [160.4] * 18  # rounds to 160: not above the limit
    assert daily_max_8h(edge).value is None
    assert daily_max_8h([None] * 6 + [160.6] * 18).value == pytest.approx(160.6)


def test_mda8_uses_only_the_same_day() -> None:
    # Only hours 17..24 present: windows ending 22, 23, 24 have 6, 7, 8 hours; nothing is borrowed
    # from the next day, and the day stands on 3 windows because its maximum is above 160.
    a = daily_max_8h([None] * 16 + [180.0 + h for h in range(8)])
    assert a.coverage.valid == 3 and a.extra["window_end_hour"] == 24 and a.value == pytest.approx(183.5)


def test_o3_daily_max_1h_needs_20_hours() -> None:
    assert daily_max_1h([80.0] * 19 + [None] * 5).value is None
    assert daily_max_1h([80.0] * 19 + [90.0] + [None] * 4).value == 90.0


# -- minute data → hours (frame) -------------------------------------------------------------------


def _minutes(n_valid: int, *, flags: list[str] | None = None, station: str = "S1") -> pl.DataFrame:
    t0 = dt.datetime(2019, 1, 1, 8, 0)
    n = 60
    vals = [10.0 if i < n_valid else None for i in range(n)]
    df = pl.DataFrame({"station": [station] * n, "time": [t0 + dt.timedelta(minutes=i) for i in range(n)],
                       "SO2": vals})
    if flags is not None:
        df = df.with_columns(pl.Series("SO2_flag", flags + ["N"] * (n - len(flags))))
    return df


def test_hourly_from_minutes_45_edge_and_flags() -> None:
    h44 = hourly_from_minutes(_minutes(44), pollutants=["SO2"])
    h45 = hourly_from_minutes(_minutes(45), pollutants=["SO2"])
    assert h44["SO2"][0] is None and h44["SO2_valid"][0] == 44
    assert h45["SO2"][0] == 10.0 and h45["time"][0] == dt.datetime(2019, 1, 1, 8)
    f = hourly_from_minutes(_minutes(50, flags=["M"] * 6), pollutants=["SO2"])
    assert f["SO2"][0] is None and f["SO2_flagged"][0] == 6 and f["SO2_valid"][0] == 44 and f["SO2_present"][0] == 50


# -- the network grid ----------------------------------------------------------------------------------


def _hours(day: dt.date, values: list[float | None], *, station: str = "S1", col: str = "O3") -> pl.DataFrame:
    t0 = dt.datetime.combine(day, dt.time())
    return pl.DataFrame({"station": [station] * 24, "time": [t0 + dt.timedelta(hours=h) for h in range(24)],
                         col: values}, schema_overrides={col: pl.Float64})


def test_cube_daily_values_match_single_series(rng: np.random.Generator | None = None) -> None:
    rng = np.random.default_rng(7)
    frames = []
    series: dict[tuple[str, int], dict[str, list[float | None]]] = {}
    for s in ("A", "B", "C"):
        for d in range(5):
            day = dt.date(2019, 7, 1) + dt.timedelta(days=d)
            cols: dict[str, list[float | None]] = {}
            for p in ("SO2", "NO2", "CO", "O3", "PM10", "PM2.5"):
                v = rng.uniform(1, 250, 24).round(1).tolist()
                for i in rng.choice(24, int(rng.integers(0, 12)), replace=False):
                    v[i] = None
                cols[p] = v
            series[(s, d)] = cols
            frames.append(pl.DataFrame({"station": [s] * 24,
                                        "time": [dt.datetime.combine(day, dt.time()) + dt.timedelta(hours=h)
                                                 for h in range(24)], **cols},
                                       schema_overrides={p: pl.Float64 for p in cols}))
    frame = pl.concat(frames).sample(fraction=1.0, shuffle=True, seed=1)  # order must not matter
    dv = daily_values(hourly_cube(frame))
    for (s, d), cols in series.items():
        i = dv.keys.index(s)
        for p in ("SO2", "NO2", "CO", "PM10", "PM2.5"):
            want = daily_mean(cols[p], pollutant=p).value
            got = dv.values[p][i, d]
            assert (want is None and np.isnan(got)) or got == pytest.approx(want, rel=1e-12)
        want8 = daily_max_8h(cols["O3"])
        got8 = dv.values["O3_8h"][i, d]
        assert (want8.value is None and np.isnan(got8)) or got8 == pytest.approx(want8.value, rel=1e-12)
        assert dv.valid["O3_8h"][i, d] == want8.coverage.valid
        want1 = daily_max_1h(cols["O3"]).value
        assert (want1 is None and np.isnan(dv.values["O3"][i, d])) or dv.values["O3"][i, d] == want1


def test_cube_flags_excluded_and_counted() -> None:
    day = dt.date(2019, 3, 5)
    df = _hours(day, [40.0] * 24, col="PM2.5").with_columns(
        pl.Series("PM2.5_flag", ["N"] * 19 + ["M", "C", "D", "F", "T"]))
    dv = daily_values(hourly_cube(df))
    assert np.isnan(dv.values["PM2.5"][0, 0])
    assert dv.coverage("PM2.5", "S1", day) == Coverage(24, 24, 19, 5)
    frame = dv.to_frame()
    assert frame["PM2.5"][0] is None and frame["PM2.5_flagged"][0] == 5 and frame["PM2.5_expected"][0] == 24


def test_cube_hour_label_end_moves_midnight_to_previous_day() -> None:
    df = pl.DataFrame({"station": ["S1", "S1"], "time": [dt.datetime(2019, 1, 2, 0), dt.datetime(2019, 1, 2, 1)],
                       "SO2": [1.0, 2.0]})
    cube = hourly_cube(df, hour_label="end")
    assert cube.start == dt.date(2019, 1, 1) and cube.n_days == 2
    assert cube.values["SO2"][0, 0, 23] == 1.0 and cube.values["SO2"][0, 1, 0] == 2.0


def test_cube_rejects_duplicates_off_hour_and_unknown_stations() -> None:
    t = dt.datetime(2019, 1, 1, 5)
    dup = pl.DataFrame({"station": ["S1", "S2", "S1"], "time": [t, t, t], "SO2": [1.0, 2.0, 3.0]})
    with pytest.raises(InputError, match="duplicate") as e:
        hourly_cube(dup)
    assert e.value.field == "time" and e.value.where == "row 3"
    off = pl.DataFrame({"station": ["S1", "S1"], "time": [t, t + dt.timedelta(minutes=30)], "SO2": [1.0, 2.0]})
    with pytest.raises(InputError, match="not on the hour") as e:
        hourly_cube(off)
    assert e.value.where == "row 2"
    with pytest.raises(InputError) as e:
        hourly_cube(dup.head(2), keys=["S1"])
    assert e.value.field == "station" and e.value.where == "row 2"


def test_tz_aware_times_are_read_as_beijing() -> None:
    utc = dt.datetime(2019, 1, 1, 16, tzinfo=dt.UTC)  # 2019-01-02 00:00 Beijing
    df = pl.DataFrame({"station": ["S1"], "time": [utc], "NO2": [5.0]})
    cube = hourly_cube(df)
    assert cube.start == dt.date(2019, 1, 2) and cube.values["NO2"][0, 0, 0] == 5.0


def test_sliding_mean_crosses_midnight() -> None:
    df = pl.concat([_hours(dt.date(2019, 6, 1), [10.0] * 24), _hours(dt.date(2019, 6, 2), [20.0] * 24)])
    cube = hourly_cube(df)
    s8 = sliding_mean(cube, "O3", 8, 6)
    assert np.isnan(s8[0, 0, 4]) and s8[0, 0, 5] == 10.0  # 6 hours seen by hour index 5
    assert s8[0, 1, 3] == pytest.approx((4 * 10 + 4 * 20) / 8)  # window 20:00 … 03:00
    s24 = sliding_mean(cube, "O3", 24, 20)
    assert s24[0, 1, 11] == pytest.approx((12 * 10 + 12 * 20) / 24)


# -- month and year on the grid ---------------------------------------------------------------------


def _daily_frame(days: list[dt.date], value: float = 50.0, station: str = "S1") -> pl.DataFrame:
    return pl.concat([_hours(d, [value] * 24, station=station, col="PM2.5") for d in days])


def test_month_statistics_27_and_february_25() -> None:
    jan = [dt.date(2019, 1, d) for d in range(1, 28)]  # 27 days
    st27 = month_statistics(daily_values(hourly_cube(_daily_frame(jan), end=dt.date(2019, 1, 31))), 2019, 1)
    assert st27.values["PM2.5"][0] == 50.0 and st27.valid_days["PM2.5"][0] == 27 and st27.expected_days == 31
    st26 = month_statistics(daily_values(hourly_cube(_daily_frame(jan[:-1]), end=dt.date(2019, 1, 31))), 2019, 1)
    assert np.isnan(st26.values["PM2.5"][0]) and st26.valid_days["PM2.5"][0] == 26
    feb = [dt.date(2019, 2, d) for d in range(1, 26)]
    assert month_statistics(daily_values(hourly_cube(_daily_frame(feb))), 2019, 2).values["PM2.5"][0] == 50.0
    assert np.isnan(month_statistics(daily_values(hourly_cube(_daily_frame(feb[:-1]))), 2019, 2).values["PM2.5"][0])


def test_year_statistics_324_days_and_every_month() -> None:
    year = [dt.date(2019, 1, 1) + dt.timedelta(days=i) for i in range(365)]
    drop = {d for d in year if d.day > 27}  # keep 27 days of each month → 12 × 27 − 2 (Feb 28 dropped) …
    kept = [d for d in year if d not in drop]
    assert len(kept) == 324
    dv = daily_values(hourly_cube(_daily_frame(kept), start=dt.date(2019, 1, 1), end=dt.date(2019, 12, 31)))
    ys = year_statistics(dv, 2019)
    assert ys.values["PM2.5"][0] == 50.0 and ys.valid_days["PM2.5"][0] == 324 and ys.required_days == 324
    kept_323 = kept[1:]
    dv = daily_values(hourly_cube(_daily_frame(kept_323), start=dt.date(2019, 1, 1), end=dt.date(2019, 12, 31)))
    assert np.isnan(year_statistics(dv, 2019).values["PM2.5"][0])
    # 340 days but only 26 in July → invalid (each month needs 27)
    many = [d for d in year if not (d.month == 7 and d.day > 26)][:340]
    many = [d for d in year if not (d.month == 7 and d.day > 26)]
    dv = daily_values(hourly_cube(_daily_frame(many), start=dt.date(2019, 1, 1), end=dt.date(2019, 12, 31)))
    ys = year_statistics(dv, 2019)
    assert ys.valid_days["PM2.5"][0] >= 324 and np.isnan(ys.values["PM2.5"][0])


# -- real data ---------------------------------------------------------------------------------------


def test_hebei_daily_means_equal_the_published_24h_values_at_midnight() -> None:
    """The CNEMC release labels hours by their end: the PM2.5 24 h sliding mean published at 00:00 of
    day D+1 is the daily mean of day D. Our grid (hour_label="end") must reproduce it for every
    complete station-day of January 2019 (published values are whole µg/m3)."""
    path = HEBEI / "2019-01.csv.gz"
    if not path.exists():
        pytest.skip(f"real data not found at {path} (set TIANLAN_SHARED_DIR)")
    raw = pl.read_csv(path, schema_overrides={"station": pl.Utf8, "date": pl.Utf8})
    df = raw.with_columns((pl.col("date").str.strptime(pl.Datetime, "%Y%m%d") + pl.duration(hours=pl.col("hour")))
                          .alias("time"))
    frame = daily_values(hourly_cube(df, hour_label="end")).to_frame()
    pub = raw.filter(pl.col("hour") == 0).select(
        "station", (pl.col("date").str.strptime(pl.Date, "%Y%m%d") - pl.duration(days=1)).alias("date"),
        pl.col("PM2.5_24h").alias("pub"))
    j = frame.filter(pl.col("PM2.5_present") == 24).join(pub, on=["station", "date"]).drop_nulls(["pub", "PM2.5"])
    assert j.height > 1000
    assert (j["PM2.5"] - j["pub"]).abs().max() <= 0.5 + 1e-9
    assert MDA8_WINDOWS == 17


def test_hourly_from_minutes_rules_by_date_and_several_stations() -> None:
    from tianlan.assess.validity import rules_for

    a = _minutes(45, station="A")
    b = _minutes(44, station="B").with_columns(pl.col("time") + pl.duration(days=2600))  # 2026-02-14
    h = hourly_from_minutes(pl.concat([a, b]), pollutants=["SO2"], rules=rules_for)
    assert h["station"].to_list() == ["A", "B"] and h["SO2"].to_list() == [10.0, None]


def test_cube_flag_texts_are_read_like_single_values() -> None:
    day = dt.date(2019, 3, 6)
    flags = [" N", "N ", "", None, "3"] + ["N"] * 15 + ["T", "B", "S", "?"]
    df = _hours(day, [40.0] * 24, col="SO2").with_columns(pl.Series("SO2_flag", flags, dtype=pl.Utf8))
    dv = daily_values(hourly_cube(df))
    want = daily_mean([40.0] * 24, flags, pollutant="SO2")
    assert dv.values["SO2"][0, 0] == want.value == 40.0
    assert dv.coverage("SO2", "S1", day) == Coverage(24, 24, 20, 4) and want.coverage.flagged == 4
