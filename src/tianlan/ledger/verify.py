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
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from hashlib import sha256
from typing import Any

from sqlalchemy import Connection, Engine

from tianlan.auth.keys import verify_signature
from tianlan.ledger import covered, merkle
from tianlan.ledger.canonical import GENESIS, checkpoint_message, entry_body
from tianlan.ledger.frames import FRAMES, NO_WINDOW, OBS_WINDOW_S, OBSERVATIONS, obs_digest, parse_window_leaf, window_leaves
from tianlan.store import ledger_repo as repo
from tianlan.store.engine import read_snapshot

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
    with read_snapshot(engine) as conn:  # one snapshot, so a verification beside the writer is consistent
        url = engine.url.render_as_string(hide_password=False)
        obs_digests: dict[int, bytes] = {}
        if jobs > 1:  # the workers check frames and observations while this process walks the chain
            with _Workers(conn, jobs, url, out.limit) as workers:
                latest = _chain(conn, report, out, prog, obs_digests)
                _checkpoints(conn, report, out, public_key)
                workers.collect(conn, report, out, prog, obs_digests)
        else:
            latest = _chain(conn, report, out, prog, obs_digests)
            _checkpoints(conn, report, out, public_key)
            _frames(conn, report, out, prog)
            _observations(conn, report, out, prog, obs_digests)
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
    cp_first = cp_last = 0  # seqs covered by the loaded checkpoint's blob (none yet)
    cp_id = -1
    seals = _seal_heads(conn)
    seal = next(seals, None)
    latest: dict[str, dict[str, tuple[int, bytes | None]]] = {}
    tracked = {c.table for c in covered.tables()}
    expected = 1
    prev_hash = GENESIS
    last_hash = GENESIS
    n = 0
    h = sha256
    # one tuple per entry, as the driver returns it (the hot loop of a quiet store: one entry a frame)
    for chunk in repo.iter_entry_chunks(conn):
        for seq, time_utc, kind, actor, s_table, s_key, payload, row_digest, e_prev, e_hash in chunk:
            n += 1
            if type(e_hash) is not bytes:
                e_prev, e_hash = bytes(e_prev), bytes(e_hash)
                row_digest = None if row_digest is None else bytes(row_digest)
            if seq != expected:
                if seq > expected:
                    out.add(Problem("entry-missing", f"账本条目 {expected}…{seq - 1} 缺失 / ledger entries "
                                    f"{expected}..{seq - 1} deleted", seq=expected))
                prev_hash = e_prev  # resynchronise so one deletion is reported once
            elif e_prev != prev_hash:
                out.add(Problem("entry-link", f"账本条目 {seq} 与前一条目不相连 / ledger entry {seq}: prev_hash does "
                                f"not link to entry {seq - 1}", seq=seq, table=s_table or None, row=s_key or None))
            body = entry_body(seq, time_utc, kind, actor, s_table, s_key, payload, row_digest)
            if h(e_prev + h(body).digest()).digest() != e_hash:  # canonical.entry_hash, inlined
                out.add(Problem("entry-altered", f"账本条目 {seq} 内容与其哈希不符 / ledger entry {seq} ({kind}) "
                                "altered: its content does not give its hash", seq=seq, table=s_table or None,
                                row=s_key or None))
            # the signed checkpoint covering this seq
            if cp_first <= seq <= cp_last:
                signed = cp_blob[(seq - cp_first) * 32:(seq - cp_first + 1) * 32]
            else:
                while cp_i < len(cps) and cps[cp_i].seq < seq:
                    cp_i += 1
                if cp_i < len(cps) and cps[cp_i].first_seq <= seq:
                    cp = cps[cp_i]
                    if cp_id != cp.id:
                        cp_blob, cp_id = repo.checkpoint_blob(conn, cp.id), cp.id
                    cp_first, cp_last = cp.first_seq, cp.seq
                    signed = cp_blob[(seq - cp_first) * 32:(seq - cp_first + 1) * 32]
                else:
                    signed = None
            if signed is None:
                report.unsigned_tail += 1
            elif signed != e_hash:
                out.add(Problem("entry-rewritten", f"账本条目 {seq} 与签名检查点 #{cp_id} 不符（被改写）/ ledger entry "
                                f"{seq} ({kind}) differs from signed checkpoint #{cp_id}: rewritten",
                                seq=seq, table=s_table or None, row=s_key or None))
            # the seal row of a seal entry
            if kind == "frames.seal" or kind == "observations.seal":
                while seal is not None and seal[0] < seq:
                    out.add(Problem("seal", f"封存记录 {seal[0]} 无对应账本条目 / seal row {seal[0]} has no ledger "
                                    "entry", seq=seal[0], table="ledger_seals", row=str(seal[0])))
                    seal = next(seals, None)
                if seal is None or seal[0] != seq:
                    out.add(Problem("seal", f"账本条目 {seq} 的封存记录缺失 / seal row of ledger entry {seq} missing",
                                    seq=seq, table="ledger_seals", row=str(seq)))
                else:
                    # the writer's payload, rebuilt from the seal row: equal text → equal content
                    if not (kind == "frames.seal" and seal[1] == FRAMES and seal[4] == seal[3] - seal[2] + 1
                            and payload == f'{{"first_id":{seal[2]},"last_id":{seal[3]},"n":{seal[4]},'
                                           f'"root":"{seal[5].hex()}"}}'):
                        _check_seal_entry(seq, kind, payload, repo.SealRow(*seal, b""), out, obs_digests)
                    seal = next(seals, None)
            if s_key and s_table in tracked:
                latest.setdefault(s_table, {})[s_key] = (seq, row_digest)
            prev_hash = last_hash = e_hash
            expected = seq + 1
        prog("chain", n, total)
    while seal is not None:
        out.add(Problem("seal", f"封存记录 {seal[0]} 无对应账本条目 / seal row {seal[0]} has no ledger entry",
                        seq=seal[0], table="ledger_seals", row=str(seal[0])))
        seal = next(seals, None)
    report.entries = n
    if (head_seq, head_hash) != (expected - 1, last_hash):
        out.add(Problem("head", f"账本头 {head_seq} 与最后条目 {expected - 1} 不符 / ledger head says seq {head_seq} "
                        f"but the last entry is {expected - 1}", seq=min(head_seq, expected - 1) + 1))
    return latest


