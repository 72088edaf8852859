"""The ledger's SQL: the one module that reads and writes ``ledger_*`` tables (issue 5 §1-2).

Appends run inside the caller's transaction, which may be a SQLAlchemy ``Connection`` or the
frame writer's raw DBAPI cursor (sqlite3 or psycopg): :class:`Exec` runs the same ``?``-style SQL
on each. Appends are serialised by updating the one-row ``ledger_head`` first: on PostgreSQL that
row lock makes a concurrent appender wait until this transaction ends (then it reads the new tip);
on SQLite the update takes the database's write lock. Nothing here updates or deletes an entry.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, select, text

from tianlan.store.schema import raw_frames
from tianlan.store.schema_ledger import ledger_checkpoints, ledger_entries, ledger_head, ledger_seals

_ENTRY_COLS = "seq, time_utc, kind, actor, subject_table, subject_key, payload, row_digest, prev_hash, hash"


class Exec:
    """Runs ``?``-placeholder SQL on a SQLAlchemy Connection, a DBAPI cursor or a DBAPI connection."""

    def __init__(self, target: Any) -> None:
        self.sa: Connection | None = None
        self.cur: Any = None
        if isinstance(target, Connection):
            self.sa = target
            self.pg = target.dialect.name == "postgresql"
            return
        if not hasattr(target, "fetchall"):  # a DBAPI connection (or SQLAlchemy's pool proxy of one)
            target = target.cursor()
        self.cur = target
        self.pg = not isinstance(target, sqlite3.Cursor)

    def run(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        if self.pg:
            sql = sql.replace("?", "%s")
        if self.sa is not None:
            res = self.sa.exec_driver_sql(sql, tuple(params))
            return [tuple(r) for r in res.fetchall()] if res.returns_rows else []
        self.cur.execute(sql, tuple(params))
        return list(self.cur.fetchall()) if self.cur.description else []

    def run_many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if self.pg:
            sql = sql.replace("?", "%s")
        if self.sa is not None:
            self.sa.exec_driver_sql(sql, [tuple(r) for r in rows])
        else:
            self.cur.executemany(sql, [tuple(r) for r in rows])


@dataclass(frozen=True, slots=True)
class EntryRow:
    seq: int
    time_utc: float
    kind: str
    actor: str
    subject_table: str
    subject_key: str
    payload: str
    row_digest: bytes | None
    prev_hash: bytes
    hash: bytes


def _entry(r: Sequence[Any]) -> EntryRow:
    return EntryRow(int(r[0]), float(r[1]), r[2], r[3], r[4], r[5], r[6],
                    None if r[7] is None else bytes(r[7]), bytes(r[8]), bytes(r[9]))


# --- appending (inside the caller's transaction) -------------------------------------------------

def lock_head(ex: Exec) -> tuple[int, bytes]:
    """Advance and lock the chain's tip; returns (the new entry's seq, the previous entry's hash)."""
    rows = ex.run("UPDATE ledger_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
    if not rows:
        raise RuntimeError("ledger_head row missing: the store was not migrated by Tianlan")
    return int(rows[0][0]), bytes(rows[0][1])


def lock_head_many(ex: Exec, n: int) -> tuple[int, bytes]:
    """Reserve ``n`` seqs at the chain's tip; returns (the first new seq, the previous entry's hash)."""
    rows = ex.run(f"UPDATE ledger_head SET seq = seq + {int(n)} WHERE id = 1 RETURNING seq, hash")
    if not rows:
        raise RuntimeError("ledger_head row missing: the store was not migrated by Tianlan")
    return int(rows[0][0]) - n + 1, bytes(rows[0][1])


def insert_entries(ex: Exec, entries: Sequence[EntryRow]) -> None:
    if not entries:
        return
    ex.run("UPDATE ledger_head SET hash = ? WHERE id = 1", (entries[-1].hash,))
    ex.run_many(f"INSERT INTO ledger_entries ({_ENTRY_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(e.seq, e.time_utc, e.kind, e.actor, e.subject_table, e.subject_key, e.payload, e.row_digest,
                  e.prev_hash, e.hash) for e in entries])


