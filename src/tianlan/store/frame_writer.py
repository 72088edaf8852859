"""The one writer: group-commits received frames and their observations, then reports back.

Every frame submitted is written to ``raw_frames`` byte for byte, together with the observations it
yields, in one transaction per batch (group commit: while one batch commits, the next accumulates).
Only after ``COMMIT`` returns is the batch handed to ``on_committed`` — the gateway sends the
HJ 212 acknowledgements from there, so an acknowledged frame is always durably stored (DESIGN
principle 2). Duplicates (byte-identical to an already accepted frame: a device retransmitting
because our ack was lost) are archived too, with status ``duplicate``, and acknowledged again;
their observations are not stored twice.

Two modes, one code path (:class:`BatchStore`):
- ``process`` (default for ``tianlan serve``): the store work runs in a child process, which has a
  core to itself (a writer *thread* sharing the GIL with a busy event loop managed ~5.6k frames/s
  against 16k/s alone). The gateway's event loop drives it directly — batches out and results back
  over a socket pair with non-blocking I/O, acknowledgements written in the same loop callback —
  so no thread sits between them. Batches travel as marshalled tuples.
- ``thread``: the same work in a thread of this process (tests, tools, small installations).

The bulk statements go through the DBAPI cursor rather than SQLAlchemy's executemany: at tens of
thousands of rows per second SQLAlchemy's per-row parameter processing costs more than the insert.
On SQLite, NULLs are written into the statement rather than bound (:class:`_NullFreeInsert`: this
halved the cost of an observation row); on PostgreSQL, rows go in with ``COPY``.
"""

from __future__ import annotations

import asyncio
import logging
import marshal
import multiprocessing as mp
import os
import pickle
import queue
import socket
import struct
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Engine

from tianlan.ingest.item import IngestItem
from tianlan.ingest.rows import Record, Result, accepted_rows, apply_results, batch_payload, batch_rows, dedup_keys
from tianlan.ingest.rows import to_record as to_record
from tianlan.ledger.frames import seal_batch
from tianlan.store.engine import is_sqlite, make_engine
from tianlan.store.partitions import PartitionKeeper, month_of

log = logging.getLogger(__name__)

ROWS_PER_STATEMENT = 200  # largest multi-row VALUES statement (SQLite allows 32766 parameters)
OnCommitted = Callable[[list[IngestItem]], None]

_RAW_COLS = (
    "id, received_utc, peer, channel, data, sha256, mn, device_id, qn, cn, status, reason, detail, "
    "crc_variant, relaxations, duplicate_of, n_obs, data_utc"
)
_OBS_COLS = "time_utc, device_id, parameter, kind, value, flag, vmin, vmax, cou, zs, extra, frame_id"
_RAW_NAMES = tuple(c.strip() for c in _RAW_COLS.split(","))
_OBS_NAMES = tuple(c.strip() for c in _OBS_COLS.split(","))

# Observation rows of the two usual shapes, bound without their NULL columns (see _NullFreeInsert):
# period data (min/hour/day: -Min/-Avg/-Max/-Flag) lack cou, zs, extra; real-time data (and period
# data with -Avg alone) lack vmin, vmax too. Bits of the mask are the row's columns, 1 = NULL.
_PERIOD_MASK = (1 << 8) | (1 << 9) | (1 << 10)
_SHORT_MASK = (1 << 6) | (1 << 7) | _PERIOD_MASK
# raw_frames columns NULL for the usual accepted frame: reason, detail, relaxations, duplicate_of
_USUAL_FRAME_MASK = (1 << 11) | (1 << 12) | (1 << 14) | (1 << 15)


def _null_mask(row: Sequence[Any]) -> int:
    mask = 0
    for j, v in enumerate(row):
        if v is None:
            mask |= 1 << j
    return mask


