"""qc_results on SQLite and PostgreSQL; streaming QC on committed items: history, new-only results,
priming after a restart; the time it adds per stored frame."""

from __future__ import annotations

import time

import numpy as np
import pytest

from tianlan.ingest.item import ACCEPTED, QUARANTINED, IngestItem
from tianlan.model.registry import Device, Registry, Site
from tianlan.qc.config import config_from
from tianlan.qc.core import QcResult, Status
from tianlan.qc.inputs import StationMeta
from tianlan.qc.stream import CHECK_EVERY_S, SLOW_EVERY_S, StreamingQc, history_needed, phase
from tianlan.qc.stream_history import HistoryBuffer
from tianlan.store.qc_repo import QcRepo
from tianlan.store.registry_repo import RegistryRepo

PM25, SO2 = "a34004", "a21026"
T0 = 1551369600  # 2019-03-01 00:00 Beijing
HOUR = 3600
EVERY_VALUE = {"check_every_s": {"hour": 0, "min": 600}, "slow_every_s": {"hour": 6 * HOUR, "min": HOUR}}


def _result(station: str = "A", start: int = T0, **kw) -> QcResult:
    base = {"detector": "ZQ-FLAT", "version": "1", "config_hash": "0123456789abcdef", "station": station,
            "parameter": PM25, "start_utc": start, "end_utc": start + 6 * HOUR, "status": Status.SUSPECT,
            "reason": "flat", "score": 0.5, "evidence": {}}
    base.update(kw)
    return QcResult(**base)


def test_qc_results_round_trip_and_replace(store) -> None:
    repo = QcRepo(store)
    ev = {"values": np.array([1.0, np.nan, 3.5]), "n": np.int64(3), "mean": np.float64(2.25), "neighbours": ["B", "C"],
          "text": "石家庄", "nested": {"x": float("nan")}}
    rows = [_result(evidence=ev), _result("B", T0 + HOUR, status=Status.FAIL, reason="high", score=float("nan")),
            _result("A", T0 + 30 * HOUR, detector="ZQ-HIGH", config_hash="fedcba9876543210")]
    assert repo.write(rows) == 3
    got = repo.results(station="A")
    assert [(r.detector, r.start_utc, r.end_utc) for r in got] == [("ZQ-FLAT", T0, T0 + 6 * HOUR),
                                                                   ("ZQ-HIGH", T0 + 30 * HOUR, T0 + 36 * HOUR)]
    first = got[0]
    assert first.status == Status.SUSPECT and isinstance(first.status, Status) and first.score == 0.5
    assert first.evidence == {"values": [1.0, None, 3.5], "n": 3, "mean": 2.25, "neighbours": ["B", "C"], "text": "石家庄",
                              "nested": {"x": None}}
    (b,) = repo.results(station="B")
    assert b.score == 0.0 and b.status == Status.FAIL
    # overlap query: a result [T0, T0+6h) overlaps [T0+5h, T0+7h) but not [T0+6h, …)
    assert len(repo.results(station="A", start_utc=T0 + 5 * HOUR, end_utc=T0 + 7 * HOUR)) == 1
    assert len(repo.results(station="A", start_utc=T0 + 6 * HOUR, end_utc=T0 + 7 * HOUR)) == 0
    assert len(repo.results(min_status=4)) == 1 and len(repo.results(config_hash="fedcba9876543210")) == 1
    # a re-scan with the same configuration replaces its rows in the window; other configurations stay
    repo.replace([_result(score=0.9)], config_hash="0123456789abcdef", stations=["A", "B"], start_utc=T0,
                 end_utc=T0 + 10 * HOUR)
    assert sorted((r.station, r.detector, r.score) for r in repo.results()) == [("A", "ZQ-FLAT", 0.9), ("A", "ZQ-HIGH", 0.5)]
    assert repo.count() == 2


