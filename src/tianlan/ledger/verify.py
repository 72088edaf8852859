"""``tianlan ledger verify``: recompute everything the ledger vouches for (issue 5 §2).

Four passes over the store, each reading in key order and in chunks:

1. **Chain** — every entry's hash is recomputed from its canonical body and its predecessor's hash;
   seqs must run 1, 2, 3 … without a gap; each entry's hash must equal the hash a signed
   checkpoint recorded for it; the head row must name the last entry; each seal entry must match
   its seal row. Covered-row digests of the newest entry per row are collected.
2. **Checkpoints** — each signature is checked with the trusted platform public key, each stored
   list of entry hashes against its signed Merkle root; a checkpoint beyond the last entry means
   entries were cut off.
3. **Frames** — every frame's SHA-256 is recomputed from its stored bytes and compared with its
   seal's leaf; every seal's leaves must give its signed root; frames missing from a sealed range
   and frames no seal covers are reported.
4. **Observations and covered rows** — per-frame observation digests against their seals; every
   row of every covered table against the digest in its newest entry (changed, deleted, swapped,
   or written without an entry).

Each problem names the ledger entry (seq) where there is one, and the table and row concerned.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from hashlib import sha256
from typing import Any

from sqlalchemy import Connection, Engine

from tianlan.auth.keys import verify_signature
from tianlan.ledger import covered, merkle
from tianlan.ledger.canonical import GENESIS, checkpoint_message, entry_body, entry_hash
from tianlan.ledger.frames import FRAMES, NO_WINDOW, OBS_WINDOW_S, OBSERVATIONS, obs_digest, parse_window_leaf, window_leaves
from tianlan.store import ledger_repo as repo

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing found broken."""

    kind: str  # entry-missing | entry-altered | entry-link | entry-rewritten | head | seal | checkpoint |
    #            frame-changed | frame-missing | frame-unsealed | frame-sha256 | obs-changed | row-changed |
    #            row-deleted | row-unledgered
    message: str
    seq: int | None = None
    table: str | None = None
    row: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "seq": self.seq, "table": self.table, "row": self.row, "message": self.message}


@dataclass
class Report:
    entries: int = 0
    checkpoints: int = 0
    frames: int = 0
    observation_windows: int = 0
    observation_rows: int = 0
    rows: int = 0
    unsigned_tail: int = 0
    seconds: float = 0.0
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    truncated: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    def first(self) -> Problem | None:
        """The first broken entry: a break in the chain itself at the lowest seq, else the problem
        (changed frame, row …) whose ledger entry comes first, else the first found."""
        chain = [p for p in self.problems if p.seq is not None and p.kind.startswith(("entry-", "head", "checkpoint"))]
        other = [p for p in self.problems if p.seq is not None]
        for group in (chain, other):
            if group:
                return min(group, key=lambda p: p.seq)  # type: ignore[arg-type, return-value]
        return self.problems[0] if self.problems else None

    def to_json(self) -> dict[str, Any]:
        first = self.first()
        return {"ok": self.ok, "entries": self.entries, "checkpoints": self.checkpoints, "frames": self.frames,
                "observation_windows": self.observation_windows,
                "observation_rows": self.observation_rows, "covered_rows": self.rows,
                "unsigned_tail": self.unsigned_tail, "seconds": round(self.seconds, 3),
                "first_problem": None if first is None else first.to_json(),
                "problems": [p.to_json() for p in self.problems], "warnings": self.warnings,
                "truncated": self.truncated}


class _Collector:
    def __init__(self, report: Report, limit: int) -> None:
        self.report = report
        self.limit = limit

    def add(self, p: Problem) -> None:
        if len(self.report.problems) < self.limit:
            self.report.problems.append(p)
        else:
            self.report.truncated = True


def _noop(_stage: str, _done: int, _total: int) -> None:
    pass


