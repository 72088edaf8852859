"""Live QC end to end over real TCP: simulated devices send hour data to the running platform; one of
them sends a flat PM2.5 series. The alarm must be raised in the store with its evidence bundle,
reach a local webhook receiver (real HTTP, signed) and a local SMTP server, and the clean devices
must raise none. On SQLite and PostgreSQL (the ``store`` fixture)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from platform_helpers import start_platform
from sqlalchemy import Engine

from tianlan.alarms.notify import verify_signature
from tianlan.model.registry import Device, Registry, Site
from tianlan.sim.client import DeviceClient
from tianlan.sim.device import CN_HOUR, SimDevice
from tianlan.store.alarms_repo import AlarmsRepo
from tianlan.store.qc_repo import QcRepo
from tianlan.store.registry_repo import RegistryRepo

PM25 = "a34004"
POLLUTANTS = ["a21026", "a21004", "a21005", "a05024", "a34002", PM25]  # SO2 NO2 CO O3 PM10 PM2.5
HOURS = 30
FLAT_FROM, FLAT_TO = 6, 24  # hours of the flat PM2.5 run at the fraud station (18 h: TMP-03 fail)
SECRET = "live-qc-test-secret"
STATIONS = {"LQ0": (114.50, 38.05), "LQ1": (114.53, 38.04), "LQ2": (114.47, 38.07), "LQ3": (114.52, 38.08)}
FRAUD = "LQ1"
# The devices send 30 hours of history within seconds: a backfill burst, which the reception-time
# detectors (CMP-03 late data, TIM-01 clock) rightly report. Live devices report as data are made;
# here they are switched off so that "clean raises nothing" tests the value detectors.
CONFIG = """\
version: 1
base: default
detectors:
  - id: CMP-03
    enabled: false
  - id: TIM-01
    enabled: false