def test_buffer_keeps_a_bounded_regular_history() -> None:
    b = HistoryBuffer("A", PM25, "hour", 3600, 4 * 86400, T0)
    for h in range(24 * 20):
        b.put(T0 + h * HOUR, float(h), "N", 0.0)
    v = b.view(0, b.end_t)
    assert b.end_t == T0 + 24 * 20 * HOUR
    assert len(v) <= 8 * 24 and len(v) >= 4 * 24  # between one and two histories
    assert np.all(np.diff(v.times) == HOUR) and v.values[-1] == 24 * 20 - 1 and list(v.flags[-2:]) == ["N", "N"]
    assert not b.put(T0, 1.0, None, 0.0)  # older than the buffer: ignored
    w = b.view(b.end_t - 24 * HOUR, b.end_t)
    assert len(w) == 24 and w.values[0] == 24 * 19
    # a late value inside the history fills its slot
    assert b.put(T0 + (24 * 20 - 5) * HOUR, -1.0, "M", 0.0) and b.view(0, b.end_t).values[-5] == -1.0
    # minute data: the second value tells the MinInterval
    m = HistoryBuffer("A", PM25, "min", 60, 2 * 86400, T0)
    m.put(T0, 1.0, None, 0.0)
    m.put(T0 + 300, 2.0, None, 0.0)
    m.put(T0 + 600, 3.0, None, 0.0)
    mv = m.view(0, m.end_t)
    assert m.step == 300 and list(mv.values) == [1.0, 2.0, 3.0] and mv.step_s == 300


def test_history_follows_the_parameters(toys) -> None:
    spec = toys["ZQ-FLAT"]
    assert history_needed(spec, {"min_len": 4}, "hour") == 8 * 86400
    assert history_needed(spec, {"window_days": 30}, "hour") == 31 * 86400
    assert history_needed(spec, {"window_days": 300}, "hour") == 62 * 86400
    assert history_needed(spec, {"window_hours": 6}, "min") == 2 * 86400


def _register(engine, n: int = 3) -> dict[str, int]:
    sites = [Site(f"S{i}", f"S{i}", "air", "130100", 114.5 + 0.02 * i, 38.05) for i in range(n)]
    devs = [Device(f"MN{i}", "pw123456", "air", site=f"S{i}", parameters=[PM25, SO2]) for i in range(n)]
    RegistryRepo(engine).import_registry(Registry(sites=sites, devices=devs))
    return {r.site_code: r.id for r in RegistryRepo(engine).device_rows()}


def _item(device_id: int, t: int, values: dict[str, float | None], *, kind: str = "hour", status: str = ACCEPTED,
          received: float | None = None) -> IngestItem:
    obs = [(t, code, kind, v, "N", None, None, None, None, None) for code, v in values.items()]
    return IngestItem(b"##frame", received if received is not None else t + 3700.0, "test", status=status,
                      device_id=device_id, obs=obs)


def test_streaming_reports_new_parts_only_and_stores_them(store, toys, put_observations) -> None:
    ids = _register(store)
    cfg = config_from([{"id": "ZQ-FLAT", "params": {"min_len": 4}}, {"id": "ZQ-NBR"}, {"id": "ZQ-BOOM"}], registry=toys)
    sq = StreamingQc(store, cfg, **EVERY_VALUE)  # every detector at every new value
    rng = np.random.default_rng(5)
    got: list[QcResult] = []
    for h in range(48):
        t = T0 + h * HOUR
        items = []
        for i in range(3):
            pm = 33.3 if (i == 1 and 20 <= h < 30) else float(np.round(rng.uniform(20, 80), 1))
            items.append(_item(ids[f"S{i}"], t, {PM25: pm, SO2: float(np.round(rng.uniform(5, 15), 1))}))
            # the writer stored these before on_committed (the stream reads history from the store)
            put_observations(store, [{"time_utc": t, "device_id": ids[f"S{i}"], "parameter": c, "kind": "hour",
                                      "value": v, "flag": "N", "frame_id": 0} for _, c, _, v, *_ in items[-1].obs])
        items.append(_item(ids["S0"], t, {PM25: 1.0}, status=QUARANTINED))  # never checked
        got.extend(sq.on_committed(items))
    flat = [r for r in got if r.detector == "ZQ-FLAT"]
    # first reported when the run reaches 4 hours, then one new hour per frame, until the run ends
    assert [(r.station, r.start_utc, r.end_utc) for r in flat] == (
        [("S1", T0 + 20 * HOUR, T0 + 24 * HOUR)] + [("S1", T0 + h * HOUR, T0 + (h + 1) * HOUR) for h in range(24, 30)])
    assert flat[1].evidence["finding_utc"] == [T0 + 20 * HOUR, T0 + 25 * HOUR]
    assert not any(r.detector == "ZQ-BOOM" for r in got)  # forensic family: batch only
    repo = QcRepo(store)
    stored = repo.results(detector="ZQ-FLAT")
    assert [(r.start_utc, r.end_utc) for r in stored] == [(r.start_utc, r.end_utc) for r in flat]
    assert {r.config_hash for r in stored} == {cfg.hash}
    assert sq.stats.frames == 48 * 4 and sq.stats.checked_frames == 48 * 3 and sq.stats.stored == len(got)
    h1 = sq.history("S1", PM25)
    assert h1 is not None and len(h1) == 48 and h1.values[25] == 33.3

    # a restart: history and what was reported come back from the store; nothing is reported twice
    again = StreamingQc(store, cfg, **EVERY_VALUE)
    t = T0 + 48 * HOUR
    out = again.on_committed([_item(ids["S1"], t, {PM25: 33.3})])
    assert out == []  # one value after a finished run: nothing new
    h = again.history("S1", PM25)
    assert h is not None and len(h) == 49 and h.values[20] == 33.3
    assert again.history("S0", PM25) is not None  # neighbours primed for the spatial detector
    out = []
    for k in range(1, 5):
        out += again.on_committed([_item(ids["S1"], t + k * HOUR, {PM25: 33.3})])
    assert [(r.start_utc, r.end_utc) for r in out if r.detector == "ZQ-FLAT"] == [
        (t, t + 4 * HOUR), (t + 4 * HOUR, t + 5 * HOUR)]


