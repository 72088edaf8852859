"""Durability under load: kill -9 of a real ``tianlan serve`` process mid-run, restart, resend.

Must show (issue 2): every acknowledged frame is stored; after the simulated devices'
retransmissions every sent frame is stored exactly once (accepted once, its values once).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, insert, select

from tianlan.sim.client import DeviceClient
from tianlan.sim.registry import generated_devices
from tianlan.store.engine import open_store
from tianlan.store.schema import devices, observations, raw_frames

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data_dir: Path, url: str, port: int) -> subprocess.Popen:
    log = open(data_dir / f"server-{time.time_ns()}.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tianlan.cli", "serve", "--data-dir", str(data_dir), "--database-url", url,
         "--hj212-port", str(port), "--http-port", "0", "--hj212-host", "127.0.0.1"],
        stdout=log, stderr=subprocess.STDOUT, text=True,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        if re.search(r"listening on .*:\d+", Path(log.name).read_text()):
            return proc
        assert proc.poll() is None, Path(log.name).read_text()
        time.sleep(0.05)
    raise AssertionError("server did not start")


def test_kill_9_loses_nothing_acknowledged_and_stores_each_frame_once(store_url: str, tmp_path: Path) -> None:
    engine = open_store(store_url)
    devs = generated_devices(40, "mixed", seed=7)
    with engine.begin() as c:
        c.execute(insert(devices), [
            {"mn": d.mn, "password": d.pw, "kind": "air", "st": d.st, "created_utc": time.time()} for d in devs
        ])
    port = free_port()
    proc = start_server(tmp_path, store_url, port)
    uploads = {d.mn: d.series("2051", 1546272000, 600, 60) for d in devs}  # 40 devices × 60 minute records
    acked_at_kill: set[bytes] = set()

    async def main() -> list[DeviceClient]:
        clients = [DeviceClient("127.0.0.1", port, d.mn, ack_timeout_s=1.0, retries=2, backoff_initial_s=0.05,
                                backoff_max_s=0.5) for d in devs]
        for c in clients:
            c.submit_many(uploads[c.mn])
            c.start()
        total = sum(len(u) for u in uploads.values())
        # wait until roughly a third is acknowledged, then kill the server without warning
        while sum(c.stats.acked for c in clients) < total // 3:
            await asyncio.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        for c in clients:
            pending = {u.frame for u in c.unacked}
            acked_at_kill.update(f for f in c.sent_frames if f not in pending)
        await asyncio.sleep(0.5)
        nonlocal_proc.append(start_server(tmp_path, store_url, port))
        for c in clients:
            assert await c.wait_idle(120), f"{c.mn}: {len(c.unacked)} frames never acknowledged"
        for c in clients:
            await c.close()
        return clients

    nonlocal_proc: list[subprocess.Popen] = []
    try:
        clients = asyncio.run(main())
    finally:
        for p in [proc, *nonlocal_proc]:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                p.wait(60)
    sent = set().union(*(c.sent_frames for c in clients))
    assert len(sent) == 40 * 60
    assert len(acked_at_kill) > 0
    eng = create_engine(store_url)
    with eng.connect() as c:
        rows = c.execute(select(raw_frames.c.sha256, raw_frames.c.status)).all()
        n_obs = c.execute(select(func.count()).select_from(observations)).scalar_one()
    accepted: dict[bytes, int] = {}
    for sha, status in rows:
        if status == "accepted":
            accepted[bytes(sha)] = accepted.get(bytes(sha), 0) + 1
    sent_sha = {hashlib.sha256(f).digest() for f in sent}
    # every frame acknowledged before the kill is stored …
    assert {hashlib.sha256(f).digest() for f in acked_at_kill} <= set(accepted)
    # … and after retransmission every sent frame is accepted exactly once
    assert sent_sha == set(accepted), (len(sent_sha - set(accepted)), len(set(accepted) - sent_sha))
    assert all(n == 1 for n in accepted.values())
    factors = sum(len(d.codes or d.profile.by_code) for d in devs) * 60
    assert n_obs == factors
    eng.dispose()
