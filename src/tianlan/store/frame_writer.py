"""The one writer: group-commits received frames and their observations, then reports back.

Every frame submitted is written to ``raw_frames`` byte for byte, together with the observations it
yields, in one transaction per batch (group commit: while one batch commits, the next accumulates).
Only after ``COMMIT`` returns is the batch handed to ``on_committed`` — the gateway sends the
HJ 212 acknowledgements from there, so an acknowledged frame is always durably stored (DESIGN
principle 2). Duplicates (byte-identical to an already accepted frame: a device retransmitting
because our ack was lost) are archived too, with status ``duplicate``, and acknowledged again;
their observations are not stored twice.

Two modes, one code path (:class:`BatchStore`):
- ``process`` (default for ``tianlan serve``): the store work runs in a child process. Measured
  here, a writer *thread* sharing the GIL with a busy event loop managed ~5.6k frames/s against
  16k/s alone; in its own process it has a core to itself. Batches travel as marshalled tuples.
- ``thread``: the same work in a thread of this process (tests, tools, small installations).

The bulk statements go through the DBAPI cursor rather than SQLAlchemy's executemany: at tens of
thousands of rows per second SQLAlchemy's per-row parameter processing costs more than the insert.
"""

from __future__ import annotations

import logging
import marshal
import multiprocessing as mp
import pickle
import queue
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Engine

from tianlan.ingest.item import ACCEPTED, DUPLICATE, IngestItem
from tianlan.store.engine import is_sqlite, make_engine
from tianlan.store.partitions import PartitionKeeper, month_of

log = logging.getLogger(__name__)

ROWS_PER_STATEMENT = 200
OnCommitted = Callable[[list[IngestItem]], None]

_RAW_COLS = (
    "id, received_utc, peer, channel, data, sha256, mn, device_id, qn, cn, status, reason, detail, "
    "crc_variant, relaxations, duplicate_of, n_obs, data_utc"
)
_OBS_COLS = "time_utc, device_id, parameter, kind, value, flag, vmin, vmax, cou, zs, extra, frame_id"

# A frame as it crosses to the store: (received_utc, peer, channel, data, sha256, mn, device_id, qn,
# cn, status, reason, detail, crc_variant, relaxations, obs_rows)
Record = tuple[Any, ...]
# What comes back per frame: (frame_id, status, reason, duplicate_of)
Result = tuple[int, str, "str | None", "int | None"]


def to_record(it: IngestItem) -> Record:
    return (it.received_utc, it.peer, it.channel, it.data, it.sha256, it.mn, it.device_id, it.qn, it.cn,
            it.status, it.reason, it.detail, it.crc_variant, it.relaxations, it.obs)


