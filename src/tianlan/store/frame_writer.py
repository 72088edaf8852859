"""The one writer: group-commits received frames and their observations, then reports back.

Every frame submitted is written to ``raw_frames`` byte for byte, together with the observations it
yields, in one transaction per batch (group commit: while one batch commits, the next accumulates).
Only after ``COMMIT`` returns is the batch handed to ``on_committed`` — the gateway sends the
HJ 212 acknowledgements from there, so an acknowledged frame is always durably stored (DESIGN
principle 2). Duplicates (byte-identical to an already accepted frame: a device retransmitting
because our ack was lost) are archived too, with status ``duplicate``, and acknowledged again;
their observations are not stored twice.

The bulk statements go through the DBAPI cursor rather than SQLAlchemy's executemany: at tens of
thousands of rows per second SQLAlchemy's per-row parameter processing costs more than the insert.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence

from sqlalchemy import Engine, text

from tianlan.ingest.item import ACCEPTED, DUPLICATE, IngestItem
from tianlan.store.engine import is_sqlite

log = logging.getLogger(__name__)

OnCommitted = Callable[[list[IngestItem]], None]

_RAW_COLS = (
    "id, received_utc, peer, channel, data, sha256, mn, device_id, qn, cn, status, reason, detail, "
    "crc_variant, relaxations, duplicate_of, n_obs"
)


class FrameWriter:
    """A thread owning one connection; ``submit`` items, get them back committed via the callback."""

    def __init__(self, engine: Engine, on_committed: OnCommitted, *, batch_max: int = 2000) -> None:
        self.engine = engine
        self.on_committed = on_committed
        self.batch_max = batch_max
        self._q: queue.SimpleQueue[IngestItem | None] = queue.SimpleQueue()
        self._pending = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="tianlan-writer", daemon=True)
        self._sqlite = is_sqlite(engine)
        self._ph = "?" if self._sqlite else "%s"
        self._next_id = 0
        self.committed_frames = 0
        self.committed_obs = 0
        self.batches = 0
        self.failed: BaseException | None = None
        self._idle = threading.Event()
        self._idle.set()

    # -- public ---------------------------------------------------------------------------------

    def start(self) -> FrameWriter:
        self._thread.start()
        return self

    def submit(self, item: IngestItem) -> None:
        with self._lock:
            self._pending += 1
            self._idle.clear()
        self._q.put(item)

    def submit_many(self, items: Sequence[IngestItem]) -> None:
        with self._lock:
            self._pending += len(items)
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
        """Commit what is queued, then end the thread."""
        self._q.put(None)
        self._thread.join(timeout)

    # -- the thread -----------------------------------------------------------------------------

    def _run(self) -> None:
        raw = self.engine.raw_connection()
        try:
            self._next_id = self._max_id(raw) + 1
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
                self._commit_with_retry(raw, batch)
        finally:
            raw.close()

    def _commit_with_retry(self, raw, batch: list[IngestItem]) -> None:  # type: ignore[no-untyped-def]
        delay = 0.05
        while True:
            try:
                self._write_batch(raw, batch)
                break
            except Exception as e:  # the store is briefly unavailable (locked, restarting): retry, never drop
                log.exception("writer: batch of %d failed, retrying", len(batch))
                self.failed = e
                try:
                    raw.rollback()
                except Exception:
                    log.exception("writer: rollback failed")
                self._next_id = self._max_id(raw) + 1
                time.sleep(delay)
                delay = min(delay * 2, 2.0)
        self.failed = None
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

    def _max_id(self, raw) -> int:  # type: ignore[no-untyped-def]
        cur = raw.cursor()
        cur.execute("SELECT COALESCE(MAX(id), 0) FROM raw_frames")
        (m,) = cur.fetchone()
        cur.close()
        raw.commit()
        return int(m)

    def _known(self, cur, shas: list[bytes]) -> dict[bytes, int]:  # type: ignore[no-untyped-def]
        """Accepted frames already stored with these SHA-256s → their ids."""
        found: dict[bytes, int] = {}
        for i in range(0, len(shas), 500):
            chunk = shas[i : i + 500]
            marks = ",".join([self._ph] * len(chunk))
            cur.execute(
                f"SELECT sha256, id FROM raw_frames WHERE status = 'accepted' AND sha256 IN ({marks})", chunk
            )
            for sha, fid in cur.fetchall():
                found[bytes(sha)] = fid
        return found

    def _write_batch(self, raw, batch: list[IngestItem]) -> None:  # type: ignore[no-untyped-def]
        cur = raw.cursor()
        accepted_shas = [it.sha256 for it in batch if it.status == ACCEPTED]
        known = self._known(cur, accepted_shas) if accepted_shas else {}
        frame_rows = []
        obs_rows = []
        next_id = self._next_id
        for it in batch:
            it.frame_id = next_id
            next_id += 1
            if it.status == ACCEPTED or it.status == DUPLICATE:
                first = known.get(it.sha256)
                if first is not None:
                    it.status = DUPLICATE
                    it.reason = "retransmission"
                    it.duplicate_of = first
                else:
                    known[it.sha256] = it.frame_id
                    fid = it.frame_id
                    dev = it.device_id
                    for t, p, k, v, f, x in it.obs:
                        obs_rows.append((t, dev, p, k, v, f, x, fid))
            frame_rows.append(
                (
                    it.frame_id, it.received_utc, it.peer, it.channel, it.data, it.sha256, it.mn,
                    it.device_id, it.qn, it.cn, it.status, it.reason, it.detail, it.crc_variant,
                    it.relaxations, it.duplicate_of, len(it.obs) if it.status == ACCEPTED else 0,
                )
            )
        ph = self._ph
        cur.executemany(f"INSERT INTO raw_frames ({_RAW_COLS}) VALUES ({','.join([ph] * 17)})", frame_rows)
        if obs_rows:
            ins = "INSERT OR IGNORE INTO" if self._sqlite else "INSERT INTO"
            tail = "" if self._sqlite else " ON CONFLICT DO NOTHING"
            cur.executemany(
                f"{ins} observations (time_utc, device_id, parameter, kind, value, flag, extra, frame_id) "
                f"VALUES ({','.join([ph] * 8)}){tail}",
                obs_rows,
            )
        raw.commit()
        cur.close()
        self._next_id = next_id
        self.committed_obs += len(obs_rows)


def count_frames(engine: Engine) -> int:
    with engine.connect() as c:
        return int(c.execute(text("SELECT COUNT(*) FROM raw_frames")).scalar_one())
