"""Ledger benchmark: what sealing costs the writer, how fast `ledger verify` runs, bytes per frame.

1. **Ingest slowdown** — the real store writer (:class:`tianlan.store.frame_writer.BatchStore`)
   writes hour-data frames of 10 factors in batches, with and without :func:`seal_batch` in its
   transaction (the seal runs on the writer's cursor just before COMMIT, as in production).
   Runs alternate between the two variants on fresh stores; the slowdown is the difference in
   writer time per frame. Budget (issue 5): at most 10 % at the gateway's ~20k frames/s.
2. **Verify throughput** — a store of ``--frames`` frames (default 1 M, written by the same
   writer, batches of 2000, plus their observations, sealed and checkpointed) is verified in full
   (chain, signatures, every frame's SHA-256 from its bytes, observation digests, covered rows);
   frames/s and the extrapolated time for 15 M frames (a province-year; target < 10 min).
   A second store has one entry per frame (batches of 1: a quiet gateway), the worst case for the
   chain pass.
3. **Storage overhead** — bytes of the ledger tables (SQLite dbstat) per frame, in both regimes.

    .venv/bin/python benchmarks/ledger.py [--frames 1000000] [--writer-frames 60000] [--backend sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from hashlib import sha256
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from tianlan.auth.keys import public_bytes
from tianlan.ingest.item import ACCEPTED
from tianlan.ledger import checkpoints
from tianlan.ledger.frames import seal_pending
from tianlan.ledger.verify import verify
from tianlan.store.engine import open_store
from tianlan.store.frame_writer import BatchStore

console = Console(width=160)
CODES = ["a34004", "a34002", "a21026", "a21004", "a21005", "a05024", "a01001", "a01002", "a01006", "a01007"]
PROVINCE_YEAR = 15_000_000


def records(start: int, n: int) -> list[tuple[Any, ...]]:
    """Hour-data frames of 10 factors (~420 bytes each) as the writer receives them."""
    out = []
    for i in range(start, start + n):
        dev = i % 500 + 1
        t = 1546272000 + (i // 500) * 3600
        cp = ";".join(f"{c}-Min={i % 97 * 0.7:.1f},{c}-Avg={i % 89 * 0.9:.1f},{c}-Max={i % 83 * 1.1:.1f},{c}-Flag=N"
                      for c in CODES[:6])
        seg = f"QN={20190101000000000 + i};ST=22;CN=2061;PW=123456;MN=BENCH{dev:019d};Flag=5;CP=&&DataTime={t};{cp}&&"
        data = f"##{len(seg):04d}{seg}1C80\r\n".encode()
        obs = [(t, c, "hour", float(i % 89), "N", float(i % 97), float(i % 83 + 100), None, None, None) for c in CODES]
        out.append((1.7e9 + i * 0.001, "10.0.0.1:40000", "tcp", data, sha256(data).digest(), f"BENCH{dev:019d}", dev,
                    None, "2061", ACCEPTED, None, None, "standard", None, obs))
    return out


def write(engine: Engine, recs: list[tuple[Any, ...]], batch: int, *, seal: bool) -> tuple[float, float]:
    """(wall s, CPU s) of the writer for ``recs`` in batches of ``batch``; the writer seals each batch
    in its transaction (as in production); ``seal=False`` is the writer without the ledger, for the comparison.
    CPU time (this process: Python and SQLite) is the fair measure on a shared machine; with
    PostgreSQL the server's share is not in it."""
    store = BatchStore(engine, seal=seal)
    busy = cpu = 0.0
    try:
        for i in range(0, len(recs), batch):
            chunk = recs[i:i + batch]
            t0, c0 = time.perf_counter(), time.process_time()
            store._write(chunk)
            busy += time.perf_counter() - t0
            cpu += time.process_time() - c0
    finally:
        store.close()
    return busy, cpu