class BatchStore:
    """Writes batches of records in one transaction each; owns one DBAPI connection."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sqlite = is_sqlite(engine)
        self.ph = "?" if self.sqlite else "%s"
        self.raw = engine.raw_connection()
        self.next_id = self._max_id() + 1
        self.committed_obs = 0
        self.partitions = None if self.sqlite else PartitionKeeper()

    def close(self) -> None:
        self.raw.close()

    def write(self, records: Sequence[Record]) -> list[Result]:
        """Write ``records`` durably; retries (never drops) while the store is unavailable."""
        delay = 0.05
        while True:
            try:
                return self._write(records)
            except Exception:
                log.exception("writer: batch of %d failed, retrying", len(records))
                try:
                    self.raw.rollback()
                except Exception:
                    log.exception("writer: rollback failed")
                    self.raw = self.engine.raw_connection()
                try:
                    self.next_id = self._max_id() + 1
                except Exception:
                    log.exception("writer: store unavailable")
                if self.partitions is not None:
                    self.partitions.known.clear()  # a rolled-back CREATE TABLE did not happen
                time.sleep(delay)
                delay = min(delay * 2, 2.0)

    def _max_id(self) -> int:
        cur = self.raw.cursor()
        cur.execute("SELECT COALESCE(MAX(id), 0) FROM raw_frames")
        (m,) = cur.fetchone()
        cur.close()
        self.raw.commit()
        return int(m)

    def _known(self, cur: Any, shas: list[bytes]) -> dict[bytes, int]:
        """Accepted frames already stored with these SHA-256s → their ids."""
        found: dict[bytes, int] = {}
        for i in range(0, len(shas), 500):
            chunk = shas[i : i + 500]
            marks = ",".join([self.ph] * len(chunk))
            cur.execute(f"SELECT sha256, id FROM raw_frames WHERE status = 'accepted' AND sha256 IN ({marks})", chunk)
            for sha, fid in cur.fetchall():
                found[bytes(sha)] = fid
        return found

    def _insert(self, cur: Any, head: str, tail: str, rows: list[tuple], width: int) -> None:
        """Insert with multi-row VALUES statements of up to ``ROWS_PER_STATEMENT`` rows.

        Fewer, larger statements: per-statement overhead (and, in thread mode, a GIL hand-off
        around every statement step) dominates single-row inserts at this rate.
        """
        one = "(" + ",".join([self.ph] * width) + ")"
        step = ROWS_PER_STATEMENT
        full_sql = None
        for i in range(0, len(rows), step):
            chunk = rows[i : i + step]
            if len(chunk) == step:
                if full_sql is None:
                    full_sql = head + ",".join([one] * step) + tail
                sql = full_sql
            else:
                sql = head + ",".join([one] * len(chunk)) + tail
            cur.execute(sql, [v for row in chunk for v in row])

    def _write(self, records: Sequence[Record]) -> list[Result]:
        cur = self.raw.cursor()
        accepted = [r[4] for r in records if r[9] == ACCEPTED or r[9] == DUPLICATE]
        known = self._known(cur, accepted) if accepted else {}
        frame_rows = []
        obs_rows = []
        results: list[Result] = []
        fid = self.next_id
        for rec in records:
            (received, peer, channel, data, sha, mn, dev, qn, cn, status, reason, detail, crc, relax, obs) = rec
            dup = None
            n_obs = 0
            data_utc = obs[0][0] if obs else None
            if status == ACCEPTED or status == DUPLICATE:
                first = known.get(sha)
                if first is not None:
                    status, reason, dup = DUPLICATE, "retransmission", first
                else:
                    status = ACCEPTED
                    known[sha] = fid
                    n_obs = len(obs)
                    for t, p, k, v, f, lo, hi, cou, zs, x in obs:
                        obs_rows.append((t, dev, p, k, v, f, lo, hi, cou, zs, x, fid))
            frame_rows.append((fid, received, peer, channel, data, sha, mn, dev, qn, cn, status, reason, detail,
                               crc, relax, dup, n_obs, data_utc))
            results.append((fid, status, reason, dup))
            fid += 1
        self._insert(cur, f"INSERT INTO raw_frames ({_RAW_COLS}) VALUES ", "", frame_rows, 18)
        if obs_rows:
            if self.partitions is not None:
                self.partitions.ensure(cur, {month_of(t) for t in {r[0] for r in obs_rows}})
            if self.sqlite:
                self._insert(cur, f"INSERT OR IGNORE INTO observations ({_OBS_COLS}) VALUES ", "", obs_rows, 12)
            else:
                self._insert(cur, f"INSERT INTO observations ({_OBS_COLS}) VALUES ", " ON CONFLICT DO NOTHING",
                             obs_rows, 12)
        self.raw.commit()
        cur.close()
        self.next_id = fid
        self.committed_obs += len(obs_rows)
        return results


def _child(conn: Any, url: str, sqlite_synchronous: str) -> None:
    """Writer process: receive marshalled batches, write them, answer with the results."""
    import gc

    engine = make_engine(url, sqlite_synchronous=sqlite_synchronous)
    store = BatchStore(engine)
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)  # rows are short-lived and acyclic (see runtime._tune_gc)
    try:
        while True:
            try:
                msg = conn.recv_bytes()
            except (EOFError, OSError):
                break  # the gateway is gone: nothing more will come
            records = marshal.loads(msg)
            t0 = time.perf_counter()
            results = store.write(records)
            conn.send_bytes(pickle.dumps((results, time.perf_counter() - t0, store.committed_obs), protocol=5))
    finally:
        store.close()
        engine.dispose()


class FrameWriter:
    """Queue items with ``submit``; they come back committed, in order, through ``on_committed``."""

    def __init__(self, engine: Engine, on_committed: OnCommitted, *, batch_max: int = 2000,
                 mode: str = "thread", sqlite_synchronous: str = "FULL") -> None:
        if mode not in ("thread", "process"):
            raise ValueError(f"writer mode: must be thread or process, got {mode!r}")
        self.engine = engine
        self.on_committed = on_committed
        self.batch_max = batch_max
        self.mode = mode
        self.sqlite_synchronous = sqlite_synchronous
        self._q: queue.SimpleQueue[IngestItem | None] = queue.SimpleQueue()
        self._pending = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="tianlan-writer", daemon=True)
        self._idle = threading.Event()
        self._idle.set()
        self._proc: Any = None
        self._conn: Any = None
        self.committed_frames = 0
        self.committed_obs = 0
        self.batches = 0
        self.busy_s = 0.0  # time spent writing (s), for benchmarks and /api/v1/health

    # -- public ---------------------------------------------------------------------------------

    def start(self) -> FrameWriter:
        if self.mode == "process":
            ctx = mp.get_context("spawn")
            parent, child = ctx.Pipe()
            url = self.engine.url.render_as_string(hide_password=False)
            self._proc = ctx.Process(target=_child, args=(child, url, self.sqlite_synchronous),
                                     name="tianlan-writer", daemon=True)
            self._proc.start()
            child.close()
            self._conn = parent
        self._thread.start()
        return self

    def submit(self, item: IngestItem) -> None:
        with self._lock:
            self._pending += 1
            if self._idle.is_set():  # Event.clear takes its own lock: only when it changes
                self._idle.clear()
        self._q.put(item)

    def submit_many(self, items: Sequence[IngestItem]) -> None:
        with self._lock:
            self._pending += len(items)
            if self._idle.is_set():  # Event.clear takes its own lock: only when it changes
                self._idle.clear()
        for it in items:
            self._q.put(it)

    @property
    def pending(self) -> int:
        """Items submitted and not yet committed."""
        return self._pending

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until everything submitted so far is committed."""
        return self._idle.wait(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Commit what is queued, then end the thread (and the writer process)."""
        self._q.put(None)
        self._thread.join(timeout)
        if self._conn is not None:
            self._conn.close()
        if self._proc is not None:
            self._proc.join(timeout)

    # -- the thread -----------------------------------------------------------------------------

    def _run(self) -> None:
        store = BatchStore(self.engine) if self.mode == "thread" else None
        try:
            stop = False
            while not stop:
                first = self._q.get()
                if first is None:
                    break
                batch = [first]
                while len(batch) < self.batch_max:
                    try:
                        nxt = self._q.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is None:
                        stop = True
                        break
                    batch.append(nxt)
                records = [to_record(it) for it in batch]
                if store is not None:
                    t0 = time.perf_counter()
                    results = store.write(records)
                    self.busy_s += time.perf_counter() - t0
                    self.committed_obs = store.committed_obs
                else:
                    # marshal: records are tuples of str/bytes/int/float/None — twice as fast as pickle
                    self._conn.send_bytes(marshal.dumps(records))
                    results, busy, n_obs = pickle.loads(self._conn.recv_bytes())
                    self.busy_s += busy
                    self.committed_obs = n_obs
                for it, (fid, status, reason, dup) in zip(batch, results, strict=True):
                    it.frame_id, it.status, it.reason, it.duplicate_of = fid, status, reason, dup
                self._done(batch)
        except Exception:
            log.exception("writer thread failed")
            raise
        finally:
            if store is not None:
                store.close()

    def _done(self, batch: list[IngestItem]) -> None:
        self.batches += 1
        self.committed_frames += len(batch)
        try:
            self.on_committed(batch)
        except Exception:
            log.exception("writer: on_committed callback failed")
        with self._lock:
            self._pending -= len(batch)
            if self._pending == 0:
                self._idle.set()