def verify(engine: Engine, *, public_key: bytes | None, progress: Progress | None = None,
           max_problems: int = 200, jobs: int = 1) -> Report:
    """Verify the whole ledger of the store at ``engine``; ``public_key``: the trusted platform key.

    ``jobs`` > 1 checks frames and observations in that many worker processes (each with its own
    connection), for large stores on machines with cores to spare.
    """
    t0 = time.perf_counter()
    report = Report()
    out = _Collector(report, max_problems)
    prog = progress or _noop
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":  # one snapshot, so a verification beside the writer is consistent
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        else:
            conn.exec_driver_sql("BEGIN")  # SQLite WAL: a read transaction sees one snapshot
        obs_digests: dict[int, bytes] = {}
        latest = _chain(conn, report, out, prog, obs_digests)
        _checkpoints(conn, report, out, public_key)
        url = engine.url.render_as_string(hide_password=False)
        _frames(conn, report, out, prog, jobs, url)
        _observations(conn, report, out, prog, jobs, url, obs_digests)
        _covered(conn, report, out, latest, prog)
    report.seconds = time.perf_counter() - t0
    return report


# --- 1. the chain ----------------------------------------------------------------------------------

def _chain(conn: Connection, report: Report, out: _Collector, prog: Progress,
           obs_digests: dict[int, bytes]) -> dict[str, dict[str, tuple[int, bytes | None]]]:
    head_seq, head_hash = repo.head(conn)
    total = repo.max_seq(conn)
    cps = repo.checkpoint_headers(conn)
    cp_i = 0
    cp_blob = b""
    cp_loaded = -1
    seals = repo.iter_seals_by(conn, "seq", with_leaves=False)
    seal = next(seals, None)
    latest: dict[str, dict[str, tuple[int, bytes | None]]] = {}
    tracked = {c.table for c in covered.tables()}
    expected = 1
    prev_hash = GENESIS
    last_hash = GENESIS
    n = 0
    for e in repo.iter_entries(conn):
        n += 1
        subject = {"table": e.subject_table or None, "row": e.subject_key or None}
        if e.seq != expected:
            if e.seq > expected:
                out.add(Problem("entry-missing", f"账本条目 {expected}…{e.seq - 1} 缺失 / ledger entries "
                                f"{expected}..{e.seq - 1} deleted", seq=expected))
            prev_hash = e.prev_hash  # resynchronise so one deletion is reported once
        elif e.prev_hash != prev_hash:
            out.add(Problem("entry-link", f"账本条目 {e.seq} 与前一条目不相连 / ledger entry {e.seq}: prev_hash does "
                            f"not link to entry {e.seq - 1}", seq=e.seq, **subject))
        body = entry_body(e.seq, e.time_utc, e.kind, e.actor, e.subject_table, e.subject_key, e.payload, e.row_digest)
        if entry_hash(e.prev_hash, body) != e.hash:
            out.add(Problem("entry-altered", f"账本条目 {e.seq} 内容与其哈希不符 / ledger entry {e.seq} ({e.kind}) "
                            "altered: its content does not give its hash", seq=e.seq, **subject))
        # the signed checkpoint covering this seq
        while cp_i < len(cps) and cps[cp_i].seq < e.seq:
            cp_i += 1
        if cp_i < len(cps) and cps[cp_i].first_seq <= e.seq:
            cp = cps[cp_i]
            if cp_loaded != cp.id:
                cp_blob, cp_loaded = repo.checkpoint_blob(conn, cp.id), cp.id
            signed = cp_blob[(e.seq - cp.first_seq) * 32:(e.seq - cp.first_seq + 1) * 32]
            if signed != e.hash:
                out.add(Problem("entry-rewritten", f"账本条目 {e.seq} 与签名检查点 #{cp.id} 不符（被改写）/ ledger entry "
                                f"{e.seq} ({e.kind}) differs from signed checkpoint #{cp.id}: rewritten",
                                seq=e.seq, **subject))
        else:
            report.unsigned_tail += 1
        # the seal row of a seal entry
        if e.kind in ("frames.seal", "observations.seal"):
            while seal is not None and seal.seq < e.seq:
                out.add(Problem("seal", f"封存记录 {seal.seq} 无对应账本条目 / seal row {seal.seq} has no ledger entry",
                                seq=seal.seq, table="ledger_seals", row=str(seal.seq)))
                seal = next(seals, None)
            if seal is None or seal.seq != e.seq:
                out.add(Problem("seal", f"账本条目 {e.seq} 的封存记录缺失 / seal row of ledger entry {e.seq} missing",
                                seq=e.seq, table="ledger_seals", row=str(e.seq)))
            else:
                _check_seal_entry(e, seal, out, obs_digests)
                seal = next(seals, None)
        if e.subject_table in tracked and e.subject_key:
            latest.setdefault(e.subject_table, {})[e.subject_key] = (e.seq, e.row_digest)
        prev_hash = e.hash
        last_hash = e.hash
        expected = e.seq + 1
        if n % 20000 == 0:
            prog("chain", n, total)
    prog("chain", n, total)
    while seal is not None:
        out.add(Problem("seal", f"封存记录 {seal.seq} 无对应账本条目 / seal row {seal.seq} has no ledger entry",
                        seq=seal.seq, table="ledger_seals", row=str(seal.seq)))
        seal = next(seals, None)
    report.entries = n
    if (head_seq, head_hash) != (expected - 1, last_hash):
        out.add(Problem("head", f"账本头 {head_seq} 与最后条目 {expected - 1} 不符 / ledger head says seq {head_seq} "
                        f"but the last entry is {expected - 1}", seq=min(head_seq, expected - 1) + 1))
    return latest


