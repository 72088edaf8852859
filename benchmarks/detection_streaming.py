"""Detection through the streaming path (live QC) beside the batch path, on the same injections.

:mod:`detection` (``benchmarks/detection.py``) scores the batch runner. This benchmark takes the
same data set (the real Hebei 2019 hourly data, :func:`detection.load_hebei`), the same injections
(:func:`detection.evaluate`, same seeds: ``--scenarios`` and ``--injections`` give the same
windows as there) and the same scoring (:func:`detection.score`), and adds a second method,
**Tianlan streaming**: the injected series are fed hour by hour through live QC exactly as a
running platform checks them —

* one committed batch per hour of data (every station's hour frame, arriving one minute after the
  hour ends, as :class:`~tianlan.ingest.item.IngestItem`\\ s) is handed to a real
  :class:`~tianlan.qc.live.LiveQc` listener, whose worker thread runs
  :class:`~tianlan.qc.stream.StreamingQc` (default configuration and cadence: each station checked
  every 3 h of data, staggered; window analyses every 12 h; SPA-01/XV-03/XV-04/TMP-06 every 24 h)
  and turns the new results into alarms with :class:`~tianlan.alarms.service.AlarmService` on a
  temporary SQLite store (episodes, dedupe against open alarms, merge, auto-resolve of quiet
  low-level alarms every 10 min of data time, as ``live_qc_resolve_every_s`` does);
* the benchmark waits until the worker is idle before the next hour (the platform keeping up);
* at the end of the data the service is stopped, which checks every station's last hours in full
  (:meth:`StreamingQc.flush`), as a stopping server or a station going quiet does.

The stream sees the data from their first hour, as the batch scan does (both have the same
history; neither sees before 1 January). Its findings come up to one cadence step later, so the
alarms are the stored alarms at the end, scored like the batch's, and two delays are given:
**delay (alarm start)** — hours from the injection's start to the start of the first new alarm
(:func:`detection.score`, both paths); **real-time delay** — hours from the injection's start to
the moment the streaming path first *holds* a level ≥ 2 alarm overlapping the injection (the data
time at which the frame that produced it arrived: the alarm exists from then on). The batch path
has no real-time delay (a scan runs after the fact).

**Stream + scheduled scans** is the running platform as ``tianlan serve`` runs it: the same live QC,
plus :func:`tianlan.qc.scheduled.scheduled_scan` (the batch-only detectors — the forensic family
FOR-01/02/05/06 and :data:`~tianlan.qc.stream.BATCH_ONLY` — over the previous and current Beijing
month) every ``--scheduled-every-hours`` of data time (default 6, as ``qc_batch_interval_s``; 0:
off), called on the benchmark's store with ``now_utc`` = the arrival time of the hour just fed
(hour end + the same minute of arrival lag), once the worker is idle. For that the store holds what
the platform's store holds: the sites (with their cities as regions) and devices, and every hour's
observations, written before live QC sees them. The scan's alarms go to the same alarm table, and
the moment a scan first makes an alarm overlap an injection at level ≥ 2 is its real-time delay.
The first scan comes one interval after the data begin; at the end of the data one more scan runs
after the stream is stopped (as the stream's own final flush does).

Only the stations an injection changed, and their neighbours' data (fed into the stream's history
without checking them; stored and scanned by scheduled scans, FOR-05 compares with the neighbours,
but their alarms dropped), are streamed again for a scenario; the other stations keep the alarms of
the clean run (alarms are per station and parameter; a station's results depend only on its own and
its neighbours' data), as :class:`detection.TianlanMethod` does for the batch path.

    .venv/bin/python benchmarks/detection_streaming.py [--stations 16] [--months 2] [--injections 8]
        [--scenarios spray,flat] [--seed 2019] [--scheduled-every-hours 6] [--forensic-every-days 7]
        [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))

import detection  # noqa: E402
from detection import (  # noqa: E402
    HEBEI,
    MIN_LEVEL,
    Alarm,
    DataSet,
    Result,
    TianlanMethod,
    changed_stations,
    console,
    evaluate,
    load_hebei,
    render,
)

from tianlan.sim.fraud import STATION, TIME, GroundTruth, read_ground_truth  # noqa: E402

HOUR = 3600
#: A frame arrives this long after its hour ends (s): the moment its alarms can first exist.
ARRIVAL_S = 60


@dataclass
class StreamRun:
    """One pass of a frame through live QC: the final alarms with their ids and, per alarm id, its
    states ``(held from UTC s, start_utc, end_utc, level)`` in the order the service wrote them."""

    alarms: list[Alarm] = field(default_factory=list)
    ids: dict[Alarm, int] = field(default_factory=dict)
    history: dict[int, list[tuple[int, int, int, int]]] = field(default_factory=dict)
    stations: int = 0
    frames: int = 0
    seconds: float = 0.0
    live: dict[str, Any] = field(default_factory=dict)
    #: one per scheduled scan: the :class:`~tianlan.qc.scheduled.ScheduledReport` of each run
    scans: list[Any] = field(default_factory=list)


class StreamingMethod:
    """Live QC (:class:`~tianlan.qc.live.LiveQc` → StreamingQc → AlarmService) fed hour by hour;
    the detection method protocol of :mod:`detection` (``alarms(ds, frame)``)."""

    name = "Tianlan streaming"

    def __init__(self, batch: TianlanMethod | None = None, *, resolve_every_s: float = 600.0,
                 forensic_every_s: int = 0, scheduled_every_s: int = 0) -> None:
        self._batch = batch or TianlanMethod()  # its registry (broken modules reported) and configuration
        self.available = self._batch.available
        self.reason = self._batch.reason
        self.resolve_every_s = resolve_every_s
        self.forensic_every_s = forensic_every_s  # 0: the forensic family stays batch-only (the default)
        self.scheduled_every_s = scheduled_every_s  # 0: no scheduled scans (live QC alone)
        if scheduled_every_s:
            self.name = "Tianlan stream + scheduled scans"
        self.runs: list[StreamRun] = []  # one per alarms() call, in order (clean first)
        self._clean: dict[str, tuple[StreamRun, dict[str, list[Alarm]]]] = {}

    def describe(self, ds: DataSet) -> str:
        from tianlan.qc.stream import CHECK_EVERY_S, DAILY, DAILY_EVERY_S, SLOW_EVERY_S

        forensic = (f", forensic family every {self.forensic_every_s // 86400} days over the previous and current "
                    "month" if self.forensic_every_s else ", forensic family batch-only")
        scheduled = (f"; scheduled scans of the batch-only detectors every {self.scheduled_every_s / HOUR:g} h of data "
                     "(previous and current month)" if self.scheduled_every_s else "")
        return (self._batch.describe(ds) + f"; streamed hour by hour through live QC (checks every "
                f"{CHECK_EVERY_S['hour'] // HOUR} h, window analyses every {SLOW_EVERY_S['hour'] // HOUR} h, "
                f"{'/'.join(sorted(DAILY))} every {DAILY_EVERY_S['hour'] // HOUR} h of data{forensic}){scheduled}")

    # -- inputs --------------------------------------------------------------------------------

    @staticmethod
    def _metas(ds: DataSet) -> dict[str, Any]:
        from tianlan.qc.inputs import StationMeta

        metas = {}
        for i, row in enumerate(ds.sites.sort(STATION).iter_rows(named=True)):
            metas[row[STATION]] = StationMeta(row[STATION], row.get("city") or "", row.get("lon"), row.get("lat"),
                                              bool(row.get("control_site")), ds.kind, device_ids=(i + 1,))
        return metas

    @staticmethod
    def _hours(ds: DataSet, frame: pl.DataFrame, stations: Sequence[str]) -> tuple[np.ndarray, dict[str, dict[str, np.ndarray]]]:
        """The hour grid and, per station, HJ 212 code → values on it (NaN where absent)."""
        from tianlan.qc.config import NAMES

        t = np.unique(frame.get_column(TIME).to_numpy())
        out: dict[str, dict[str, np.ndarray]] = {}
        for (station,), part in frame.filter(pl.col(STATION).is_in(list(stations))).group_by([STATION]):
            idx = np.searchsorted(t, part.get_column(TIME).to_numpy())
            per = {}
            for c in ds.value_columns:
                v = np.full(t.size, np.nan)
                v[idx] = part.get_column(c).cast(pl.Float64).fill_null(np.nan).to_numpy()
                per[NAMES.get(c.upper(), c)] = v
            out[str(station)] = per
        return t, out

    @staticmethod
    def _register(engine: Any, ds: DataSet, stations: Sequence[str]) -> dict[str, int]:
        """Register ``stations`` in the store as the platform knows them (a province, their cities as
        regions, one site and one logger each): what :func:`~tianlan.qc.inputs.load_store` reads.
        Returns station → device id."""
        from tianlan.model.registry import Device, Region, Registry, Site
        from tianlan.qc.config import NAMES
        from tianlan.store.registry_repo import RegistryRepo

        rows = [r for r in ds.sites.sort(STATION).iter_rows(named=True) if r[STATION] in set(stations)]
        cities = sorted({r.get("city") or "?" for r in rows})
        code = {c: f"13{i + 1:02d}00" for i, c in enumerate(cities)}
        regions = [Region("130000", "河北省", "Hebei", "province")]
        regions += [Region(code[c], c, "", "city", "130000") for c in cities]
        params = [NAMES.get(c.upper(), c) for c in ds.value_columns]
        sites = [Site(r[STATION], r[STATION], ds.kind, code[r.get("city") or "?"], r.get("lon"), r.get("lat"),
                      background=bool(r.get("control_site"))) for r in rows]
        devices = [Device(f"MN{r[STATION]}", "pw123456", ds.kind, site=r[STATION], parameters=params) for r in rows]
        repo = RegistryRepo(engine)
        repo.import_registry(Registry(regions=regions, sites=sites, devices=devices))
        return {r.site_code: r.id for r in repo.device_rows() if r.site_code}

    @staticmethod
    def _store_rows(engine: Any, rows: list[dict[str, Any]]) -> None:
        """Observation rows into the store (what ingest has committed before live QC sees a batch)."""
        from sqlalchemy import insert

        from tianlan.store.schema import observations

        if rows:
            with engine.begin() as c:
                c.execute(insert(observations), rows)
            rows.clear()

    # -- one pass ------------------------------------------------------------------------------

    def stream(self, ds: DataSet, frame: pl.DataFrame, check: Sequence[str] | None = None) -> StreamRun:
        """Feed ``frame`` hour by hour through live QC; ``check``: stream these stations' frames
        (default all), the others' values go into the stream's history unchecked."""
        from tianlan.alarms.service import AlarmService
        from tianlan.ingest.item import ACCEPTED, IngestItem
        from tianlan.qc.live import LiveQc
        from tianlan.qc.stream import StreamingQc
        from tianlan.store.alarms_repo import AlarmsRepo
        from tianlan.store.engine import open_store

        metas = self._metas(ds)
        ids = {s: m.device_ids[0] for s, m in metas.items()}
        todo = sorted(metas) if check is None else sorted(check)
        sq = StreamingQc(None, self._batch.config, stations=metas, device_sites={i: (s, ds.kind) for s, i in ids.items()},
                         forensic_every_s={"hour": self.forensic_every_s} if self.forensic_every_s else None)
        feed = set(todo)
        for s in todo:
            feed |= set(sq._neighbours.get(s, {}))
        times, data = self._hours(ds, frame, sorted(feed))
        run = StreamRun(stations=len(todo))
        now = [0.0]

        def clock() -> float:
            return now[0]

        class Recording(AlarmService):
            """The alarm service, noting each alarm's state whenever it raises or extends one."""

            def raise_results(self, results, **kw):  # type: ignore[no-untyped-def]
                rep = super().raise_results(results, **kw)
                for i in {*rep.raised, *rep.extended}:
                    a = self.repo.get(i)
                    run.history.setdefault(i, []).append((int(now[0]), a.start_utc, a.end_utc, a.level))
                return rep

        def note_states(repo: Any) -> None:
            """After a scheduled scan: note each alarm whose state it created or changed."""
            for a in repo.list_alarms():
                states = run.history.setdefault(a.id, [])
                if not states or states[-1][1:] != (a.start_utc, a.end_utc, a.level):
                    states.append((int(now[0]), a.start_utc, a.end_utc, a.level))

        with tempfile.TemporaryDirectory(prefix="tianlan-stream-bench-") as tmp:
            engine = open_store(f"sqlite:///{tmp}/alarms.db", sqlite_synchronous="OFF")
            try:
                every = self.scheduled_every_s
                store_ids = self._register(engine, ds, sorted(feed)) if every else {}
                pending: list[dict[str, Any]] = []  # observation rows written before the next scan
                repo = AlarmsRepo(engine)

                def scan() -> None:
                    from tianlan.qc.scheduled import scheduled_scan

                    self._store_rows(engine, pending)
                    run.scans.append(scheduled_scan(engine, None, now_utc=now[0], config=self._batch.config))
                    note_states(repo)

                live = LiveQc(engine, stream=sq, service=Recording(engine, clock=clock), queue_max=10**9,
                              resolve_every_s=self.resolve_every_s, clock=clock).start()
                quiet = sorted(feed - set(todo))
                next_scan = float(times[0] + HOUR + ARRIVAL_S + every) if every and times.size else math.inf
                last_scan = -math.inf
                t0 = time.perf_counter()
                try:
                    for h, t in enumerate(times.tolist()):
                        now[0] = float(t + HOUR + ARRIVAL_S)
                        if every:  # the store holds the hour before live QC is told (ingest commits first)
                            pending.extend({"time_utc": t, "device_id": store_ids[s], "parameter": code,
                                            "kind": "hour", "value": float(v[h]), "flag": None, "frame_id": 0}
                                           for s in sorted(feed) for code, v in data.get(s, {}).items()
                                           if math.isfinite(v[h]))
                        if quiet:  # neighbours' data: history only (the worker is idle here)
                            with sq._lock:
                                for s in quiet:
                                    for code, v in data[s].items():
                                        if math.isfinite(v[h]):
                                            sq._buffer(s, code, "hour", t).put(t, float(v[h]), None, now[0])
                        batch = []
                        for s in todo:
                            per = data.get(s, {})
                            obs = [(t, code, "hour", float(v[h]), None, None, None, None, None, None)
                                   for code, v in per.items() if math.isfinite(v[h])]
                            if obs:
                                batch.append(IngestItem(b"", now[0], "bench", status=ACCEPTED, device_id=ids[s], obs=obs))
                        if batch:
                            run.frames += len(batch)
                            live.listener(batch)
                            if not live.wait_idle(600):
                                raise RuntimeError("live QC did not keep up within 600 s")
                        if now[0] >= next_scan:  # serve's timer: the worker is idle, the store is current
                            scan()
                            last_scan = now[0]
                            while next_scan <= now[0]:
                                next_scan += every
                finally:
                    live.stop(600)  # checks the last hours in full, as a stopping server does
                if every and times.size and last_scan < now[0]:
                    scan()  # and the scheduled scan of the last data, as the final flush does for the stream
                run.seconds = time.perf_counter() - t0
                run.live = live.as_dict()
                for a in repo.list_alarms():
                    if a.station not in set(todo):
                        continue  # a neighbour stored for the scan's comparisons: its alarms are the clean run's
                    al = Alarm(a.station, a.parameter, a.start_utc, a.end_utc, a.level, a.detector)
                    run.alarms.append(al)
                    run.ids.setdefault(al, a.id)
            finally:
                engine.dispose()
        return run

    def alarms(self, ds: DataSet, frame: pl.DataFrame) -> list[Alarm]:
        """Final alarms of ``frame`` through the streaming path (only changed stations re-streamed)."""
        clean = self._clean.get(ds.name)
        if clean is None or frame is ds.frame:
            run = self.stream(ds, frame)
            by_station: dict[str, list[Alarm]] = {}
            for a in run.alarms:
                by_station.setdefault(a.station, []).append(a)
            self._clean[ds.name] = (run, by_station)
        else:
            changed = changed_stations(ds.frame, frame)
            run = self.stream(ds, frame, sorted(changed))
            keep = [a for s, al in clean[1].items() if s not in changed for a in al]
            run.alarms = run.alarms + keep
        self.runs.append(run)
        return sorted(run.alarms, key=lambda a: (a.station, a.start_utc, a.parameter, a.detector))


