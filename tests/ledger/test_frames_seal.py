"""Frame seals: in the writer's transaction (DBAPI cursor) and afterwards for older data (both stores)."""

from __future__ import annotations

from hashlib import sha256

import pytest
from helpers import write_batches
from sqlalchemy import text

from tianlan.ledger import merkle
from tianlan.ledger.frames import seal_batch, seal_pending
from tianlan.ledger.verify import verify


def test_writer_batches_sealed_in_their_transaction(store) -> None:
    ids = write_batches(store, [3, 1, 7])
    assert ids == list(range(1, 12))
    with store.connect() as c:
        seals = c.execute(text("SELECT first_id, last_id, n, root, leaves FROM ledger_seals WHERE kind = 'frames' "
                               "ORDER BY first_id")).all()
        data = dict(c.execute(text("SELECT id, data FROM raw_frames")).all())
    assert [(s[0], s[1], s[2]) for s in seals] == [(1, 3, 3), (4, 4, 1), (5, 11, 7)]
    for first, last, _n, root, leaves in seals:
        assert bytes(leaves) == b"".join(sha256(bytes(data[i])).digest() for i in range(first, last + 1))
        assert bytes(root) == merkle.root(merkle.split(bytes(leaves)))
    assert seal_pending(store) == {"frames": 0, "observation_windows": 11}  # one hour each
    assert verify(store, public_key=None).ok


def test_seal_pending_seals_older_data(store) -> None:
    write_batches(store, [5, 5], seal=False)   # a data dir from before the ledger
    write_batches(store, [4], start=10)        # then a sealing writer (ids 11..14)
    r = verify(store, public_key=None)
    assert [p.row for p in r.problems if p.kind == "frame-unsealed"] == ["1..10"]
    assert seal_pending(store) == {"frames": 10, "observation_windows": 14}
    assert seal_pending(store) == {"frames": 0, "observation_windows": 0}
    assert verify(store, public_key=None).ok


def test_seal_batch_on_a_sqlalchemy_connection_and_split_runs(store) -> None:
    write_batches(store, [6], seal=False)
    with store.connect() as c:
        rows = [(int(i), bytes(s)) for i, s in c.execute(text("SELECT id, sha256 FROM raw_frames ORDER BY id"))]
    with store.begin() as c:
        entries = seal_batch(c, [rows[4], rows[0], rows[1], rows[5]])  # unordered, two runs: 1-2 and 5-6
    assert [(e.payload["first_id"], e.payload["last_id"]) for e in entries] == [(1, 2), (5, 6)]
    assert seal_pending(store)["frames"] == 2  # 3..4 left
    assert verify(store, public_key=None).ok


def test_observation_hours_wait_until_complete(store) -> None:
    from tianlan.ledger.frames import seal_observations

    write_batches(store, [10])  # frame i: device i % 3 + 1, data hour 1546272000 + i h
    t0 = 1546272000
    assert seal_observations(store, now=t0 + 3 * 3600 + 3600 + 7200) == 4  # hours 0..3 have ended (+2 h)
    r = verify(store, public_key=None)
    assert r.ok and r.observation_windows == 10 and any("not sealed yet" in w for w in r.warnings)
    assert seal_observations(store, now=t0 + 3 * 3600 + 3600 + 7200) == 0  # nothing new is ready
    assert seal_observations(store, now=t0 + 86400) == 6
    r = verify(store, public_key=None)
    assert r.ok and not r.warnings
    # late data into a sealed hour: sealed again, and the newest seal is what counts
    with store.begin() as c:
        c.execute(text("UPDATE raw_frames SET data_utc = :t WHERE id = 10"), {"t": t0})
    assert seal_observations(store, now=t0 + 86400) == 0  # no new frame: nothing to do
    write_batches(store, [1], start=24)  # frame 11: hour t0 + 24 h
    assert seal_observations(store, now=t0 + 3 * 86400) == 1
    assert verify(store, public_key=None).ok


def test_service_seals_and_signs(store, tmp_path) -> None:
    import asyncio
    from types import SimpleNamespace

    from tianlan.ledger.checkpoints import latest
    from tianlan.ledger.service import ledger_periodically

    write_batches(store, [3], seal=False)
    settings = SimpleNamespace(ledger_checkpoint_interval_s=0.05, ledger_key_file=tmp_path / "k.pem", data_dir=tmp_path)

    async def run() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(ledger_periodically(store, settings, stop))
        for _ in range(200):
            await asyncio.sleep(0.05)
            if latest(store) is not None:
                break
        stop.set()
        await task

    asyncio.run(run())
    cp = latest(store)
    assert cp is not None and (tmp_path / "k.pem").exists()
    r = verify(store, public_key=cp.public_key)
    assert r.ok and r.unsigned_tail == 0 and r.frames == 3