def insert_entry(ex: Exec, e: EntryRow) -> None:
    ex.run("UPDATE ledger_head SET hash = ? WHERE id = 1", (e.hash,))
    ex.run(f"INSERT INTO ledger_entries ({_ENTRY_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
           (e.seq, e.time_utc, e.kind, e.actor, e.subject_table, e.subject_key, e.payload, e.row_digest,
            e.prev_hash, e.hash))


def insert_seal(ex: Exec, seq: int, kind: str, first_id: int, last_id: int, n: int, root: bytes, leaves: bytes) -> None:
    ex.run("INSERT INTO ledger_seals (seq, kind, first_id, last_id, n, root, leaves) VALUES (?, ?, ?, ?, ?, ?, ?)",
           (seq, kind, first_id, last_id, n, root, leaves))


# --- reading -------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SealRow:
    seq: int
    kind: str
    first_id: int
    last_id: int
    n: int
    root: bytes
    leaves: bytes


@dataclass(frozen=True, slots=True)
class CheckpointRow:
    id: int
    first_seq: int
    seq: int
    hash: bytes
    entries_root: bytes
    entry_hashes: bytes
    time_utc: float
    key_id: str
    public_key: bytes
    signature: bytes


def _seal(r: Any) -> SealRow:
    return SealRow(int(r.seq), r.kind, int(r.first_id), int(r.last_id), int(r.n), bytes(r.root), bytes(r.leaves))


def _checkpoint(r: Any) -> CheckpointRow:
    return CheckpointRow(int(r.id), int(r.first_seq), int(r.seq), bytes(r.hash), bytes(r.entries_root),
                         bytes(r.entry_hashes), float(r.time_utc), r.key_id, bytes(r.public_key), bytes(r.signature))


def head(conn: Connection) -> tuple[int, bytes]:
    r = conn.execute(select(ledger_head.c.seq, ledger_head.c.hash).where(ledger_head.c.id == 1)).first()
    return (0, bytes(32)) if r is None else (int(r.seq), bytes(r.hash))


def max_seq(conn: Connection) -> int:
    return int(conn.execute(text("SELECT COALESCE(MAX(seq), 0) FROM ledger_entries")).scalar_one())


def entry(conn: Connection, seq: int) -> EntryRow | None:
    r = conn.exec_driver_sql(f"SELECT {_ENTRY_COLS} FROM ledger_entries WHERE seq = {int(seq)}").first()
    return None if r is None else _entry(r)


def iter_entries(conn: Connection, *, after: int = 0, upto: int | None = None, chunk: int = 20000) -> Iterator[EntryRow]:
    """Entries in seq order, read in key ranges (so a long scan holds no huge result)."""
    last = after
    while True:
        bound = "" if upto is None else f" AND seq <= {int(upto)}"
        rows = raw_rows(conn, f"SELECT {_ENTRY_COLS} FROM ledger_entries WHERE seq > {int(last)}{bound} "
                              f"ORDER BY seq LIMIT {chunk}")
        if not rows:
            return
        for r in rows:
            yield _entry(r)
        last = int(rows[-1][0])


def iter_entry_chunks(conn: Connection, chunk: int = 20000) -> Iterator[list[tuple]]:
    """All entries in seq order as chunks of raw DBAPI tuples (columns as ``_ENTRY_COLS``; blobs as
    the driver returns them): the verification's chain walk, without a Python object per entry."""
    last = 0
    while True:
        rows = raw_rows(conn, f"SELECT {_ENTRY_COLS} FROM ledger_entries WHERE seq > {int(last)} "
                              f"ORDER BY seq LIMIT {chunk}")
        if not rows:
            return
        yield rows
        last = int(rows[-1][0])


def entry_payloads(conn: Connection, seqs: Sequence[int]) -> dict[int, str]:
    """seq → payload (JSON text) of the entries ``seqs``."""
    out: dict[int, str] = {}
    for i in range(0, len(seqs), 500):
        part = ",".join(str(int(s)) for s in seqs[i:i + 500])
        out.update((int(s), p) for s, p in raw_rows(conn, f"SELECT seq, payload FROM ledger_entries WHERE seq IN ({part})"))
    return out


def entry_hashes(conn: Connection, first: int, last: int) -> list[tuple[int, bytes]]:
    rows = conn.execute(select(ledger_entries.c.seq, ledger_entries.c.hash)
                        .where(ledger_entries.c.seq >= first, ledger_entries.c.seq <= last)
                        .order_by(ledger_entries.c.seq)).all()
    return [(int(s), bytes(h)) for s, h in rows]