# --- real-time delay --------------------------------------------------------------------------------


def realtime_delays(run: StreamRun, truths: Sequence[GroundTruth], background: Sequence[Alarm]) -> list[float]:
    """Hours from each detected injection's start to the first moment the stream held a level ≥ 2
    alarm overlapping it on its station that is not a clean-data alarm (the detections of
    :func:`detection.score`)."""
    bg = {a for a in background if a.level >= MIN_LEVEL}
    out = []
    for g in truths:
        first = math.inf
        for a in run.alarms:
            if a.level < MIN_LEVEL or a in bg or not g.overlaps(a.station, a.start_utc, a.end_utc):
                continue
            for held, s, e, lvl in run.history.get(run.ids.get(a, -1), []):
                if lvl >= MIN_LEVEL and g.overlaps(a.station, s, e):
                    first = min(first, held)
                    break
        if math.isfinite(first):
            out.append(max(0.0, (first - g.start_utc) / HOUR))
    return out


@dataclass
class Side:
    """Batch and streaming results of one data set, with the streaming real-time delays per scenario;
    ``scheduled``/``realtime_scheduled``: the same for the stream + scheduled scans (None: not run);
    ``scans``: that path's scheduled scans, every pass (clean first)."""

    batch: Result
    stream: Result
    realtime: dict[str, list[float]]
    scheduled: Result | None = None
    realtime_scheduled: dict[str, list[float]] = field(default_factory=dict)
    scans: list[Any] = field(default_factory=list)