def test_service_worker_is_a_low_priority_process(store, tmp_path) -> None:
    """``ledger_mode=process``: sealing runs in a child process niced below the server, which then
    seals and signs exactly as the thread does (issue 2: sealing must not take the gateway's CPU)."""
    import asyncio
    import os
    import sys
    from pathlib import Path
    from types import SimpleNamespace

    from tianlan.ledger.checkpoints import latest
    from tianlan.ledger.service import WORKER_NICE, _Runner

    write_batches(store, [4], seal=False)
    settings = SimpleNamespace(ledger_key_file=tmp_path / "k.pem", data_dir=tmp_path, ledger_mode="process")

    async def run() -> tuple[dict, list[int]]:
        runner = _Runner(store, settings)
        try:
            sealed, _cp = await runner.run()
            assert runner.pool is not None
            pids = list(runner.pool._processes)  # the worker's pid
            for p in pids:  # SCHED_IDLE where the OS has it, else nice +10
                idle = hasattr(os, "SCHED_IDLE") and os.sched_getscheduler(p) == os.SCHED_IDLE
                assert idle or os.getpriority(os.PRIO_PROCESS, p) >= min(19, os.getpriority(os.PRIO_PROCESS, 0) + WORKER_NICE)
            if hasattr(os, "SCHED_IDLE") and sys.platform.startswith("linux"):
                assert all(os.sched_getscheduler(p) == os.SCHED_IDLE for p in pids)
            if sys.platform.startswith("linux"):  # named for ps/top and the ingest benchmark
                assert all(Path(f"/proc/{p}/comm").read_text().strip() == "tianlan-ledger" for p in pids)
            return sealed, pids
        finally:
            await runner.close()

    if store.dialect.name == "sqlite" and store.url.database in (None, "", ":memory:"):
        pytest.skip("an in-memory SQLite store cannot be opened by another process (the thread is used)")
    sealed, pids = asyncio.run(run())
    assert sealed["frames"] == 4
    assert pids and os.getpid() not in pids
    cp = latest(store)
    assert cp is not None and verify(store, public_key=cp.public_key).ok


def test_service_in_a_thread_when_asked(store, tmp_path) -> None:
    import asyncio
    from types import SimpleNamespace

    from tianlan.ledger.service import _Runner

    write_batches(store, [2], seal=False)
    settings = SimpleNamespace(ledger_key_file=tmp_path / "k.pem", data_dir=tmp_path, ledger_mode="thread")

    async def run() -> dict:
        runner = _Runner(store, settings)
        sealed, _cp = await runner.run()
        assert runner.pool is None
        return sealed

    assert asyncio.run(run())["frames"] == 2


def test_observation_seal_time_budget(store, monkeypatch) -> None:
    """``until``: no run starts after it; the next call goes on where it stopped."""
    import time

    from tianlan.ledger import frames as lf

    monkeypatch.setattr(lf, "FRAMES_PER_RUN", 4)
    write_batches(store, [10])
    now = 1546272000 + 86400
    assert lf.seal_observations(store, now=now, until=time.monotonic()) == 0  # spent before the first run
    assert lf.seal_observations(store, now=now, until=time.monotonic() + 60) == 10
    assert verify(store, public_key=None).ok


def test_observation_seal_recomputed_when_another_sealer_got_there_first(store, monkeypatch) -> None:
    """The digests come from a snapshot without the lock; if another sealer moved the mark before
    the seals are appended, the run is computed again rather than appended twice."""
    from tianlan.ledger import frames as lf

    write_batches(store, [6])
    now = 1546272000 + 86400
    real = lf._window_seal
    raced = []

    def racing(conn, window):  # type: ignore[no-untyped-def]
        if not raced:
            raced.append(window)
            assert lf.seal_observations(store, now=now) == 6  # the other sealer, in between
        return real(conn, window)

    monkeypatch.setattr(lf, "_window_seal", racing)
    assert lf.seal_observations(store, now=now) == 0  # nothing left after the other one's run
    with store.connect() as c:
        n = c.execute(text("SELECT count(*) FROM ledger_seals WHERE kind = 'observations'")).scalar_one()
    assert raced and n == 6  # each window sealed once
    assert verify(store, public_key=None).ok
