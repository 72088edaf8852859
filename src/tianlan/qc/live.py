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
(:meth:`LiveQc.as_dict`) are in ``/api/v1/health`` under ``live_qc``. The backlog lives in memory:
when the process stops with a backlog it is logged, and the stream's priming on the next start
re-checks each station's history window when its next frame arrives (``tianlan qc scan`` over the
store covers anything older).
"""

from __future__ import annotations

import logging
import threading
import time
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


@dataclass
class LiveStats:
    """Counters since start. Frames are committed frames (accepted or not); times in seconds."""

    queued: int = 0  # frames put on the queue
    processed: int = 0  # frames taken from the queue and checked
    batches: int = 0  # committed batches seen by the listener
    rounds: int = 0  # worker rounds (one StreamingQc call each, or a catch-up chunk)
    dropped_to_catch_up: int = 0  # frames not queued (queue full or catching up): re-read from the store
    caught_up: int = 0  # frames re-read from the store and checked
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
    """Data committed but not queued: per (device id, kind) the span of period start times."""

    spans: dict[tuple[int, str], list[int]] = field(default_factory=dict)  # → [min t, max t]
    frames: int = 0
    since: float = 0.0  # wall time of the oldest batch recorded (0: empty)

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
                    self.spans[(it.device_id, kind)] = [t, t]
                else:
                    if t < sp[0]:
                        sp[0] = t
                    if t > sp[1]:
                        sp[1] = t
                hit = True
            n += hit
        if n and not self.since:
            self.since = now
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
                return
            if self._catching_up or self._q_frames + n > self.queue_max:
                if not self._catching_up:
                    self._catching_up = True
                    log.warning("live QC: queue full (%d frames); recording a backlog to re-read from the store",
                                self._q_frames)
                self.stats.dropped_to_catch_up += self._backlog.add(batch, now)
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
            self._thread = threading.Thread(target=self._run, name="tianlan-live-qc", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Finish what is queued (up to ``timeout`` s), then stop; a backlog left is logged."""
        th = self._thread
        with self._cv:
            self._stopping = True
            self._cv.notify()
        if th is not None:
            th.join(timeout)
        left = self._q_frames + self._backlog.frames
        if left:
            log.warning("live QC stopped with %d frames unchecked (checked again from the store's history "
                        "when their stations next report; `tianlan qc scan` covers the rest)", left)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Wait until the queue and the backlog are empty and the worker is idle (tests, tools)."""
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
            from tianlan.alarms.policy import AlarmPolicy
            from tianlan.alarms.service import AlarmService

            cfg = self.stream.config
            policy = AlarmPolicy.from_mapping(cfg.alarms, where=cfg.origin) if cfg.alarms else None
            self.service = AlarmService.from_settings(self.engine, self.settings, policy=policy)

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
            return
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
                    self._catch_up(backlog)
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
            st.auto_resolved += len(self.service.auto_resolve(self._checked_to))
        st.busy_s += time.perf_counter() - t0

    def _catch_up(self, backlog: _Backlog) -> None:
        """Re-read the backlog's observations from the store and check them, in time order, in chunks."""
        from tianlan.store.qc_repo import QcRepo

        repo = QcRepo(self.engine)
        hist = self.stream._history if self.stream is not None else {}
        log.info("live QC: catching up %d frames from the store", backlog.frames)
        by_kind: dict[str, tuple[list[int], int, int]] = {}
        for (device_id, kind), (a, b) in backlog.spans.items():
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
                    chunk = items[i:i + CATCH_UP_CHUNK]
                    self._process(chunk)
                    self.stats.caught_up += len(chunk)

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
