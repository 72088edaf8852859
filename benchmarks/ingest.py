"""End-to-end ingest benchmark: devices → HJ 212 over loopback TCP → gateway → store → ack.

The server runs as a real ``tianlan serve`` subprocess (its own process, as in production, with its
store writer in a child process). The devices run in a third process: by default the lean epoll load
generator :mod:`tianlan.sim.loadgen`, ``--client sim`` the asyncio simulator clients
(:func:`tianlan.sim.runner.blast`). Each of N devices has its own TCP connection and sends
pre-built hour-data frames of 10 factors, waiting for the verified 9014 acknowledgement (sent only
after commit) with the same QN before the next (``--window`` frames in flight per device).

Throughput is acknowledged frames over the time from the first send to the last answer (opening the
connections is reported apart). Since several processes share the machine, CPU time is reported per
frame and per process (gateway, store writer, load generator): compare variants by those when the
machine is busy, by frames/s when it is quiet. Server memory is the peak RSS (VmHWM) of the gateway
process and of the writer process; with PostgreSQL (on the same machine) the CPU of its server
processes serving the benchmark database is counted too. The server runs without periodic assessment and, unless
``--live-qc``, without live QC (both also run in the server process and would be counted as gateway).

    .venv/bin/python benchmarks/ingest.py --devices 1000 --frames 40 [--backend sqlite|postgresql|both]

PostgreSQL uses ``--pg-url`` or ``TIANLAN_TEST_PG_URL`` (a fresh database is created and dropped).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import re
import shutil
import signal
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

from tianlan.procname import LEDGER, WRITER
from tianlan.sim.device import SimDevice
from tianlan.store.engine import open_store
from tianlan.store.schema import devices

console = Console(width=230)
CODES = ["a34004", "a34002", "a21026", "a21004", "a21005", "a05024", "a01001", "a01002", "a01006", "a01007"]


def make_devices(n_devices: int) -> list[SimDevice]:
    return [SimDevice(mn=f"BENCH{i:019d}", pw="123456", kind="air", seed=i, codes=CODES) for i in range(n_devices)]


def make_frames(n_devices: int, per_device: int) -> tuple[list[SimDevice], dict[str, list[bytes]]]:
    devs = make_devices(n_devices)
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


def start_server(data_dir: Path, url: str | None, live_qc: bool = False) -> tuple[subprocess.Popen, int, int]:
    cmd = [sys.executable, "-m", "tianlan.cli", "serve", "--data-dir", str(data_dir), "--hj212-port", "0",
           "--http-port", "0", "--hj212-host", "127.0.0.1"]
    if url:
        cmd += ["--database-url", url]
    # ingest alone: no periodic assessment; live QC (a worker thread of the server) only when asked
    env = {**os.environ, "TIANLAN_ASSESS_INTERVAL_S": "0", "TIANLAN_LIVE_QC": "1" if live_qc else "0"}
    log = open(data_dir / "server.log", "w")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, text=True, env=env)
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


def _status_kb(pid: int, key: str) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1])
    except OSError:
        pass
    return float("nan")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of one process (its threads included, its children not)."""
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def _cpu_or_0(pid: int) -> float:
    try:
        return cpu_s(pid)
    except OSError:  # gone
        return 0.0