def test_streaming_without_a_store_and_with_unknown_devices(toys) -> None:
    cfg = config_from([{"id": "ZQ-FLAT", "params": {"min_len": 3}}, {"id": "ZQ-BAD"}], registry=toys)
    sq = StreamingQc(None, cfg, stations={"A": StationMeta("A", "石家庄", 114.5, 38.0)}, device_sites={7: ("A", "air")},
                     **EVERY_VALUE)
    out = []
    for h in range(5):
        out += sq.on_committed([_item(7, T0 + h * HOUR, {PM25: 5.0}), _item(99, T0 + h * HOUR, {PM25: 5.0})])
    flat = [r for r in out if r.detector == "ZQ-FLAT"]
    assert [(r.start_utc, r.end_utc) for r in flat] == [(T0, T0 + 3 * HOUR), (T0 + 3 * HOUR, T0 + 4 * HOUR),
                                                        (T0 + 4 * HOUR, T0 + 5 * HOUR)]
    bad = [r for r in out if r.detector == "ZQ-BAD"]
    assert bad and all(r.status == Status.NOT_EVALUATED for r in bad)
    # rtd values are not checked, and minute data get their own history
    assert sq.on_committed([_item(7, T0, {PM25: 1.0}, kind="rtd")]) == []
    sq.on_committed([_item(7, T0 + 60 * k, {PM25: 2.0}, kind="min") for k in range(3)])
    m = sq._buffers[("A", "min")][PM25]
    assert m.step == 60 and m.count == 3