def _check_seal_entry(e: repo.EntryRow, seal: repo.SealRow, out: _Collector, obs_digests: dict[int, bytes]) -> None:
    try:
        p = json.loads(e.payload)
        if seal.kind == FRAMES:
            same = (e.kind == "frames.seal" and p["first_id"] == seal.first_id and p["last_id"] == seal.last_id
                    and p["n"] == seal.n and seal.n == seal.last_id - seal.first_id + 1)
        else:
            window = NO_WINDOW if p["window_utc"] is None else p["window_utc"]
            same = (e.kind == "observations.seal" and window == seal.first_id and p["through_id"] == seal.last_id
                    and p["devices"] == seal.n)
            if same and p.get("digest"):
                obs_digests[e.seq] = bytes.fromhex(p["digest"])
        same = same and p["root"] == seal.root.hex()
    except (ValueError, KeyError, TypeError):
        same = False
    if not same:
        out.add(Problem("seal", f"封存记录 {seal.seq} 与账本条目不符 / seal row {seal.seq} differs from its ledger entry",
                        seq=e.seq, table="ledger_seals", row=str(seal.seq)))


# --- 2. checkpoints --------------------------------------------------------------------------------

def _checkpoints(conn: Connection, report: Report, out: _Collector, public_key: bytes | None) -> None:
    cps = repo.checkpoint_headers(conn)
    report.checkpoints = len(cps)
    if public_key is None and cps:
        report.warnings.append("未提供平台公钥，未核验检查点签名 / no trusted platform public key: checkpoint "
                               "signatures not checked (give --public-key or the key file)")
    prev_seq = 0
    for cp in cps:
        rng = f"{cp.first_seq}..{cp.seq}"
        msg = checkpoint_message(first_seq=cp.first_seq, seq=cp.seq, head_hash=cp.hash, entries_root=cp.entries_root,
                                 time_utc=cp.time_utc, key_id=cp.key_id)
        if public_key is not None:
            if cp.public_key != public_key:
                out.add(Problem("checkpoint", f"检查点 #{cp.id} 非平台密钥签名 / checkpoint #{cp.id} (entries {rng}) is "
                                "not signed by the trusted platform key", seq=cp.first_seq, table="ledger_checkpoints",
                                row=str(cp.id)))
            elif not verify_signature(public_key, msg, cp.signature):
                out.add(Problem("checkpoint", f"检查点 #{cp.id} 签名无效 / checkpoint #{cp.id}: signature invalid; "
                                f"entries {rng} are not covered by a valid signature", seq=cp.first_seq,
                                table="ledger_checkpoints", row=str(cp.id)))
        blob = repo.checkpoint_blob(conn, cp.id)
        if len(blob) != (cp.seq - cp.first_seq + 1) * 32 or merkle.root(merkle.split(blob)) != cp.entries_root \
                or blob[-32:] != cp.hash:
            out.add(Problem("checkpoint", f"检查点 #{cp.id} 的条目哈希与签名根不符 / checkpoint #{cp.id}: stored entry "
                            "hashes do not give its signed root", seq=cp.first_seq, table="ledger_checkpoints",
                            row=str(cp.id)))
        if cp.first_seq != prev_seq + 1:
            out.add(Problem("checkpoint", f"检查点 #{cp.id} 不接续上一检查点 / checkpoint #{cp.id} starts at "
                            f"{cp.first_seq}, not {prev_seq + 1}", seq=cp.first_seq, table="ledger_checkpoints",
                            row=str(cp.id)))
        prev_seq = cp.seq
    if cps and cps[-1].seq > report.entries:
        out.add(Problem("entry-missing", f"签名检查点至条目 {cps[-1].seq}，账本只有 {report.entries} 条 / signed "
                        f"checkpoint #{cps[-1].id} covers entries up to {cps[-1].seq}; the ledger ends at "
                        f"{report.entries}: entries were cut off", seq=report.entries + 1))


