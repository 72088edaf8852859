"""Web benchmark: with ``tianlan demo`` running on a demo-sized store, the latency of the ``latest``
API and of a public page at a fixed request rate, and the rate of a one-year station export.

1. A fresh SQLite data directory gets the demo network (``demo_network()``: 30 air stations, 6 water
   sections, 6 outlets) and one year of hour data for every device up to the current hour, written
   through the store writer (``BatchStore``), plus ``--minute-days`` of minute data for one station;
   the last month is assessed (``run_assessment``), so the portal has results to show.
2. ``tianlan demo`` starts as a subprocess on that directory: gateway, HTTP, and the simulator
   sending live minute data from every device while the benchmark runs.
3. After ``--warmup`` seconds of demo traffic, open-loop load: requests are started at ``--rate``
   per second for ``--seconds`` (each on its own schedule, not waiting for the previous answer;
   latency counts from when a request was due, so queueing shows), from a lean keep-alive HTTP/1.1
   generator (a Python HTTP client library costs more CPU per request than the server under
   test), against ``/api/v1/latest`` and the portal home page ``/`` (or, when no portal is
   mounted, the public ``/api/v1/aqi/stations?latest=true``); latency p50/p95/p99 and errors.
   Target: p95 < 100 ms at 200 requests/s.
4. Export: ``/api/v1/observations/export`` of one station for one year, hour data (CSV) and, when
   minute data were written, minute data; rows/s over the whole download. Target > 100,000 rows/s.

    .venv/bin/python benchmarks/web.py [--rate 200] [--seconds 10] [--minute-days 365]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from rich.console import Console
from rich.table import Table

from tianlan.auth.apikeys import ApiKeysRepo
from tianlan.auth.roles import Role
from tianlan.ingest.item import ACCEPTED, IngestItem
from tianlan.model.demo_network import demo_network
from tianlan.model.timeutil import utc_to_beijing_iso
from tianlan.store.engine import open_store
from tianlan.store.frame_writer import BatchStore, to_record
from tianlan.store.registry_repo import RegistryRepo

console = Console()
HOUR = 3600


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fill(data_dir: Path, minute_days: int) -> tuple[str, int, int, str]:
    """Demo network, a year of hour data, minute data of one station, the last month assessed, and a
    province-wide API key. Returns (export station, start, end (UTC epoch s), key secret)."""
    engine = open_store(f"sqlite:///{data_dir / 'tianlan.db'}", sqlite_synchronous="NORMAL")
    repo = RegistryRepo(engine)
    repo.seed_defaults()
    reg = demo_network()
    repo.import_registry(reg)
    ids = {r.mn: r.id for r in repo.device_rows()}
    end = int(time.time()) // HOUR * HOUR
    start = end - 365 * 86400
    rng = np.random.default_rng(0)
    n_rows = 0
    bs = BatchStore(engine)
    t0 = time.perf_counter()
    for dev in reg.devices:
        params = dev.parameters or ["a34004"]
        hours = np.arange(start, end, HOUR)
        vals = np.round(np.abs(rng.normal(40, 15, (len(hours), len(params)))), 1)
        recs = []
        for d0 in range(0, len(hours), 24):  # one archived record per device-day
            obs = [(int(hours[i]), p, "hour", float(vals[i, j]), "N", None, None, None, None, None)
                   for i in range(d0, min(d0 + 24, len(hours))) for j, p in enumerate(params)]
            n_rows += len(obs)
            recs.append(to_record(IngestItem(data=f"bench {dev.mn} {hours[d0]}".encode(), received_utc=time.time(),
                                             peer="bench", channel="import", status=ACCEPTED, mn=dev.mn,
                                             device_id=ids[dev.mn], cn="2061", obs=obs)))
        bs.write(recs)
    station = next(s.code for s in reg.sites if s.kind == "air")
    dev = next(d for d in reg.devices if d.site == station)
    n_min = 0
    if minute_days:
        params = dev.parameters or ["a34004"]
        m_end = end - 3 * 86400  # before the simulator's two days, so that nothing collides
        for day in range(minute_days):
            d_start = m_end - (minute_days - day) * 86400
            mins = np.arange(d_start, d_start + 86400, 60)
            vals = np.round(np.abs(rng.normal(40, 15, (len(mins), len(params)))), 1)
            obs = [(int(mins[i]), p, "min", float(vals[i, j]), "N", None, None, None, None, None)
                   for i in range(len(mins)) for j, p in enumerate(params)]
            n_min += len(obs)
            bs.write([to_record(IngestItem(data=f"bench-min {dev.mn} {d_start}".encode(), received_utc=time.time(),
                                           peer="bench", channel="import", status=ACCEPTED, mn=dev.mn,
                                           device_id=ids[dev.mn], cn="2051", obs=obs))])
    bs.close()
    console.print(f"stored {n_rows:,} hour rows of {len(reg.devices)} devices and {n_min:,} minute rows of {station} "
                  f"in {time.perf_counter() - t0:.0f} s")
    from tianlan.assess_job import run_assessment

    last = time.gmtime(end + 8 * HOUR)
    run_assessment(engine, months=[(last.tm_year, last.tm_mon)])
    _key, secret = ApiKeysRepo(engine).create("bench", Role.PROVINCE, "130000", rate_limit_per_min=100_000,
                                              actor="bench")
    engine.dispose()
    return station, start, end, secret


class _Conn:
    """One keep-alive HTTP/1.1 connection of the load generator (plain asyncio streams: a Python
    HTTP client library costs more CPU per request than the server under test)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    reconnects = 0  # keep-alive connections the server had closed (idle > its timeout), retried

    async def get(self, path: str) -> int:
        fresh = self.writer is None
        if fresh:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None and self.writer is not None
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())
        try:
            head = await self.reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionResetError) as e:
            if fresh or (isinstance(e, asyncio.IncompleteReadError) and e.partial):
                raise
            # the server closed this idle keep-alive connection (uvicorn: after 5 s); like any HTTP
            # client, send the GET again on a new connection (the latency still counts from when it was due)
            _Conn.reconnects += 1
            self.writer.close()
            self.writer = None
            return await self.get(path)
        status = int(head.split(b" ", 2)[1])
        length = None
        chunked = False
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            if k.lower() == b"content-length":
                length = int(v)
            elif k.lower() == b"transfer-encoding" and b"chunked" in v.lower():
                chunked = True
        if length is not None:
            await self.reader.readexactly(length)
        elif chunked:
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        return status


