"""Streaming QC: each committed batch of observations is checked as it arrives.

:class:`StreamingQc` takes the gateway's committed :class:`~tianlan.ingest.item.IngestItem`\\ s
(:meth:`StreamingQc.on_committed`, called off the event loop in a worker thread) and keeps, per
station, parameter and kind of period data, a bounded history in memory on a regular grid: 8 days
of hour data and 2 days of minute data by default, longer where a detector's parameters ask for
more (a ``window_days: 30`` parameter keeps 31 days of hour data, up to 62 days; 7 days of minute
data). For the stations and parameters a batch touched it runs the detectors that can work
incrementally over that history, keeps only what is **new** — the parts of findings not reported
before with the same detector, status and reason (a flat line growing by one hour yields one new
hour; a suppression episode recognised only when the level recovers is reported whole) — stores
those in ``qc_results`` and returns them.

What is checked: accepted frames' ``hour`` and ``min`` observations (real-time ``rtd`` values are
stored but not checked here: their minute/hour aggregates are). Which detectors stream: every
configured one except those marked ``stream: false`` in the configuration, those registered with
``history_s=0``, the forensic family (``for``; opt-in with ``forensic_every_s``, see
:data:`FORENSIC_EVERY_S`) and :data:`BATCH_ONLY` — tests that need months or years of a station's own
record; batch scans (``tianlan qc scan``) run them. Findings about data the detectors had already
passed, which surface only as the window slides, are not reported (:data:`LATE_S`).

On first sight of a station (after a restart, say) its history and its neighbours' are read from
the store, and what was already reported in that window under the same configuration is not
reported again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import Engine

from tianlan.ingest.item import ACCEPTED, IngestItem
from tianlan.qc.config import PlanItem, QcConfig, SiteScope, default_config
from tianlan.qc.core import Context, DetectorSpec, QcResult, Series
from tianlan.qc.inputs import AIR_LIMITS, StationMeta, find_neighbours, site_attrs
from tianlan.qc.runner import run_detector
from tianlan.qc.stream_history import HistoryBuffer, NeighbourViews, WindowViews, cover, uncovered
from tianlan.qc.stream_policy import (
    BATCH_ONLY,
    BATCH_ONLY_FAMILIES,
    CHECK_EVERY_S,
    DAILY,
    DAILY_EVERY_S,
    DEFAULT_HISTORY_S,
    FORENSIC_EVERY_S,
    KIND_STEP,
    LATE_S,
    MAX_HISTORY_S,
    SLOW,
    SLOW_EVERY_S,
    history_needed,
    month_window_start,
    phase,
    streams_by_default,
)

__all__ = ["BATCH_ONLY", "BATCH_ONLY_FAMILIES", "CHECK_EVERY_S", "DAILY", "DAILY_EVERY_S", "DEFAULT_HISTORY_S",
           "FORENSIC_EVERY_S", "KIND_STEP", "LATE_S", "MAX_HISTORY_S", "SLOW", "SLOW_EVERY_S", "StreamStats",
           "StreamingQc", "history_needed", "month_window_start", "phase", "streams_by_default"]

log = logging.getLogger(__name__)


@dataclass
class StreamStats:
    """Counters of the streaming QC since start (``seconds``: time spent in :meth:`on_committed`)."""

    calls: int = 0
    frames: int = 0
    checked_frames: int = 0
    detector_calls: int = 0
    results: int = 0
    stored: int = 0
    stale: int = 0  # findings about data already passed, not reported (see LATE_S)
    seconds: float = 0.0
    detector_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ms_per_frame(self) -> float:
        return 1000.0 * self.seconds / self.frames if self.frames else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"calls": self.calls, "frames": self.frames, "checked_frames": self.checked_frames,
                "detector_calls": self.detector_calls, "results": self.results, "stored": self.stored, "stale": self.stale,
                "seconds": round(self.seconds, 6), "ms_per_frame": round(self.ms_per_frame, 4),
                "ms_per_frame_by_detector": {k: round(1000.0 * v / max(self.frames, 1), 4) for k, v in
                                             sorted(self.detector_seconds.items(), key=lambda kv: -kv[1])}}


class StreamingQc:
    """Streaming QC over the store ``engine`` with the configuration ``config`` (default built-in).

    ``store_results``: write new results to ``qc_results`` (default); ``prime``: read a new
    station's history (and its neighbours') from the store on first sight; ``batch_only``: detector
    IDs never run here (default :data:`BATCH_ONLY`); ``check_every_s``/``slow``/``slow_every_s``/
    ``daily``/``daily_every_s``: how often (data time) detectors re-run per station (defaults
    :data:`CHECK_EVERY_S`, :data:`SLOW`, :data:`SLOW_EVERY_S`, :data:`DAILY`, :data:`DAILY_EVERY_S`;
    ``check_every_s={"hour": 0, "min": 0}`` with ``slow=()`` runs everything at every new value);
    ``late_s``: the late-finding horizon per kind (default :data:`LATE_S`; None reports every new
    finding); ``forensic_every_s``: stream the forensic family at this cadence per kind (e.g.
    :data:`FORENSIC_EVERY_S`; default none: batch only). Thread-safe: one call at a time.
    """

    def __init__(self, engine: Engine | None, config: QcConfig | None = None, *, store_results: bool = True,
                 prime: bool = True, batch_only: Iterable[str] = BATCH_ONLY,
                 stations: Mapping[str, StationMeta] | None = None,
                 device_sites: Mapping[int, tuple[str, str]] | None = None,
                 check_every_s: Mapping[str, int] = CHECK_EVERY_S, slow: Iterable[str] = SLOW,
                 slow_every_s: Mapping[str, int] = SLOW_EVERY_S, daily: Iterable[str] = DAILY,
                 daily_every_s: Mapping[str, int] = DAILY_EVERY_S, late_s: Mapping[str, int] | None = LATE_S,
                 forensic_every_s: Mapping[str, int] | None = None) -> None:
        self.engine = engine
        self.config = config if config is not None else default_config()
        self.store_results = store_results and engine is not None
        self.prime = prime and engine is not None
        self.batch_only = frozenset(batch_only)
        self.check_every_s = dict(check_every_s)
        self.slow = frozenset(slow)
        self.slow_every_s = dict(slow_every_s)
        self.daily = frozenset(daily)
        self.daily_every_s = dict(daily_every_s)
        self.late_s = dict(late_s or {})
        self.forensic_every_s = {k: v for k, v in (forensic_every_s or {}).items() if k in KIND_STEP and v > 0}
        # (station, kind) → (earliest period start, data end until which it holds): old data arrived
        # (backfill, catch-up, a large round), so findings back to there are reported whatever their age
        self._late_from: dict[tuple[str, str], tuple[int, int]] = {}
        self._last_run: dict[tuple[str, str, str, str], int] = {}  # (station, kind, detector, code) → data end
        # (station, kind, code) → the data end from which one of the code's detectors is next due:
        # before it, a batch skips the code without looking at each detector (most batches run none)
        self._due: dict[tuple[str, str, str], int] = {}
        self._seen: dict[tuple[str, str], tuple[float, float]] = {}  # (station, kind) → (monotonic, now_utc) of last data
        self._unflushed: dict[tuple[str, str], set[str]] = {}  # codes with data since the last flush
        self.stats = StreamStats()
        self._lock = threading.Lock()
        self._buffers: dict[tuple[str, str], dict[str, HistoryBuffer]] = {}  # (station, kind) → code → buffer
        self._primed: set[tuple[str, str]] = set()
        self._reported: dict[tuple[str, str], dict[tuple[str, str, int, str], list[tuple[int, int]]]] = {}
        self._history: dict[str, int] = {}
        self._plans: dict[tuple[SiteScope, str], list[tuple[DetectorSpec, tuple[PlanItem, ...], int, int]]] = {}
        self._meta: dict[str, StationMeta] = dict(stations or {})
        self._dev: dict[int, tuple[str, str]] = dict(device_sites or {})
        self._neighbours: dict[str, dict[str, float]] = {}
        self._sites: dict[str, SiteScope] = {}
        self._last_refresh = 0.0
        self._history = {k: max([DEFAULT_HISTORY_S[k], *self._histories(k)]) for k in KIND_STEP}
        if engine is not None and (stations is None or device_sites is None):
            self.refresh()
        else:
            self._neighbours = find_neighbours(self._meta)

    # -- registry ----------------------------------------------------------------------------------

    @staticmethod
    def _forensic(spec: DetectorSpec) -> bool:
        return spec.family in BATCH_ONLY_FAMILIES and not spec.history_s

    def _streams(self, spec: DetectorSpec, kind: str | None = None) -> bool:
        """Whether ``spec`` may run in streaming at all (on ``kind`` data: the forensic family when
        ``forensic_every_s`` names the kind)."""
        if spec.id in self.batch_only or spec.history_s == 0:
            return False
        return not self._forensic(spec) or bool(kind and kind in self.forensic_every_s)

    def _histories(self, kind: str) -> list[int]:
        out = []
        for e in self.config.entries:
            spec = self.config.registry.get(e.id)
            if spec is not None and e.enabled and e.stream and self._streams(spec, kind):
                out.append(MAX_HISTORY_S[kind] if self._forensic(spec) else history_needed(spec, e.params, kind))
        return out

    def refresh(self) -> None:
        """Re-read sites and devices from the store (new devices, moved sites)."""
        if self.engine is None:
            return
        from tianlan.store.qc_repo import QcRepo

        repo = QcRepo(self.engine)
        meta = {}
        for s in repo.sites():
            meta[s.code] = StationMeta(s.code, s.city, s.lon, s.lat, s.background, s.kind, s.name, s.region, s.regions,
                                       site_attrs(s), s.device_ids)
        dev = {}
        for i, d in repo.device_sites().items():
            dev[i] = (d.station, d.kind)
            if d.station not in meta:
                meta[d.station] = StationMeta(d.station, kind=d.kind, name=d.mn)
        self._meta, self._dev = meta, dev
        self._neighbours = find_neighbours(meta)
        self._plans.clear()
        self._sites.clear()
        self._due.clear()
        self._last_refresh = time.monotonic()

    def _device(self, device_id: int) -> tuple[str, str] | None:
        got = self._dev.get(device_id)
        if got is None and self.engine is not None and time.monotonic() - self._last_refresh > 1.0:
            # accepted frames come only from registered devices: an unknown id was registered since
            # the last look (a running platform gets new devices without a restart)
            self.refresh()
            got = self._dev.get(device_id)
        return got

    # -- history -----------------------------------------------------------------------------------

    def _buffer(self, station: str, code: str, kind: str, t: int) -> HistoryBuffer:
        per = self._buffers.setdefault((station, kind), {})
        b = per.get(code)
        if b is None:
            from tianlan.model.parameters import unit_for

            meta = self._meta.get(station)
            b = per[code] = HistoryBuffer(station, code, kind, KIND_STEP[kind], self._history[kind], t,
                                    unit_for(code, meta.kind if meta else "air"))
        return b

    def _prime(self, station: str, kind: str, t_end: int) -> None:
        """Load the station's recent history and what was already reported, once."""
        key = (station, kind)
        if key in self._primed:
            return
        self._primed.add(key)
        if not self.prime:
            return
        meta = self._meta.get(station)
        if meta is None or not meta.device_ids:
            return
        from tianlan.store.qc_repo import QcRepo

        repo = QcRepo(self.engine)  # type: ignore[arg-type]
        a = t_end - self._history[kind]
        try:
            df = repo.observations(sorted(meta.device_ids), a, t_end + KIND_STEP[kind], kinds=[kind])
            done = repo.results(station=station, start_utc=a, config_hash=self.config.hash)
        except Exception:  # the store may be busy or older; streaming carries on without history
            log.exception("streaming QC: cannot read the history of %s", station)
            return
        # earliest first (a buffer starts at its first value); at one time the lowest device id wins
        for _dev, t, code, _k, v, f, rec in df.sort(["time_utc", "device_id"], descending=[False, True]).iter_rows():
            self._buffer(station, code, kind, int(t)).put(int(t), v, f, rec if rec is not None else float("nan"))
        rep = self._reported.setdefault(key, {})
        for r in done:
            k = (r.detector, r.parameter, int(r.status), r.reason)
            rep[k] = cover(rep.get(k, []), r.start_utc, r.end_utc)

    # -- checking ----------------------------------------------------------------------------------

    def _site(self, station: str) -> SiteScope:
        got = self._sites.get(station)
        if got is None:
            meta = self._meta.get(station)
            got = SiteScope(station) if meta is None else SiteScope(
                station, meta.kind, frozenset(str(x) for x in meta.context_attrs()["regions"]))
            self._sites[station] = got
        return got

    def _runnable(self, site: SiteScope, code: str, kind: str) -> list[tuple[DetectorSpec, tuple[PlanItem, ...], int, int]]:
        """(detector, its plan items that stream, history s, cadence s) for ``code`` at ``site``."""
        key = (site, code + "|" + kind)
        got = self._plans.get(key)
        if got is None:
            got = []
            for spec, plan in self.config.detectors_for(site, code):
                if not self._streams(spec, kind):
                    continue
                items = tuple(p for p in plan if p.stream)
                if not items:
                    continue
                if self._forensic(spec):  # hist 0: the window starts at the previous calendar month
                    got.append((spec, items, 0, self.forensic_every_s[kind]))
                    continue
                hist = max(history_needed(spec, p.params, kind) for p in items)
                got.append((spec, items, min(hist, self._history[kind]), self._every(spec.id, kind)))
            self._plans[key] = got
        return got

    def _context(self, station: str, kind: str, a: int, b: int, now: float,
                 cache: dict[Any, Any] | None = None) -> Context:
        meta = self._meta.get(station) or StationMeta(station)
        bufs = self._buffers.get((station, kind), {})
        near = {}
        nbufs = {}
        for nb, d in self._neighbours.get(station, {}).items():
            if self.prime and (nb, kind) not in self._primed:
                self._prime(nb, kind, b)
            got = self._buffers.get((nb, kind))
            if got:
                nbufs[nb] = got
                near[nb] = d
        limits = dict(AIR_LIMITS) if meta.kind == "air" else {}
        limits.update({k: float(v) for k, v in (meta.attrs.get("limits") or {}).items() if isinstance(v, int | float)})
        attrs = meta.context_attrs()
        attrs["now_utc"] = now
        attrs["streaming"] = True
        return Context(station, series=WindowViews(bufs, a, b), neighbours=NeighbourViews(nbufs, a, b), distances_km=near,
                       limits=limits, attrs=attrs, cache={} if cache is None else cache)

    def recheck_s(self) -> int:
        """Longest data time (s) before a streaming detector looks at a station again (any kind):
        a condition not re-found within it has ended. Live QC lags auto-resolve by it."""
        return max([0, *self.check_every_s.values(), *self.slow_every_s.values(), *self.daily_every_s.values()])

    def _every(self, detector: str, kind: str) -> int:
        """Cadence of ``detector`` on ``kind`` data (s of data time)."""
        if detector in self.daily and detector in self.slow:
            return self.daily_every_s.get(kind, 0)
        if detector in self.slow:
            return self.slow_every_s.get(kind, 0)
        return self.check_every_s.get(kind, 0)

    def _check(self, station: str, kind: str, codes: Iterable[str], now: float, *, force: bool = False) -> list[QcResult]:
        """New results of the station's detectors that are due (all of them with ``force``)."""
        bufs = self._buffers.get((station, kind), {})
        if not bufs:
            return []
        end = max(b.end_t for b in bufs.values())
        site = self._site(station)
        contexts: dict[int, Context] = {}
        # one scratch space (Context.cache) for the contexts of this check: they differ only in how far
        # back their windows reach, over the same data, so derived arrays keyed by their inputs are
        # shared (SPA-01's 45-day neighbour residuals give XV-03 its 30 days)
        cache: dict[Any, Any] = {}
        rep = self._reported.setdefault((station, kind), {})
        h = self.config.hash
        late = self.late_s.get(kind, 0)
        mark = self._late_from.get((station, kind))
        if mark is not None and end >= mark[1]:
            del self._late_from[(station, kind)]  # every detector has run since the old data came
            mark = None
        out: list[QcResult] = []
        for code in sorted(codes):
            buf = bufs.get(code)
            if buf is None:
                continue
            dkey = (station, kind, code)
            if not force:
                due = self._due.get(dkey)
                if due is not None and end < due:
                    continue  # none of the code's detectors is due (the loop below would skip each)
            nxt: int | None = None
            for spec, items, hist, every in self._runnable(site, code, kind):
                rkey = (station, kind, spec.id, code)
                last = self._last_run.get(rkey)
                if not force:
                    if last is not None and end - last < every:
                        nxt = last + every if nxt is None else min(nxt, last + every)
                        continue
                    # the first run is now; later ones fall on the station's phase of the cadence
                    last = self._last_run[rkey] = end - phase(station, every, buf.step) if last is None and every else end
                    nxt = last + every if nxt is None else min(nxt, last + every)
                a = end - hist if hist else max(month_window_start(end), end - self._history[kind])
                ctx = contexts.get(a)
                if ctx is None:
                    ctx = contexts[a] = self._context(station, kind, a, end, now, cache)
                series = ctx.series[code]
                if len(series) == 0:
                    continue
                self.stats.detector_calls += 1
                cut = end - every - late if late else None
                if cut is not None and mark is not None:
                    cut = min(cut, mark[0])
                for r in run_detector(spec, series, ctx, items, h, timings=self.stats.detector_seconds):
                    if cut is not None and r.end_utc <= cut:
                        self.stats.stale += 1
                        continue
                    k = (r.detector, r.parameter, int(r.status), r.reason)
                    cov = rep.get(k, [])
                    parts = uncovered(cov, r.start_utc, r.end_utc)
                    if not parts:
                        continue
                    for s, e in parts:
                        out.append(r if (s, e) == (r.start_utc, r.end_utc) else
                                   replace(r, start_utc=s, end_utc=e,
                                           evidence={**r.evidence, "finding_utc": [r.start_utc, r.end_utc]}))
                        cov = cover(cov, s, e)
                    rep[k] = cov
            if not force and nxt is not None:
                self._due[dkey] = nxt
        # forget what lies wholly before the longest history (it can no longer be re-found)
        horizon = end - self._history[kind]
        for k, cov in rep.items():
            if cov and cov[0][1] < horizon:
                rep[k] = [c for c in cov if c[1] >= horizon]
        return out

    def on_committed(self, items: Sequence[IngestItem]) -> list[QcResult]:
        """Check the observations of a committed batch; store and return the new results."""
        t_start = time.perf_counter()
        with self._lock:
            now = time.time()
            touched: dict[tuple[str, str], set[str]] = {}
            # "now" for a station is when its latest frame arrived (the platform's clock for the
            # data being checked), not the wall clock: a replay or a backfill is not stale data
            arrived: dict[tuple[str, str], float] = {}
            oldest: dict[tuple[str, str], int] = {}  # earliest period start put, per station and kind
            checked = 0
            for it in items:
                if it.status != ACCEPTED or not it.obs or it.device_id is None:
                    continue
                dev = self._device(it.device_id)
                if dev is None:
                    continue
                station = dev[0]
                hit = False
                for row in it.obs:
                    kind = row[2]
                    if kind not in KIND_STEP:
                        continue
                    t = int(row[0])
                    if (station, kind) not in self._primed:
                        self._prime(station, kind, t + KIND_STEP[kind])
                    if self._buffer(station, row[1], kind, t).put(t, row[3], row[4], it.received_utc):
                        touched.setdefault((station, kind), set()).add(row[1])
                        self._unflushed.setdefault((station, kind), set()).add(row[1])
                        arrived[(station, kind)] = max(arrived.get((station, kind), 0.0), it.received_utc or 0.0)
                        if t < oldest.get((station, kind), t + 1):
                            oldest[(station, kind)] = t
                        hit = True
                checked += hit
            results: list[QcResult] = []
            mono = time.monotonic()
            for (station, kind), codes in touched.items():
                self._seen[(station, kind)] = (mono, arrived.get((station, kind)) or now)
                self._note_late(station, kind, oldest[(station, kind)])
                results.extend(self._check(station, kind, codes, arrived.get((station, kind)) or now))
            self._finish(results, t_start, len(items), checked)
            return results

    def _note_late(self, station: str, kind: str, t: int) -> None:
        """Remember that data from ``t`` on arrived for the station, when that is older than the
        late-finding horizon (:data:`LATE_S`), until every detector has run since."""
        late = self.late_s.get(kind, 0)
        if not late:
            return
        bufs = self._buffers.get((station, kind), {})
        end = max((b.end_t for b in bufs.values()), default=t)
        if t < end - late:  # a finding touching data from t on may end before a run's cut
            prev = self._late_from.get((station, kind))
            until = end + self.recheck_s() + 1
            self._late_from[(station, kind)] = (t, until) if prev is None else (min(prev[0], t), max(prev[1], until))

    def flush(self, quiet_s: float = 0.0) -> list[QcResult]:
        """Run every detector now (whatever the cadence) on the stations whose data have not been
        checked in full since they last arrived and that have been quiet for ``quiet_s`` seconds
        (wall clock): a station that stopped reporting gets its last hours checked. Stores and
        returns the new results."""
        t_start = time.perf_counter()
        with self._lock:
            mono = time.monotonic()
            results: list[QcResult] = []
            for key in [k for k, (m, _) in self._seen.items() if mono - m >= quiet_s and self._unflushed.get(k)]:
                codes = self._unflushed.pop(key)
                results.extend(self._check(key[0], key[1], codes, self._seen[key][1], force=True))
            self._finish(results, t_start, 0, 0)
            return results

    def _finish(self, results: list[QcResult], t_start: float, frames: int, checked: int) -> None:
        """Store new results and count (under the lock)."""
        stored = 0
        if results and self.store_results:
            from tianlan.store.qc_repo import QcRepo

            try:
                stored = QcRepo(self.engine).write(results)  # type: ignore[arg-type]
            except Exception:  # results are recomputable; never block ingest on them
                log.exception("streaming QC: cannot store %d results", len(results))
        st = self.stats
        st.calls += 1
        st.frames += frames
        st.checked_frames += checked
        st.results += len(results)
        st.stored += stored
        st.seconds += time.perf_counter() - t_start

    def history(self, station: str, parameter: str, kind: str = "hour") -> Series | None:
        """The history kept for one series (a view; for inspection and tests)."""
        b = self._buffers.get((station, kind), {}).get(parameter)
        return None if b is None else b.view(b.t0, b.end_t)
