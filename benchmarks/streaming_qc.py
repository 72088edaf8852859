"""Streaming QC cost per stored frame on the real Hebei 2019 network, all streaming air detectors.

The Hebei stations (``../shared/data/cnemc-hebei-2019``) are replayed as committed batches of
:class:`~tianlan.ingest.item.IngestItem` straight into :class:`~tianlan.qc.stream.StreamingQc`
(no sockets, no store: this measures what streaming QC adds per frame; ``--store`` adds writing
``qc_results`` and alarms to a temporary SQLite store, as the live service does). Two mixes:

- ``hour``: hour frames only (one per station-hour, six pollutants) — the costliest mix;
- ``realistic``: the traffic of a real station per hour: 120 real-time frames (every 30 s), six
  10-minute minute-data frames and one hour frame (minute values are the hour value with noise).

Each batch holds what commits together (``--batch`` frames, default 60: one hour of the network's
hour frames). The first ``--warmup-days`` of data (hour frames) fill the history and are not timed,
so the figures are those of a platform that has been running for days. The stream runs with its
default cadence (hour data every 3 hours of data, staggered by station; minute data once per hour;
the slow window analyses every 12 h / 6 h, the four costliest every 24 h / 12 h); ``--every-value``
adds the hour mix with the cadence before (every detector at every new hour, the slow ones every
6 hours), for comparison. Times are the CPU time of the thread that runs the checks, per frame (p50/p95 over
batches, and the mean; the progress spinner's thread is not counted),
which a machine shared with other work does not inflate as it does wall time (also shown). The
last column runs every detector once more at the end (``StreamingQc.flush``, untimed): what a
coarser cadence had not yet reported when the replay stopped. Alarms are episodes of level ≥ 2
(``build_episodes``); with ``--store``, alarms raised in the store (any level).

    .venv/bin/python benchmarks/streaming_qc.py [--days 12] [--warmup-days 8] [--mix hour realistic]
"""

from __future__ import annotations

import argparse
import calendar
import sys
import tempfile
import time
from collections.abc import Iterator

import numpy as np
import polars as pl
from rich.console import Console
from rich.table import Table

from tianlan.alarms.episodes import build_episodes
from tianlan.ingest.item import ACCEPTED, IngestItem
from tianlan.qc.inputs import StationMeta, read_stations
from tianlan.qc.stream import StreamingQc
from tianlan.sim.replay import COLUMNS, data_dir, read_month

HOUR = 3600