def subject_entries(conn: Connection, table: str) -> Iterator[tuple[int, str, bytes | None]]:
    """(seq, subject_key, row_digest) of every entry about rows of ``table``, in seq order."""
    q = (select(ledger_entries.c.seq, ledger_entries.c.subject_key, ledger_entries.c.row_digest)
         .where(ledger_entries.c.subject_table == table).order_by(ledger_entries.c.seq))
    for s, k, d in conn.execute(q):
        yield int(s), k, None if d is None else bytes(d)


def seals(conn: Connection, kind: str) -> list[SealRow]:
    return [_seal(r) for r in conn.execute(select(ledger_seals).where(ledger_seals.c.kind == kind)
                                           .order_by(ledger_seals.c.first_id))]


def seal_of(conn: Connection, seq: int) -> SealRow | None:
    r = conn.execute(select(ledger_seals).where(ledger_seals.c.seq == seq)).first()
    return None if r is None else _seal(r)


def seal_covering(conn: Connection, kind: str, frame_id: int) -> SealRow | None:
    r = conn.execute(select(ledger_seals).where(ledger_seals.c.kind == kind, ledger_seals.c.first_id <= frame_id)
                     .order_by(ledger_seals.c.first_id.desc()).limit(1)).first()
    if r is None or int(r.last_id) < frame_id:
        return None
    return _seal(r)


def sealed_ids(conn: Connection, kind: str) -> list[tuple[int, int]]:
    """(first_id, last_id) of every seal of ``kind``, by first_id."""
    q = select(ledger_seals.c.first_id, ledger_seals.c.last_id).where(ledger_seals.c.kind == kind)
    return [(int(a), int(b)) for a, b in conn.execute(q.order_by(ledger_seals.c.first_id))]


def max_sealed(conn: Connection, kind: str) -> int:
    """Highest frame id covered by a seal of ``kind`` (0: none)."""
    return int(conn.exec_driver_sql("SELECT COALESCE(MAX(last_id), 0) FROM ledger_seals WHERE kind = "
                                    f"'{kind}'").scalar_one()) if kind.isalpha() else 0


def seal_gaps(conn: Connection, kind: str) -> list[tuple[int, int]]:
    """Frame-id intervals (first, last) not covered by seals of ``kind``, up to the highest frame id."""
    if not kind.isalpha():
        return []
    rows = conn.exec_driver_sql(
        "SELECT prev_last + 1, first_id - 1 FROM (SELECT first_id, "
        "COALESCE(LAG(last_id) OVER (ORDER BY first_id), 0) AS prev_last FROM ledger_seals "
        f"WHERE kind = '{kind}') s WHERE first_id > prev_last + 1 ORDER BY first_id").fetchall()
    gaps = [(int(a), int(b)) for a, b in rows]
    top, end = max_sealed(conn, kind), max_frame_id(conn)
    if end > top:
        gaps.append((top + 1, end))
    return gaps


def frame_ids_after(conn: Connection, after: int, limit: int) -> list[tuple[int, bytes]]:
    """(id, sha256) of frames with id > ``after``, by id."""
    q = select(raw_frames.c.id, raw_frames.c.sha256).where(raw_frames.c.id > after).order_by(raw_frames.c.id)
    return [(int(i), bytes(s)) for i, s in conn.execute(q.limit(limit))]


def frame_ids_between(conn: Connection, first: int, last: int) -> list[tuple[int, bytes]]:
    q = select(raw_frames.c.id, raw_frames.c.sha256).where(raw_frames.c.id >= first, raw_frames.c.id <= last)
    return [(int(i), bytes(s)) for i, s in conn.execute(q.order_by(raw_frames.c.id))]


def iter_frame_data(conn: Connection, first: int, last: int, chunk: int = 5000) -> Iterator[tuple[int, bytes]]:
    """(id, data) of stored frames with first <= id <= last, by id, read in chunks."""
    lo = first
    while lo <= last:
        hi = min(last, lo + chunk - 1)
        rows = conn.exec_driver_sql(
            f"SELECT id, data FROM raw_frames WHERE id >= {int(lo)} AND id <= {int(hi)} ORDER BY id").fetchall()
        for i, d in rows:
            yield int(i), bytes(d)
        lo = hi + 1


