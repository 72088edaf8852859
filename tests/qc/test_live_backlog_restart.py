"""Live QC's backlog survives a restart, end to end over real TCP, on SQLite and PostgreSQL.

Simulated devices send 30 hours of hour data to a running platform whose live QC queue holds one
frame and whose QC worker is held up (a stream that waits before its first check: a worker that has
fallen behind). Nearly every committed batch becomes backlog; the record of it must reach the store
while the server runs, the server is stopped before catching up, and a restarted server must check
everything that was left: the flat PM2.5 series of one station raises its alarm, the record is
gone, and the health counters say what was restored and caught up.
"""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import httpx
import pytest
from platform_helpers import start_platform
from sqlalchemy import Engine
from test_live_platform import FLAT_FROM, FLAT_TO, HOURS, PM25, POLLUTANTS, _send, _uploads

from tianlan.model.registry import Device, Registry, Site
from tianlan.qc import live as live_mod
from tianlan.qc.stream import StreamingQc
from tianlan.sim.device import SimDevice
from tianlan.store.alarms_repo import AlarmsRepo
from tianlan.store.qc_live_repo import QcLiveRepo
from tianlan.store.qc_repo import QcRepo
from tianlan.store.registry_repo import RegistryRepo

STATIONS = {"BR0": (114.50, 38.05), "BR1": (114.53, 38.04), "BR2": (114.47, 38.07), "BR3": (114.52, 38.08)}
FRAUD = "BR1"
# a backfill burst: the reception-time detectors would rightly report it (see test_live_platform.py)
CONFIG = """\
version: 1
base: default
detectors:
  - id: CMP-03
    enabled: false
  - id: TIM-01
    enabled: false
"""


class _Gate:
    """Holds the live QC worker at its first check until the server is stopping."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.entered = threading.Event()

    def stream_class(self) -> type[StreamingQc]:
        gate = self

        class Held(StreamingQc):
            def on_committed(self, items):  # type: ignore[no-untyped-def]
                gate.entered.set()
                assert gate.open.wait(60), "the test never released the worker"
                return super().on_committed(items)

        return Held


def _register(engine: Engine) -> dict[str, SimDevice]:
    sites = [Site(code, f"测试站{code}", "air", "130100", lon, lat) for code, (lon, lat) in STATIONS.items()]
    devs = [Device(f"BRMN{code}0000000000000001", f"pw{code}", "air", site=code, parameters=POLLUTANTS)
            for code in STATIONS]
    RegistryRepo(engine).import_registry(Registry(sites=sites, devices=devs))
    return {d.site: SimDevice(d.mn, d.password, kind="air", seed=i + 21, codes=POLLUTANTS)  # type: ignore[misc]
            for i, d in enumerate(devs)}


def _health(port: int) -> dict:
    return httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=10).json()["live_qc"]


def test_a_backlog_left_at_stop_is_caught_up_after_a_restart(store: Engine, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    sims = _register(store)
    cfg = tmp_path / "live-qc.yaml"
    cfg.write_text(CONFIG, "utf-8")
    start = (int(time.time()) // 3600 - HOURS - 1) * 3600
    uploads = {sim.mn: _uploads(sim, start, code == FRAUD) for code, sim in sims.items()}
    n_frames = sum(len(u) for u in uploads.values())

    # 1. a server whose QC worker has fallen behind: the queue overflows, the backlog is recorded
    gate = _Gate()
    monkeypatch.setattr(live_mod, "StreamingQc", gate.stream_class())
    p, th = start_platform(store, tmp_path, live_qc_config=cfg, live_qc_queue_max=1)
    try:
        asyncio.run(_send(p.hj212_port, uploads))
        live = p.running.live_qc  # type: ignore[attr-defined]
        assert gate.entered.wait(30)
        deadline = time.monotonic() + 30  # the last batches reach the listener after their acks
        while live.stats.queued + live.stats.dropped_to_catch_up < n_frames and time.monotonic() < deadline:
            time.sleep(0.05)
        dropped = live.stats.dropped_to_catch_up
        assert live.stats.queued + dropped == n_frames and dropped > n_frames // 2, live.as_dict()
        # the record reaches the store while the server runs (a crash now would not lose it)
        deadline = time.monotonic() + 30
        while sum(s.frames for s in QcLiveRepo(store).pending()) < dropped and time.monotonic() < deadline:
            time.sleep(0.05)
        pending = QcLiveRepo(store).pending()
        assert sum(s.frames for s in pending) == dropped
        # one generation, or two when the first batch already overflowed and is the one being checked
        assert {s.kind for s in pending} == {"hour"} and len({s.generation for s in pending}) in (1, 2)
        assert len({s.device_id for s in pending}) == len(STATIONS)
        assert all(start <= s.first_utc <= s.last_utc < start + HOURS * 3600 for s in pending)
        health = _health(p.http_port)
        assert health["catching_up"] and health["backlog_stored_frames"] == dropped
        assert health["restored_frames"] == 0 and health["caught_up"] == 0 and health["processed"] == 0
    finally:
        p.stop()
        # release the held worker only once the server is stopping, so it cannot start catching up
        deadline = time.monotonic() + 30
        while not live._stopping and time.monotonic() < deadline:
            time.sleep(0.01)
        gate.open.set()
        th.join(60)
    # the worker's first round, released at the stop: the first committed batch, not the backlog (its
    # size depends on how the gateway batched the frames, which load on the machine changes: 16 on a
    # quiet machine, 32 seen under load)
    processed = live.stats.processed + live.stats.caught_up
    assert 0 < processed <= n_frames // 2 and live.stats.errors == 0
    left = QcLiveRepo(store).pending()
    # (a frame a device sent again, its acknowledgement being late on a busy machine, is recorded twice)
    assert sum(s.frames for s in left) >= n_frames - processed, (left, live.as_dict())
    last_hour = start + (HOURS - 1) * 3600  # every device's last hours wait in the record
    assert {s.device_id for s in left if s.last_utc == last_hour} == {s.device_id for s in pending}
    # nothing of the flat run was checked: the worker saw only the first hours
    assert not QcRepo(store).results(detector="TMP-03")
    assert not AlarmsRepo(store).list_alarms()

    # 2. restarted, the server checks what was left first
    monkeypatch.undo()
    p, th = start_platform(store, tmp_path, live_qc_config=cfg)
    try:
        live = p.running.live_qc  # type: ignore[attr-defined]
        assert live.wait_idle(120)
        health = _health(p.http_port)
    finally:
        p.stop()
        th.join(60)
    assert health["restored_frames"] == sum(s.frames for s in left), (left, health)
    assert health["caught_up"] >= n_frames - processed and health["errors"] == 0, (left, health)
    assert health["backlog_stored_frames"] == 0 and not health["catching_up"]
    assert QcLiveRepo(store).pending() == []
    alarms = AlarmsRepo(store).list_alarms()
    assert {a.station for a in alarms} == {FRAUD}, [(a.station, a.parameter, a.detector) for a in alarms]
    (alarm,) = [a for a in alarms if a.parameter == PM25 and "TMP-03" in a.detectors]
    assert alarm.level >= 2
    assert alarm.start_utc <= start + (FLAT_FROM + 1) * 3600 and alarm.end_utc >= start + (FLAT_TO - 1) * 3600
    flat = QcRepo(store).results(station=FRAUD, detector="TMP-03")
    assert flat and min(r.start_utc for r in flat) <= start + (FLAT_FROM + 1) * 3600
