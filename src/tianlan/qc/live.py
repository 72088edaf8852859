"""Live QC: streaming QC and alarms inside the running platform (``tianlan serve``, ``tianlan demo``).

:class:`LiveQc` is a gateway listener (``Gateway.listeners``, called on the event loop with every
committed batch after its acknowledgements are written). The listener only **enqueues**: it never
reads the store, never waits and never blocks the loop. One worker thread takes what is queued —
several batches at once when it is behind, so each station is checked once per round — and

1. runs :class:`~tianlan.qc.stream.StreamingQc` on it (history, new-only results, ``qc_results``);
2. turns the new results into alarms through :class:`~tianlan.alarms.service.AlarmService`
   (episodes, dedupe against open alarms, merge, silences and maintenance windows);
3. sends the notifications the alarm settings ask for (webhook, SMTP) — from the worker, after the
   alarm is committed;
4. auto-resolves quiet low-level alarms (every ``live_qc_resolve_every_s`` seconds, up to the data
   time checked).

**Nothing is lost silently.** The queue is bounded (``live_qc_queue_max`` frames). When a batch does
not fit, its accepted period data are not queued but *recorded* as a backlog — per device and kind,
the span of data time — and counted (``dropped_to_catch_up``); from then on every batch goes to the
backlog until the worker has emptied the queue, so data are checked in the order they arrived. The
worker then reads the backlog's observations back from the store (they are durable: the batch was
committed before the listener saw it) and checks them in chunks (``caught_up`` frames). Counters
(:meth:`LiveQc.as_dict`) are in ``/api/v1/health`` under ``live_qc``.

**The backlog survives a restart.** A small recorder thread writes the backlog's spans to the store
(``live_qc_backlog``, :class:`~tianlan.store.qc_live_repo.QcLiveRepo`) whenever it has grown (at most
once a second: the listener only sets an event; the worker is busy when there is a backlog), and
the worker moves them forward as the catch-up checks each slice of data time, deleting them when
done; when the service stops, what is left (the backlog, and any queued batches the worker did not
reach before the stop's timeout) is written too. The next start (``tianlan serve``) reads the
pending spans and catches them up first (``restored_frames``; ``backlog_stored_frames`` counts the
frames of the records still in the store). Only a crash within a second of a batch being
recorded loses its record; the stream's priming then re-checks each
station's history window when its next frame arrives (``tianlan qc scan`` covers anything older).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from tianlan.ingest.item import ACCEPTED, IngestItem
from tianlan.qc.stream import KIND_STEP, StreamingQc

log = logging.getLogger(__name__)

#: Frames fed to the stream per call while catching up from the store.
CATCH_UP_CHUNK = 2000
#: Data time read back from the store per query while catching up, per kind (s).
CATCH_UP_WINDOW_S: dict[str, int] = {"hour": 7 * 86400, "min": 6 * 3600}
#: Most frames the worker takes from the queue for one round.
ROUND_MAX = 5000
#: Seconds without new data after which the worker looks for stations that went quiet.
FLUSH_EVERY_S = 60.0
#: Least seconds between two writes of a growing backlog's record to the store.
RECORD_EVERY_S = 1.0


@dataclass
class LiveStats:
    """Counters since start. Frames are committed frames (accepted or not); times in seconds."""

    queued: int = 0  # frames put on the queue
    processed: int = 0  # frames taken from the queue and checked
    batches: int = 0  # committed batches seen by the listener
    rounds: int = 0  # worker rounds (one StreamingQc call each, or a catch-up chunk)
    dropped_to_catch_up: int = 0  # frames not queued (queue full or catching up): re-read from the store
    caught_up: int = 0  # frames re-read from the store and checked
    restored_frames: int = 0  # frames of the backlog a previous run left in the store, found at start
    results: int = 0  # new QC results stored
    alarms_raised: int = 0
    alarms_extended: int = 0
    notified: int = 0
    notify_failed: int = 0
    auto_resolved: int = 0
    errors: int = 0  # rounds that failed (logged; the data stay in the store)
    busy_s: float = 0.0  # worker time spent checking, alarming and notifying
    last_lag_s: float = 0.0  # commit → end of processing, of the last round
    started: float = field(default_factory=time.time)


@dataclass
class _Backlog:
    """Data committed but not queued: per (device id, kind) the span of period start times.

    ``generation`` names it in the store (``live_qc_backlog``); ``dirty``: grown since last written."""

    spans: dict[tuple[int, str], list[int]] = field(default_factory=dict)  # → [min t, max t, frames]
    frames: int = 0
    since: float = 0.0  # wall time of the oldest batch recorded (0: empty)
    generation: str = field(default_factory=lambda: uuid.uuid4().hex)
    dirty: bool = False

    @classmethod
    def restored(cls, spans: Sequence[Any]) -> _Backlog:
        """A backlog from the store's pending spans of one generation (:class:`BacklogSpan`)."""
        bl = cls(generation=spans[0].generation, since=min(s.recorded_utc for s in spans))
        for s in spans:
            bl.spans[(s.device_id, s.kind)] = [s.first_utc, s.last_utc, s.frames]
            bl.frames += s.frames
        return bl

    def snapshot(self) -> dict[tuple[int, str], tuple[int, int, int]]:
        return {k: (v[0], v[1], v[2]) for k, v in self.spans.items()}

    def add(self, batch: Sequence[IngestItem], now: float) -> int:
        n = 0
        for it in batch:
            if it.status != ACCEPTED or it.device_id is None or not it.obs:
                continue
            hit = False
            for row in it.obs:
                kind = row[2]
                if kind not in KIND_STEP:
                    continue
                t = int(row[0])
                sp = self.spans.get((it.device_id, kind))
                if sp is None:
                    sp = self.spans[(it.device_id, kind)] = [t, t, 0]
                else:
                    if t < sp[0]:
                        sp[0] = t
                    if t > sp[1]:
                        sp[1] = t
                if not hit:
                    sp[2] += 1
                hit = True
            n += hit
        if n and not self.since:
            self.since = now
        if n:
            self.dirty = True
        self.frames += n
        return n