# --- 3. frames -------------------------------------------------------------------------------------

def _frames(conn: Connection, report: Report, out: _Collector, prog: Progress, jobs: int, url: str | None) -> None:
    total = repo.frame_count(conn)
    prog("frames", 0, total)
    lo, hi = repo.frame_id_bounds(conn)
    lo, hi = min(lo, 1), max(hi, repo.max_sealed(conn, FRAMES))  # so frames deleted at either end are missed
    if hi < lo:
        return
    if jobs <= 1 or url is None or total < PARALLEL_MIN:
        report.frames = frames_range(conn, lo, hi, out, lambda n: prog("frames", n, total))
        prog("frames", report.frames, total)
        return
    done = 0
    for problems, n in _parallel(jobs, _frames_worker, [(url, a, b, out.limit) for a, b in _split(lo, hi, jobs * 4, 1)]):
        for p in problems:
            out.add(Problem(**p))
        done += n
        prog("frames", done, total)
    report.frames = done


def frames_range(conn: Connection, lo: int, hi: int, out: _Collector, tick: Callable[[int], None] | None = None) -> int:
    """Check frames with lo <= id <= hi against their seals; returns the number of frames read.

    A seal straddling a range boundary is checked by both ranges for their frames; its leaves
    against its root only by the range holding its first id, so each problem is reported once.
    """
    seals = repo.iter_seals_range(conn, FRAMES, lo, hi)
    seal = next(seals, None)
    leaves: list[bytes] = []
    nxt = 0  # next id expected inside the current seal

    def open_seal(s: repo.SealRow) -> list[bytes]:
        lv = merkle.split(s.leaves)
        if s.first_id >= lo and (len(lv) != s.n or merkle.root(lv) != s.root):
            out.add(Problem("seal", f"封存 {s.seq} 的叶子与其根不符 / seal {s.seq}: stored leaves do not give its "
                            f"signed Merkle root (frames {s.first_id}..{s.last_id})", seq=s.seq,
                            table="ledger_seals", row=str(s.seq)))
        return lv

    def missing(s: repo.SealRow, a: int, b: int) -> None:
        b = min(b, hi)
        if a <= b:
            out.add(Problem("frame-missing", f"原始报文 {a}…{b} 被删除 / raw_frames id {a}..{b} deleted (sealed by "
                            f"entry {s.seq})", seq=s.seq, table="raw_frames", row=str(a) if a == b else f"{a}..{b}"))

    unsealed: list[int] = []  # [first, last] of the current run of frames no seal covers

    def flush_unsealed() -> None:
        if unsealed:
            a, b = unsealed
            ids = str(a) if a == b else f"{a}..{b}"
            out.add(Problem("frame-unsealed", f"原始报文 {ids} 未封存 / raw_frames id {ids} not sealed in the ledger "
                            "(inserted afterwards, or older data: run `tianlan ledger seal`)", table="raw_frames",
                            row=ids))
            unsealed.clear()

    if seal is not None:
        leaves, nxt = open_seal(seal), max(seal.first_id, lo)
    n = 0
    for fid, data, sha_col in repo.iter_frames_full(conn, lo, hi):
        n += 1
        if type(data) is not bytes:
            data, sha_col = bytes(data), bytes(sha_col)
        while seal is not None and seal.last_id < fid:
            missing(seal, nxt, seal.last_id)
            seal = next(seals, None)
            if seal is not None:
                leaves, nxt = open_seal(seal), max(seal.first_id, lo)
        digest = sha256(data).digest()
        if seal is None or fid < seal.first_id:
            if unsealed and unsealed[1] == fid - 1:
                unsealed[1] = fid
            else:
                flush_unsealed()
                unsealed[:] = [fid, fid]
        else:
            flush_unsealed()
            if fid > nxt:
                missing(seal, nxt, fid - 1)
            i = fid - seal.first_id
            if i >= len(leaves) or leaves[i] != digest:
                out.add(Problem("frame-changed", f"原始报文 {fid} 的字节已被改动 / raw_frames id {fid}: bytes differ "
                                f"from those sealed by ledger entry {seal.seq}", seq=seal.seq, table="raw_frames",
                                row=str(fid)))
            nxt = fid + 1
        if digest != sha_col:
            out.add(Problem("frame-sha256", f"原始报文 {fid} 的 sha256 列与其字节不符 / raw_frames id {fid}: sha256 "
                            "column does not match its bytes", table="raw_frames", row=str(fid)))
        if tick is not None and n % 50000 == 0:
            tick(n)
    flush_unsealed()
    while seal is not None:
        missing(seal, nxt, seal.last_id)
        seal = next(seals, None)
        if seal is not None:
            open_seal(seal)
            nxt = max(seal.first_id, lo)
    return n