class _NullFreeInsert:
    """SQLite multi-row inserts that bind no NULLs: NULL columns are written as literals.

    Binding ``None`` (and ``bytes``) costs Python's sqlite3 module an adapter lookup per value,
    measured ~0.35 µs against ~0.05 µs for an int, float or str; period data leave 3 of the 12
    observation columns NULL, so at 100k rows/s that was a third of the writer's time. Rows are
    grouped by their NULL mask; each (mask, row count) gets one cached statement, counts being 200
    or a power of two below (few distinct statements, so SQLite's statement cache keeps them).
    """

    def __init__(self, head: str, tail: str, names: Sequence[str]) -> None:
        self.head = head
        self.tail = tail
        self.width = len(names)
        self._sql: dict[tuple[int, int], str] = {}

    def sql(self, mask: int, n: int) -> str:
        s = self._sql.get((mask, n))
        if s is None:
            one = "(" + ",".join("NULL" if mask >> j & 1 else "?" for j in range(self.width)) + ")"
            s = self._sql[(mask, n)] = self.head + ",".join([one] * n) + self.tail
        return s

    def flat(self, cur: Any, mask: int, values: list[Any]) -> None:
        """Insert rows given as one flat list of their non-NULL values (all rows of shape ``mask``)."""
        per = self.width - bin(mask).count("1")
        n = len(values) // per
        i = 0
        while i < n:
            m = n - i
            if m >= ROWS_PER_STATEMENT:
                m = ROWS_PER_STATEMENT
            else:
                m = 1 << (m.bit_length() - 1)
            cur.execute(self.sql(mask, m), values[i * per:(i + m) * per])
            i += m

    def in_order(self, cur: Any, rows: Sequence[Sequence[Any]]) -> None:
        """Insert whole rows strictly in their order (runs of consecutive rows of one shape)."""
        mask = -1
        values: list[Any] = []
        for row in rows:
            m = _null_mask(row)
            if m != mask:
                if values:
                    self.flat(cur, mask, values)
                mask, values = m, []
            values.extend([v for v in row if v is not None])
        if values:
            self.flat(cur, mask, values)

    def rows(self, cur: Any, rows: Sequence[Sequence[Any]]) -> None:
        """Insert whole rows (any NULLs), grouped by shape (their order among shapes is lost)."""
        groups: dict[int, list[Any]] = {}
        for row in rows:
            mask = _null_mask(row)
            g = groups.get(mask)
            if g is None:
                g = groups[mask] = []
            g.extend([v for v in row if v is not None])
        for mask, values in groups.items():
            self.flat(cur, mask, values)


