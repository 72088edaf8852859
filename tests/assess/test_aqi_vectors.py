"""Every IAQI/AQI vector of ``shared/reference/standards/test_vectors.json`` passes, by its edition.

Each vector runs on the scalar path and on the vectorised path. A vector whose input shape this file
does not know fails (it is never silently skipped), so a new vector forces a look.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from conftest import VECTORS_FILE, load_vectors

from tianlan.assess.aqi import beyond_scale, daily_aqi, hourly_aqi, iaqi, rounded_concentration
from tianlan.assess.aqi_frame import daily_aqi_columns, hourly_aqi_columns, iaqi_array
from tianlan.assess.editions import Edition
from tianlan.assess.levels import Level, level_for

AQI_VECTORS = [v for v in load_vectors() if v["category"].startswith(("iaqi", "aqi"))]

# vector key -> (pollutant key, report hint)
KEY = {
    "SO2_24H": "SO2", "NO2_24H": "NO2", "CO_24H": "CO", "PM10_24H": "PM10", "PM25_24H": "PM2.5",
    "O3_1H": "O3", "O3_8H": "O3_8h", "SO2_1H": "SO2", "NO2_1H": "NO2", "CO_1H": "CO",
    "SO2": "SO2", "NO2": "NO2", "CO": "CO", "O3": "O3", "PM10": "PM10", "PM2.5": "PM2.5",
}  # fmt: skip


def editions_of(standard: str) -> list[Edition]:
    """The editions a vector's ``standard`` field names; the 2012 text's IAQI tables serve both 2012 editions."""
    out = []
    if "2012" in standard:
        out.append(Edition.HJ633_2012)
    if "2026" in standard:
        out.append(Edition.HJ633_2026)
    assert out, f"unknown standard {standard!r}"
    return out


def test_vectors_present() -> None:
    if not VECTORS_FILE.is_file():
        pytest.skip(f"test vectors not found at {VECTORS_FILE} (set TIANLAN_SHARED_DIR to the shared folder)")
    assert len(AQI_VECTORS) >= 36  # 28 single-IAQI + 8 AQI sets (README §7)


def _check_iaqi(indicator: str, c: Any, expected: int, ed: Edition) -> None:
    assert iaqi(indicator, c, ed) == expected
    assert iaqi_array(indicator, np.array([float(c)]), ed)[0] == expected
    if ed is Edition.HJ633_2012:  # the published practice uses the same table
        assert iaqi(indicator, c, Edition.HJ633_2012_PUBLISHED) == expected


def _run_iaqi_vector(v: dict[str, Any]) -> None:
    inp, exp = v["inputs"], v["expected"]
    eds = editions_of(v["standard"])
    if "indicator" in inp and "concentration" in inp:
        ind = inp["indicator"].lower()
        for ed in eds:
            _check_iaqi(ind, inp["concentration"], exp["iaqi"], ed)
            assert beyond_scale(ind, inp["concentration"], ed) is bool(exp.get("beyond_scale", False))
    elif "indicator" in inp and "concentration_unrounded" in inp:
        ind = inp["indicator"].lower()
        for ed in eds:
            assert rounded_concentration(ind, inp["concentration_unrounded"], ed) == exp["concentration_rounded"]
            _check_iaqi(ind, inp["concentration_unrounded"], exp["iaqi"], ed)
    elif "co_daily_unrounded" in inp:
        for ed in eds:
            for c, r, want in zip(inp["co_daily_unrounded"], exp["co_rounded"], exp["iaqi"], strict=True):
                assert float(rounded_concentration("co_24h", c, ed)) == r
                _check_iaqi("co_24h", c, want, ed)
    elif "so2_1h" in inp:  # SO2 1 h > 800: hourly report
        for ed in eds:
            eds_run = [ed, Edition.HJ633_2012_PUBLISHED] if ed is Edition.HJ633_2012 else [ed]
            for e in eds_run:
                r = hourly_aqi({"SO2": inp["so2_1h"]}, e, so2_24h=inp.get("so2_24h"))
                assert r.iaqi["SO2"] == exp["so2_iaqi"]
                cols = hourly_aqi_columns({"SO2": [inp["so2_1h"]]}, e, so2_24h=[inp.get("so2_24h", np.nan)])
                assert cols.result(0) == r
                if exp.get("basis") == "SO2_24H":
                    assert r.note is not None and "24 h" in r.note
    elif "o3_8h" in inp:  # O3 8 h > 800: daily report
        for ed in eds:
            vals = {"O3_8h": inp["o3_8h"]}
            if "o3_1h" in inp:
                vals["O3"] = inp["o3_1h"]
            r = daily_aqi(vals, ed)
            o3 = max(x for k, x in r.iaqi.items() if k in ("O3", "O3_8h"))
            assert o3 == exp["o3_iaqi"]
            if exp.get("basis") == "O3_1H":
                assert "O3_8h" not in r.iaqi and r.iaqi["O3"] == exp["o3_iaqi"]
            assert daily_aqi_columns({k: [x] for k, x in vals.items()}, ed).result(0) == r
    else:
        raise AssertionError(f"{v['id']}: input shape not handled by this test: {sorted(inp)}")


def _run_aqi_set(v: dict[str, Any]) -> None:
    inp, exp = v["inputs"], v["expected"]
    (ed,) = editions_of(v["standard"])
    raw = inp.get("values") or inp["values_1h"]
    hourly = "values_1h" in inp or any(k.endswith("_1H") and k != "O3_1H" for k in raw)
    if hourly:
        values: dict[str, float] = {}
        extras: dict[str, float] = {}
        for k, x in raw.items():
            if ed is Edition.HJ633_2012 and k in ("PM10_24H", "PM25_24H"):  # Table 4: the 24 h sliding means
                extras["pm10_24h_sliding" if k == "PM10_24H" else "pm25_24h_sliding"] = x
            else:
                values[KEY[k]] = x
        if ed is Edition.HJ633_2012:
            for k, x in inp.get("published_only_no_iaqi", {}).items():
                values[KEY[k.replace("_1H", "").replace("PM25", "PM2.5")]] = x  # published, no IAQI
        r = hourly_aqi(values, ed, **extras)
        cols = hourly_aqi_columns({k: [x] for k, x in values.items()}, ed, **{k: [x] for k, x in extras.items()})
    else:
        values = {KEY[k]: x for k, x in raw.items()}
        r = daily_aqi(values, ed)
        cols = daily_aqi_columns({k: [x] for k, x in values.items()}, ed)
    assert r.iaqi == {KEY[k]: x for k, x in exp["iaqi"].items()}
    assert r.aqi == exp["aqi"]
    assert r.level is Level(exp["level"])
    assert r.level is not None and r.level.category_cn == exp["category"]
    assert list(r.primary) == exp["primary_pollutants"]
    assert list(r.exceeding) == exp.get("exceeding_pollutants", [])  # 2026: none (deleted)
    assert r.edition is ed
    assert cols.result(0) == r


def _run_level(v: dict[str, Any]) -> None:
    for a, want in zip(v["inputs"]["aqi"], v["expected"]["level"], strict=True):
        for ed in Edition:
            assert level_for(a, ed) is Level(want)


@pytest.mark.parametrize("vector", AQI_VECTORS, ids=[v["id"] for v in AQI_VECTORS])
def test_aqi_vector(vector: dict[str, Any]) -> None:
    cat = vector["category"]
    if cat.startswith("iaqi"):
        _run_iaqi_vector(vector)
    elif cat == "aqi_set":
        _run_aqi_set(vector)
    elif cat == "aqi_level":
        _run_level(vector)
    else:
        raise AssertionError(f"{vector['id']}: category {cat!r} not handled by this test")