# --- 4. observations and covered rows ------------------------------------------------------------

def _observations(conn: Connection, report: Report, out: _Collector, prog: Progress, jobs: int,
                  url: str | None, obs_digests: dict[int, bytes]) -> None:
    """Every hour window of observations against its newest seal, device by device."""
    prog("observations", 0, 0)
    latest = {w: (seq, obs_digests.get(seq)) for w, seq in repo.latest_seals(conn, OBSERVATIONS).items()}
    latest.pop(NO_WINDOW, None)
    through = repo.max_sealed(conn, OBSERVATIONS)
    pending = set(repo.windows_touched(conn, through, repo.max_frame_id(conn), OBS_WINDOW_S))
    t_lo, t_hi = repo.observation_time_bounds(conn)
    starts = [w for w in (t_lo, min(latest, default=None)) if w is not None]
    ends = [w for w in (t_hi, max(latest, default=None)) if w is not None]
    if not starts:
        return
    lo = min(starts) - min(starts) % OBS_WINDOW_S
    hi = max(ends) - max(ends) % OBS_WINDOW_S + OBS_WINDOW_S
    if jobs <= 1 or url is None or (hi - lo) // OBS_WINDOW_S < PARALLEL_MIN_WINDOWS:
        n_w, n_r = windows_range(conn, lo, hi, latest, pending, out, lambda r: prog("observations", r, 0))
    else:
        n_w = n_r = 0
        parts = _split(lo, hi, jobs * 4, OBS_WINDOW_S)
        args = [(url, a, b, {w: s for w, s in latest.items() if a <= w < b}, {w for w in pending if a <= w < b},
                 out.limit) for a, b in parts]
        for problems, (w, r) in _parallel(jobs, _windows_worker, args):
            for p in problems:
                out.add(Problem(**p))
            n_w += w
            n_r += r
            prog("observations", n_r, 0)
    report.observation_rows = n_r
    report.observation_windows = n_w
    if pending:
        report.warnings.append(f"{len(pending)} 个小时窗口的观测尚未封存 / observations of {len(pending)} hour windows "
                               "not sealed yet (sealed periodically, `tianlan ledger seal`)")


