"""XV-03: PM climbing back after an outage (a monitor settling) is a notice; a spray right after an
outage is not (:func:`tianlan.qc.fraud.xv03_context.settling`; docs/qc-benchmark-log.md, "XV-02 and XV-03: rises
and restarts")."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from tianlan.qc.fraud.xv03_context import CONTEXT_WEIGHT, settling

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_fraud_cross import run  # noqa: E402
from test_fraud_spatial import contexts_of, synthetic_network, with_values  # noqa: E402

PM25, PM10 = "a34004", "a34002"
T0_2019 = 1546272000 - 8 * 3600  # 2019-01-01 00:00 Beijing time


def test_settling() -> None:
    r = np.log(np.array([3.0, 3.0, 5.0, 8.0, 13.0, 19.0]) / 25.0)
    assert settling(r, 0, 6, 0.7) == pytest.approx(np.log(19.0 / 3.0))
    assert settling(r, 0, 6, 0.0) is None  # off
    spray = np.log(0.3 * np.array([1.1, 0.9, 1.15, 0.85, 1.0, 1.12]))
    assert settling(spray, 0, 6, 0.7) is None  # one share of the air, ±15 %
    assert settling(np.array([np.nan, -2.0, np.nan]), 0, 3, 0.7) is None  # one known hour


def _outage_then(factors: np.ndarray) -> tuple[dict, int]:
    series = synthetic_network()
    k = 24 * 30 + 9
    for code in (PM25, PM10, "a21005", "a21004"):
        v = series["S3"][code].values.copy()
        v[k - 5:k] = np.nan  # the station is out for five hours
        if code in (PM25, PM10):
            v[k:k + factors.size] = np.round(v[k:k + factors.size] * factors)
        series = with_values(series, "S3", code, v)
    return series, k


def test_pm_climbing_back_after_an_outage_is_a_notice() -> None:
    series, k = _outage_then(np.array([0.12, 0.15, 0.25, 0.4, 0.6, 0.85]))
    ctx = contexts_of(series)["S3"]
    found = [f for f in run("XV-03", series["S3"][PM25], ctx) if f.start >= k]
    assert found and found[0].evidence["notice"] == "xv03_settling"
    assert found[0].evidence["settling_rise_ln"] >= 0.7
    off = [f for f in run("XV-03", series["S3"][PM25], ctx, settle_rise_ln=0.0) if f.start >= k]
    assert [(f.start, f.end) for f in off] == [(f.start, f.end) for f in found]
    assert "notice" not in off[0].evidence and found[0].score == pytest.approx(CONTEXT_WEIGHT * off[0].score)


def test_a_spray_right_after_an_outage_keeps_its_warning() -> None:
    series, k = _outage_then(0.3 * np.array([1.1, 0.9, 1.15, 0.85, 1.0, 1.12]))
    found = [f for f in run("XV-03", series["S3"][PM25], contexts_of(series)["S3"]) if f.start >= k]
    assert found and all("notice" not in f.evidence for f in found) and max(f.score for f in found) >= 0.8


def test_real_data_1046a_after_its_february_outage(hebei: tuple[dict, dict, float]) -> None:
    """1046A on 16 February 2019, 15–20 h Beijing time: PM2.5 3 → 28 µg/m³ after five hours with
    every channel missing, the neighbours at 20–35: a notice."""
    series, ctxs, _ = hebei
    day = T0_2019 + 46 * 86400  # 2019-02-16 00:00 Beijing time
    s = series["1046A"][PM25]
    found = [f for f in run("XV-03", s, ctxs["1046A"]) if day <= s.times[f.start] < day + 86400]
    assert found and all(f.evidence.get("notice") == "xv03_settling" for f in found), \
        [(f.evidence["start_utc"], f.evidence.get("notice"), f.evidence.get("settling_rise_ln")) for f in found]