class Stores:
    """Fresh stores on the chosen backend, dropped at the end."""

    def __init__(self, backend: str, pg_url: str | None, tmp: Path) -> None:
        self.backend, self.pg_url, self.tmp = backend, pg_url, tmp
        self.dbs: list[str] = []

    def new(self, sync: str = "NORMAL") -> Engine:
        if self.backend == "sqlite":
            return open_store(f"sqlite:///{self.tmp / (uuid.uuid4().hex + '.db')}", sqlite_synchronous=sync)
        assert self.pg_url
        name = "bench_" + uuid.uuid4().hex[:12]
        admin = create_engine(self.pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        self.dbs.append(name)
        return open_store(make_url(self.pg_url).set(database=name).render_as_string(hide_password=False))

    def close(self) -> None:
        if not self.dbs:
            return
        admin = create_engine(self.pg_url, isolation_level="AUTOCOMMIT")  # type: ignore[arg-type]
        with admin.connect() as c:
            for name in self.dbs:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def ledger_bytes(engine: Engine) -> tuple[int, int]:
    """(bytes of ledger tables and indexes, bytes of raw_frames + observations)."""
    with engine.connect() as c:
        if engine.dialect.name == "sqlite":
            rows = dict(c.execute(text("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name")).all())
            ledger = sum(v for k, v in rows.items() if "ledger" in k)
            data = sum(v for k, v in rows.items() if "raw_frames" in k or "observations" in k)
            return ledger, data
        def size(pattern: str) -> int:
            return int(c.execute(text("SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                                      "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
                                      f"AND c.relkind IN ('r', 'p') AND c.relname LIKE '{pattern}'")).scalar_one())
        return size("ledger%"), size("raw_frames") + size("observations%")


def bench_writer(stores: Stores, n: int, batches: list[int], repeats: int) -> Table:
    cpu_label = "CPU" if stores.backend == "sqlite" else "client CPU"
    t = Table("batch (frames)", f"writer {cpu_label} µs/frame, no seal", "with seal", "seal µs/frame", "slowdown (CPU)",
              "wall µs/frame no seal → sealed", "max frames/s, sealed (CPU)",
              title=f"1. 摄入开销 / ingest slowdown ({stores.backend}, {n} frames per run, best of {repeats})")
    recs = records(0, n)
    for b in batches:
        plain: list[tuple[float, float]] = []
        sealed: list[tuple[float, float]] = []
        for _ in range(repeats):
            for seal, acc in ((False, plain), (True, sealed)):
                e = stores.new()
                w, c = write(e, recs, b, seal=seal)
                acc.append((w / n, c / n))
                e.dispose()
        pc, sc = min(c for _, c in plain), min(c for _, c in sealed)
        pw, sw = min(w for w, _ in plain), min(w for w, _ in sealed)
        t.add_row(str(b), f"{pc * 1e6:.1f}", f"{sc * 1e6:.1f}", f"{(sc - pc) * 1e6:.2f}", f"{(sc - pc) / pc * 100:+.1f} %",
                  f"{pw * 1e6:.0f} → {sw * 1e6:.0f}", f"{1 / sc:,.0f}")
    return t


def build(stores: Stores, n: int, batch: int, key: Any) -> Engine:
    e = stores.new(sync="OFF")
    step = 50_000
    for i in range(0, n, step):
        write(e, records(i, min(step, n - i)), batch, seal=True)
    seal_pending(e)
    checkpoints.checkpoint(e, key)
    return e


def _stage_timer(stage_t: dict[str, float]) -> Any:
    """A progress callback that adds the CPU time (this process) between stage changes to ``stage_t``."""
    last: list[Any] = [time.process_time(), ""]

    def prog(stage: str, _d: int, _t: int) -> None:
        now = time.process_time()
        if last[1] and stage != last[1]:
            stage_t[last[1]] = stage_t.get(last[1], 0.0) + now - last[0]
            last[0] = now
        elif not last[1]:
            last[0] = now
        last[1] = stage

    return prog


def bench_verify(stores: Stores, n: int, n_small: int, key: Any, jobs: int) -> tuple[Table, Table]:
    t = Table("store", "frames", "ledger entries", "verify wall s", "CPU s", "frames/s (CPU)",
              "15 M frames (extrapolated, CPU)", "stages (CPU s)", f"--jobs {jobs} wall (15 M)",
              title=f"2. 核验速度 / ledger verify throughput ({stores.backend})")
    s = Table("store", "ledger bytes/frame", "frame + observation bytes/frame", "overhead",
              title=f"3. 存储开销 / storage overhead ({stores.backend})")
    pub = public_bytes(key)
    for label, frames, batch in (("batches of 2000 (busy gateway)", n, 2000), ("batches of 1 (quiet gateway)", n_small, 1)):
        t0 = time.perf_counter()
        e = build(stores, frames, batch, key)
        built = time.perf_counter() - t0
        stage_t: dict[str, float] = {}
        prog = _stage_timer(stage_t)

        c0 = time.process_time()
        r = verify(e, public_key=pub, progress=prog)
        cpu = time.process_time() - c0
        prog("", 0, 0)
        par = verify(e, public_key=pub, jobs=jobs) if jobs > 1 else None
        assert r.ok, r.problems[:3]
        rate = r.frames / (cpu if stores.backend == "sqlite" else r.seconds)
        est = PROVINCE_YEAR / rate
        t.add_row(label, f"{r.frames:,}", f"{r.entries:,}", f"{r.seconds:.1f}", f"{cpu:.1f}", f"{rate:,.0f}",
                  f"{est / 60:.1f} min", " ".join(f"{k} {v:.1f}" for k, v in stage_t.items() if k),
                  "-" if par is None else f"{par.seconds:.1f} s ({PROVINCE_YEAR / (r.frames / par.seconds) / 60:.1f} min)")
        led, data = ledger_bytes(e)
        s.add_row(label, f"{led / frames:.0f}", f"{data / frames:.0f}", f"{led / data * 100:.1f} %")
        console.print(f"[dim]{label}: built in {built:.0f} s[/]")
        e.dispose()
    return t, s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=1_000_000, help="frames in the verify store (batches of 2000)")
    ap.add_argument("--small-frames", type=int, default=100_000, help="frames in the one-entry-per-frame store")
    ap.add_argument("--writer-frames", type=int, default=60_000, help="frames per writer run")
    ap.add_argument("--repeats", type=int, default=3, help="writer runs per variant (best is kept)")
    ap.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--pg-url", default=os.environ.get("TIANLAN_TEST_PG_URL"))
    ap.add_argument("--skip-verify", action="store_true")
    ap.add_argument("--jobs", type=int, default=2, help="also time `verify --jobs N` (wall)")
    a = ap.parse_args()
    if a.backend == "postgresql" and not a.pg_url:
        sys.exit("--pg-url or TIANLAN_TEST_PG_URL needed for PostgreSQL")
    with tempfile.TemporaryDirectory() as d:
        stores = Stores(a.backend, a.pg_url, Path(d))
        try:
            key = checkpoints.load_or_create_key(Path(d) / "platform.pem")
            console.print(bench_writer(stores, a.writer_frames, [100, 500, 2000], a.repeats))
            if not a.skip_verify:
                t, s = bench_verify(stores, a.frames, a.small_frames, key, a.jobs)
                console.print(t)
                console.print(s)
        finally:
            stores.close()


if __name__ == "__main__":
    main()