def windows_range(conn: Connection, lo: int, hi: int, latest: dict[int, tuple[int, bytes | None]], pending: set[int],
                  out: _Collector,
                  tick: Callable[[int], None] | None = None) -> tuple[int, int]:
    """Check the hour windows starting in [lo, hi); returns (windows with rows, rows read)."""
    seen: set[int] = set()
    n_windows = n_rows = 0
    t = repo.next_observation_time(conn, lo)
    while t is not None and t < hi:
        w = t - t % OBS_WINDOW_S
        rows = repo.observations_in_window(conn, w, w + OBS_WINDOW_S)
        seen.add(w)
        n_rows += len(rows)
        if w in pending:
            pass  # written after the last observation seal: sealed by the next run
        elif w not in latest:
            devs = sorted({r[1] for r in rows})
            out.add(Problem("obs-unsealed", f"{_hour(w)} 的观测无封存 / observations of hour {_hour(w)} (devices "
                            f"{', '.join(map(str, devs[:10]))}) are in no seal: written outside Tianlan",
                            table="observations", row=f"hour={_hour(w)}"))
        else:
            seq, digest = latest[w]
            if digest is None or obs_digest(rows) != digest:  # one hash for the hour; by device only if it differs
                _compare_window(conn, w, seq, window_leaves(rows), out)
        n_windows += 1
        if tick is not None and n_windows % 100 == 0:
            tick(n_rows)
        t = repo.next_observation_time(conn, w + OBS_WINDOW_S)
    for w, (seq, _digest) in sorted(latest.items()):
        if lo <= w < hi and w not in seen and w not in pending:
            _compare_window(conn, w, seq, [], out)
    return n_windows, n_rows


# --- worker processes ------------------------------------------------------------------------------

PARALLEL_MIN = 200_000  # below this many frames one process is faster than starting workers
PARALLEL_MIN_WINDOWS = 48  # likewise, hour windows of observations


