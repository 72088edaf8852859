"""Real data: the Hebei 2019 national hourly release (January–June) against the published AQI column.

Reference README §2.3a: the national real-time platform published, before 2026-03-01, the AQI of the
1 h values with PM on the 24 h breakpoints and no O3 8 h — edition ``HJ633-2012-published``, which
``auto`` picks for these hours. The published ``SO2_24h`` column (24 h sliding mean) is there for the
SO2 > 800 rule. The data README: ``hour`` is the hour the value was published for (hour-ending label).
"""

from __future__ import annotations

import time

import numpy as np
import polars as pl

from tianlan.assess.aqi_frame import add_aqi, hourly_aqi_columns
from tianlan.assess.editions import Edition

GASES_AND_PM = ["SO2", "NO2", "CO", "O3", "PM10", "PM2.5"]


def test_hourly_aqi_matches_the_published_aqi(hebei_hourly: pl.DataFrame) -> None:
    df = hebei_hourly.select("station", "time", "AQI", *GASES_AND_PM, "SO2_24h", "PM10_24h", "PM2.5_24h", "O3_8h")
    t0 = time.perf_counter()
    out = add_aqi(df.drop("AQI"), "hourly")  # auto: every 2019 hour -> HJ633-2012-published
    elapsed = time.perf_counter() - t0
    assert set(out["edition"].unique()) == {Edition.HJ633_2012_PUBLISHED.value}
    published = df["AQI"].to_numpy().astype(float)
    ours = out["AQI"].cast(pl.Float64).to_numpy()
    has = ~np.isnan(published)
    same = has & (ours == published)
    rate = same.sum() / has.sum()
    print(f"\nHebei 2019 H1: {same.sum():,} of {has.sum():,} published station-hours match ({rate:.4%}); "
          f"{df.height:,} rows in {elapsed:.2f} s")  # fmt: skip
    assert has.sum() > 200_000
    assert rate >= 0.999
    # every mismatch is an hour whose release lacks some concentrations (published AQI, values withheld)
    incomplete = df.select(pl.any_horizontal(pl.col(GASES_AND_PM).is_null())).to_series().to_numpy()
    assert not (has & ~same & ~incomplete).any()


def test_the_2012_text_reading_is_not_what_was_published(hebei_hourly: pl.DataFrame) -> None:
    """README §2.3a: the Table 4 reading (PM 24 h sliding means, O3 8 h) matches only a few percent."""
    df = hebei_hourly
    complete = df.filter(pl.all_horizontal(pl.col([*GASES_AND_PM, "AQI", "PM10_24h", "PM2.5_24h", "O3_8h"]).is_not_null()))
    cols = hourly_aqi_columns(
        {k: complete[k] for k in GASES_AND_PM},
        Edition.HJ633_2012,
        so2_24h=complete["SO2_24h"],
        pm10_24h_sliding=complete["PM10_24h"],
        pm25_24h_sliding=complete["PM2.5_24h"],
        o3_8h=complete["O3_8h"],
    )
    rate = float((cols.aqi == complete["AQI"].to_numpy()).mean())
    print(f"\nHJ633-2012 text reading matches {rate:.1%} of complete published hours")
    assert rate < 0.5