def _seal_heads(conn: Connection) -> Iterator[tuple[int, str, int, int, int, bytes]]:
    """(seq, kind, first_id, last_id, n, root) of every seal row, by seq."""
    for chunk in repo.iter_seal_head_chunks(conn):
        if type(chunk[0][5]) is bytes:
            yield from chunk
        else:
            for r in chunk:
                yield int(r[0]), r[1], int(r[2]), int(r[3]), int(r[4]), bytes(r[5])


def _check_seal_entry(seq: int, kind: str, payload: str, seal: repo.SealRow, out: _Collector,
                      obs_digests: dict[int, bytes]) -> None:
    try:
        p = json.loads(payload)
        if seal.kind == FRAMES:
            same = (kind == "frames.seal" and p["first_id"] == seal.first_id and p["last_id"] == seal.last_id
                    and p["n"] == seal.n and seal.n == seal.last_id - seal.first_id + 1)
        else:
            window = NO_WINDOW if p["window_utc"] is None else p["window_utc"]
            same = (kind == "observations.seal" and window == seal.first_id and p["through_id"] == seal.last_id
                    and p["devices"] == seal.n)
            if same and p.get("digest"):
                obs_digests[seq] = bytes.fromhex(p["digest"])
        same = same and p["root"] == seal.root.hex()
    except (ValueError, KeyError, TypeError):
        same = False
    if not same:
        out.add(Problem("seal", f"封存记录 {seal.seq} 与账本条目不符 / seal row {seal.seq} differs from its ledger entry",
                        seq=seq, table="ledger_seals", row=str(seal.seq)))


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

def _frames(conn: Connection, report: Report, out: _Collector, prog: Progress) -> None:
    total = repo.frame_count(conn)
    prog("frames", 0, total)
    lo, hi = repo.frame_id_bounds(conn)
    lo, hi = min(lo, 1), max(hi, repo.max_sealed(conn, FRAMES))  # so frames deleted at either end are missed
    if hi < lo:
        return
    report.frames = frames_range(conn, lo, hi, out, lambda n: prog("frames", n, total))
    prog("frames", report.frames, total)