def max_frame_id(conn: Connection) -> int:
    return int(conn.execute(text("SELECT COALESCE(MAX(id), 0) FROM raw_frames")).scalar_one())


def frame_count(conn: Connection) -> int:
    return int(conn.execute(text("SELECT COUNT(*) FROM raw_frames")).scalar_one())


def raw_rows(conn: Connection, sql: str) -> list[tuple]:
    """Rows of a read-only ``sql`` (no parameters) as plain DBAPI tuples: no per-row SQLAlchemy Row
    objects, which cost more than the hashing in the verification scans."""
    cur = conn.connection.cursor()
    try:
        cur.execute(sql)
        return list(cur.fetchall())
    finally:
        cur.close()


def observations_in_window(conn: Connection, start: int, end: int) -> list[tuple]:
    """Observation rows with start <= time_utc < end, in primary-key order (a range of the key).

    Columns: time_utc, device_id, parameter, kind, value, flag, vmin, vmax, cou, zs, extra, frame_id.
    """
    return raw_rows(conn, "SELECT time_utc, device_id, parameter, kind, value, flag, vmin, vmax, cou, zs, extra, "
                          f"frame_id FROM observations WHERE time_utc >= {int(start)} AND time_utc < {int(end)} "
                          "ORDER BY time_utc, device_id, parameter, kind")


def next_observation_time(conn: Connection, at_or_after: int | None) -> int | None:
    """The smallest observation time_utc >= ``at_or_after`` (None: the first), or None."""
    where = "" if at_or_after is None else f" WHERE time_utc >= {int(at_or_after)}"
    r = raw_rows(conn, f"SELECT MIN(time_utc) FROM observations{where}")
    return None if not r or r[0][0] is None else int(r[0][0])


def windows_touched(conn: Connection, after_id: int, upto_id: int, width: int) -> list[int]:
    """Starts of the ``width``-second windows holding the DataTime of frames after_id < id <= upto_id."""
    rows = raw_rows(conn, f"SELECT DISTINCT data_utc - (data_utc % {int(width)}) FROM raw_frames WHERE id > "
                          f"{int(after_id)} AND id <= {int(upto_id)} AND data_utc IS NOT NULL")
    return sorted(int(r[0]) for r in rows)


def first_frame_since(conn: Connection, after_id: int, upto_id: int, data_since: int) -> int | None:
    """The smallest id in (after_id, upto_id] of a frame whose DataTime is at or after ``data_since``."""
    r = raw_rows(conn, f"SELECT MIN(id) FROM raw_frames WHERE id > {int(after_id)} AND id <= {int(upto_id)} "
                       f"AND data_utc >= {int(data_since)}")
    return None if not r or r[0][0] is None else int(r[0][0])


def iter_observations(conn: Connection, frame_id: int) -> list[tuple]:
    """Observation rows of one frame (a full scan: only for reporting a problem)."""
    return raw_rows(conn, "SELECT frame_id, time_utc, device_id, parameter, kind FROM observations "
                          f"WHERE frame_id = {int(frame_id)} ORDER BY time_utc, device_id, parameter, kind")


def latest_seals(conn: Connection, kind: str) -> dict[int, int]:
    """first_id → seq of the newest seal of ``kind`` with that first_id."""
    if not kind.isalpha():
        return {}
    rows = raw_rows(conn, f"SELECT first_id, MAX(seq) FROM ledger_seals WHERE kind = '{kind}' GROUP BY first_id")
    return {int(a): int(b) for a, b in rows}


def insert_checkpoint(conn: Connection, row: dict[str, Any]) -> int:
    return int(conn.execute(ledger_checkpoints.insert().values(**row).returning(ledger_checkpoints.c.id)).scalar_one())


def checkpoints(conn: Connection) -> list[CheckpointRow]:
    return [_checkpoint(r) for r in conn.execute(select(ledger_checkpoints).order_by(ledger_checkpoints.c.id))]


