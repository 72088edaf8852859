"""Shared fixtures of the assessment tests: the shared reference folder, test vectors, real data.

``SHARED`` is ``../shared`` next to the repository (env ``TIANLAN_SHARED_DIR`` overrides). Tests that
need it skip with a clear reason when it is absent.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import polars as pl
import pytest

SHARED = Path(os.environ.get("TIANLAN_SHARED_DIR", Path(__file__).resolve().parents[2].parent / "shared"))
STANDARDS_REF = SHARED / "reference" / "standards"
VECTORS_FILE = STANDARDS_REF / "test_vectors.json"
HEBEI_DIR = SHARED / "data" / "cnemc-hebei-2019"


def load_vectors() -> list[dict[str, Any]]:
    """All vectors of test_vectors.json, or [] when the shared folder is absent."""
    if not VECTORS_FILE.is_file():
        return []
    vectors: list[dict[str, Any]] = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))["vectors"]
    return vectors


@pytest.fixture(scope="session")
def hebei_hourly() -> pl.DataFrame:
    """The Hebei 2019 national-station hourly release, January–June, as one table.

    Adds ``time``: the hour-ending label in Beijing time, ``date`` + ``hour`` hours — the data README
    says ``hour`` (0–23) is the hour the value was published for, so hour 0 of 20190101 is the value
    for 2018-12-31 23:00–24:00, labelled 2019-01-01 00:00.
    """
    files = sorted(HEBEI_DIR.glob("2019-*.csv.gz"))
    if not files:
        pytest.skip(f"real Hebei 2019 data not found in {HEBEI_DIR} (set TIANLAN_SHARED_DIR to the shared folder)")
    frames = [pl.read_csv(f, schema_overrides={"date": pl.String, "station": pl.String}) for f in files]
    df = pl.concat(frames, how="diagonal_relaxed")
    return df.with_columns((pl.col("date").str.to_datetime("%Y%m%d") + pl.duration(hours=pl.col("hour"))).alias("time"))