def _stream_side(ds: DataSet, method: StreamingMethod, *, injections: int, seed: int, only: Sequence[str] | None,
                 progress: Callable[[str], None] | None) -> tuple[Result, dict[str, list[float]]]:
    """One streaming method on :func:`detection.evaluate`'s injections, with its real-time delays."""
    with tempfile.TemporaryDirectory(prefix="tianlan-stream-gt-") as gt:
        res = evaluate(ds, method, injections=injections, seed=seed, gt_dir=Path(gt), progress=progress, only=only,
                       control=False)
        realtime: dict[str, list[float]] = {}
        if res.available:
            clean_run, scen_runs = method.runs[0], method.runs[1:]
            slug = ds.name.split()[0].lower()  # detection.evaluate's file name for the ground truth
            for row, run in zip(res.rows, scen_runs, strict=True):
                truths = read_ground_truth(Path(gt) / f"{slug}-{row.scenario}.jsonl")
                realtime[row.scenario] = realtime_delays(run, truths, clean_run.alarms)
    return res, realtime


def compare(ds: DataSet, *, injections: int, seed: int, only: Sequence[str] | None = None,
            progress: Callable[[str], None] | None = None, forensic_every_s: int = 0,
            scheduled_every_s: int = 0) -> Side:
    """Both paths on the same injections (:func:`detection.evaluate`), plus the real-time delays;
    ``scheduled_every_s`` > 0: also live QC with scheduled scans every that many seconds of data."""
    batch_method = TianlanMethod()
    batch = evaluate(ds, batch_method, injections=injections, seed=seed, progress=progress, only=only, control=False)
    stream, realtime = _stream_side(ds, StreamingMethod(batch_method, forensic_every_s=forensic_every_s),
                                    injections=injections, seed=seed, only=only, progress=progress)
    side = Side(batch, stream, realtime)
    if scheduled_every_s > 0:
        method = StreamingMethod(batch_method, forensic_every_s=forensic_every_s, scheduled_every_s=scheduled_every_s)
        side.scheduled, side.realtime_scheduled = _stream_side(ds, method, injections=injections, seed=seed, only=only,
                                                               progress=progress)
        side.scans = [s for r in method.runs for s in r.scans]
    return side