def test_streaming_adds_under_2_ms_per_stored_frame(toys) -> None:
    """60 air stations sending hour data (six pollutants per frame) for 10 days with three vectorised
    toy detectors, the spatial one on the slow cadence as the real spatial detectors are: the mean
    time on_committed adds per frame, and the part that is the stream's own (history, contexts,
    dedupe) rather than the detectors'."""
    stations = {f"S{i:02d}": StationMeta(f"S{i:02d}", f"C{i // 5}", 114 + (i % 5) * 0.03, 38 + (i // 5) * 0.3)
                for i in range(60)}
    devs = {i: (f"S{i:02d}", "air") for i in range(60)}
    cfg = config_from([{"id": "ZQ-FLAT", "params": {"min_len": 6}}, {"id": "ZQ-HIGH"}, {"id": "ZQ-NBR"}], registry=toys)
    sq = StreamingQc(None, cfg, stations=stations, device_sites=devs, slow={"ZQ-NBR"}, **EVERY_VALUE)
    rng = np.random.default_rng(11)
    codes = ["a21026", "a21004", "a21005", "a05024", "a34002", PM25]
    frames = 0
    cpu = 0.0  # process CPU time: a machine shared with other work inflates wall time, not this
    for h in range(240):
        t = T0 + h * HOUR
        batch = [_item(i, t, {c: float(np.round(rng.gamma(2, 20), 0)) for c in codes}) for i in range(60)]
        # the writer hands over batches of whatever committed together: here 10 frames at a time
        for k in range(0, 60, 10):
            c0 = time.process_time()
            sq.on_committed(batch[k:k + 10])
            cpu += time.process_time() - c0
        frames += 60
    st = sq.stats
    ms = 1000 * cpu / st.frames
    own = ms * (1 - sum(st.detector_seconds.values()) / st.seconds)  # the stream's share of it
    print(f"\nstreaming QC: {frames} hour frames, {st.detector_calls} detector calls, {ms:.3f} CPU ms/frame "
          f"({st.ms_per_frame:.3f} wall) of which {own:.3f} ms the stream's own; by detector "
          f"{st.as_dict()['ms_per_frame_by_detector']}")
    assert st.frames == frames and st.checked_frames == frames
    # FLAT ×6 and HIGH ×1 hourly, NBR ×6 every 6 h (staggered: a station's first phase may add one run)
    assert 0 <= st.detector_calls - (240 * 60 * 7 + (240 // 6) * 60 * 6) <= 60 * 6
    assert own < 1.0, own
    assert ms < 2.0, ms


@pytest.mark.parametrize("kind", ["hour", "min"])
def test_stream_checks_only_period_data_kinds(toys, kind) -> None:
    cfg = config_from([{"id": "ZQ-FLAT", "params": {"min_len": 2}}], registry=toys)
    sq = StreamingQc(None, cfg, stations={"A": StationMeta("A")}, device_sites={1: ("A", "air")}, **EVERY_VALUE)
    step = 3600 if kind == "hour" else 60
    out = sq.on_committed([_item(1, T0, {PM25: 1.0}, kind=kind), _item(1, T0 + step, {PM25: 1.0}, kind=kind)])
    assert [(r.start_utc, r.end_utc) for r in out] == [(T0, T0 + 2 * step)]


def test_default_cadence_is_staggered_and_flush_checks_quiet_stations(toys) -> None:
    """By default hour data are checked every 3 hours of data and the slow analyses every 12, each
    station on its own phase; whatever a run finds is found whole by a later run; ``flush`` checks a
    station that went quiet with data not yet checked."""
    assert CHECK_EVERY_S == {"hour": 3 * HOUR, "min": HOUR} and SLOW_EVERY_S == {"hour": 12 * HOUR, "min": 6 * HOUR}
    stations = {f"S{i:02d}": StationMeta(f"S{i:02d}", "C", 114 + i * 0.01, 38.0) for i in range(12)}
    devs = {i: (f"S{i:02d}", "air") for i in range(12)}
    cfg = config_from([{"id": "ZQ-FLAT", "params": {"min_len": 4}}, {"id": "ZQ-NBR"}], registry=toys)
    sq = StreamingQc(None, cfg, stations=stations, device_sites=devs, slow={"ZQ-NBR"})
    phases = {s: phase(s, 3 * HOUR, HOUR) for s in stations}
    assert set(phases.values()) <= {0, HOUR, 2 * HOUR} and len(set(phases.values())) > 1  # spread over the hours
    rng = np.random.default_rng(3)
    calls_per_hour = []
    out: list[QcResult] = []
    for h in range(48):
        before = sq.stats.detector_calls
        batch = [_item(i, T0 + h * HOUR, {PM25: 5.0 if (i == 4 and 10 <= h < 20) else float(rng.uniform(20, 80))})
                 for i in range(12)]
        out += sq.on_committed(batch)
        calls_per_hour.append(sq.stats.detector_calls - before)
    # every station once at first sight, then each hourly detector once per 3 hours per station
    assert calls_per_hour[0] == 12 * 2
    assert sum(calls_per_hour[1:]) == pytest.approx(47 * 12 / 3 + 47 * 12 / 12, abs=12 * 2)
    assert max(calls_per_hour[1:]) <= 12  # staggered: never every station at once
    flat = [r for r in out if r.detector == "ZQ-FLAT"]
    covered = sorted((r.start_utc, r.end_utc) for r in flat)
    assert {r.station for r in flat} == {"S04"}
    assert covered[0][0] == T0 + 10 * HOUR and covered[-1][1] == T0 + 20 * HOUR  # the whole run, once
    assert all(b <= a for (_, b), (a, _) in zip(covered, covered[1:], strict=False))
    # a station that stops in the middle of a run: its last hours are checked by flush, not lost
    for h in range(48, 54):
        out2 = sq.on_committed([_item(4, T0 + h * HOUR, {PM25: 7.0})])
        assert all(r.end_utc <= T0 + 54 * HOUR for r in out2)
    tail = sq.flush(quiet_s=0.0)
    got = [(r.start_utc, r.end_utc) for r in tail if r.detector == "ZQ-FLAT" and r.station == "S04"]
    assert got and got[-1][1] == T0 + 54 * HOUR
    assert sq.flush(quiet_s=0.0) == []  # nothing new since
