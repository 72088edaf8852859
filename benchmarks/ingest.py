"""End-to-end ingest benchmark: devices → HJ 212 over loopback TCP → gateway → store → ack.

The server runs as a real ``tianlan serve`` subprocess (its own process, as in production); this
process plays N devices, each on its own TCP connection, each sending pre-built hour-data frames
of ~10 factors and waiting for the 9014 acknowledgement (sent only after commit) before the next
(``--window`` frames in flight per device). Prints a table: frames/s, observation rows/s, ack
latency, server peak memory (VmHWM) and CPU.

    .venv/bin/python benchmarks/ingest.py --devices 1000 --frames 40 [--backend sqlite|postgresql|both]

PostgreSQL uses ``--pg-url`` or ``TIANLAN_TEST_PG_URL`` (a fresh database is created and dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from rich.console import Console
from rich.table import Table
from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url

from tianlan.sim.device import SimDevice
from tianlan.sim.runner import blast
from tianlan.sim.runner import run as sim_run  # uvloop when installed
from tianlan.store.engine import open_store
from tianlan.store.schema import devices

console = Console(width=200)
CODES = ["a34004", "a34002", "a21026", "a21004", "a21005", "a05024", "a01001", "a01002", "a01006", "a01007"]


def make_frames(n_devices: int, per_device: int) -> tuple[list[SimDevice], dict[str, list[bytes]]]:
    devs = [SimDevice(mn=f"BENCH{i:019d}", pw="123456", kind="air", seed=i, codes=CODES) for i in range(n_devices)]
    start = 1546272000  # 2019-01-01T00:00:00+08:00 … hour data
    frames = {d.mn: [u.frame for u in d.series("2061", start, 3600, per_device)] for d in devs}
    return devs, frames


def register(url: str, devs: list[SimDevice]) -> None:
    engine = open_store(url)
    with engine.begin() as c:
        c.execute(insert(devices), [
            {"mn": d.mn, "password": d.pw, "kind": "air", "st": "22", "created_utc": time.time()} for d in devs
        ])
    engine.dispose()


def start_server(data_dir: Path, url: str | None) -> tuple[subprocess.Popen, int, int]:
    cmd = [sys.executable, "-m", "tianlan.cli", "serve", "--data-dir", str(data_dir), "--hj212-port", "0",
           "--http-port", "0", "--hj212-host", "127.0.0.1"]
    if url:
        cmd += ["--database-url", url]
    log = open(data_dir / "server.log", "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        out = (data_dir / "server.log").read_text()
        m = re.search(r"HJ 212 gateway listening on .*:(\d+)", out)
        h = re.search(r"HTTP API on http://.*:(\d+)/", out)
        if m and h:
            return proc, int(m.group(1)), int(h.group(1))
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def run_one(backend: str, args: argparse.Namespace, frames: dict[str, list[bytes]], devs: list[SimDevice]) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="tianlan-bench-"))
    url = None
    admin = None
    if backend == "postgresql":
        base = args.pg_url or os.environ.get("TIANLAN_TEST_PG_URL")
        if not base:
            raise SystemExit("postgresql: give --pg-url or TIANLAN_TEST_PG_URL")
        name = "bench_" + uuid.uuid4().hex[:8]
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(base).set(database=name).render_as_string(hide_password=False)
    register(url or f"sqlite:///{tmp / 'tianlan.db'}", devs)
    proc, port, http_port = start_server(tmp, url)
    try:
        cpu0 = cpu_s(proc.pid)
        ccpu0 = time.process_time()
        t0 = time.perf_counter()
        stats = sim_run(blast("127.0.0.1", port, frames, window=args.window, ack_timeout_s=60.0,
                                  drain_timeout_s=120.0, ramp_up_s=0.0))
        wall = time.perf_counter() - t0
        server_cpu = cpu_s(proc.pid) - cpu0
        import httpx
        health = httpx.get(f"http://127.0.0.1:{http_port}/api/v1/health").json()
        console.print(f"{backend}: writer {health['writer']}")
        client_cpu = time.process_time() - ccpu0
        rss = peak_rss_mb(proc.pid)
    finally:
        proc.terminate()
        proc.wait(60)
        log_tail = (tmp / "server.log").read_text()[-2000:]
        if "Traceback" in log_tail:
            console.print(f"[red]server log:[/]\n{log_tail}")
        if admin is not None:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    n = sum(len(v) for v in frames.values())
    return {
        "backend": backend, "devices": len(frames), "frames": n, "acked": stats.acked, "seconds": wall,
        "fps": stats.acked / wall, "rows": stats.acked * len(CODES) / wall,
        "p50": stats.latency_p50_ms, "p99": stats.latency_p99_ms, "rss": rss, "server_cpu": server_cpu / wall, "client_cpu": client_cpu / wall,
        "retx": stats.retransmitted,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devices", type=int, default=1000)
    ap.add_argument("--frames", type=int, default=40, help="frames per device")
    ap.add_argument("--window", type=int, default=1, help="frames in flight per device")
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="sqlite")
    ap.add_argument("--pg-url", default=None)
    args = ap.parse_args()
    with console.status("building frames…"):
        devs, frames = make_frames(args.devices, args.frames)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = []
    for b in backends:
        with console.status(f"{b}: {args.devices} devices × {args.frames} frames over TCP…"):
            results.append(run_one(b, args, frames, devs))
    t = Table(title="HJ 212 ingest, end to end over loopback TCP, ack after commit")
    for col in ("store", "devices", "window", "frames acked", "seconds", "frames/s", "obs rows/s",
                "ack p50 ms", "ack p99 ms", "retx", "server peak RSS MB", "server CPU (cores)", "client CPU (cores)"):
        t.add_column(col, justify="right")
    for r in results:
        t.add_row(r["backend"], str(r["devices"]), str(args.window), f"{r['acked']}/{r['frames']}", f"{r['seconds']:.1f}",
                  f"{r['fps']:,.0f}", f"{r['rows']:,.0f}", f"{r['p50']:.1f}" if r["p50"] else "-",
                  f"{r['p99']:.1f}" if r["p99"] else "-", str(r["retx"]), f"{r['rss']:.0f}", f"{r['server_cpu']:.2f}", f"{r['client_cpu']:.2f}")
    console.print(t)


if __name__ == "__main__":
    main()
