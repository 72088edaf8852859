"""The clean-data background of XV-03 and SPA-01 (docs/qc-benchmark-log.md, "XV-03/SPA-01 background (clean alarms)").

Three rules, each against a kind of clean alarm seen on the real Hebei 2019 release:

* XV-03 needs an **abrupt onset** of the station's own PM (:mod:`tianlan.qc.fraud.local_fall`):
  a residual drop made by the neighbours rising around a station that holds is not an inlet;
* SPA-01 grades an episode that rests on **one neighbour** (a pair, flagged mirrored at both
  stations) and an episode **above** the neighbours (not the direction falsification takes) as
  notices — score × 0.5 — not warnings;
* :func:`~tianlan.qc.checks._common.binned_robust_z` takes its bin edges from the level at every
  hour, so a station's own gaps (selective missingness) do not move them.

Synthetic cases first (the five-station network of test_fraud_spatial), then the real release.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from tianlan.qc.checks._common import binned_robust_z
from tianlan.qc.core import Context, Series, get
from tianlan.qc.fraud.local_fall import abrupt_onset, drop_start, onset_drops, own_log_pm
from tianlan.qc.fraud.pairs import sole_neighbour

sys.path.insert(0, str(Path(__file__).parent))
from test_fraud_spatial import (  # noqa: E402
    contexts_of,
    scale_values,
    synthetic_network,
    with_values,
)


def run(det: str, series: Series, ctx: Context, **kw: object) -> list:
    spec = get(det)
    return spec.func(series, ctx, **spec.resolve(kw))


# --- local_fall helpers -------------------------------------------------------------------------


def test_onset_drops_measure_against_the_highest_of_the_lookback() -> None:
    v = np.log(np.array([100.0, 120.0, 110.0, 40.0, 42.0, 41.0, 44.0]))
    d = onset_drops(v, 4)
    assert np.isnan(d[0])  # nothing before the first hour
    assert d[3] == pytest.approx(np.log(40 / 120))
    assert d[5] == pytest.approx(np.log(41 / 120))  # 120 still within the 4 hours before
    assert d[6] == pytest.approx(np.log(44 / 110))  # 120 now 5 hours back
    gap = v.copy()
    gap[:3] = np.nan
    assert np.isnan(onset_drops(gap, 3)[3])  # the hours before are all missing


def test_abrupt_onset_looks_back_to_the_start_of_the_drop() -> None:
    own = np.log(np.array([100.0, 100, 100, 30, 30, 30, 30, 30, 30, 30, 30]))
    drops = onset_drops(own, 4)
    low = np.zeros(own.size, dtype=bool)
    low[3:10] = True
    # a run flagged only at hours 8–9 belongs to the drop that began at hour 3 (abrupt there)
    assert drop_start(low, 8) == 3
    ok, deepest = abrupt_onset(drops, low, 8, 10, 0.3)
    assert ok and deepest == pytest.approx(np.log(0.3))
    # without the earlier low hours the run's own look-back sees no fall
    ok, _ = abrupt_onset(drops, np.zeros(own.size, dtype=bool), 8, 10, 0.3)
    assert not ok
    # a drop that begins right after missing data cannot show its onset: not vetoed
    own2 = own.copy()
    own2[:3] = np.nan
    ok, _ = abrupt_onset(onset_drops(own2, 4), low, 3, 6, 0.3)
    assert ok


def test_own_log_pm_averages_the_codes_present() -> None:
    a = {"values": np.array([5.0, np.nan, 15.0]), "offset": 5.0}
    b = {"values": np.array([np.nan, np.nan, 30.0]), "offset": 10.0}
    got = own_log_pm({"a": a, "b": b})
    assert got[0] == pytest.approx(np.log(10.0)) and np.isnan(got[1])
    assert got[2] == pytest.approx((np.log(20.0) + np.log(40.0)) / 2)


# --- XV-03 on the synthetic network ------------------------------------------------------------


def test_xv03_neighbours_rising_around_a_holding_station_is_not_a_spray() -> None:
    """The four neighbours' PM rises ×3 for 5 hours while S3's holds: S3's residual falls as deep
    as under a spray, but S3's own PM did not fall — no finding (with the test off, one)."""
    base = synthetic_network()
    k = 24 * 30 + 5
    series = base
    for st in ("S0", "S1", "S2", "S4"):
        series = scale_values(series, st, k, 5, 3.0)
    for code in ("a34004", "a34002"):  # S3 holds: its level of the hours before, ±1 (no fall of its own)
        v = series["S3"][code].values.copy()
        v[k - 4:k + 5] = np.median(v[k - 12:k - 4]) + np.array([0, 1, -1, 0, 1, 0, -1, 1, 0])
        series = with_values(series, "S3", code, v)
    ctxs = contexts_of(series)
    off = run("XV-03", series["S3"]["a34004"], ctxs["S3"], abrupt_ln=0.0)
    assert [f for f in off if f.start < k + 5 and f.end > k], "the residual drop itself should be deep enough"
    on = run("XV-03", series["S3"]["a34004"], ctxs["S3"])
    assert [f for f in on if f.start < k + 5 and f.end > k] == []


def test_xv03_spray_keeps_its_abrupt_onset_in_the_evidence() -> None:
    series = scale_values(synthetic_network(), "S3", 24 * 30 + 5, 4, 0.3)
    ctxs = contexts_of(series)
    (f,) = run("XV-03", series["S3"]["a34004"], ctxs["S3"])
    assert f.score >= 0.8
    assert f.evidence["onset_drop_ln"] <= np.log(0.5)
    assert f.evidence["thresholds"]["abrupt_ln"] == 0.3 and f.evidence["thresholds"]["onset_hours"] == 4.0


