"""Live QC's queue: the listener never blocks, a full queue becomes a recorded backlog that is read
back from the store and checked (nothing lost, nothing checked twice), the counters say so."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import numpy as np

from tianlan.alarms.service import AlarmService
from tianlan.ingest.item import ACCEPTED, QUARANTINED, IngestItem
from tianlan.model.registry import Device, Registry, Site
from tianlan.qc import live as live_mod
from tianlan.qc.config import config_from
from tianlan.qc.live import LiveQc
from tianlan.qc.stream import StreamingQc
from tianlan.store.alarms_repo import AlarmsRepo
from tianlan.store.qc_repo import QcRepo
from tianlan.store.registry_repo import RegistryRepo

PM25, SO2 = "a34004", "a21026"
T0 = 1551369600  # 2019-03-01 00:00 Beijing
HOUR = 3600


def _register(engine, n: int = 3) -> dict[str, int]:  # type: ignore[no-untyped-def]
    sites = [Site(f"S{i}", f"S{i}", "air", "130100", 114.5 + 0.02 * i, 38.05) for i in range(n)]
    devs = [Device(f"MN{i}", "pw123456", "air", site=f"S{i}", parameters=[PM25, SO2]) for i in range(n)]
    RegistryRepo(engine).import_registry(Registry(sites=sites, devices=devs))
    return {r.site_code: r.id for r in RegistryRepo(engine).device_rows()}


def _item(device_id: int, t: int, values: dict[str, float], status: str = ACCEPTED) -> IngestItem:
    obs = [(t, code, "hour", v, "N", None, None, None, None, None) for code, v in values.items()]
    return IngestItem(b"##frame", t + 3700.0, "test", status=status, device_id=device_id, obs=obs)


def _hours(engine, ids: dict[str, int], put, hours: int = 48) -> list[list[IngestItem]]:  # type: ignore[no-untyped-def]
    """One committed batch per hour (three stations; S1's PM2.5 flat in hours 20–29), stored first as
    the writer would have."""
    rng = np.random.default_rng(5)
    batches = []
    for h in range(hours):
        t = T0 + h * HOUR
        batch = []
        for i in range(3):
            pm = 33.3 if (i == 1 and 20 <= h < 30) else float(np.round(rng.uniform(20, 80), 1))
            batch.append(_item(ids[f"S{i}"], t, {PM25: pm, SO2: float(np.round(rng.uniform(5, 15), 1))}))
            put(engine, [{"time_utc": t, "device_id": ids[f"S{i}"], "parameter": c, "kind": "hour", "value": v,
                          "flag": "N", "frame_id": 0} for _, c, _, v, *_ in batch[-1].obs])
        batch.append(_item(ids["S0"], t, {PM25: 1.0}, status=QUARANTINED))  # never checked, never backlog
        batches.append(batch)
    return batches


def _covered(results) -> list[tuple[str, int, int]]:  # type: ignore[no-untyped-def]
    """The merged spans of the flat-line results per station."""
    out: dict[str, list[list[int]]] = {}
    for r in sorted(results, key=lambda r: (r.station, r.start_utc)):
        spans = out.setdefault(r.station, [])
        if spans and r.start_utc <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], r.end_utc)
        else:
            spans.append([r.start_utc, r.end_utc])
    return [(s, a, b) for s, spans in sorted(out.items()) for a, b in spans]


def test_a_full_queue_is_caught_up_from_the_store(store, toys, put_observations, monkeypatch) -> None:
    monkeypatch.setitem(live_mod.CATCH_UP_WINDOW_S, "hour", 5 * HOUR)  # read back 5 hours of data at a time
    ids = _register(store)
    cfg = config_from([{"id": "ZQ-FLAT", "params": {"min_len": 4}}], registry=toys)
    batches = _hours(store, ids, put_observations)
    # what a stream that saw every batch finds
    ref = StreamingQc(store, cfg, store_results=False)
    expected = _covered([r for b in batches for r in ref.on_committed(b)])
    assert expected == [("S1", T0 + 20 * HOUR, T0 + 30 * HOUR)]

    live = LiveQc(store, config=cfg, queue_max=8, service=AlarmService(store), resolve_every_s=0)
    for b in batches:  # the worker is not running yet: the queue fills, then everything goes to the backlog
        live.listener(b)
    st = live.stats
    assert st.batches == 48 and st.queued == 8 and live._q_frames == 8  # two batches of four frames fit
    assert st.dropped_to_catch_up == 46 * 3  # accepted frames only; quarantined ones are never checked
    d = live.as_dict()
    assert d["catching_up"] and d["backlog_frames"] == 46 * 3 and d["queue_frames"] == 8 and d["processed"] == 0
    live.start()
    try:
        assert live.wait_idle(60)
        d = live.as_dict()
        assert d["processed"] == 8 and d["caught_up"] == 46 * 3 and d["errors"] == 0
        assert not d["catching_up"] and d["backlog_frames"] == 0 and d["lag_s"] == 0.0
        stored = QcRepo(store).results(detector="ZQ-FLAT")
        assert _covered(stored) == expected
        # reported once: the stored results do not overlap each other
        spans = sorted((r.start_utc, r.end_utc) for r in stored)
        assert all(b0 <= a1 for (_, b0), (a1, _) in zip(spans, spans[1:], strict=False))
        alarms = AlarmsRepo(store).list_alarms()
        assert [(a.station, a.parameter, a.start_utc, a.end_utc) for a in alarms] == [
            ("S1", PM25, T0 + 20 * HOUR, T0 + 30 * HOUR)]
        assert d["alarms_raised"] == 1 and d["results"] == len(stored)
        # caught up: the listener queues again
        t = T0 + 48 * HOUR
        live.listener([_item(ids["S1"], t, {PM25: 40.0})])
        assert live.wait_idle(30) and live.stats.queued == 9 and live.stats.processed == 9
    finally:
        live.stop()
    assert not live.as_dict()["running"]


@dataclass
class _SlowStream:
    """A stream whose checks wait for ``go`` (a worker that has fallen behind)."""

    go: threading.Event = field(default_factory=threading.Event)
    seen: int = 0
    _history: dict[str, int] = field(default_factory=dict)

    @property
    def stats(self):  # type: ignore[no-untyped-def]
        from tianlan.qc.stream import StreamStats

        return StreamStats()

    def on_committed(self, items):  # type: ignore[no-untyped-def]
        self.go.wait(30)
        self.seen += len(items)
        return []


def test_the_listener_never_waits_for_the_worker(store) -> None:
    slow = _SlowStream()
    live = LiveQc(store, stream=slow, service=AlarmService(store), queue_max=100, resolve_every_s=0).start()
    try:
        batch = [_item(1, T0, {PM25: 1.0})] * 10
        t = time.perf_counter()
        for _ in range(2000):  # 20 000 frames while the worker is stuck
            live.listener(batch)
        took = time.perf_counter() - t
        assert took < 1.0, took  # microseconds per call: it only appends or records
        d = live.as_dict()
        assert d["queued"] + d["dropped_to_catch_up"] == 20_000 and d["queued"] <= 100 + 10
        assert d["catching_up"] and d["lag_s"] >= 0.0
        slow.go.set()
        assert live.wait_idle(30)
        # what was queued was checked; the rest was read back from the store (nothing stored here)
        assert slow.seen == live.stats.processed == live.stats.queued
        assert not live.as_dict()["catching_up"]
    finally:
        slow.go.set()
        live.stop()


def test_stopping_checks_what_the_cadence_has_not_reached(store, toys, put_observations) -> None:
    """The stream checks hour data every 3 hours of data; the hours after the last run are checked
    when the service stops (and, in a running server, when a station goes quiet)."""
    from tianlan.qc.stream import phase

    ids = _register(store)
    cfg = config_from([{"id": "ZQ-FLAT", "params": {"min_len": 4}}], registry=toys)
    ph = phase("S1", 3 * HOUR, HOUR) // HOUR
    n = next(k for k in range(30, 40) if (k - 1 + ph) % 3 == 1)  # the last hour is not a due run
    live = LiveQc(store, config=cfg, service=AlarmService(store), resolve_every_s=0).start()
    try:
        for h in range(n):
            t = T0 + h * HOUR
            pm = 40.0 if h >= 20 else 20.0 + h  # S1 goes flat from hour 20 to the end
            put_observations(store, [{"time_utc": t, "device_id": ids["S1"], "parameter": PM25, "kind": "hour",
                                      "value": pm, "flag": "N", "frame_id": 0}])
            live.listener([_item(ids["S1"], t, {PM25: pm})])
            assert live.wait_idle(30)  # one round per hour, as hourly frames arrive
        before = max(r.end_utc for r in QcRepo(store).results(detector="ZQ-FLAT"))
        assert before < T0 + n * HOUR  # the cadence has not reached the last hour yet
    finally:
        live.stop()
    after = QcRepo(store).results(detector="ZQ-FLAT")
    assert max(r.end_utc for r in after) == T0 + n * HOUR and min(r.start_utc for r in after) == T0 + 20 * HOUR
    (alarm,) = AlarmsRepo(store).list_alarms()
    assert alarm.end_utc == T0 + n * HOUR