def _pg_backends(admin, name: str) -> list[int]:  # type: ignore[no-untyped-def]
    """PIDs of the PostgreSQL server processes serving database ``name`` (same machine)."""
    with admin.connect() as c:
        pids = [r[0] for r in c.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = :n"), {"n": name})]
    return [p for p in pids if os.path.exists(f"/proc/{p}/stat")]


def _comm(pid: int) -> str:
    """The process name (``tianlan.procname``: the writer and the ledger sealer name themselves)."""
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def _unsealed_frames(url: str) -> int:
    """Frames whose observations the ledger has not sealed yet (it runs every 60 s, at low priority)."""
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            top = c.execute(text("SELECT COALESCE(MAX(id), 0) FROM raw_frames")).scalar_one()
            done = c.execute(text("SELECT COALESCE(MAX(last_id), 0) FROM ledger_seals "
                                  "WHERE kind = 'observations'")).scalar_one()
        return int(top) - int(done)
    finally:
        engine.dispose()


def children(pid: int) -> list[int]:
    out: list[int] = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return out


def _client_main(conn, kind: str, n_devices: int, per_device: int, window: int, port: int) -> None:  # type: ignore[no-untyped-def]
    """The load generator process: build frames, connect, wait for go, send, report."""
    _, frames = make_frames(n_devices, per_device)
    if kind == "lean":
        from tianlan.sim.loadgen import run_load

        conn.send("ready")
        conn.recv()
        c0 = time.process_time()
        st = run_load("127.0.0.1", port, frames, window=window, ack_timeout_s=60.0, retries=3)
        cpu = time.process_time() - c0
        conn.send({"acked": st.acked, "frames": st.frames, "elapsed": st.elapsed_s + st.connect_s,
                   "send_s": st.elapsed_s, "connect_s": st.connect_s, "p50": st.latency_p50_ms,
                   "p99": st.latency_p99_ms, "retx": st.retransmissions + st.reuploads, "bad": st.bad_answers,
                   "cpu": cpu})
    else:
        from tianlan.sim.runner import blast
        from tianlan.sim.runner import run as sim_run  # uvloop when installed

        conn.send("ready")
        conn.recv()
        c0 = time.process_time()
        t0 = time.perf_counter()
        st = sim_run(blast("127.0.0.1", port, frames, window=window, ack_timeout_s=60.0,
                           drain_timeout_s=120.0, ramp_up_s=0.0))
        wall = time.perf_counter() - t0
        cpu = time.process_time() - c0
        conn.send({"acked": st.acked, "frames": sum(len(v) for v in frames.values()), "elapsed": wall,
                   "send_s": wall, "connect_s": 0.0, "p50": st.latency_p50_ms, "p99": st.latency_p99_ms,
                   "retx": st.retransmitted, "bad": st.per_device and sum(d.bad_frames for d in st.per_device.values()),
                   "cpu": cpu})


def run_one(backend: str, args: argparse.Namespace) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="tianlan-bench-"))
    if args.keep:
        console.print(f"{backend}: data directory {tmp}")
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
    register(url or f"sqlite:///{tmp / 'tianlan.db'}", make_devices(args.devices))
    proc, port, http_port = start_server(tmp, url, args.live_qc)
    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe()
    client = ctx.Process(target=_client_main, args=(child, args.client, args.devices, args.frames, args.window, port))
    try:
        client.start()
        if not parent.poll(300) or parent.recv() != "ready":
            raise RuntimeError("load generator did not start")
        kids0 = {p: _cpu_or_0(p) for p in children(proc.pid)}
        writers = [p for p in kids0 if _comm(p) == WRITER]
        backends = _pg_backends(admin, name) if admin is not None else []  # PostgreSQL server processes
        gw0 = cpu_s(proc.pid)
        wr0 = sum(kids0[p] for p in writers)
        db0 = sum(_cpu_or_0(p) for p in backends)
        load0 = os.getloadavg()[0]
        perf = None
        if args.perf:  # Linux perf over the send phase only: gateway and writer (compiled code shows by name)
            pids = ",".join(str(p) for p in [proc.pid, *writers])
            perf = subprocess.Popen(["perf", "record", "-F", "1999", "-g", "-p", pids, "-o", args.perf],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(0.5)  # perf attaches
        parent.send("go")
        r = parent.recv()
        if perf is not None:
            perf.send_signal(signal.SIGINT)
            perf.wait(60)
        gw_cpu = cpu_s(proc.pid) - gw0
        wr_cpu = sum(cpu_s(p) for p in writers) - wr0
        ledgers = [p for p in children(proc.pid) if _comm(p) == LEDGER]  # started at the first seal
        lg_cpu = sum(_cpu_or_0(p) - kids0.get(p, 0.0) for p in ledgers)
        lag = _unsealed_frames(url or f"sqlite:///{tmp / 'tianlan.db'}")
        db_cpu = sum(_cpu_or_0(p) for p in backends) - db0
        client.join(30)
        import httpx

        health = httpx.get(f"http://127.0.0.1:{http_port}/api/v1/health").json()
        if args.verbose:
            console.print(f"{backend}: writer {health['writer']}")
        rss = _status_kb(proc.pid, "VmHWM:") / 1024
        wrss = sum(_status_kb(p, "VmHWM:") for p in writers) / 1024
    finally:
        proc.terminate()
        proc.wait(60)
        if client.is_alive():
            client.kill()
        log_tail = (tmp / "server.log").read_text()[-2000:]
        if "Traceback" in log_tail:
            console.print(f"[red]server log:[/]\n{log_tail}")
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        if admin is not None:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    acked = max(r["acked"], 1)
    return {
        "backend": backend, "devices": args.devices, "frames": r["frames"], "acked": r["acked"],
        "seconds": r["send_s"], "connect_s": r["connect_s"], "fps": r["acked"] / r["send_s"],
        "rows": r["acked"] * len(CODES) / r["send_s"], "p50": r["p50"], "p99": r["p99"], "rss": rss,
        "wrss": wrss, "gw_us": gw_cpu / acked * 1e6, "wr_us": wr_cpu / acked * 1e6,
        "db_us": db_cpu / acked * 1e6 if backends else None,
        "lg_us": lg_cpu / acked * 1e6, "lag": lag,
        "cl_us": r["cpu"] / acked * 1e6, "retx": r["retx"], "bad": r["bad"], "load": load0,
        "batches": health["writer"].get("batches"),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--devices", type=int, default=1000)
    ap.add_argument("--frames", type=int, default=40, help="frames per device")
    ap.add_argument("--window", type=int, default=1, help="frames in flight per device")
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="sqlite")
    ap.add_argument("--client", choices=["lean", "sim"], default="lean",
                    help="load generator: lean epoll loop (default) or the asyncio simulator clients")
    ap.add_argument("--live-qc", action="store_true", help="run the server with live QC on (default off: ingest alone)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per backend (each on a fresh store)")
    ap.add_argument("--pg-url", default=None)
    ap.add_argument("--verbose", action="store_true", help="print the writer's counters")
    ap.add_argument("--keep", action="store_true", help="keep the data directory (printed) after the run")
    ap.add_argument("--perf", metavar="FILE", default=None,
                    help="record the gateway and writer processes with Linux perf over the send phase into FILE "
                         "(perf report -i FILE --sort pid,dso,symbol)")
    args = ap.parse_args()
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    results = []
    for b in backends:
        for _ in range(args.repeat):
            with console.status(f"{b}: {args.devices} devices × {args.frames} frames over TCP…"):
                results.append(run_one(b, args))
    t = Table(title=f"HJ 212 ingest, end to end over loopback TCP, ack after commit ({args.client} load generator)")
    for col in ("store", "devices", "window", "frames acked", "seconds", "frames/s", "obs rows/s",
                "ack p50 ms", "ack p99 ms", "retx", "bad acks", "peak RSS MB gateway/writer",
                "CPU µs/frame gateway", "writer", "ledger", "client", "PostgreSQL server", "total",
                "frames unsealed at end", "load avg"):
        t.add_column(col, justify="right")
    for r in results:
        t.add_row(r["backend"], str(r["devices"]), str(args.window), f"{r['acked']}/{r['frames']}",
                  f"{r['seconds']:.2f}", f"{r['fps']:,.0f}", f"{r['rows']:,.0f}",
                  f"{r['p50']:.1f}" if r["p50"] else "-", f"{r['p99']:.1f}" if r["p99"] else "-",
                  str(r["retx"]), str(r["bad"]), f"{r['rss']:.0f}/{r['wrss']:.0f}", f"{r['gw_us']:.1f}",
                  f"{r['wr_us']:.1f}", f"{r['lg_us']:.1f}", f"{r['cl_us']:.1f}",
                  "-" if r["db_us"] is None else f"{r['db_us']:.1f}",
                  f"{r['gw_us'] + r['wr_us'] + r['lg_us'] + r['cl_us'] + (r['db_us'] or 0.0):.1f}",
                  f"{r['lag']:,}", f"{r['load']:.2f}")
    console.print(t)


if __name__ == "__main__":
    main()