class BatchStore:
    """Writes batches of records in one transaction each; owns one DBAPI connection.

    SQLite: multi-row ``INSERT`` statements without bound NULLs (:class:`_NullFreeInsert`);
    observations ``INSERT OR IGNORE`` (a row already stored under its key is kept). PostgreSQL:
    ``COPY`` (psycopg 3) — raw frames straight into ``raw_frames`` (their ids are new),
    observations into a temporary table, then ``INSERT … SELECT … ON CONFLICT DO NOTHING``.
    """

    def __init__(self, engine: Engine, *, seal: bool = True) -> None:
        """``seal=False`` writes as a writer from before the ledger did (upgrade tests, the ledger
        benchmark's baseline); production always seals."""
        self.engine = engine
        self.seal = seal
        self.sqlite = is_sqlite(engine)
        self.ph = "?" if self.sqlite else "%s"
        self.raw = engine.raw_connection()
        self.next_id = self._max_id() + 1
        self.committed_obs = 0
        self.partitions = None if self.sqlite else PartitionKeeper()
        self._raw_insert = _NullFreeInsert(f"INSERT INTO raw_frames ({_RAW_COLS}) VALUES ", "", _RAW_NAMES)
        self._obs_insert = _NullFreeInsert(f"INSERT OR IGNORE INTO observations ({_OBS_COLS}) VALUES ", "",
                                           _OBS_NAMES)
        self._pg_staging = False  # the temporary table for observations exists on this connection

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
                self._pg_staging = False  # its CREATE may have been rolled back
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

    def _known(self, cur: Any, frames: list[tuple[Any, bytes]]) -> dict[bytes, int]:
        """Accepted frames already stored with these (data_utc, SHA-256) → their ids.

        A byte-identical frame has the same DataTime, so the lookup goes through the index
        ``(data_utc, sha256)`` (schema: new frames land at its end, not on random pages); frames
        without observations (data_utc NULL) are looked up among those.
        """
        found: dict[bytes, int] = {}
        timed = [(d, s) for d, s in frames if d is not None]
        untimed = [s for d, s in frames if d is None]
        if not self.sqlite:  # two array parameters, whatever the batch size: constant planning
            if timed:
                cur.execute("SELECT r.sha256, r.id FROM unnest(%b::bigint[], %b::bytea[]) AS k(d, s) "
                            "JOIN raw_frames AS r ON r.data_utc = k.d AND r.sha256 = k.s WHERE r.status = 'accepted'",
                            ([d for d, _ in timed], [s for _, s in timed]))
                found.update((bytes(sha), fid) for sha, fid in cur.fetchall())
            if untimed:
                cur.execute("SELECT sha256, id FROM raw_frames WHERE status = 'accepted' AND data_utc IS NULL "
                            "AND sha256 = ANY(%b::bytea[])", (untimed,))
                found.update((bytes(sha), fid) for sha, fid in cur.fetchall())
            return found
        for i in range(0, len(timed), 500):
            chunk = timed[i : i + 500]
            args: list[Any] = []
            for d, s in chunk:
                args += (d, bytearray(s))  # bytearray: sqlite3 binds it directly, bytes through its adapter lookup
            # CROSS JOIN keeps the key list outside: one index search per key
            cur.execute(f"WITH k(d, s) AS (VALUES {','.join(['(?,?)'] * len(chunk))}) SELECT r.sha256, r.id FROM k "
                        "CROSS JOIN raw_frames AS r ON r.data_utc = k.d AND r.sha256 = k.s WHERE r.status = 'accepted'",
                        args)
            for sha, fid in cur.fetchall():
                found[bytes(sha)] = fid
        for i in range(0, len(untimed), 500):
            keys = [bytearray(s) for s in untimed[i : i + 500]]
            cur.execute("SELECT sha256, id FROM raw_frames WHERE status = 'accepted' AND data_utc IS NULL "
                        f"AND sha256 IN ({','.join(['?'] * len(keys))})", keys)
            for sha, fid in cur.fetchall():
                found[bytes(sha)] = fid
        return found

    def _write(self, records: Sequence[Record]) -> list[Result]:
        cur = self.raw.cursor()
        if not isinstance(records, list):
            records = list(records)
        keys = dedup_keys(records)
        known = self._known(cur, keys) if keys else {}
        sqlite = self.sqlite
        rows = batch_rows(records, known, self.next_id, sqlite)  # compiled: the per-row work
        results = rows.results
        frames_usual, frame_rows, n_rows = rows.frames_usual, rows.frame_rows, rows.n_rows
        if sqlite:
            if frames_usual:
                self._raw_insert.flat(cur, _USUAL_FRAME_MASK, frames_usual)
            if frame_rows:
                self._raw_insert.rows(cur, frame_rows)
        else:
            self._copy(cur, "raw_frames", _RAW_COLS, frame_rows)
        # Raw frames are in, with their final ids, in this transaction: seal them in the ledger
        # (one Merkle root per batch, issue 5 §1), so the seal commits with the frames or not at all.
        if self.seal:
            seal_batch(cur, [(res[0], rec[4]) for res, rec in zip(results, records, strict=True)])
        if n_rows:
            if sqlite:
                if rows.repeat:
                    self._obs_insert.in_order(cur, accepted_rows(records, results))
                else:
                    if rows.period:
                        self._obs_insert.flat(cur, _PERIOD_MASK, rows.period)
                    if rows.short:
                        self._obs_insert.flat(cur, _SHORT_MASK, rows.short)
                    if rows.other:
                        self._obs_insert.rows(cur, rows.other)
            else:
                assert self.partitions is not None
                self.partitions.ensure(cur, {month_of(t) for t in rows.times})
                self._pg_observations(cur, rows.other, ordered=rows.repeat)
        self.raw.commit()
        cur.close()
        self.next_id = rows.next_id
        self.committed_obs += n_rows
        return results

    # -- PostgreSQL ------------------------------------------------------------------------------

    @staticmethod
    def _copy(cur: Any, table: str, cols: str, rows: Sequence[Sequence[Any]]) -> None:
        with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as cp:
            write = cp.write_row
            for row in rows:
                write(row)

    def _pg_observations(self, cur: Any, rows: Sequence[Sequence[Any]], *, ordered: bool) -> None:
        """COPY into a session-local staging table, then insert what is new (idempotent re-sends)."""
        if not self._pg_staging:
            cur.execute("CREATE TEMPORARY TABLE IF NOT EXISTS observations_in "
                        "(LIKE observations INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
            self._pg_staging = True
        self._copy(cur, "observations_in", _OBS_COLS, rows)
        order = " ORDER BY frame_id" if ordered else ""  # frame ids grow with arrival
        cur.execute(f"INSERT INTO observations ({_OBS_COLS}) SELECT {_OBS_COLS} FROM observations_in{order} "
                    "ON CONFLICT DO NOTHING")


def _sqlite_without_mutexes() -> str:
    """Switch the SQLite library of this process to multi-thread mode without memory statistics.

    The writer process uses its one connection from one thread, yet SQLite as distributions build
    it (serialized mode) takes a mutex around every API call — each bound value, each step — and
    another around each allocation for its statistics: ~10 % of the writer's CPU (perf). Both are
    process-wide settings that SQLite accepts only while it is not initialised, so this runs before
    the first connection: ``sqlite3_shutdown``, ``sqlite3_config(SQLITE_CONFIG_MULTITHREAD)``,
    ``sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0)``, ``sqlite3_initialize``. Only where Python's
    sqlite3 module uses a shared ``libsqlite3`` of the same version (found in this process's
    memory map); otherwise nothing changes. Returns what was done, for the log.
    """
    try:
        import ctypes
        import sqlite3  # loads the library its _sqlite3 extension is linked with

        path = None
        with open("/proc/self/maps") as f:
            for line in f:
                name = line.rstrip("\n").rpartition(" ")[2]
                if os.path.basename(name).startswith("libsqlite3.so"):
                    path = name
                    break
        if path is None:
            return "kept: no shared libsqlite3 in this process"
        lib = ctypes.CDLL(path)  # the already loaded library: dlopen returns the same handle
        major, minor, patch = sqlite3.sqlite_version_info
        if lib.sqlite3_libversion_number() != major * 1_000_000 + minor * 1000 + patch:
            return "kept: libsqlite3 version differs from the sqlite3 module's"
        lib.sqlite3_shutdown()  # no connection is open yet in this process
        multithread = lib.sqlite3_config(2)  # SQLITE_CONFIG_MULTITHREAD
        memstatus = lib.sqlite3_config(9, ctypes.c_int(0))  # SQLITE_CONFIG_MEMSTATUS off
        initialised = lib.sqlite3_initialize()
        if initialised != 0:
            return f"failed: sqlite3_initialize returned {initialised}"
        return f"multi-thread mode {'on' if multithread == 0 else 'refused'}, " \
               f"memory statistics {'off' if memstatus == 0 else 'kept'}"
    except Exception as e:  # OSError (no /proc, no library), AttributeError (missing symbol)
        return f"kept: {type(e).__name__}: {e}"


def _child(conn: Any, url: str, sqlite_synchronous: str) -> None:
    """Writer process: receive marshalled batches, write them, answer with the results."""
    import gc

    from tianlan.procname import WRITER, set_process_name

    set_process_name(WRITER)
    if url.startswith("sqlite"):
        log.debug("writer: SQLite library: %s", _sqlite_without_mutexes())
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
    """Queue items with ``submit``; they come back committed, in order, through ``on_committed``.

    ``start(loop)`` in process mode drives the writer process from that event loop: batches go out
    and results come back through non-blocking I/O on the pipe, and ``on_committed`` runs on the
    loop — no thread, no GIL hand-offs, no cross-thread wake-ups per batch. ``submit`` must then be
    called on the loop's thread. Without a loop (or in thread mode) a writer thread does the same
    and ``on_committed`` is called from that thread.
    """

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
        # event-loop mode (process writer driven by the loop)
        self.on_loop = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._fd = -1
        self._buf: list[IngestItem] = []  # submitted, not yet sent
        self._inflight: list[IngestItem] | None = None  # sent, results awaited
        self._flush_scheduled = False
        self._rbuf = bytearray()
        self._wbuf: memoryview | None = None
        self._dead = False

    # -- public ---------------------------------------------------------------------------------

    def start(self, loop: asyncio.AbstractEventLoop | None = None) -> FrameWriter:
        if self.mode == "process":
            ctx = mp.get_context("spawn")
            parent, child = ctx.Pipe()
            url = self.engine.url.render_as_string(hide_password=False)
            self._proc = ctx.Process(target=_child, args=(child, url, self.sqlite_synchronous),
                                     name="tianlan-writer", daemon=True)
            self._proc.start()
            child.close()
            self._conn = parent
            if loop is not None:
                self._start_on_loop(loop)
                return self
        self._thread.start()
        return self

    def submit(self, item: IngestItem) -> None:
        if self.on_loop:
            self._pending += 1
            self._buf.append(item)
            if self._inflight is None and not self._flush_scheduled:
                self._flush_scheduled = True
                self._loop.call_soon(self._flush)  # type: ignore[union-attr]  # after this round of reads
            if self._pending == 1:  # was 0: idle is set exactly then (on this loop's thread alone)
                self._idle.clear()
            return
        with self._lock:
            self._pending += 1
            if self._idle.is_set():  # Event.clear takes its own lock: only when it changes
                self._idle.clear()
        self._q.put(item)

    def submit_many(self, items: Sequence[IngestItem]) -> None:
        if self.on_loop:
            for it in items:
                self.submit(it)
            return
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
        """Block until everything submitted so far is committed (not on the writer's own loop)."""
        return self._idle.wait(timeout)

    def stop(self, timeout: float = 30.0) -> None:
        """Commit what is queued, then end the thread (and the writer process). Thread mode, or a
        loop-driven writer whose loop has stopped; on a running loop use :meth:`aclose`."""
        if self.on_loop:
            self._close_pipe()
        else:
            self._q.put(None)
            self._thread.join(timeout)
            if self._conn is not None:
                self._conn.close()
        if self._proc is not None:
            self._proc.join(timeout)

    async def aclose(self, timeout: float = 30.0) -> None:
        """:meth:`stop` from the event loop: wait (up to ``timeout`` s) for what is queued to commit."""
        if not self.on_loop:
            await asyncio.to_thread(self.stop, timeout)
            return
        deadline = time.monotonic() + timeout
        while self._pending and not self._dead and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        self._close_pipe()
        if self._proc is not None:
            await asyncio.to_thread(self._proc.join, timeout)

    # -- event-loop mode (process writer) -------------------------------------------------------

    def _start_on_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        self.on_loop = True
        self._loop = loop
        self._fd = self._conn.fileno()
        os.set_blocking(self._fd, False)
        sock = socket.socket(fileno=os.dup(self._fd))  # a socketpair end (multiprocessing duplex Pipe)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        except OSError:
            pass
        finally:
            sock.close()
        loop.add_reader(self._fd, self._on_readable)

    def _close_pipe(self) -> None:
        if self._fd >= 0 and self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._fd)
            self._loop.remove_writer(self._fd)
        self._fd = -1
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _flush(self) -> None:
        """Send the next batch to the writer process (one batch in flight at a time)."""
        self._flush_scheduled = False
        if self._inflight is not None or not self._buf or self._dead or self._fd < 0:
            return
        if len(self._buf) <= self.batch_max:
            batch, self._buf = self._buf, []
        else:
            batch = self._buf[: self.batch_max]
            del self._buf[: self.batch_max]
        self._inflight = batch
        payload = batch_payload(batch)
        header = struct.pack("!i", len(payload))  # the framing of multiprocessing.Connection
        try:
            n = os.writev(self._fd, (header, payload))
        except BlockingIOError:
            n = 0
        except OSError:
            self._writer_lost("cannot send to the writer process")
            return
        if n < len(header) + len(payload):
            self._wbuf = memoryview(header + payload)[n:]
            self._loop.add_writer(self._fd, self._on_writable)  # type: ignore[union-attr]

    def _on_writable(self) -> None:
        assert self._wbuf is not None
        try:
            n = os.write(self._fd, self._wbuf)
        except BlockingIOError:
            return
        except OSError:
            self._writer_lost("cannot send to the writer process")
            return
        self._wbuf = self._wbuf[n:]
        if not len(self._wbuf):
            self._wbuf = None
            self._loop.remove_writer(self._fd)  # type: ignore[union-attr]

    def _on_readable(self) -> None:
        try:
            chunk = os.read(self._fd, 1 << 20)
        except BlockingIOError:
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._writer_lost("the writer process ended")
            return
        buf = self._rbuf
        buf += chunk
        while len(buf) >= 4:
            (size,) = struct.unpack_from("!i", buf)
            at = 4
            if size == -1:  # multiprocessing's header for messages over 2 GiB
                if len(buf) < 12:
                    break
                (size,) = struct.unpack_from("!Q", buf, 4)
                at = 12
            if len(buf) < at + size:
                break
            msg = bytes(buf[at : at + size])
            del buf[: at + size]
            self._on_results(msg)

    def _on_results(self, msg: bytes) -> None:
        results, busy, n_obs = pickle.loads(msg)
        batch = self._inflight
        self._inflight = None
        if batch is None:
            log.error("writer: results without a batch in flight")
            return
        self.busy_s += busy
        self.committed_obs = n_obs
        if self._buf:
            self._flush()  # keep the writer busy: the next batch goes out before this one is acked
        apply_results(batch, results)
        self.batches += 1
        self.committed_frames += len(batch)
        self._pending -= len(batch)
        if self._pending == 0:
            self._idle.set()
        try:
            self.on_committed(batch)
        except Exception:
            log.exception("writer: on_committed callback failed")

    def _writer_lost(self, why: str) -> None:
        """The writer process is gone: nothing more commits (and nothing more is acknowledged)."""
        if not self._dead:
            self._dead = True
            log.error("writer: %s; %d frames stay unacknowledged", why, self._pending)
        self._close_pipe()

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
                apply_results(batch, results)
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