class LiveQc:
    """Streaming QC and alarms fed by the gateway; see the module docstring.

    ``stream``: a ready :class:`StreamingQc` (default: built in the worker from ``config``, the QC
    configuration — default built-in); ``service``: the alarm service (default: from ``settings``,
    with the policy of the configuration's ``alarms:`` section and the notifiers of the ``alarm_*``
    settings); ``queue_max``: frames the queue holds; ``resolve_every_s``: how often quiet alarms are
    auto-resolved (0: never); ``clock``: wall clock (UTC s).
    """

    def __init__(self, engine: Engine, settings: Any = None, *, config: Any = None, stream: StreamingQc | None = None,
                 service: Any = None, queue_max: int = 50_000, resolve_every_s: float = 600.0,
                 flush_quiet_s: float = 7200.0, clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.settings = settings
        self.config = config
        self.stream = stream
        self.service = service
        self.queue_max = max(1, int(queue_max))
        self.resolve_every_s = resolve_every_s
        self.flush_quiet_s = flush_quiet_s
        self.clock = clock
        self.stats = LiveStats()
        self._q: deque[tuple[float, list[IngestItem]]] = deque()
        self._q_frames = 0
        self._backlog = _Backlog()
        self._catching_up = False
        self._cv = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._busy = False
        self._last_resolve = 0.0
        self._checked_to = 0  # latest period start checked (UTC s), for auto-resolve
        self._stored: dict[str, int] = {}  # backlog generation → frames of its record in the store
        self._save_lock = threading.Lock()  # one write of a backlog record at a time
        self._grown = threading.Event()  # the backlog grew: the recorder thread writes it
        self._halt = threading.Event()
        self._recorder: threading.Thread | None = None

    @classmethod
    def from_settings(cls, engine: Engine, settings: Any) -> LiveQc:
        """A service configured by the ``live_qc_*`` and ``alarm_*`` settings (see ``docs/qc.md``)."""
        return cls(engine, settings, config=getattr(settings, "live_qc_config", None),
                   queue_max=getattr(settings, "live_qc_queue_max", 50_000),
                   resolve_every_s=getattr(settings, "live_qc_resolve_every_s", 600.0),
                   flush_quiet_s=getattr(settings, "live_qc_flush_quiet_s", 7200.0))

    # -- the listener (event loop) -----------------------------------------------------------------

    def listener(self, batch: list[IngestItem]) -> None:
        """Gateway listener: queue the committed batch, or record it as backlog when the queue is full.

        Called on the event loop: takes one uncontended lock for a moment, never waits for the worker.
        """
        now = self.clock()
        n = len(batch)
        with self._cv:
            self.stats.batches += 1
            if self._stopping:
                self.stats.dropped_to_catch_up += self._backlog.add(batch, now)
                self._grown.set()
                return
            if self._catching_up or self._q_frames + n > self.queue_max:
                if not self._catching_up:
                    self._catching_up = True
                    log.warning("live QC: queue full (%d frames); recording a backlog to re-read from the store",
                                self._q_frames)
                self.stats.dropped_to_catch_up += self._backlog.add(batch, now)
                self._grown.set()
                self._cv.notify()
                return
            self._q.append((now, batch))
            self._q_frames += n
            self.stats.queued += n
            self._cv.notify()

    # -- the worker ----------------------------------------------------------------------------------

    def start(self) -> LiveQc:
        """Start the worker thread (builds the stream and the alarm service there, off the loop)."""
        if self._thread is None:
            with self._cv:
                self._busy = True  # until the stream is built and a stored backlog caught up
            self._thread = threading.Thread(target=self._run, name="tianlan-live-qc", daemon=True)
            self._thread.start()
            self._recorder = threading.Thread(target=self._record, name="tianlan-live-qc-backlog", daemon=True)
            self._recorder.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Finish what is queued (up to ``timeout`` s), then stop; the backlog left (and what is still
        queued) is written to the store, to be caught up on the next start."""
        th = self._thread
        with self._cv:
            self._stopping = True
            self._cv.notify()
        self._halt.set()
        self._grown.set()
        if th is not None:
            th.join(timeout)
        if self._recorder is not None:
            self._recorder.join(timeout)
        now = self.clock()
        with self._cv:  # batches the worker did not reach: committed, so recorded like any backlog
            while self._q:
                _, b = self._q.popleft()
                self._backlog.add(b, now)
            self._q_frames = 0
            left = self._backlog.frames
        saved = self._save(self._backlog)
        if left:
            log.warning("live QC stopped with %d frames unchecked%s", left,
                        " (kept in the store: checked on the next start)" if saved else
                        " (not kept: checked again from the store's history when their stations next report; "
                        "`tianlan qc scan` covers the rest)")

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until the queue and the backlog (a stored one found at start included) are empty and
        the worker is idle (tests, tools)."""
        deadline = time.monotonic() + timeout
        with self._cv:
            while self._q or self._backlog.frames or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cv.wait(min(left, 0.05))
        return True

    def _setup(self) -> None:
        if self.stream is None:
            from tianlan.qc.config import load_config

            cfg = self.config
            if cfg is None or isinstance(cfg, str | Path):
                cfg = load_config(cfg)
            self.config = cfg
            self.stream = StreamingQc(self.engine, cfg)
        if self.service is None:
            from tianlan.alarms.policy import policy_for
            from tianlan.alarms.service import AlarmService

            self.service = AlarmService.from_settings(self.engine, self.settings, policy=policy_for(self.stream.config))

    def _run(self) -> None:
        try:
            self._setup()
        except Exception:
            log.exception("live QC cannot start; committed data are not checked live (run `tianlan qc scan`)")
            with self._cv:
                self.stats.errors += 1
                self._stopping = True
                self._q.clear()
                self._q_frames = 0
                self._busy = False
                self._cv.notify_all()
            return
        try:
            self._restore()
        finally:
            with self._cv:
                self._busy = False
                self._cv.notify_all()
        while True:
            with self._cv:
                idle = False
                while not self._q and not self._backlog.frames and not self._stopping and not idle:
                    idle = not self._cv.wait(FLUSH_EVERY_S)
                if self._stopping and not self._q:
                    break
                if idle:
                    self._busy = True
            if idle:  # nothing came for a while: check stations that went quiet with data unchecked
                self._flush(self.flush_quiet_s)
                continue
            with self._cv:
                items: list[IngestItem] = []
                oldest = 0.0
                backlog: _Backlog | None = None
                if self._q:
                    oldest = self._q[0][0]
                    while self._q and len(items) < ROUND_MAX:
                        _, b = self._q.popleft()
                        items.extend(b)
                    self._q_frames -= len(items)
                elif self._backlog.frames:
                    # the queue is empty: everything older has been checked; now the backlog, in order
                    backlog, self._backlog = self._backlog, _Backlog()
                    oldest = backlog.since
                self._busy = True
            try:
                if backlog is not None:
                    self._save(backlog)
                    if self._catch_up(backlog):  # else stopping: the rest stays in the store for the next start
                        self._forget(backlog)
                else:
                    self._process(items)
                    self.stats.processed += len(items)
            except Exception:
                self.stats.errors += 1
                log.exception("live QC: a round failed (the data stay in the store; `tianlan qc scan` re-checks)")
            finally:
                self.stats.last_lag_s = max(0.0, self.clock() - oldest) if oldest else 0.0
                with self._cv:
                    self._busy = False
                    if backlog is not None and not self._q and not self._backlog.frames:
                        self._catching_up = False  # caught up: the listener queues again
                    self._cv.notify_all()
        self._flush(0.0)  # stopping: what arrived is checked in full before the process ends

    def _flush(self, quiet_s: float) -> None:
        """Run :meth:`StreamingQc.flush` and raise alarms from what it finds (worker thread)."""
        try:
            assert self.stream is not None and self.service is not None
            t0 = time.perf_counter()
            results = self.stream.flush(quiet_s) if hasattr(self.stream, "flush") else []
            self.stats.results += len(results)
            if results:
                self._alarm(results)
            self.stats.busy_s += time.perf_counter() - t0
        except Exception:
            self.stats.errors += 1
            log.exception("live QC: flush failed")
        finally:
            with self._cv:
                self._busy = False
                self._cv.notify_all()

    def _alarm(self, results: Sequence[Any]) -> None:
        assert self.service is not None
        st = self.stats
        rep = self.service.raise_results(results)
        st.alarms_raised += len(rep.raised)
        st.alarms_extended += len(rep.extended)
        st.notified += len(rep.notified)
        st.notify_failed += len(rep.failed)

    def _process(self, items: Sequence[IngestItem]) -> None:
        """Check items, store results, raise alarms and notify (worker thread)."""
        assert self.stream is not None and self.service is not None
        t0 = time.perf_counter()
        results = self.stream.on_committed(items)
        st = self.stats
        st.rounds += 1
        st.results += len(results)
        for it in items:
            if it.status == ACCEPTED and it.obs:
                t = int(it.obs[-1][0])
                if t > self._checked_to and it.obs[-1][2] in KIND_STEP:
                    self._checked_to = t
        if results:
            self._alarm(results)
        now = self.clock()
        if self.resolve_every_s > 0 and self._checked_to and now - self._last_resolve >= self.resolve_every_s:
            self._last_resolve = now
            # quiet means quiet for as long as the slowest detector takes to look again: a condition a
            # daily analysis (SPA-01, XV-03) finds is re-found only a day of data later, and closing
            # its alarm in between would split one episode into a new alarm per day
            lag = self.stream.recheck_s() if hasattr(self.stream, "recheck_s") else 0
            st.auto_resolved += len(self.service.auto_resolve(self._checked_to - lag))
        st.busy_s += time.perf_counter() - t0

    # -- the backlog in the store ---------------------------------------------------------------------

    def _record(self) -> None:
        """Recorder thread: write the backlog's record whenever it grew, at most every
        :data:`RECORD_EVERY_S` — apart from the worker, which is busy when there is a backlog."""
        while not self._halt.is_set():
            self._grown.wait()
            if self._halt.is_set():
                return
            self._grown.clear()
            with self._cv:
                backlog = self._backlog
            if not self._save(backlog):
                self._grown.set()  # tried again after the pause
            self._halt.wait(RECORD_EVERY_S)

    def _save(self, backlog: _Backlog) -> bool:
        """Write a grown backlog's spans to the store (recorder, worker or the stopping thread); True
        when the store holds them."""
        from tianlan.store.qc_live_repo import QcLiveRepo

        with self._save_lock:
            with self._cv:
                if not backlog.dirty:
                    return backlog.generation in self._stored or not backlog.frames
                spans, frames, since = backlog.snapshot(), backlog.frames, backlog.since
                backlog.dirty = False
            try:
                QcLiveRepo(self.engine).save(backlog.generation, spans, since)
            except Exception:
                with self._cv:
                    backlog.dirty = True
                    self.stats.errors += 1
                log.exception("live QC: cannot write the backlog record (%d frames) to the store", frames)
                return False
            with self._cv:
                self._stored[backlog.generation] = frames
            return True

    def _forget(self, backlog: _Backlog) -> None:
        """Drop a caught-up backlog's record from the store."""
        from tianlan.store.qc_live_repo import QcLiveRepo

        try:
            QcLiveRepo(self.engine).delete(backlog.generation)
        except Exception:  # the next start checks it once more: results are not reported twice
            self.stats.errors += 1
            log.exception("live QC: cannot delete the caught-up backlog record %s", backlog.generation)
            return
        with self._cv:
            self._stored.pop(backlog.generation, None)

    def _restore(self) -> None:
        """Catch up the backlogs a previous run left in the store, oldest first (worker, at start)."""
        from tianlan.store.qc_live_repo import QcLiveRepo

        try:
            pending = QcLiveRepo(self.engine).pending()
        except Exception:
            self.stats.errors += 1
            log.exception("live QC: cannot read the stored backlog")
            return
        with self._cv:  # this run's own backlog may already be recorded: it is caught up as usual
            own = {self._backlog.generation, *self._stored}
        gens: dict[str, list[Any]] = {}
        for sp in pending:
            if sp.generation not in own:
                gens.setdefault(sp.generation, []).append(sp)
        restored = [_Backlog.restored(spans) for spans in gens.values()]
        with self._cv:
            for bl in restored:
                self._stored[bl.generation] = bl.frames
                self.stats.restored_frames += bl.frames
        if restored:
            log.warning("live QC: catching up %d frames left unchecked by the previous run",
                        sum(bl.frames for bl in restored))
        for bl in restored:
            try:
                if not self._catch_up(bl):
                    return  # stopping: the record stays
            except Exception:
                self.stats.errors += 1
                log.exception("live QC: catching up a stored backlog failed (it stays in the store)")
                return
            self._forget(bl)

    def _catch_up(self, backlog: _Backlog) -> bool:
        """Re-read the backlog's observations from the store and check them, in time order, in chunks,
        recording the progress in the store; False when stopped before the end."""
        from tianlan.store.qc_live_repo import QcLiveRepo
        from tianlan.store.qc_repo import QcRepo

        repo = QcRepo(self.engine)
        progress = QcLiveRepo(self.engine)
        hist = self.stream._history if self.stream is not None else {}
        log.info("live QC: catching up %d frames from the store", backlog.frames)
        by_kind: dict[str, tuple[list[int], int, int]] = {}
        for (device_id, kind), (a, b, _n) in backlog.spans.items():
            ids, lo, hi = by_kind.get(kind, ([], a, b))
            ids.append(device_id)
            by_kind[kind] = (ids, min(lo, a), max(hi, b))
        for kind, (ids, a, b) in sorted(by_kind.items()):
            if hist.get(kind):
                a = max(a, b - int(hist[kind]))  # older than the stream keeps: batch scans see it
            step = CATCH_UP_WINDOW_S.get(kind, 86400)
            for w in range(a, b + 1, step):  # a slice of data time at a time: memory stays bounded
                df = repo.observations(sorted(ids), w, min(w + step, b + 1), kinds=[kind])
                # one item per device, time and reception, in time order: the frames as they were committed
                groups: dict[tuple[int, int, float], list[tuple]] = {}
                for d, t, code, k, v, f, rec in df.iter_rows():
                    key = (int(t), int(d), float(rec) if rec is not None else 0.0)
                    groups.setdefault(key, []).append((int(t), code, k, v, f, None, None, None, None, None))
                items = [IngestItem(b"", rec, "catch-up", status=ACCEPTED, device_id=d, obs=rows)
                         for (_t, d, rec), rows in sorted(groups.items())]
                for i in range(0, len(items), CATCH_UP_CHUNK):
                    if self._stopping:
                        return False
                    chunk = items[i:i + CATCH_UP_CHUNK]
                    self._process(chunk)
                    self.stats.caught_up += len(chunk)
                try:
                    progress.advance(backlog.generation, kind, min(w + step, b + 1))
                except Exception:  # the next start re-checks this slice: results are not reported twice
                    self.stats.errors += 1
                    log.exception("live QC: cannot record the catch-up's progress")
        return True

    # -- counters ------------------------------------------------------------------------------------

    def lag_s(self) -> float:
        """Age of the oldest committed data not yet checked (queue or backlog), seconds; 0 when idle."""
        now = self.clock()
        with self._cv:
            ts = [self._q[0][0]] if self._q else []
            if self._backlog.since:
                ts.append(self._backlog.since)
        return round(max(0.0, now - min(ts)), 3) if ts else 0.0

    def as_dict(self) -> dict[str, Any]:
        """Counters for ``/api/v1/health`` and progress displays."""
        st = self.stats
        sq = self.stream.stats if self.stream is not None else None
        frames = st.processed + st.caught_up
        return {
            "running": self._thread is not None and self._thread.is_alive(),
            "queued": st.queued,
            "processed": st.processed,
            "queue_frames": self._q_frames,
            "dropped_to_catch_up": st.dropped_to_catch_up,
            "caught_up": st.caught_up,
            "backlog_frames": self._backlog.frames,
            "backlog_stored_frames": sum(self._stored.values()),
            "restored_frames": st.restored_frames,
            "catching_up": self._catching_up,
            "lag_s": self.lag_s(),
            "last_lag_s": round(st.last_lag_s, 3),
            "ms_per_frame": round(1000.0 * st.busy_s / frames, 4) if frames else 0.0,
            "qc_ms_per_frame": round(sq.ms_per_frame, 4) if sq is not None else 0.0,
            "results": st.results,
            "alarms_raised": st.alarms_raised,
            "alarms_extended": st.alarms_extended,
            "notified": st.notified,
            "notify_failed": st.notify_failed,
            "auto_resolved": st.auto_resolved,
            "errors": st.errors,
        }