"""


@dataclass
class Hook:
    url: str = ""
    requests: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def hook() -> Iterator[Hook]:
    """A real local HTTP server recording the webhook POSTs."""
    rec = Hook()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with lock:
                rec.requests.append({"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    th = threading.Thread(target=server.serve_forever, daemon=True)
    th.start()
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/alarms"
    yield rec
    server.shutdown()
    server.server_close()


@pytest.fixture
def mailbox() -> Iterator[tuple[str, int, list[Any]]]:
    """A real local SMTP server (aiosmtpd)."""
    controller = pytest.importorskip("aiosmtpd.controller", reason="aiosmtpd not installed (test extra)")
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    box: list[Any] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
            box.append(envelope)
            return "250 OK"

    ctl = controller.Controller(Handler(), hostname="127.0.0.1", port=port)
    ctl.start()
    yield "127.0.0.1", port, box
    ctl.stop()


def _register(engine: Engine) -> dict[str, SimDevice]:
    sites = [Site(code, f"测试站{code}", "air", "130100", lon, lat) for code, (lon, lat) in STATIONS.items()]
    devs = [Device(f"LQMN{code}0000000000000001", f"pw{code}", "air", site=code, parameters=POLLUTANTS)
            for code in STATIONS]
    RegistryRepo(engine).import_registry(Registry(sites=sites, devices=devs))
    return {d.site: SimDevice(d.mn, d.password, kind="air", seed=i + 11, codes=POLLUTANTS) for i, d in enumerate(devs)}  # type: ignore[misc]


def _uploads(sim: SimDevice, start: int, flat: bool) -> list:
    """Hour uploads of ``HOURS`` hours; with ``flat`` PM2.5 is 33 µg/m³ in [FLAT_FROM, FLAT_TO)."""
    out = []
    for h, (data_time, items) in enumerate(sim.items_many(CN_HOUR, [start + 3600 * h for h in range(HOURS)])):
        if flat and FLAT_FROM <= h < FLAT_TO:
            items = {**items, PM25: {**items[PM25], "Min": "33", "Avg": "33", "Max": "33"}}
        out.extend(sim.build(CN_HOUR, data_time, items))
    return out


async def _send(port: int, uploads: dict[str, list]) -> None:
    clients = []
    for mn, ups in uploads.items():
        c = DeviceClient("127.0.0.1", port, mn, window=4, record_frames=False)
        c.start()
        c.submit_many(ups)
        clients.append(c)
    for c in clients:
        assert await c.wait_idle(60), f"{c.mn}: not every upload was acknowledged"
    for c in clients:
        await c.close()


def test_live_qc_raises_notifies_and_stays_quiet_on_clean_devices(store: Engine, tmp_path: Path, hook: Hook,
                                                                   mailbox) -> None:
    sims = _register(store)
    cfg = tmp_path / "live-qc.yaml"
    cfg.write_text(CONFIG, "utf-8")
    host, port, box = mailbox
    p, th = start_platform(store, tmp_path, live_qc_config=cfg, alarm_webhook_url=hook.url, alarm_webhook_secret=SECRET,
                           alarm_smtp_host=host, alarm_smtp_port=port, alarm_mail_to="duty@hb.example")
    try:
        start = (int(time.time()) // 3600 - HOURS) * 3600
        uploads = {sim.mn: _uploads(sim, start, code == FRAUD) for code, sim in sims.items()}
        asyncio.run(_send(p.hj212_port, uploads))
        live = p.running.live_qc  # type: ignore[attr-defined]
        deadline = time.monotonic() + 60
        while live.stats.processed < sum(len(u) for u in uploads.values()) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert live.wait_idle(60)
        health = httpx.get(f"http://127.0.0.1:{p.http_port}/api/v1/health", timeout=10).json()["live_qc"]
    finally:
        p.stop()
        th.join(30)

    n_frames = sum(len(u) for u in uploads.values())
    assert health["running"] and health["processed"] == health["queued"] == n_frames
    assert health["dropped_to_catch_up"] == 0 and health["backlog_frames"] == 0 and health["errors"] == 0
    assert health["results"] > 0 and health["alarms_raised"] >= 1 and health["notified"] >= 2
    assert 0 < health["qc_ms_per_frame"] <= health["ms_per_frame"]

    # the alarm, in the store, with its evidence bundle
    alarms = AlarmsRepo(store).list_alarms()
    assert {a.station for a in alarms} == {FRAUD}, [(a.station, a.parameter, a.detector, a.reason) for a in alarms]
    (alarm,) = [a for a in alarms if a.parameter == PM25 and "TMP-03" in a.detectors]
    assert alarm.level >= 2 and alarm.status == "raised"
    t_flat = start + FLAT_FROM * 3600
    assert alarm.start_utc <= t_flat + 3600 and alarm.end_utc >= start + (FLAT_TO - 1) * 3600
    ev = alarm.evidence
    flat = [r for r in ev["results"] if r["detector"] == "TMP-03"]
    assert flat and ev["station"] == FRAUD and ev["parameter"] == PM25
    assert all(r["evidence"] and r["status"] in ("SUSPECT", "FAIL") for r in flat)
    assert ev["results_total"] >= len(flat) and ev["level"]["policy"] == "default" and ev["level"]["policy_hash"]
    assert any(d["id"] == "TMP-03" and d["config_hashes"] for d in ev["detectors"])
    stored = QcRepo(store).results(station=FRAUD, detector="TMP-03")
    assert stored and min(r.start_utc for r in stored) <= t_flat + 3600
    assert not [r for r in QcRepo(store).results(detector="TMP-03") if r.station != FRAUD]
    history = [e.action for e in AlarmsRepo(store).events(alarm.id)]
    assert history[0] == "raise" and "notify" in history

    # the webhook receiver got it, signed; the SMTP server got the mail
    posts = [r for r in hook.requests if json.loads(r["body"])["alarm"]["id"] == alarm.id]
    assert posts, hook.requests
    h = posts[0]["headers"]
    assert h["x-tianlan-event"] in ("alarm.raised", "alarm.escalated")  # raised at level 1 first, by timing
    assert verify_signature(SECRET, h["x-tianlan-timestamp"], posts[0]["body"], h["x-tianlan-signature"])
    body = json.loads(posts[0]["body"])
    assert body["alarm"]["station"] == FRAUD and body["alarm"]["parameter"] == PM25
    mails = [email.message_from_bytes(e.content, policy=email.policy.default) for e in box]
    mine = [m for m in mails if f"#{alarm.id}" in m.get_content()]
    assert mine and "duty@hb.example" in mine[0]["To"] and FRAUD in mine[0].get_content()


def test_live_qc_can_be_switched_off(store: Engine, tmp_path: Path) -> None:
    p, th = start_platform(store, tmp_path, live_qc=False)
    try:
        assert p.running.live_qc is None  # type: ignore[attr-defined]
        health = httpx.get(f"http://127.0.0.1:{p.http_port}/api/v1/health", timeout=10).json()
        assert health["live_qc"] is None and health["gateway"] is not None
    finally:
        p.stop()
        th.join(30)