def frames_range(conn: Connection, lo: int, hi: int, out: _Collector, tick: Callable[[int], None] | None = None) -> int:
    """Check frames with lo <= id <= hi against their seals; returns the number of frames read.

    A seal straddling a range boundary is checked by both ranges for their frames; its leaves
    against its root only by the range holding its first id, so each problem is reported once.
    """
    # seals as (seq, first_id, last_id, n, root, leaves); a quiet gateway's store has one a frame
    seals = repo.iter_seal_tuples(conn, FRAMES, lo, hi)
    seal = next(seals, None)
    leaves = b""  # the current seal's leaves, 32 bytes a frame
    nxt = 0  # next id expected inside the current seal
    h = sha256

    def open_seal(s: tuple[int, int, int, int, bytes, bytes]) -> bytes:
        """The seal's leaves (concatenated), checked against its root by the range holding its first id."""
        seq, first, last, n, root, blob = s
        if first < lo:
            return blob
        if len(blob) == 32:  # one frame (a quiet gateway's batch): the root is its leaf hash
            ok = n == 1 and h(b"\x00" + blob).digest() == root
        else:
            ok = len(blob) == n * 32 and merkle.root(merkle.split(blob)) == root
        if not ok:
            out.add(Problem("seal", f"封存 {seq} 的叶子与其根不符 / seal {seq}: stored leaves do not give its "
                            f"signed Merkle root (frames {first}..{last})", seq=seq,
                            table="ledger_seals", row=str(seq)))
        return blob

    def missing(s: tuple[int, ...], a: int, b: int) -> None:
        b = min(b, hi)
        if a <= b:
            out.add(Problem("frame-missing", f"原始报文 {a}…{b} 被删除 / raw_frames id {a}..{b} deleted (sealed by "
                            f"entry {s[0]})", seq=s[0], table="raw_frames", row=str(a) if a == b else f"{a}..{b}"))

    unsealed: list[int] = []  # [first, last] of the current run of frames no seal covers

    def flush_unsealed() -> None:
        if unsealed:
            a, b = unsealed
            ids = str(a) if a == b else f"{a}..{b}"
            out.add(Problem("frame-unsealed", f"原始报文 {ids} 未封存 / raw_frames id {ids} not sealed in the ledger "
                            "(inserted afterwards, or older data: run `tianlan ledger seal`)", table="raw_frames",
                            row=ids))
            unsealed.clear()

    s_first = s_last = 0
    if seal is not None:
        leaves, nxt, s_first, s_last = open_seal(seal), max(seal[1], lo), seal[1], seal[2]
    n = 0
    for fid, data, sha_col in repo.iter_frames_full(conn, lo, hi):
        n += 1
        if type(data) is not bytes:
            data, sha_col = bytes(data), bytes(sha_col)
        while seal is not None and s_last < fid:
            if nxt <= s_last:
                missing(seal, nxt, s_last)
            seal = next(seals, None)
            if seal is not None:
                leaves, nxt, s_first, s_last = open_seal(seal), max(seal[1], lo), seal[1], seal[2]
        digest = h(data).digest()
        if seal is None or fid < s_first:
            if unsealed and unsealed[1] == fid - 1:
                unsealed[1] = fid
            else:
                flush_unsealed()
                unsealed[:] = [fid, fid]
        else:
            if unsealed:
                flush_unsealed()
            if fid > nxt:
                missing(seal, nxt, fid - 1)
            i = (fid - s_first) * 32
            if leaves[i:i + 32] != digest:
                out.add(Problem("frame-changed", f"原始报文 {fid} 的字节已被改动 / raw_frames id {fid}: bytes differ "
                                f"from those sealed by ledger entry {seal[0]}", seq=seal[0], table="raw_frames",
                                row=str(fid)))
            nxt = fid + 1
        if digest != sha_col:
            out.add(Problem("frame-sha256", f"原始报文 {fid} 的 sha256 列与其字节不符 / raw_frames id {fid}: sha256 "
                            "column does not match its bytes", table="raw_frames", row=str(fid)))
        if tick is not None and n % 50000 == 0:
            tick(n)
    flush_unsealed()
    while seal is not None:
        missing(seal, nxt, seal[2])
        seal = next(seals, None)
        if seal is not None:
            open_seal(seal)
            nxt = max(seal[1], lo)
    return n


# --- 4. observations and covered rows ------------------------------------------------------------

def _observations(conn: Connection, report: Report, out: _Collector, prog: Progress,
                  obs_digests: dict[int, bytes]) -> None:
    """Every hour window of observations against its newest seal, device by device."""
    prog("observations", 0, 0)
    plan = _observation_plan(conn, obs_digests)
    if plan is None:
        return
    latest, pending, lo, hi = plan
    report.observation_windows, report.observation_rows = windows_range(
        conn, lo, hi, latest, pending, out, lambda r: prog("observations", r, 0))
    if pending:
        _pending_warning(report, pending)


