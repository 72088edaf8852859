"""The ledger's periodic work in a running platform: seal what is pending, sign a checkpoint.

``tianlan serve`` runs :func:`ledger_periodically` next to the gateway: once at start (sealing the
frames of an older data directory, or any committed without a seal) and then every
``ledger_checkpoint_interval_s`` seconds, so that entries are covered by a signed checkpoint
within that interval and observations are sealed soon after they are written.

The work runs in a child process at low priority (``ledger_mode=process``, the default). Sealing
reads back and hashes every observation row (~3 µs a row, ~30 µs a ten-factor frame): in a thread
of the server it held the GIL away from the gateway's event loop, and a province's backlog of
replayed data halved the ingest rate (22k → 11k frames/s). As its own process it uses the CPU the
gateway and the writer leave, and falls behind under a burst rather than slowing the burst.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing as mp
import os
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine

from tianlan.ledger.checkpoints import Checkpoint, checkpoint, key_path, load_key, load_or_create_key
from tianlan.ledger.frames import seal_pending
from tianlan.procname import LEDGER, set_process_name

log = logging.getLogger(__name__)

WORKER_NICE = 10  # the sealing process yields to the gateway and the writer
RUN_BUDGET_S = 20.0  # a periodic run starts no new batch of windows after this long (s)
FINAL_BUDGET_S = 30.0  # the same at shutdown, where a service manager waits ~90 s before it kills


def seal_and_checkpoint(engine: Engine, key: Ed25519PrivateKey, *,
                        budget_s: float | None = None) -> tuple[dict[str, int], Checkpoint | None]:
    """Seal pending frames and observations, then sign a checkpoint over new entries.

    ``budget_s``: start no new run of observation windows after this many seconds (the periodic
    work, so that a stop is not held up by a backlog; what is left is sealed by the next call).
    """
    until = None if budget_s is None else time.monotonic() + budget_s
    sealed = seal_pending(engine, until=until)
    return sealed, checkpoint(engine, key)


# --- the worker process -----------------------------------------------------------------------------

_worker_engines: dict[str, Engine] = {}


def _worker_init() -> None:
    """Name the worker and lower its priority: SCHED_IDLE where Linux has it (it runs only on CPU
    nobody else wants, and a waking gateway or writer preempts it at once), else nice +10."""
    set_process_name(LEDGER)
    try:
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
        return
    except (AttributeError, OSError):
        pass
    try:
        os.nice(WORKER_NICE)
    except OSError:  # not permitted here: run at the same priority
        pass


def _seal_and_checkpoint_at(url: str, key_file: str, budget_s: float) -> tuple[dict[str, int], Checkpoint | None]:
    """:func:`seal_and_checkpoint` in the worker process, on an engine kept between runs."""
    from tianlan.store.engine import make_engine

    engine = _worker_engines.get(url)
    if engine is None:
        engine = _worker_engines[url] = make_engine(url)
    return seal_and_checkpoint(engine, load_key(Path(key_file)), budget_s=budget_s)


def _file_backed(engine: Engine) -> bool:
    """Whether another process can open the same store (not an in-memory SQLite database)."""
    return engine.dialect.name != "sqlite" or engine.url.database not in (None, "", ":memory:")


class _Runner:
    """Runs :func:`seal_and_checkpoint` in the worker process, or in a thread."""

    def __init__(self, engine: Engine, settings: Any) -> None:
        self.engine = engine
        self.key_file = key_path(settings)
        self.key = load_or_create_key(self.key_file)  # created here, once: the worker only reads it
        self.url = engine.url.render_as_string(hide_password=False)
        self.use_process = getattr(settings, "ledger_mode", "process") == "process" and _file_backed(engine)
        self.pool: ProcessPoolExecutor | None = None

    async def run(self, budget_s: float = RUN_BUDGET_S) -> tuple[dict[str, int], Checkpoint | None]:
        if not self.use_process:
            return await asyncio.to_thread(seal_and_checkpoint, self.engine, self.key, budget_s=budget_s)
        if self.pool is None:
            self.pool = ProcessPoolExecutor(1, mp_context=mp.get_context("spawn"), initializer=_worker_init)
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self.pool, _seal_and_checkpoint_at, self.url, str(self.key_file), budget_s)
        except BrokenProcessPool:
            self.pool = None  # the worker died (killed, out of memory): a new one next time
            raise

    async def close(self) -> None:
        if self.pool is not None:
            await asyncio.to_thread(self.pool.shutdown, True, cancel_futures=True)
            self.pool = None


async def ledger_periodically(engine: Engine, settings: Any, stop: asyncio.Event) -> None:
    """Run :func:`seal_and_checkpoint` now and every ``settings.ledger_checkpoint_interval_s`` until ``stop``."""
    interval = float(settings.ledger_checkpoint_interval_s)
    if interval <= 0:
        return
    runner = _Runner(engine, settings)
    try:
        while not stop.is_set():
            started = time.monotonic()
            try:
                sealed, cp = await runner.run()
                if sealed["frames"]:
                    log.info("ledger: sealed %d frames committed without a seal", sealed["frames"])
                if cp is not None:
                    log.debug("ledger: checkpoint #%d signed at seq %d", cp.id, cp.seq)
            except Exception:
                log.exception("ledger: periodic seal/checkpoint failed (will retry)")
            else:
                if time.monotonic() - started >= RUN_BUDGET_S:
                    continue  # a backlog: go on at once (each run checks ``stop`` first)
            try:
                await asyncio.wait_for(stop.wait(), interval)
            except TimeoutError:
                pass
    finally:
        await runner.close()


def final_checkpoint(engine: Engine, settings: Any) -> tuple[dict[str, int], Checkpoint | None]:
    """At shutdown, after the gateway drained: seal what is pending and sign it, so that a stopped
    platform's ledger ends in a signed checkpoint (``ledger verify`` then reports no unsigned tail).
    Observation windows are sealed for at most :data:`FINAL_BUDGET_S` (a replayed backlog can take
    minutes); the rest are sealed at the next start."""
    return seal_and_checkpoint(engine, load_or_create_key(key_path(settings)), budget_s=FINAL_BUDGET_S)
