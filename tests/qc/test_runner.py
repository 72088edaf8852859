"""The batch runner over a small synthetic network with toy detectors; contexts and neighbours."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tianlan.qc.config import config_from
from tianlan.qc.core import Context, Series, Status
from tianlan.qc.inputs import StationMeta, build_contexts, find_neighbours, haversine_km
from tianlan.qc.runner import DETECTOR_ERROR, beijing_months, run_batch

PM25, SO2 = "a34004", "a21026"
HOUR = 3600
T0 = 1548345600  # 2019-01-25 00:00 Beijing (the toy network's first hour)


def test_neighbours_same_city_within_15_km_else_nearest_three(net) -> None:
    stations, series, ctxs = net
    nb = find_neighbours(stations)
    assert set(nb["A"]) == {"B", "C", "D"}  # BG is a control site: never a neighbour
    assert all(d < 15 for d in nb["A"].values())
    assert nb["A"]["B"] == pytest.approx(haversine_km(114.50, 38.05, 114.53, 38.04), abs=1e-3)
    assert "FAR" not in nb["A"]
    assert nb["FAR"] == {}  # nothing within 50 km
    assert set(nb["BG"]) == {"A", "B", "C"} or len(nb["BG"]) == 4  # control sites get neighbours themselves
    # a station alone in its city borrows the nearest stations of other cities, up to three
    more = {**stations, "E": StationMeta("E", "辛集", 114.56, 38.05)}
    assert set(find_neighbours(more)["E"]) == {"A", "B", "D"}
    assert ctxs["A"].neighbours["B"][PM25] is series["B"][PM25]
    assert ctxs["A"].distances_km == nb["A"]
    assert ctxs["A"].limits[PM25] == 75.0 and ctxs["A"].attrs["kind"] == "air" and "石家庄" in ctxs["A"].attrs["regions"]


def test_haversine_known_distance() -> None:
    # Beijing (116.4074, 39.9042) to Shijiazhuang (114.5149, 38.0428): about 263 km
    assert haversine_km(116.4074, 39.9042, 114.5149, 38.0428) == pytest.approx(263, abs=3)


def test_run_batch_finds_injected_faults_with_version_hash_and_params(toys, net) -> None:
    stations, series, ctxs = net
    pm = series["A"][PM25].values
    pm[50:58] = 42.0  # flat for 8 hours
    series["B"][SO2].values[100] = 900.0  # not PM2.5: ZQ-HIGH declares PM2.5 only
    series["C"][PM25].values[120:123] = [700.0, 720.0, 710.0]
    cfg = config_from([{"id": "ZQ-FLAT"}, {"id": "ZQ-HIGH"}, {"id": "ZQ-NBR", "params": {"factor": 4}}], registry=toys)
    calls = []
    results = run_batch(series, ctxs, cfg, progress=lambda n, total, st: calls.append((n, total, st)))
    assert calls == [(i + 1, 6, s) for i, s in enumerate(sorted(series))]
    flat = [r for r in results if r.detector == "ZQ-FLAT"]
    assert [(r.station, r.parameter, r.start_utc, r.end_utc) for r in flat] == [("A", PM25, T0 + 50 * HOUR, T0 + 58 * HOUR)]
    (f,) = flat
    assert f.status == Status.SUSPECT and f.reason == "flat" and f.version == "1" and f.config_hash == cfg.hash
    assert f.evidence["params"] == {"min_len": 4, "tolerance": 0.0} and f.family == "tmp"
    high = [r for r in results if r.detector == "ZQ-HIGH"]
    assert [(r.station, r.start_utc, r.end_utc, r.status) for r in high] == [("C", T0 + 120 * HOUR, T0 + 123 * HOUR,
                                                                              Status.FAIL)]
    nbr = [r for r in results if r.detector == "ZQ-NBR"]
    assert {(r.station, r.parameter, r.start_utc) for r in nbr} == {("C", PM25, T0 + 120 * HOUR),
                                                                    ("B", SO2, T0 + 100 * HOUR)}
    assert set(next(r for r in nbr if r.station == "C").evidence["neighbours"]) == {"A", "B", "D"}
    assert {r.config_hash for r in results} == {cfg.hash}


def test_a_failing_detector_is_recorded_not_evaluated_and_the_scan_goes_on(toys, net) -> None:
    stations, series, ctxs = net
    series["A"][PM25].values[10:20] = 5.0
    cfg = config_from([{"id": "ZQ-BOOM"}, {"id": "ZQ-BAD"}, {"id": "ZQ-FLAT"}], registry=toys)
    results = run_batch(series, ctxs, cfg)
    errors = [r for r in results if r.status == Status.NOT_EVALUATED]
    assert len(errors) == 2 * 6 * 2  # two faulty detectors × six stations × two parameters
    boom = next(r for r in errors if r.detector == "ZQ-BOOM")
    assert boom.reason == DETECTOR_ERROR and "RuntimeError: boom" in boom.evidence["error"]
    assert "traceback" in boom.evidence
    assert (boom.start_utc, boom.end_utc) == (T0, T0 + 240 * HOUR)
    bad = next(r for r in errors if r.detector == "ZQ-BAD")
    assert bad.version == "7" and "outside a series" in bad.evidence["error"]
    assert any(r.detector == "ZQ-FLAT" and r.station == "A" for r in results)  # the good one still ran


def test_forked_workers_give_the_same_results_in_the_same_order(toys, net) -> None:
    stations, series, ctxs = net
    series["A"][PM25].values[50:58] = 42.0
    series["C"][PM25].values[120:123] = [700.0, 720.0, 710.0]
    cfg = config_from([{"id": "ZQ-FLAT"}, {"id": "ZQ-HIGH"}, {"id": "ZQ-NBR"}, {"id": "ZQ-BOOM"}], registry=toys)
    one = run_batch(series, ctxs, cfg)
    calls: list[int] = []
    timings: dict[str, float] = {}
    two = run_batch(series, ctxs, cfg, workers=2, progress=lambda n, total, st: calls.append(n), timings=timings)
    key = [(r.detector, r.station, r.parameter, r.start_utc, r.end_utc, r.status, r.reason) for r in one]
    assert key == [(r.detector, r.station, r.parameter, r.start_utc, r.end_utc, r.status, r.reason) for r in two]
    assert calls == [1, 2, 3, 4, 5, 6] and set(timings) == {"ZQ-FLAT", "ZQ-HIGH", "ZQ-NBR", "ZQ-BOOM"}


def test_contexts_are_made_when_missing(toys, make_network) -> None:
    _, series = make_network(hours=48)
    series["A"][PM25].values[:6] = 1.0
    cfg = config_from([{"id": "ZQ-FLAT", "parameters": ["PM2.5"]}], registry=toys)
    results = run_batch(series, None, cfg, stations=["A", "B"])
    assert [(r.station, r.start_utc) for r in results] == [("A", T0)]


def test_seasonal_entries_clip_findings_to_their_months(toys) -> None:
    """A flat run across 31 Jan → 1 Feb (Beijing); the detector is on in February only."""
    feb1 = 1548950400  # 2019-02-01 00:00 Beijing = 2019-01-31T16:00Z
    t = feb1 - 10 * HOUR + HOUR * np.arange(20, dtype=np.int64)
    v = np.arange(20, dtype=float) * 10
    v[5:15] = 3.0  # 31 Jan 19:00 … 1 Feb 04:00
    s = Series("A", PM25, t, v)
    ctx = Context("A", series={PM25: s}, attrs={"kind": "air"})
    winter = config_from([{"id": "ZQ-FLAT", "scope": {"months": [2]}}], registry=toys)
    (r,) = run_batch({"A": {PM25: s}}, {"A": ctx}, winter)
    assert (r.start_utc, r.end_utc) == (feb1, feb1 + 5 * HOUR)
    assert r.evidence["clipped_to_months"] == [2]
    two = config_from([{"id": "ZQ-FLAT"}, {"id": "ZQ-FLAT", "params": {"min_len": 50}, "scope": {"months": [1]}}],
                      registry=toys)
    (r2,) = run_batch({"A": {PM25: s}}, {"A": ctx}, two)  # January: min_len 50 finds nothing there
    assert (r2.start_utc, r2.end_utc) == (feb1, feb1 + 5 * HOUR)
    assert list(beijing_months(np.array([feb1 - 1, feb1]))) == [1, 2]


def test_runner_overhead_on_a_province_year_is_small(toys) -> None:
    """60 stations × 6 pollutants × 8760 h with two vectorised toy detectors: the runner itself
    (series, contexts, plans, results) must not be what makes a scan slow."""
    rng = np.random.default_rng(3)
    stations = {f"S{i:02d}": StationMeta(f"S{i:02d}", f"C{i // 5}", 114 + (i % 5) * 0.05, 38 + (i // 5) * 0.3)
                for i in range(60)}
    t = T0 + HOUR * np.arange(8760, dtype=np.int64)
    codes = ["a21026", "a21004", "a21005", "a05024", "a34002", PM25]
    series = {st: {c: Series(st, c, t, np.round(rng.gamma(2, 20, t.size), 0)) for c in codes} for st in stations}
    ctxs = build_contexts(series, stations)
    cfg = config_from([{"id": "ZQ-FLAT", "params": {"min_len": 6}}, {"id": "ZQ-HIGH"}], registry=toys)
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    results = run_batch(series, ctxs, cfg, timings=timings)
    took = time.perf_counter() - t0
    assert isinstance(results, list) and set(timings) == {"ZQ-FLAT", "ZQ-HIGH"}
    assert took < 10, took