def _pending_warning(report: Report, pending: set[int]) -> None:
    report.warnings.append(f"{len(pending)} 个小时窗口的观测尚未封存 / observations of {len(pending)} hour windows "
                           "not sealed yet (sealed periodically, `tianlan ledger seal`)")


def _observation_plan(conn: Connection, obs_digests: dict[int, bytes]
                      ) -> tuple[dict[int, tuple[int, bytes | None]], set[int], int, int] | None:
    """(window → (seq, digest) of its newest seal, windows not sealed yet, first window, end) of the
    store's observations; None when there are neither observations nor seals of them."""
    latest = {w: (seq, obs_digests.get(seq)) for w, seq in repo.latest_seals(conn, OBSERVATIONS).items()}
    latest.pop(NO_WINDOW, None)
    through = repo.max_sealed(conn, OBSERVATIONS)
    pending = set(repo.windows_touched(conn, through, repo.max_frame_id(conn), OBS_WINDOW_S))
    t_lo, t_hi = repo.observation_time_bounds(conn)
    starts = [w for w in (t_lo, min(latest, default=None)) if w is not None]
    ends = [w for w in (t_hi, max(latest, default=None)) if w is not None]
    if not starts:
        return None
    lo = min(starts) - min(starts) % OBS_WINDOW_S
    hi = max(ends) - max(ends) % OBS_WINDOW_S + OBS_WINDOW_S
    return latest, pending, lo, hi


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


class _Workers:
    """Frames and observations checked in ``jobs`` worker processes, started before the chain walk.

    The observation digests they compare with are read from the seal entries' payloads, which the
    chain walk (running meanwhile) checks against their hashes and the signed checkpoints, so a
    digest forged in a payload is still reported (as an altered entry). Stores too small for
    workers are checked here, after the chain, as with one job.
    """

    def __init__(self, conn: Connection, jobs: int, url: str, limit: int) -> None:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        self.frames_total = repo.frame_count(conn)
        lo, hi = repo.frame_id_bounds(conn)
        lo, hi = min(lo, 1), max(hi, repo.max_sealed(conn, FRAMES))
        self.frame_tasks = ([(url, a, b, limit) for a, b in _split(lo, hi, jobs * 4, 1)]
                            if hi >= lo and self.frames_total >= PARALLEL_MIN else [])
        seqs = repo.latest_seals(conn, OBSERVATIONS)
        digests = {}
        for seq, payload in repo.entry_payloads(conn, sorted(seqs.values())).items():
            try:
                digests[seq] = bytes.fromhex(json.loads(payload)["digest"])
            except (ValueError, KeyError, TypeError):
                pass
        plan = _observation_plan(conn, digests)
        self.window_tasks: list[WindowsArgs] = []
        if plan is not None and (plan[3] - plan[2]) // OBS_WINDOW_S >= PARALLEL_MIN_WINDOWS:
            latest, pending, w_lo, w_hi = plan
            self.pending = pending
            self.window_tasks = [(url, a, b, {w: s for w, s in latest.items() if a <= w < b},
                                  {w for w in pending if a <= w < b}, limit)
                                 for a, b in _split(w_lo, w_hi, jobs * 4, OBS_WINDOW_S)]
        self.pool = None
        self.futures: list[tuple[str, Any]] = []
        if self.frame_tasks or self.window_tasks:
            self.pool = ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn"))
            # observations first: they are the longer part
            self.futures = ([("observations", self.pool.submit(_windows_worker, a)) for a in self.window_tasks]
                            + [("frames", self.pool.submit(_frames_worker, a)) for a in self.frame_tasks])

    def __enter__(self) -> _Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)

    def collect(self, conn: Connection, report: Report, out: _Collector, prog: Progress,
                obs_digests: dict[int, bytes]) -> None:
        """Wait for the workers (and check here what was too small for them)."""
        from concurrent.futures import as_completed

        if not self.frame_tasks:
            _frames(conn, report, out, prog)
        if not self.window_tasks:
            _observations(conn, report, out, prog, obs_digests)
        kinds = {id(f): k for k, f in self.futures}
        for f in as_completed([f for _, f in self.futures]):
            problems, counts = f.result()
            for p in problems:
                out.add(Problem(**p))
            if kinds[id(f)] == "frames":
                report.frames += counts
                prog("frames", report.frames, self.frames_total)
            else:
                report.observation_windows += counts[0]
                report.observation_rows += counts[1]
                prog("observations", report.observation_rows, 0)
        if self.window_tasks and self.pending:
            _pending_warning(report, self.pending)


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