# --- output ---------------------------------------------------------------------------------------


def _med(x: Sequence[float]) -> float | None:
    return float(np.median(x)) if x else None


def _p90(x: Sequence[float]) -> float | None:
    return float(np.percentile(x, 90)) if x else None


def scan_cost(side: Side) -> dict[str, float]:
    """The scheduled scans' cost: how many, seconds each (mean, max), total, alarms they raised."""
    if not side.scans:
        return {}
    sec = [s.seconds for s in side.scans]
    return {"scans": len(sec), "mean_s": float(np.mean(sec)), "max_s": float(np.max(sec)), "total_s": float(np.sum(sec)),
            "raised": sum(s.raised for s in side.scans), "extended": sum(s.extended for s in side.scans)}


def render_side(side: Side) -> Table:
    """Batch vs streaming (vs streaming + scheduled scans) per scenario: recall, precision, delays;
    clean false alarms."""
    f = detection._f
    b, s, c = side.batch, side.stream, side.scheduled
    paths = [b, s] + ([c] if c is not None else [])
    names = "batch / stream" + (" / +scheduled" if c is not None else "")
    title = f"{b.dataset} — batch vs streaming (live QC)" + (" vs streaming + scheduled scans" if c is not None else "")
    t = Table(title=title, title_justify="left",
              caption="delay (alarm start): injection start → start of the first new alarm (median h); "
                      "real-time: injection start → when the path first holds that alarm (median / p90 h)",
              caption_justify="left")
    cols = ["scenario", "injections", f"recall {names}", f"precision {names}", f"delay (alarm start) h {names}",
            "real-time delay stream h (median / p90)"]
    if c is not None:
        cols.append("real-time delay +scheduled h (median / p90)")
    for col in cols:
        t.add_column(col, justify="left" if col == "scenario" else "right")
    missing = next((r for r in paths if not r.available), None)
    if missing is not None:
        t.add_row("—", *[""] * (len(cols) - 2), missing.about)
        return t

    def joined(values: Sequence[float | None], fmt: str = "{:.2f}") -> str:
        return " / ".join(f(v, fmt) for v in values)

    def rt(d: Sequence[float]) -> str:
        return f"{f(_med(d), '{:.1f}')} / {f(_p90(d), '{:.1f}')}"

    assert all(r.clean is not None for r in paths)
    t.add_row("clean data (false alarms / station-month)", "—",
              joined([r.clean.per_station_month for r in paths]), "", "", "",  # type: ignore[union-attr]
              *([""] if c is not None else []), style="bold")
    for rows in zip(*(r.rows for r in paths), strict=True):
        scen = rows[0].scenario
        cells = [scen, str(rows[0].injections), joined([r.recall for r in rows]), joined([r.precision for r in rows]),
                 joined([r.median_delay_h for r in rows], "{:.1f}"), rt(side.realtime.get(scen, []))]
        if c is not None:
            cells.append(rt(side.realtime_scheduled.get(scen, [])))
        t.add_row(*cells)
    return t