def load(days: int) -> tuple[dict[str, StationMeta], dict[str, dict[str, np.ndarray]], np.ndarray]:
    """Stations and their hour values (station → code → array over the hours), January 2019 onward."""
    stations = read_stations(data_dir() / "stations.csv")
    months = ["2019-01", "2019-02", "2019-03"][: 1 + (days - 1) // 28]
    df = pl.concat([read_month(m) for m in months], how="diagonal_relaxed")
    t0 = calendar.timegm((2019, 1, 1, 0, 0, 0)) - 8 * HOUR  # 2019-01-01 00:00 Beijing
    n = days * 24
    # CNEMC labels an hour by its end: the period starts one hour earlier (HJ 212 DataTime)
    df = df.with_columns(((pl.col("date").str.strptime(pl.Date, "%Y%m%d").cast(pl.Datetime("ms")).dt.epoch("s")
                           - 8 * HOUR + (pl.col("hour").cast(pl.Int64) - 1) * HOUR - t0) // HOUR).alias("_i"))
    df = df.filter((pl.col("_i") >= 0) & (pl.col("_i") < n))
    out: dict[str, dict[str, np.ndarray]] = {}
    for (code,), g in df.group_by(["station"]):
        if code not in stations:
            continue
        idx = g["_i"].to_numpy()
        per = {}
        for col, hj in COLUMNS.items():
            v = np.full(n, np.nan)
            v[idx] = g[col].cast(pl.Float64, strict=False).to_numpy()
            per[hj] = v
        out[code] = per
    stations = {k: v for k, v in stations.items() if k in out}
    return stations, out, t0 + HOUR * np.arange(n, dtype=np.int64)


def _obs(t: int, values: dict[str, float], kind: str) -> list[tuple]:
    return [(t, c, kind, v, "N", None, None, None, None, None) for c, v in values.items()]


def frames(mix: str, stations: list[str], data: dict[str, dict[str, np.ndarray]], times: np.ndarray,
           ids: dict[str, int], rng: np.random.Generator, warm: int = 0) -> Iterator[tuple[int, list[IngestItem]]]:
    """(hour index, items of that hour in arrival order) for the mix; hour frames only before ``warm``."""
    for h, t in enumerate(times.tolist()):
        items: list[IngestItem] = []
        if mix == "realistic" and h >= warm:
            for k in range(6):  # minute data, 10-minute periods of hour h, arriving as they end
                for s in stations:
                    vals = {c: float(np.round(v[h] * rng.uniform(0.9, 1.1), 1)) for c, v in data[s].items()
                            if np.isfinite(v[h])}
                    if not vals:
                        continue
                    items.append(IngestItem(b"", t + (k + 1) * 600 + 5.0, "bench", status=ACCEPTED,
                                            device_id=ids[s], obs=_obs(t + k * 600, vals, "min")))
                    for j in range(20):  # real-time values every 30 s within that 10 minutes
                        items.append(IngestItem(b"", t + k * 600 + 30 * j, "bench", status=ACCEPTED, device_id=ids[s],
                                                obs=_obs(t + k * 600 + 30 * j, vals, "rtd")))
        for s in stations:
            vals = {c: float(v[h]) for c, v in data[s].items() if np.isfinite(v[h])}
            if vals:
                items.append(IngestItem(b"", t + HOUR + 60.0, "bench", status=ACCEPTED, device_id=ids[s],
                                        obs=_obs(t, vals, "hour")))
        yield h, items


def run(mix: str, days: int, warmup_days: int, batch: int, store: bool, every_value: bool = False,
        prime_days: int = 0) -> dict:
    stations, data, times = load(prime_days + days)
    codes = sorted(stations)
    ids = {s: i + 1 for i, s in enumerate(codes)}
    for s, i in ids.items():
        stations[s].device_ids = (i,)
    engine = None
    service = None
    if store:
        from tianlan.alarms.service import AlarmService
        from tianlan.store.engine import open_store

        engine = open_store(f"sqlite:///{tempfile.mkdtemp()}/bench.db")
        service = AlarmService(engine)
    cadence = {"check_every_s": {"hour": 0, "min": 600}, "slow_every_s": {"hour": 6 * HOUR, "min": HOUR},
               "daily": ()} if every_value else {}
    sq = StreamingQc(engine, stations=stations, device_sites={i: (s, "air") for s, i in ids.items()}, prime=False,
                     **cadence)
    rng = np.random.default_rng(7)
    per_batch: list[float] = []
    n_frames = 0
    kinds: dict[str, int] = {}
    results = []
    alarms = 0
    seconds = cpu = 0.0
    # the history a running platform has (as the stream reads it from the store after a restart)
    primed = prime_days * 24
    for s in codes:
        for c, v in data[s].items():
            for h in np.flatnonzero(np.isfinite(v[:primed])).tolist():
                t = int(times[h])
                sq._buffer(s, c, "hour", t).put(t, float(v[h]), "N", t + HOUR + 60.0)
            sq._primed.add((s, "hour"))
    warm = primed + warmup_days * 24
    for h, items in frames(mix, codes, data, times, ids, rng, warm):
        if h < primed:
            continue
        for k in range(0, len(items), batch):
            chunk = items[k:k + batch]
            # CPU of this thread only: the checks run here, and the Rich status spinner's thread would
            # otherwise be counted too (about 0.05 ms per hour frame)
            t, c = time.perf_counter(), time.thread_time()
            got = sq.on_committed(chunk)
            if service is not None and got:
                rep = service.raise_results(got)
                alarms += len(rep.raised)
            dt, dc = time.perf_counter() - t, time.thread_time() - c
            if h >= warm:
                seconds += dt
                cpu += dc
                n_frames += len(chunk)
                per_batch.append(1000 * dc / len(chunk))
                for it in chunk:
                    kinds[it.obs[0][2]] = kinds.get(it.obs[0][2], 0) + 1
                results.extend(got)
    eps = [e for e in build_episodes(results) if e.level >= 2] if service is None else []
    # what the cadence had not reached yet at the end: every detector once more (not timed)
    tail = sq.flush(0.0)
    if service is not None:
        alarms_all = alarms + (len(service.raise_results(tail).raised) if tail else 0)
    else:
        alarms_all = len([e for e in build_episodes(results + tail) if e.level >= 2])
    st = sq.stats.as_dict()
    return {"mix": mix + (" (every value)" if every_value else ""), "frames": n_frames, "kinds": kinds,
            "p50": float(np.percentile(per_batch, 50)),
            "p95": float(np.percentile(per_batch, 95)), "mean": 1000 * cpu / max(n_frames, 1),
            "wall": 1000 * seconds / max(n_frames, 1),
            "results": len(results), "alarms": alarms if service is not None else len(eps),
            "results_flushed": len(results) + len(tail), "alarms_flushed": alarms_all,
            "by_detector": st["ms_per_frame_by_detector"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prime-days", type=int, default=0,
                    help="days of history put straight into the stream's buffers first, as after a restart "
                         "(default 0; 46 fills the longest window, SPA-01's 45 days)")
    ap.add_argument("--days", type=int, default=12, help="days of data replayed after that (default 12)")
    ap.add_argument("--warmup-days", type=int, default=8, help="of which the first are not timed (default 8)")
    ap.add_argument("--mix", nargs="+", default=["hour", "realistic"], choices=["hour", "realistic"])
    ap.add_argument("--realistic-days", type=int, default=9,
                    help="days of the realistic mix (default 9: 8 days of hour frames fill the history, 1 timed)")
    ap.add_argument("--every-value", action="store_true",
                    help="also run the hour mix with every detector at every new value (the cadence before)")
    ap.add_argument("--batch", type=int, default=60, help="frames per committed batch (default 60)")
    ap.add_argument("--store", action="store_true", help="also write qc_results and alarms (temporary SQLite)")
    ap.add_argument("--by-detector", action="store_true", help="print the per-detector cost")
    a = ap.parse_args(argv)
    if not (data_dir() / "stations.csv").exists():
        print(f"no Hebei data at {data_dir()}", file=sys.stderr)
        return 2
    con = Console()
    rows = []
    for mix in a.mix:
        days = a.days if mix == "hour" else a.realistic_days
        with con.status(f"{mix}: {days} days …"):
            rows.append(run(mix, days, min(a.warmup_days, days - 1), a.batch, a.store, prime_days=a.prime_days))
        if mix == "hour" and a.every_value:
            with con.status(f"{mix}, every value: {days} days …"):
                rows.append(run(mix, days, min(a.warmup_days, days - 1), a.batch, a.store, every_value=True,
                                prime_days=a.prime_days))
    tab = Table(expand=True, title=f"流式质控 / streaming QC per stored frame (Hebei 2019, {len(load(1)[0])} stations, "
                      f"batches of {a.batch}, {a.prime_days} days primed{', with store' if a.store else ''})")
    for col in ("mix", "frames timed", "kinds", "CPU ms/frame p50", "p95", "mean", "wall mean", "results",
                "alarms (level ≥ 2)", "after a final flush: results / alarms"):
        tab.add_column(col, justify="right" if col not in ("mix", "kinds") else "left")
    for r in rows:
        tab.add_row(r["mix"], f"{r['frames']:,}", " ".join(f"{k}:{v:,}" for k, v in sorted(r["kinds"].items())),
                    f"{r['p50']:.3f}", f"{r['p95']:.3f}", f"{r['mean']:.3f}", f"{r['wall']:.3f}", f"{r['results']:,}",
                    f"{r['alarms']:,}", f"{r['results_flushed']:,} / {r['alarms_flushed']:,}")
    con.print(tab)
    if a.by_detector:
        for r in rows:
            top = list(r["by_detector"].items())[:12]
            con.print(f"{r['mix']}: ms/frame by detector (all frames, warm-up included): "
                      + ", ".join(f"{k} {v:.3f}" for k, v in top))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
