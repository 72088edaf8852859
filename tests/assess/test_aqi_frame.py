"""Vectorised AQI on tables (tianlan.assess.aqi_frame): per-row editions, sliding means, output columns."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import polars as pl
import pytest

from tianlan.assess.aqi import daily_aqi, hourly_aqi
from tianlan.assess.aqi_frame import add_aqi, hourly_aqi_columns, iaqi_array, parse_times, sliding_means
from tianlan.assess.editions import Edition
from tianlan.errors import InputError

PUB, TEXT, NEW = Edition.HJ633_2012_PUBLISHED, Edition.HJ633_2012, Edition.HJ633_2026


def hours(start: datetime, n: int) -> list[datetime]:
    return [start + timedelta(hours=i) for i in range(n)]


def test_rows_across_the_switch_use_their_own_edition() -> None:
    t = hours(datetime(2026, 2, 28, 22), 4)  # 22:00, 23:00, 00:00 (Mar 1), 01:00
    df = pl.DataFrame({"station": ["A"] * 4, "time": t, "PM2.5": [50.0, 50, 50, 70], "PM10": [120.0] * 4})
    out = add_aqi(df, "hourly")
    assert out["edition"].to_list() == [PUB.value, PUB.value, NEW.value, NEW.value]
    assert out["AQI"].to_list() == [85, 85, None, 110]  # 2026: gases missing; AQI <= 100 -> NA, > 100 published
    assert out["IAQI_PM2.5"].to_list() == [69, 69, 80, 110]
    assert out["IAQI_PM10"].to_list() == [85, 85, 100, 100]
    assert out["note"][2] is not None and "NA" in out["note"][2]
    # the same rows with start-of-hour times: 23:00 start ends at 24:00 -> 2026
    out = add_aqi(df, "hourly", time_marks="start")
    assert out["edition"].to_list() == [PUB.value, NEW.value, NEW.value, NEW.value]


def test_named_standard_for_every_row() -> None:
    df = pl.DataFrame({"time": [date(2019, 1, 1), date(2027, 1, 1)], "PM2.5": [75.0, 75.0]})
    out = add_aqi(df, "daily", "HJ633-2026")
    assert out["edition"].to_list() == [NEW.value] * 2
    assert out["IAQI_PM2.5"].to_list() == [114, 114]
    out = add_aqi(df, "daily")
    assert out["edition"].to_list() == [TEXT.value, NEW.value]
    assert out["IAQI_PM2.5"].to_list() == [100, 114]


def test_output_columns_and_types() -> None:
    df = pl.DataFrame(
        {"time": [date(2019, 1, 1)] * 3, "O3": [250.0, None, 10], "O3_8h": [187.5, None, 10], "PM10": [1.0, None, 2]}
    )
    out = add_aqi(df, "daily")
    assert out.columns[-8:] == ["edition", "AQI", "level", "primary", "IAQI_O3", "IAQI_PM10", "IAQI_O3_8h", "note"]
    assert out["AQI"].dtype == pl.Int16 and out["level"].dtype == pl.String
    assert out["AQI"].to_list() == [125, None, 5]
    assert out["level"].to_list() == ["III", None, "I"]
    assert out["primary"].to_list() == ["O3", None, None]
    for i in range(3):
        want = daily_aqi({k: df[k][i] for k in ("O3", "O3_8h", "PM10")}, TEXT)
        assert out["note"][i] == want.note
    # 2026 daily does not use O3 1 h: no IAQI_O3 column when every row is 2026
    out = add_aqi(df.with_columns(pl.lit(date(2026, 5, 1)).alias("time")), "daily")
    assert "IAQI_O3" not in out.columns and "IAQI_O3_8h" in out.columns


def test_primary_ties_are_joined() -> None:
    df = pl.DataFrame({"time": [date(2019, 1, 1)], "PM10": [100.0], "PM2.5": [55.0]})
    assert add_aqi(df, "daily")["primary"].to_list() == ["PM10,PM2.5"]


def test_2012_text_sliding_means_from_the_table() -> None:
    n = 30
    t = hours(datetime(2019, 1, 1, 1), n)
    pm25 = [float(10 * (i + 1)) for i in range(n)]
    pm25[3] = None  # type: ignore[call-overload]
    df = pl.DataFrame({"station": ["A"] * n, "time": t, "PM2.5": pm25, "O3": [100.0] * n})
    out = add_aqi(df, "hourly", "HJ633-2012")
    # hour 24 (index 23) has 23 valid hours in its 24 h window: mean = (sum of 1..24 - 4) * 10 / 23
    mean23 = (sum(range(1, 25)) - 4) * 10 / 23
    assert out["IAQI_PM2.5"][23] == hourly_aqi({"PM2.5": 240.0}, TEXT, pm25_24h_sliding=mean23).iaqi["PM2.5"]
    assert out["IAQI_PM2.5"][18] is None  # 19 hours in the window, one missing: 18 valid < 20
    assert out["IAQI_PM2.5"][19] is None  # 20 hours, 19 valid
    assert out["IAQI_PM2.5"][20] is not None  # 21 hours, 20 valid
    # O3 8 h sliding mean computed from O3 (>= 6 valid hours), shown as IAQI_O3_8h
    assert out["IAQI_O3_8h"].to_list()[4:8] == [None, 50, 50, 50]


def test_sliding_means_minimum_counts() -> None:
    t = hours(datetime(2019, 1, 1, 1), 10)
    df = pl.DataFrame({"station": ["A"] * 10, "time": t, "O3": [8.0, None, 8, 8, 8, 8, 8, 16, 8, 8]})
    out = sliding_means(df, station_col="station", time_col="time", specs={"o3_8h": ("O3", "8h", 6)})
    got = out["o3_8h"].to_list()
    assert got[:6] == [None, None, None, None, None, None]  # hour 6 has 5 valid values
    assert got[6] == 8.0 and got[7] == pytest.approx(64 / 7)


def test_sliding_means_follow_time_not_rows() -> None:
    # a missing hour row counts as missing; the station's own rows only
    t = [datetime(2019, 1, 1, h) for h in range(0, 24) if h != 5] + [datetime(2019, 1, 2, 0)]
    n = len(t)
    df = pl.DataFrame({"station": ["A"] * n + ["B"] * n, "time": t + t, "PM10": [10.0] * n + [1000.0] * n})
    out = sliding_means(df, station_col="station", time_col="time", specs={"pm10": ("PM10", "24h", 20)})
    assert out["pm10"][n - 1] == 10.0 and out["pm10"][2 * n - 1] == 1000.0


def test_so2_over_800_uses_table_24h_column_or_sliding_mean() -> None:
    t = hours(datetime(2019, 1, 1, 1), 24)
    so2 = [100.0] * 23 + [900.0]
    df = pl.DataFrame({"station": ["A"] * 24, "time": t, "SO2": so2})
    out = add_aqi(df, "hourly")
    mean = (100 * 23 + 900) / 24
    assert out["IAQI_SO2"][23] == hourly_aqi({"SO2": 900.0}, PUB, so2_24h=mean).iaqi["SO2"]
    out = add_aqi(df.with_columns(pl.lit(300.0).alias("SO2_24h")), "hourly")
    assert out["IAQI_SO2"][23] == 124  # IAQI-017


def test_duplicate_station_hours_refused_when_sliding_means_are_needed() -> None:
    t = [datetime(2019, 1, 1, 1)] * 2
    df = pl.DataFrame({"station": ["A", "A"], "time": t, "PM10": [1.0, 2.0]})
    with pytest.raises(InputError) as e:
        add_aqi(df, "hourly", "HJ633-2012")
    assert "duplicate" in e.value.reason


def test_errors_name_the_column() -> None:
    with pytest.raises(InputError) as e:
        add_aqi(pl.DataFrame({"time": [date(2019, 1, 1)], "PM10": [-1.0]}), "daily")
    assert e.value.field == "PM10"
    with pytest.raises(InputError) as e:
        add_aqi(pl.DataFrame({"time": [date(2019, 1, 1)], "X": [1.0]}), "daily")
    assert e.value.field == "columns"
    with pytest.raises(InputError) as e:
        add_aqi(pl.DataFrame({"time": [date(2019, 1, 1)], "PM10": [1.0]}), "hourly")
    assert e.value.field == "time"
    with pytest.raises(InputError):
        hourly_aqi_columns({"PM10": [1.0, 2.0], "SO2": [1.0]}, PUB)


def test_parse_times() -> None:
    s = pl.Series("time", ["2019-01-01T08:00", "2019-01-01 09:00:00", "2019-01-01T01:00:00Z", "2019-01-01T10:00+08:00"])
    got = parse_times(s, "hourly").to_list()
    assert got == [datetime(2019, 1, 1, 8), datetime(2019, 1, 1, 9), datetime(2019, 1, 1, 9), datetime(2019, 1, 1, 10)]
    assert parse_times(pl.Series("time", ["2019-01-01"]), "daily").to_list() == [date(2019, 1, 1)]
    for bad, report in (("2019-01-01T08:30", "hourly"), ("2019-01-01", "hourly"), ("2019-01-01T00:00", "daily"), ("x", "daily")):
        with pytest.raises(InputError) as e:
            first = "2019-01-02" if report == "daily" else "2019-01-01T01:00"
            parse_times(pl.Series("time", [first, bad]), report, first_line=2)
        assert e.value.field == "time" and "line 3" in e.value.reason


def test_iaqi_array_missing_and_huge() -> None:
    got = iaqi_array("pm25_24h", np.array([np.nan, 1e300, 9.3e18, 0.0]), TEXT)
    assert got.tolist() == [-1, 500, 500, 0]


def test_chunked_computation_equals_one_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    import tianlan.assess.aqi_frame as frame

    rng = np.random.default_rng(7)
    n = 1000
    vals = {k: rng.integers(0, 900, n).astype(float) for k in ("SO2", "NO2", "O3", "PM10", "PM2.5")}
    vals["CO"] = rng.integers(0, 400, n) / 10
    for v in vals.values():
        v[rng.random(n) < 0.1] = np.nan
    so2_24h = rng.integers(0, 3000, n).astype(float)
    for ed in Edition:
        whole = hourly_aqi_columns(vals, ed, so2_24h=so2_24h)
        monkeypatch.setattr(frame, "CHUNK_ROWS", 37)
        chunked = hourly_aqi_columns(vals, ed, so2_24h=so2_24h)
        monkeypatch.undo()
        for name in ("aqi", "level", "primary", "exceeding", "note_code"):
            assert np.array_equal(getattr(whole, name), getattr(chunked, name)), name
        assert whole.iaqi.keys() == chunked.iaqi.keys()
        assert all(np.array_equal(whole.iaqi[k], chunked.iaqi[k]) for k in whole.iaqi)
        assert whole.notes() == chunked.notes()


def test_empty_table() -> None:
    out = add_aqi(pl.DataFrame({"time": pl.Series([], dtype=pl.Date), "PM10": pl.Series([], dtype=pl.Float64)}), "daily")
    assert out.height == 0 and "AQI" in out.columns
    assert len(hourly_aqi_columns({"PM10": np.array([])}, PUB)) == 0
