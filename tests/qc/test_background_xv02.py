"""XV-02 ratio shifts in which no channel fell and the risen one reads above its usual level are
notices (:mod:`tianlan.qc.fraud.xv02_rise`; docs/qc-benchmark-log.md, "XV-02 and XV-03: rises and restarts").

Falsification lowers a reading (a scaled channel: ln k = −0.22 … −0.69 against the neighbours); a
channel that rises above where it usually stands against its neighbours is a local source or an
upward drift. The end of a lowered period is a rise too, but back to the usual level: it keeps its
weight.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from tianlan.qc.fraud.xv02_rise import RISE_WEIGHT, above_usual, rose_not_fell

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_fraud_cross import run  # noqa: E402
from test_fraud_spatial import contexts_of, synthetic_network, with_values  # noqa: E402

PM25, PM10 = "a34004", "a34002"
T0_2019 = 1546272000 - 8 * 3600  # 2019-01-01 00:00 Beijing time


def test_rose_not_fell() -> None:
    up = {PM25: 0.3, PM10: -0.05}
    assert rose_not_fell(up, {PM25: 0.28, PM10: 0.0}, fall_tolerance=0.1, share=0.75) == PM25
    assert rose_not_fell(up, {PM25: 0.1, PM10: 0.0}, fall_tolerance=0.1, share=0.75) is None  # a return
    assert rose_not_fell(up, {PM25: None, PM10: 0.0}, fall_tolerance=0.1, share=0.75) is None  # no usual level
    assert rose_not_fell({PM25: 0.3, PM10: -0.2}, {PM25: 0.3, PM10: -0.2}, fall_tolerance=0.1,
                         share=0.75) is None  # PM10 fell: a lowered PM10 shows as PM2.5/PM10 up
    assert rose_not_fell({PM25: -0.3, PM10: 0.02}, {PM25: -0.3, PM10: 0.0}, fall_tolerance=0.1,
                         share=0.75) is None  # a fall
    assert rose_not_fell({PM25: 0.3}, {PM25: 0.3}, fall_tolerance=0.1, share=0.75) is None  # one channel known
    assert rose_not_fell(up, {PM25: 0.28, PM10: -0.3}, fall_tolerance=0.1,
                         share=0.75) is None  # PM10 below its usual level: lowered through the reference too
    assert rose_not_fell({PM25: 0.6, PM10: 0.0}, {PM25: 0.45, PM10: 0.0}, fall_tolerance=0.1,
                         share=0.75) is None  # the reference days were 0.15 below usual: a return
    assert rose_not_fell(up, {PM25: 0.28, PM10: 0.0}, fall_tolerance=0.1, share=0.75,
                         before={PM25: -0.4, PM10: 0.0}) is None  # lowered right before: a return
    assert rose_not_fell(up, {PM25: 0.28, PM10: 0.0}, fall_tolerance=0.1, share=0.75,
                         before={PM25: -0.02, PM10: 0.0}) == PM25


def test_above_usual_uses_the_days_before_the_reference() -> None:
    n = 24 * 40
    t = np.arange(n, dtype=np.int64) * 3600
    r = np.zeros(n)
    r[24 * 10:24 * 30] = -0.4  # reference days lowered
    r[24 * 30:] = 0.05  # back
    assert above_usual(t, r, 3600, 24 * 30, n, 24 * 10, 5, 24 * 23) == (pytest.approx(0.05), pytest.approx(-0.4))
    assert above_usual(t, r, 3600, 24 * 30, n, 24 * 3, 5) == (None, None)  # three days before: too few
    assert above_usual(t, np.full(n, np.nan), 3600, 24 * 30, n, 24 * 10, 5) == (None, None)


def _xv02(series: dict, st: str, code: str, **kw: object) -> list:
    return run("XV-02", series[st][code], contexts_of(series)[st], **kw)


def test_a_risen_pm25_is_a_notice_and_a_scaled_one_is_not() -> None:
    series = synthetic_network(days=90)
    v = series["S1"][PM25].values.copy()
    k = 24 * 70
    up = with_values(series, "S1", PM25, np.where(np.arange(v.size) >= k, np.round(v * 1.6), v))
    found = _xv02(up, "S1", PM25)
    assert found and all(f.evidence.get("notice") == "xv02_rise_above_usual" for f in found)
    assert found[0].evidence["risen"] == PM25 and "ratio above" in found[0].reason
    off = _xv02(up, "S1", PM25, rise_weight=1.0)
    assert [(f.start, f.end) for f in off] == [(f.start, f.end) for f in found]
    assert all("notice" not in f.evidence for f in off)
    assert found[0].score == pytest.approx(RISE_WEIGHT * off[0].score)
    assert off[0].score >= 0.8 > found[0].score
    down = with_values(series, "S1", PM25, np.where(np.arange(v.size) >= k, np.round(v * 0.6), v))
    low = _xv02(down, "S1", PM25)
    assert low and all("notice" not in f.evidence for f in low) and max(f.score for f in low) >= 0.8


def test_the_end_of_a_lowered_pm10_keeps_its_weight() -> None:
    """PM10 × 0.6 for 25 days, then back: PM2.5/PM10 falls back (PM10 rises) against reference days
    that were the lowered ones — a return to the usual level, not a rise above it."""
    series = synthetic_network(days=90)
    v = series["S1"][PM10].values.copy()
    a, b = 24 * 35, 24 * 60
    w = v.copy()
    w[a:b] = np.round(v[a:b] * 0.6)
    series = with_values(series, "S1", PM10, w)
    found = [f for code in (PM25, PM10) for f in _xv02(series, "S1", code) if f.end > b]
    assert found and all("notice" not in f.evidence for f in found), [f.evidence.get("above_usual_ln") for f in found]


def test_real_data_pm25_rises(hebei: tuple[dict, dict, float]) -> None:
    """Clean Hebei 2019: 1062A's PM2.5 in April and 1077A's in May read +0.27 … +0.31 ln above their
    neighbours with PM10 holding: notices. 1079A's PM10/PM2.5 in May (PM2.5 fell 0.22) and 1030A's
    PM2.5 in late May (fell 0.17) keep their warnings."""
    series, ctxs, _ = hebei
    april, may = T0_2019 + 90 * 86400, T0_2019 + 120 * 86400

    def strong(st: str, code: str, since: int) -> list:
        return [f for f in run("XV-02", series[st][code], ctxs[st])
                if f.evidence.get("residual_shift_ln") and since <= series[st][code].times[f.start] < since + 45 * 86400
                and max(f.score, 2 * f.score if "notice" in f.evidence else 0) >= 0.8]

    for st, since in (("1062A", april), ("1077A", may)):
        fs = strong(st, PM25, since)
        assert fs and any(f.evidence.get("notice") == "xv02_rise_above_usual" for f in fs), st
    for st, code in (("1079A", PM10), ("1030A", PM25)):
        fs = strong(st, code, may)
        assert fs and all("notice" not in f.evidence for f in fs), (st, [f.evidence["residual_shift_ln"] for f in fs])