def to_json(side: Side) -> dict[str, Any]:
    out = {"batch": detection.to_json([side.batch])[0], "stream": detection.to_json([side.stream])[0],
           "realtime_delays_h": side.realtime}
    if side.scheduled is not None:
        out.update({"stream_scheduled": detection.to_json([side.scheduled])[0],
                    "realtime_delays_scheduled_h": side.realtime_scheduled, "scheduled_scans": scan_cost(side)})
    return out


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--months", type=int, default=2, help="months of Hebei data from January (1–6, default 2)")
    ap.add_argument("--stations", type=int, default=16, help="the first N Hebei stations (default 16; 0: all)")
    ap.add_argument("--injections", type=int, default=8, help="injections per scenario (default 8)")
    ap.add_argument("--scenarios", default=None, help="only these scenarios, comma-separated; seeds as in a full run")
    ap.add_argument("--seed", type=int, default=2019)
    ap.add_argument("--scheduled-every-hours", type=float, default=6.0,
                    help="also score live QC plus the scheduled scan (tianlan.qc.scheduled.scheduled_scan) every N hours "
                         "of data, as tianlan serve runs it every qc_batch_interval_s (default 6; 0: off, live QC alone)")
    ap.add_argument("--forensic-every-days", type=float, default=0.0,
                    help="also stream the forensic family (FOR-xx) every N days of data (StreamingQc(forensic_every_s=…); "
                         "default 0: batch-only, as live QC runs by default)")
    ap.add_argument("--json", type=Path, default=None, help="also write the results as JSON")
    args = ap.parse_args(argv)
    if not 1 <= args.months <= 6:
        ap.error("--months must be 1–6")
    if args.scheduled_every_hours < 0:
        ap.error("--scheduled-every-hours must be ≥ 0")
    if not HEBEI.exists():
        console.print(f"[yellow]no Hebei data at {HEBEI}[/]")
        raise SystemExit(2)
    ds = load_hebei(args.months, args.stations or None)
    only = None if args.scenarios is None else [x.strip() for x in args.scenarios.split(",") if x.strip()]
    if only is not None and set(only) - set(ds.scenarios):
        ap.error(f"--scenarios: unknown {', '.join(sorted(set(only) - set(ds.scenarios)))} "
                 f"(known: {', '.join(ds.scenarios)})")
    t0 = time.perf_counter()
    with console.status("running…") as status:
        side = compare(ds, injections=args.injections, seed=args.seed, only=only,
                       progress=lambda x: status.update(x), forensic_every_s=int(args.forensic_every_days * 86400),
                       scheduled_every_s=int(args.scheduled_every_hours * HOUR))
    for res in (side.batch, side.stream, side.scheduled):
        if res is not None:
            console.print(render(res))
            console.print()
    console.print(render_side(side))
    cost = scan_cost(side)
    if cost:
        console.print(f"scheduled scans: {cost['scans']} runs, {cost['mean_s']:.2f} s each on average "
                      f"(max {cost['max_s']:.2f} s), {cost['total_s']:.0f} s in all; "
                      f"{cost['raised']} alarms raised, {cost['extended']} extended")
    console.print(f"total {time.perf_counter() - t0:.0f} s; scoring as benchmarks/detection.py (level ≥ {MIN_LEVEL}, "
                  "clean-data alarms are not detections)")
    if args.json:
        args.json.write_text(json.dumps(to_json(side), ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
