"""XV-01 inversions explained by a frozen or restarting PM10 channel are notices
(:mod:`tianlan.qc.fraud.xv01_context`; docs/qc-benchmark-log.md, "XV-01, XV-02 and FOR-01 background").

A lowered PM10 slope (the ``scaling`` scenario) keeps varying with the air; a PM10 channel that
repeats one value, or that reads low in the hours after an outage, says its fault in its own series.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from tianlan.qc.core import Context, Series
from tianlan.qc.fraud.xv01_context import INVERSION_WEIGHT, after_restart, frozen, recovering

sys.path.insert(0, str(Path(__file__).parent))
from test_fraud_forensic import T0, hebei, run  # noqa: E402, F401

PM25, PM10 = "a34004", "a34002"


def test_frozen_and_after_restart() -> None:
    v = np.array([40.0, 42.0, 42.0, 42.0, np.nan, 42.0, 50.0])
    assert frozen(v, 1, 7, 0.5)  # 4 of 5 finite hours read 42
    assert not frozen(v, 1, 7, 0.9) and not frozen(v, 1, 7, 0.0)
    assert not frozen(v, 0, 3, 0.5)  # two equal values are not three
    gap = np.array([10.0, np.nan, 12.0, 13.0, 14.0, 15.0, 16.0])
    full = np.arange(7.0)
    assert after_restart([full, gap], 3, 6, 2, 6)  # hour 1 missing, run starts at 3: within 2 h
    assert not after_restart([full, gap], 4, 6, 2, 6)  # three hours after it
    assert not after_restart([full, gap], 3, 6, 2, 2)  # longer than restart_max
    assert not after_restart([full, gap], 3, 6, 0, 6)  # off
    assert not after_restart([gap], 0, 3, 2, 6)  # the series' start is no outage
    pm10 = np.array([5.0, 11.0, 26.0, 39.0])
    pm25 = np.array([30.0, 33.0, 45.0, 55.0])
    assert recovering(pm10, pm25, 0, 4, 0.3)  # PM10's share 0.17 → 0.71: ln rise 1.45
    assert not recovering(pm25 * 0.5, pm25, 0, 4, 0.3)  # a steady share
    assert recovering(pm25 * 0.5, pm25, 0, 4, 0.0)  # off
    assert not recovering(pm10, pm25, 0, 1, 0.3)  # one hour shows no climb


def _pair(n: int = 24 * 20, seed: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hourly PM2.5 and PM10 (µg/m³) with PM2.5 about 0.6 of PM10."""
    rng = np.random.default_rng(seed)
    pm10 = np.round(80 + 30 * np.sin(np.arange(n) / 9.0) + rng.normal(0, 6, n))
    pm25 = np.round(pm10 * 0.6 + rng.normal(0, 3, n))
    t = T0 + 3600 * np.arange(n, dtype=np.int64)
    return t, pm25, pm10


def _find(t: np.ndarray, pm25: np.ndarray, pm10: np.ndarray, **params: object) -> list:
    ctx = Context(station="S0", series={PM25: Series("S0", PM25, t, pm25), PM10: Series("S0", PM10, t, pm10)})
    return run("XV-01", Series("S0", PM25, t, pm25), ctx, **params)


def test_a_scaled_pm10_keeps_its_warning() -> None:
    t, pm25, pm10 = _pair()
    pm10[200:368] = np.round(pm10[200:368] * 0.5)  # a lowered slope for a week
    found = _find(t, pm25, pm10)
    assert found and all(200 <= f.start and f.end <= 368 for f in found)
    assert all("notice" not in f.evidence for f in found) and max(f.score for f in found) >= 0.8


def test_frozen_pm10_is_a_notice() -> None:
    t, pm25, pm10 = _pair()
    pm10[100:108] = 40.0  # stuck at one value while PM2.5 goes on above it
    pm25[100:108] = 60.0 + 3 * np.arange(8)
    (f,) = _find(t, pm25, pm10)
    assert (f.start, f.end) == (100, 108) and f.evidence["notice"] == "xv01_frozen_pm10"
    (off,) = _find(t, pm25, pm10, context_weight=1.0)
    assert "notice" not in off.evidence and f.score == pytest.approx(INVERSION_WEIGHT * off.score)
    pm25[100:108] = 60.0  # both channels frozen: not PM10's fault alone (TMP-03 reports both)
    (both,) = _find(t, pm25, pm10)
    assert "notice" not in both.evidence


def test_pm10_settling_after_an_outage_is_a_notice_and_a_long_run_is_not() -> None:
    t, pm25, pm10 = _pair()
    pm10[300:302] = np.nan
    pm10[302:306] = [5.0, 11.0, 26.0, 39.0]  # the monitor comes back low and climbs
    pm25[302:306] = [30.0, 33.0, 45.0, 55.0]
    (f,) = _find(t, pm25, pm10)
    assert f.start == 302 and f.evidence["notice"] == "xv01_restart"
    assert "notice" not in _find(t, pm25, pm10, restart_hours=0.0)[0].evidence
    # after the same gap, PM10 at a steady half of PM2.5 (a lowered slope, not a settling monitor)
    steady = pm10.copy()
    steady[302:306] = np.round(pm25[302:306] * 0.5)
    (g,) = _find(t, pm25, steady)
    assert g.start == 302 and "notice" not in g.evidence
    assert _find(t, pm25, steady, restart_recovery_ln=0.0)[0].evidence["notice"] == "xv01_restart"
    # the same start after an outage, but the inversion lasts two days: a lowered slope outlasts a restart
    pm10[302:350] = np.round(pm10[302:350] * 0.4)
    pm25[302:306] = [30.0, 33.0, 45.0, 55.0]
    long = [f for f in _find(t, pm25, pm10) if f.start == 302]
    assert long and long[0].end - long[0].start > 6 and "notice" not in long[0].evidence


def test_real_data_june_inversions(hebei) -> None:  # noqa: F811
    """Clean Hebei 2019: 1077A's PM10 frozen at 42 and 31 µg/m³ on 25 June and 1048A's PM10
    climbing back after a gap on 28 June are notices; 1048A's PM2.5-high night of 28–29 June and
    1054A's three hours on 19 June keep their warnings."""
    data, _ = hebei
    out: dict[str, list] = {}
    for st in ("1077A", "1048A", "1054A"):
        s25, s10 = data[st]["PM2.5"], data[st]["PM10"]
        ctx = Context(station=st, series={PM25: Series(st, PM25, s25.times, s25.values),
                                          PM10: Series(st, PM10, s10.times, s10.values)})
        out[st] = run("XV-01", Series(st, PM25, s25.times, s25.values), ctx)
    june19 = T0 + 169 * 86400  # 2019-06-19 00:00 Beijing time
    june = {st: [f for f in fs if f.evidence["start_utc"] >= june19] for st, fs in out.items()}
    assert june["1077A"] and all(f.evidence.get("notice") == "xv01_frozen_pm10" for f in june["1077A"]), june["1077A"]
    notes = sorted(f.evidence.get("notice") or "" for f in june["1048A"])
    assert notes == ["", "xv01_restart"], [(f.evidence["start_utc"], f.evidence.get("notice")) for f in june["1048A"]]
    assert june["1054A"] and all("notice" not in f.evidence for f in june["1054A"])