def last_checkpoint(conn: Connection) -> CheckpointRow | None:
    r = conn.execute(select(ledger_checkpoints).order_by(ledger_checkpoints.c.seq.desc(),
                                                         ledger_checkpoints.c.id.desc()).limit(1)).first()
    return None if r is None else _checkpoint(r)


def checkpoint_covering(conn: Connection, seq: int) -> CheckpointRow | None:
    r = conn.execute(select(ledger_checkpoints).where(ledger_checkpoints.c.first_seq <= seq,
                                                      ledger_checkpoints.c.seq >= seq)
                     .order_by(ledger_checkpoints.c.id).limit(1)).first()
    return None if r is None else _checkpoint(r)


def lock_for_checkpoint(conn: Connection) -> None:
    """Serialise checkpoint writers with appenders (the same head lock; the seq is put back)."""
    Exec(conn).run("UPDATE ledger_head SET seq = seq WHERE id = 1")


def row_count(engine: Engine, table: str) -> int:
    with engine.connect() as c:
        return int(c.exec_driver_sql(f'SELECT COUNT(*) FROM "{table}"').scalar_one())


# --- covered rows --------------------------------------------------------------------------------

def covered_row(conn: Connection, table: str, key_columns: Sequence[str], key_values: Sequence[Any],
                columns: Sequence[str]) -> dict[str, Any] | None:
    """One row of ``table`` (``columns`` only) by its key, or None."""
    from tianlan.store.schema import metadata

    t = metadata.tables[table]
    q = select(*(t.c[c] for c in columns)).where(*(t.c[k] == v for k, v in zip(key_columns, key_values, strict=True)))
    r = conn.execute(q).first()
    return None if r is None else dict(r._mapping)


def covered_rows_by_key(conn: Connection, table: str, key_column: str, keys: Sequence[Any],
                        columns: Sequence[str]) -> list[dict[str, Any]]:
    """Rows of ``table`` whose single key column is in ``keys`` (``columns`` only)."""
    from tianlan.store.schema import metadata

    t = metadata.tables[table]
    out: list[dict[str, Any]] = []
    for i in range(0, len(keys), 500):
        q = select(*(t.c[c] for c in columns)).where(t.c[key_column].in_(list(keys[i:i + 500])))
        out.extend(dict(r._mapping) for r in conn.execute(q))
    return out


def last_digests(conn: Connection, table: str, keys: Sequence[str]) -> dict[str, bytes | None]:
    """subject_key → row_digest of the newest entry about each of ``keys`` in ``table`` (absent: none)."""
    e = ledger_entries.c
    out: dict[str, bytes | None] = {}
    for i in range(0, len(keys), 500):
        q = (select(e.subject_key, e.row_digest).where(e.subject_table == table, e.subject_key.in_(list(keys[i:i + 500])))
             .order_by(e.seq))
        for k, d in conn.execute(q):
            out[k] = None if d is None else bytes(d)
    return out


def iter_covered_rows(conn: Connection, table: str, columns: Sequence[str]) -> Iterator[dict[str, Any]]:
    from tianlan.store.schema import metadata

    t = metadata.tables[table]
    for r in conn.execute(select(*(t.c[c] for c in columns))):
        yield dict(r._mapping)


# --- verification scans --------------------------------------------------------------------------

def iter_seal_head_chunks(conn: Connection, chunk: int = 20000) -> Iterator[list[tuple]]:
    """(seq, kind, first_id, last_id, n, root) of every seal, by seq, as chunks of raw DBAPI tuples."""
    last = -1
    while True:
        rows = raw_rows(conn, "SELECT seq, kind, first_id, last_id, n, root FROM ledger_seals "
                              f"WHERE seq > {int(last)} ORDER BY seq LIMIT {chunk}")
        if not rows:
            return
        yield rows
        last = int(rows[-1][0])


def iter_frames_full(conn: Connection, lo: int, hi: int, chunk: int = 5000) -> Iterator[tuple[int, bytes, bytes]]:
    """(id, data, sha256 column) of frames with lo <= id <= hi, by id, in chunks."""
    last = lo - 1
    while True:
        rows = raw_rows(conn, f"SELECT id, data, sha256 FROM raw_frames WHERE id > {int(last)} AND id <= {int(hi)} "
                              f"ORDER BY id LIMIT {chunk}")
        if not rows:
            return
        yield from rows
        last = int(rows[-1][0])