async def load(url: str, rate: float, seconds: float) -> dict[str, float]:
    """Open-loop: start one request every 1/rate s (on an idle keep-alive connection, or a new one);
    returns latency percentiles (ms), errors and the achieved rate."""
    u = httpx.URL(url)
    path = u.raw_path.decode()
    idle: list[_Conn] = [_Conn(u.host, u.port or 80) for _ in range(50)]
    for c in idle[:20]:  # warm-up
        await c.get(path)
    lat: list[float] = []
    errors = 0

    async def one(t_due: float) -> None:
        nonlocal errors
        c = idle.pop() if idle else _Conn(u.host, u.port or 80)
        try:
            if await c.get(path) != 200:
                errors += 1
            idle.append(c)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            errors += 1
        lat.append((time.perf_counter() - t_due) * 1000)  # from when it was due: queueing counts

    reconnects0 = _Conn.reconnects
    n = int(rate * seconds)
    tasks = []
    t0 = time.perf_counter()
    for i in range(n):
        due = t0 + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - t0
    a = np.array(lat)
    return {"n": n, "rate": n / elapsed, "p50": float(np.percentile(a, 50)), "p95": float(np.percentile(a, 95)),
            "p99": float(np.percentile(a, 99)), "errors": errors, "reconnects": _Conn.reconnects - reconnects0}


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of the server process and its children (the store writer)."""
    import psutil

    p = psutil.Process(pid)
    total = 0.0
    for q in [p, *p.children(recursive=True)]:
        try:
            t = q.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


def export(base: str, secret: str, station: str, start: int, end: int, grain: str,
           pid: int) -> tuple[int, float, int, float]:
    """(rows, seconds, bytes, server CPU seconds) of one streamed CSV export."""
    cpu0 = _cpu_s(pid)
    params = {"site": station, "grain": grain, "format": "csv", "start": utc_to_beijing_iso(start),
              "end": utc_to_beijing_iso(end)}
    t0 = time.perf_counter()
    lines = 0
    size = 0
    with httpx.stream("GET", f"{base}/api/v1/observations/export", params=params, headers={"X-API-Key": secret},
                      timeout=600) as r:
        r.raise_for_status()
        for chunk in r.iter_bytes():
            lines += chunk.count(b"\n")
            size += len(chunk)
    return lines - 1, time.perf_counter() - t0, size, _cpu_s(pid) - cpu0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rate", type=float, default=200.0, help="requests per second (open loop)")
    ap.add_argument("--seconds", type=float, default=10.0, help="seconds of load per endpoint")
    ap.add_argument("--minute-days", type=int, default=365, help="days of minute data for the export station")
    ap.add_argument("--demo-rate", type=float, default=0.5, help="frames per second per simulated device")
    ap.add_argument("--warmup", type=float, default=30.0,
                    help="seconds of demo traffic before measuring (start-up work: QC warm-up, sealing)")
    ap.add_argument("--export-runs", type=int, default=2,
                    help="hour exports in a row (the first reads the year from disk, the next from the page cache)")
    ap.add_argument("--data-dir", type=Path, default=None,
                    help="keep the filled store here and reuse it on the next run (default: a temporary directory)")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="tianlan-web-bench-") as tmp:
        data_dir = args.data_dir or Path(tmp)
        data_dir.mkdir(parents=True, exist_ok=True)
        saved = data_dir / "bench.json"
        if saved.exists():
            station, start, end, secret = json.loads(saved.read_text())
        else:
            station, start, end, secret = fill(data_dir, args.minute_days)
            saved.write_text(json.dumps([station, start, end, secret]))
        port = _free_port()
        env = {**os.environ, "TIANLAN_ASSESS_INTERVAL_S": "0"}
        cli = str(Path(sys.executable).with_name("tianlan"))
        proc = subprocess.Popen([cli, "demo", "--data-dir", str(data_dir), "--http-port", str(port), "--hj212-port", "0",
                                 "--rate", str(args.demo_rate)],
                                stdout=subprocess.DEVNULL, stderr=(data_dir / "demo.log").open("wb"), env=env)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"{base}/api/v1/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.2)
            else:
                raise SystemExit("demo did not start: " + (data_dir / "demo.log").read_text())
            time.sleep(args.warmup)  # the simulator connects and sends; start-up work settles
            page = "/" if httpx.get(f"{base}/", timeout=10).status_code == 200 else "/api/v1/aqi/stations?latest=true"
            results = {}
            for name, path in (("latest API (public)", "/api/v1/latest"), (f"public page {page}", page)):
                results[name] = asyncio.run(load(base + path, args.rate, args.seconds))
                console.print(name, {k: round(v, 1) for k, v in results[name].items()})
            exports = []
            for run in range(1, args.export_runs + 1):
                label = "" if args.export_runs == 1 else f" (run {run})"
                exports.append((f"hour{label}", *export(base, secret, station, start, end, "hour", proc.pid)))
            if args.minute_days:
                exports.append(("min", *export(base, secret, station, start, end, "min", proc.pid)))
            ingested = httpx.get(f"{base}/api/v1/health", timeout=5).json()["gateway"]
        finally:
            proc.terminate()
            proc.wait(30)

    load1 = os.getloadavg()[0]
    t = Table(title=f"Web under load: demo running ({ingested.get('committed', 0):,} live frames committed meanwhile; "
                    f"machine load average {load1:.1f} on {os.cpu_count()} CPUs)")
    for col in ("endpoint", "target rate/s", "achieved/s", "requests", "p50 ms", "p95 ms", "p99 ms", "errors",
                "reconnects", "p95 < 100 ms"):
        t.add_column(col, justify="right" if col != "endpoint" else "left")
    for name, r in results.items():
        t.add_row(name, f"{args.rate:.0f}", f"{r['rate']:.0f}", f"{r['n']}", f"{r['p50']:.1f}", f"{r['p95']:.1f}",
                  f"{r['p99']:.1f}", f"{r['errors']}", f"{r['reconnects']}",
                  "yes" if r["p95"] < 100 and not r["errors"] else "NO")
    console.print(t)
    e = Table(title=f"One-year export of station {station} (CSV, streamed)")
    for col in ("grain", "rows", "MB", "seconds", "rows/s", "server CPU s", "rows per CPU-second", "> 100,000 rows/s"):
        e.add_column(col, justify="right")
    for grain, rows, secs, size, cpu in exports:
        e.add_row(grain, f"{rows:,}", f"{size / 1e6:.1f}", f"{secs:.2f}", f"{rows / secs:,.0f}", f"{cpu:.1f}",
                  f"{rows / max(cpu, 1e-9):,.0f}", "yes" if rows / secs > 100_000 else "NO")
    console.print(e)


if __name__ == "__main__":
    main()