def _split(lo: int, hi: int, parts: int, align: int) -> list[tuple[int, int]]:
    """[lo, hi] (frames: inclusive) or [lo, hi) (windows, align > 1) cut into about ``parts`` ranges."""
    if align == 1:
        step = max(1, (hi - lo + parts) // parts)
        return [(a, min(hi, a + step - 1)) for a in range(lo, hi + 1, step)]
    n = (hi - lo) // align
    step = max(1, -(-n // parts)) * align
    return [(a, min(hi, a + step)) for a in range(lo, hi, step)]


def _parallel(jobs: int, fn: Callable[..., Any], args: list[Any]) -> Any:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn")) as pool:
        futures = [pool.submit(fn, a) for a in args]
        for f in as_completed(futures):
            yield f.result()


def _worker_conn(url: str) -> Any:
    from tianlan.store.engine import make_engine

    return make_engine(url)


def _frames_worker(args: tuple[str, int, int, int]) -> tuple[list[dict[str, Any]], int]:
    url, lo, hi, limit = args
    engine = _worker_conn(url)
    rep = Report()
    try:
        with engine.connect() as conn:
            n = frames_range(conn, lo, hi, _Collector(rep, limit))
    finally:
        engine.dispose()
    return [_problem_args(p) for p in rep.problems], n


WindowsArgs = tuple[str, int, int, dict[int, tuple[int, bytes | None]], set[int], int]


def _windows_worker(args: WindowsArgs) -> tuple[list[dict[str, Any]], tuple[int, int]]:
    url, lo, hi, latest, pending, limit = args
    engine = _worker_conn(url)
    rep = Report()
    try:
        with engine.connect() as conn:
            counts = windows_range(conn, lo, hi, latest, pending, _Collector(rep, limit))
    finally:
        engine.dispose()
    return [_problem_args(p) for p in rep.problems], counts


def _problem_args(p: Problem) -> dict[str, Any]:
    return {"kind": p.kind, "message": p.message, "seq": p.seq, "table": p.table, "row": p.row}


def _hour(w: int) -> str:
    from tianlan.model.timeutil import utc_iso

    return utc_iso(w)


def _compare_window(conn: Connection, w: int, seq: int, now: list[bytes], out: _Collector) -> None:
    seal = repo.seal_of(conn, seq)
    if seal is None:
        return  # reported by the chain pass (entry without its seal row)
    sealed = merkle.split(seal.leaves, 44)
    if len(sealed) != seal.n or merkle.root(sealed) != seal.root:
        out.add(Problem("seal", f"观测封存 {seq} 的叶子与其根不符 / observations seal {seq}: stored leaves do not give "
                        "its signed root", seq=seq, table="ledger_seals", row=str(seq)))
        return
    if now == sealed:
        out.add(Problem("seal", f"观测封存 {seq} 的摘要与其叶子不符 / observations seal {seq}: its hour digest does not "
                        "match its leaves", seq=seq, table="ledger_seals", row=str(seq)))
        return
    rows = repo.observations_in_window(conn, w, w + OBS_WINDOW_S)  # a mismatch: read again, to name the rows
    before = {d: (n, dg) for d, n, dg in map(parse_window_leaf, sealed)}
    after = {d: (n, dg) for d, n, dg in map(parse_window_leaf, now)}
    for d in sorted(before.keys() | after.keys()):
        if before.get(d) == after.get(d):
            continue
        b, a = before.get(d, (0, b"")), after.get(d, (0, b""))
        keys = [f"{r[2]}/{r[3]}@{_hour(r[0])[11:16]}" for r in rows if r[1] == d][:12]
        what = "deleted" if a[0] < b[0] else "inserted" if a[0] > b[0] else "changed"
        out.add(Problem("obs-changed", f"设备 {d} 在 {_hour(w)} 的观测被改动 / observations of device {d} in hour "
                        f"{_hour(w)} {what} ({b[0]} rows sealed by entry {seq}, {a[0]} now: "
                        f"{', '.join(keys) or 'none left'})", seq=seq, table="observations",
                        row=f"device_id={d},hour={_hour(w)}"))


def _covered(conn: Connection, report: Report, out: _Collector, latest: dict[str, dict[str, tuple[int, bytes | None]]],
             prog: Progress) -> None:
    n = 0
    prog("rows", 0, 0)
    for cov in covered.tables():
        entries = latest.get(cov.table, {})
        seen: set[str] = set()
        try:
            rows = list(repo.iter_covered_rows(conn, cov.table, cov.columns))
        except Exception as e:  # noqa: BLE001 - a table of a module not migrated here
            report.warnings.append(f"{cov.table}: not readable ({type(e).__name__})")
            continue
        for row in rows:
            n += 1
            key = cov.key_of(row)
            seen.add(key)
            got = entries.get(key)
            if got is None:
                out.add(Problem("row-unledgered", f"{cov.table} 行 {key} 无账本记录 / {cov.table} row {key} has no "
                                "ledger entry (written or re-keyed outside Tianlan)", table=cov.table, row=key))
            elif got[1] is None:
                out.add(Problem("row-changed", f"{cov.table} 行 {key} 已删除却仍存在 / {cov.table} row {key} exists "
                                f"although ledger entry {got[0]} recorded its deletion", seq=got[0], table=cov.table,
                                row=key))
            elif covered.digest(cov, row) != got[1]:
                out.add(Problem("row-changed", f"{cov.table} 行 {key} 与账本条目 {got[0]} 不符 / {cov.table} row {key} "
                                f"differs from ledger entry {got[0]}: changed outside Tianlan", seq=got[0],
                                table=cov.table, row=key))
        for key, (seq, digest) in entries.items():
            if key not in seen and digest is not None:
                out.add(Problem("row-deleted", f"{cov.table} 行 {key} 被删除 / {cov.table} row {key} deleted (last "
                                f"recorded by ledger entry {seq})", seq=seq, table=cov.table, row=key))
        prog("rows", n, 0)
    report.rows = n