def frame_id_bounds(conn: Connection) -> tuple[int, int]:
    r = raw_rows(conn, "SELECT (SELECT MIN(id) FROM raw_frames), (SELECT MAX(id) FROM raw_frames)")
    return (1, 0) if not r or r[0][0] is None else (int(r[0][0]), int(r[0][1]))


def observation_time_bounds(conn: Connection) -> tuple[int | None, int | None]:
    # two subqueries: each is one seek of the time-leading key (MIN and MAX together scan the table on SQLite)
    r = raw_rows(conn, "SELECT (SELECT MIN(time_utc) FROM observations), (SELECT MAX(time_utc) FROM observations)")
    return (None, None) if not r or r[0][0] is None else (int(r[0][0]), int(r[0][1]))


def iter_seal_tuples(conn: Connection, kind: str, lo: int, hi: int,
                     chunk: int = 2000) -> Iterator[tuple[int, int, int, int, bytes, bytes]]:
    """(seq, first_id, last_id, n, root, leaves) of the seals of ``kind`` covering any id in [lo, hi],
    by first_id, as plain tuples (no object per seal: a quiet gateway's store has one seal a frame)."""
    straddler = seal_covering(conn, kind, lo)
    if straddler is not None and straddler.first_id < lo:
        s = straddler
        yield s.seq, s.first_id, s.last_id, s.n, s.root, s.leaves
    last = lo - 1
    k = kind if kind.isalpha() else ""
    while True:
        rows = raw_rows(conn, f"SELECT seq, first_id, last_id, n, root, leaves FROM ledger_seals WHERE kind = '{k}' "
                              f"AND first_id > {int(last)} AND first_id <= {int(hi)} ORDER BY first_id LIMIT {chunk}")
        if not rows:
            return
        if type(rows[0][4]) is bytes:
            yield from rows
        else:
            for r in rows:
                yield r[0], r[1], r[2], r[3], bytes(r[4]), bytes(r[5])
        last = int(rows[-1][1])


def checkpoint_blob(conn: Connection, checkpoint_id: int) -> bytes:
    r = conn.execute(select(ledger_checkpoints.c.entry_hashes).where(ledger_checkpoints.c.id == checkpoint_id)).first()
    return b"" if r is None else bytes(r[0])


def checkpoint_headers(conn: Connection) -> list[CheckpointRow]:
    """Checkpoints by seq, without their entry hashes (``entry_hashes`` empty; see :func:`checkpoint_blob`)."""
    c = ledger_checkpoints.c
    q = select(c.id, c.first_seq, c.seq, c.hash, c.entries_root, c.time_utc, c.key_id, c.public_key, c.signature)
    return [CheckpointRow(int(r.id), int(r.first_seq), int(r.seq), bytes(r.hash), bytes(r.entries_root), b"",
                          float(r.time_utc), r.key_id, bytes(r.public_key), bytes(r.signature))
            for r in conn.execute(q.order_by(c.seq, c.id))]




def last_digest(conn: Connection, table: str, key: str) -> tuple[int, bytes | None] | None:
    """(seq, row_digest) of the newest entry about row ``key`` of ``table``; None when there is none."""
    e = ledger_entries.c
    r = conn.execute(select(e.seq, e.row_digest).where(e.subject_table == table, e.subject_key == key)
                     .order_by(e.seq.desc()).limit(1)).first()
    return None if r is None else (int(r[0]), None if r[1] is None else bytes(r[1]))


def recent_entries(conn: Connection, *, kind_prefix: str | None = None, table: str | None = None,
                   key: str | None = None, limit: int = 50) -> list[EntryRow]:
    """Entries, newest first, filtered by kind prefix, subject table and key."""
    e = ledger_entries.c
    q = select(e.seq, e.time_utc, e.kind, e.actor, e.subject_table, e.subject_key, e.payload, e.row_digest,
               e.prev_hash, e.hash).order_by(e.seq.desc())
    if kind_prefix:
        q = q.where(e.kind.startswith(kind_prefix, autoescape=True))
    if table:
        q = q.where(e.subject_table == table)
    if key:
        q = q.where(e.subject_key == key)
    if limit > 0:
        q = q.limit(limit)
    return [_entry(r) for r in conn.execute(q)]