# --- SPA-01 on the synthetic network ------------------------------------------------------------


def _pair(series: dict, a: str, b: str) -> dict:
    """Only stations ``a`` and ``b`` (each the other's only neighbour)."""
    return {st: by for st, by in series.items() if st in (a, b)}


def test_spa01_a_pair_episode_is_a_notice_at_both_stations() -> None:
    base = synthetic_network()
    k = 24 * 35 + 3
    series = _pair(scale_values(base, "S2", k, 8, 0.2, codes=("a34004",)), "S1", "S2")
    ctxs = contexts_of(series)
    (low,) = run("SPA-01", series["S2"]["a34004"], ctxs["S2"])
    (high,) = run("SPA-01", series["S1"]["a34004"], ctxs["S1"])
    assert low.reason == "SPA-01 station below its neighbours" and low.evidence["pair_with"] == "S1"
    assert high.reason == "SPA-01 station above its neighbours" and high.evidence["pair_with"] == "S2"
    assert low.score == pytest.approx(0.5) and high.score == pytest.approx(0.25)  # level 1 (above: × 0.5 again)
    (full,) = run("SPA-01", series["S2"]["a34004"], ctxs["S2"], pair_weight=1.0)
    assert full.score >= 0.8 and full.score == pytest.approx(2 * low.score)
    # with the whole network the same drop rests on four neighbours: a warning, no pair
    five = scale_values(base, "S2", k, 8, 0.2, codes=("a34004",))
    (f,) = run("SPA-01", five["S2"]["a34004"], contexts_of(five)["S2"])
    assert f.score >= 0.8 and "pair_with" not in f.evidence


def test_spa01_an_episode_above_the_neighbours_is_a_notice() -> None:
    k = 24 * 35 + 3
    series = scale_values(synthetic_network(), "S2", k, 8, 3.0, codes=("a21004",))
    ctxs = contexts_of(series)
    (f,) = [f for f in run("SPA-01", series["S2"]["a21004"], ctxs["S2"]) if f.evidence["kind"] == "episode"]
    assert f.reason == "SPA-01 station above its neighbours" and f.score < 0.8
    (g,) = [f for f in run("SPA-01", series["S2"]["a21004"], ctxs["S2"], upward_weight=1.0)
            if f.evidence["kind"] == "episode"]
    assert g.score >= 0.8


def test_sole_neighbour_reads_who_reported() -> None:
    m = np.array([[1.0, 1.0, 1.0, 1.0], [np.nan, np.nan, np.nan, 2.0]])
    count = np.isfinite(m).sum(axis=0)
    mask = np.ones(4, dtype=bool)
    assert sole_neighbour(count, m, 0, 4, mask) == 0
    assert sole_neighbour(count, m, 3, 4, mask) is None  # both report at that hour


# --- binned_robust_z -----------------------------------------------------------------------------


def test_binned_edges_do_not_move_with_the_stations_own_gaps() -> None:
    """Deleting the station's hours at the highest levels (selective missingness) leaves the
    z of its other hours as they were: the edges come from the level at every hour."""
    rng = np.random.default_rng(7)
    n = 4000
    level = np.exp(rng.normal(4.0, 0.8, n))
    x = rng.normal(0.0, 0.1 + 0.4 / np.sqrt(level / 20.0), n)
    z, _ = binned_robust_z(x, level)
    cut = x.copy()
    cut[level > np.quantile(level, 0.9)] = np.nan
    z2, _ = binned_robust_z(cut, level)
    lowest = level < np.quantile(level, 0.75)  # the bins the deletion did not touch
    np.testing.assert_allclose(z2[lowest], z[lowest])


# --- the real release ------------------------------------------------------------------------------


def _count(det: str, series: dict, ctxs: dict, **kw: object) -> tuple[int, list]:
    spec = get(det)
    params = spec.resolve(kw)
    n, found = 0, []
    for st, by in series.items():
        for code, s in by.items():
            if spec.parameters and code not in spec.parameters:
                continue
            for f in spec.func(s, ctxs[st], **params):
                if f.score >= 0.8:
                    n += 1
                    found.append((st, code, f))
    return n, found


def test_real_data_xv03_background_falls(hebei: tuple[dict, dict, float]) -> None:
    """On the clean release (January–June) the abrupt-onset test removes a fifth of XV-03's level-2
    findings (measured 91 → 70); nearly every finding left shows an onset of at least 0.3 ln units."""
    series, ctxs, station_months = hebei
    before, _ = _count("XV-03", series, ctxs, abrupt_ln=0.0)
    after, found = _count("XV-03", series, ctxs)
    assert after <= 0.85 * before, (before, after)
    assert after / station_months <= 0.25
    # the rest had no measurable onset (the drop began right after missing data), which does not veto
    assert sum(1 for *_x, f in found if f.evidence["onset_drop_ln"] is not None
               and f.evidence["onset_drop_ln"] <= -0.3) >= 0.9 * after


def test_real_data_spa01_pairs_and_rises_are_notices(hebei: tuple[dict, dict, float]) -> None:
    """SPA-01's level-2 findings on the clean release fall (measured 93 → 62); the mirrored NO2
    pair of 1074A/1075A (each the other's only NO2 neighbour) is among the notices."""
    series, ctxs, _ = hebei
    before, _ = _count("SPA-01", series, ctxs, pair_weight=1.0, upward_weight=1.0)
    after, found = _count("SPA-01", series, ctxs)
    assert after <= 0.8 * before, (before, after)
    assert not [f for st, code, f in found if st in ("1074A", "1075A") and code == "a21004"
                and f.evidence["kind"] == "episode"]
    assert all(f.reason != "SPA-01 station above its neighbours" for *_x, f in found)
