"""Appending to the hash-chained ledger (issue 5 §1).

:func:`append_entry` adds one entry inside the caller's transaction: the entry commits or rolls
back with the change it records. Every change of meaning (a correction, a review, a mark, a
registry or user change) calls it right after writing its row. When ``subject_table`` is a
covered table (:mod:`tianlan.ledger.covered`), the entry also records the digest of the row as
it now stands (no row: the row was deleted), and ``tianlan ledger verify`` compares it with the
row it finds later.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from tianlan.errors import InputError
from tianlan.ledger import covered
from tianlan.ledger.canonical import dumps, entry_body, entry_hash
from tianlan.store import ledger_repo as repo

SYSTEM = "system"
_ACTOR: ContextVar[str | None] = ContextVar("tianlan_actor", default=None)


def current_actor() -> str:
    """Who acts in this context (set by :func:`acting_as`, e.g. the CLI's ``--as-user``); else ``system``."""
    return _ACTOR.get() or SYSTEM


@contextmanager
def acting_as(username: str | None) -> Iterator[None]:
    """Attribute ledger entries written without an explicit actor to ``username`` inside the block."""
    token = _ACTOR.set(username)
    try:
        yield
    finally:
        _ACTOR.reset(token)


def set_actor(username: str | None) -> None:
    """Set the acting user for the rest of this context (a CLI command's process)."""
    _ACTOR.set(username)


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    time_utc: float
    kind: str
    actor: str
    subject_table: str
    subject_key: str
    payload: dict[str, Any]
    row_digest: bytes | None
    prev_hash: bytes
    hash: bytes

    def body(self) -> bytes:
        return entry_body(self.seq, self.time_utc, self.kind, self.actor, self.subject_table, self.subject_key,
                          dumps(self.payload), self.row_digest)


def _append(ex: repo.Exec, *, kind: str, actor: str, subject_table: str, subject_key: str, payload: dict[str, Any],
            row_digest: bytes | None) -> Entry:
    if not kind or len(kind) > 32:
        raise InputError("kind", "ledger entry kind must be 1-32 characters")
    if not actor or len(actor) > 64:
        raise InputError("actor", "every ledger entry names who acted (1-64 characters)")
    try:
        payload_json = dumps(payload)
    except (TypeError, ValueError) as e:
        raise InputError("payload", f"not JSON-serialisable: {e}") from e
    seq, prev = repo.lock_head(ex)
    now = time.time()
    body = entry_body(seq, now, kind, actor, subject_table, subject_key, payload_json, row_digest)
    h = entry_hash(prev, body)
    repo.insert_entry(ex, repo.EntryRow(seq, now, kind, actor, subject_table, subject_key, payload_json, row_digest,
                                        prev, h))
    return Entry(seq, now, kind, actor, subject_table, subject_key, payload, row_digest, prev, h)


def append_entry(conn: Connection, *, kind: str, actor: str, subject_table: str = "", subject_key: str = "",
                 payload: dict[str, Any]) -> Entry:
    """Append one entry in ``conn``'s transaction and return it.

    ``subject_table``/``subject_key`` name the row the entry is about (``subject_key``: the key
    value, or canonical JSON of the key values for a composite key — :func:`covered.key_of`).
    Call it after writing the row: for a covered table the row's current digest is recorded.
    """
    digest = covered.digest_in(conn, subject_table, subject_key) if covered.is_covered(subject_table) else None
    return _append(repo.Exec(conn), kind=kind, actor=actor, subject_table=subject_table, subject_key=subject_key,
                   payload=payload, row_digest=digest)


def append_raw(target: Any, *, kind: str, actor: str, payload: dict[str, Any], subject_table: str = "",
               subject_key: str = "") -> Entry:
    """Append on a DBAPI cursor or connection (the frame writer's); no row digest."""
    return _append(repo.Exec(target), kind=kind, actor=actor, subject_table=subject_table, subject_key=subject_key,
                   payload=payload, row_digest=None)


def entry_from_row(r: repo.EntryRow) -> Entry:
    import json

    return Entry(r.seq, r.time_utc, r.kind, r.actor, r.subject_table, r.subject_key, json.loads(r.payload),
                 r.row_digest, r.prev_hash, r.hash)


def record_row(conn: Connection, *, kind: str, actor: str, subject_table: str, subject_key: str,
               payload: dict[str, Any]) -> Entry | None:
    """Append an entry about a covered row only if the row differs from what the ledger last recorded.

    For idempotent writers (registry imports, seeding): re-importing the same data adds nothing.
    """
    digest = covered.digest_in(conn, subject_table, subject_key)
    last = repo.last_digest(conn, subject_table, subject_key)
    if last is not None and last[1] == digest:
        return None
    return _append(repo.Exec(conn), kind=kind, actor=actor, subject_table=subject_table, subject_key=subject_key,
                   payload=payload, row_digest=digest)


def record_rows(conn: Connection, *, kind: str, actor: str, subject_table: str,
                rows: list[tuple[dict[str, Any], dict[str, Any]]]) -> list[Entry]:
    """:func:`record_row` for many rows of one covered table at once: ``rows`` are (key columns →
    values, payload). Two queries for the lot, then one entry per row that changed, appended
    together (one head update). For bulk writers: registry imports, seeding."""
    cov = covered.get(subject_table)
    if len(cov.key_columns) != 1:
        return [e for key, payload in rows
                if (e := record_row(conn, kind=kind, actor=actor, subject_table=subject_table,
                                    subject_key=cov.key_of(key), payload=payload)) is not None]
    kc = cov.key_columns[0]
    keys = [cov.key_of(k) for k, _ in rows]
    current = {cov.key_of(r): covered.digest(cov, r)
               for r in repo.covered_rows_by_key(conn, subject_table, kc, [k[kc] for k, _ in rows], cov.columns)}
    last = repo.last_digests(conn, subject_table, keys)
    todo = [(key, payload, current.get(key)) for key, (_, payload) in zip(keys, rows, strict=True)
            if key not in last or last[key] != current.get(key)]
    if not todo:
        return []
    payloads = [dumps(p) for _, p, _ in todo]
    ex = repo.Exec(conn)
    seq, prev = repo.lock_head_many(ex, len(todo))
    now = time.time()
    out: list[Entry] = []
    rows_out: list[repo.EntryRow] = []
    for i, ((key, payload, digest), pj) in enumerate(zip(todo, payloads, strict=True)):
        h = entry_hash(prev, entry_body(seq + i, now, kind, actor, subject_table, key, pj, digest))
        rows_out.append(repo.EntryRow(seq + i, now, kind, actor, subject_table, key, pj, digest, prev, h))
        out.append(Entry(seq + i, now, kind, actor, subject_table, key, payload, digest, prev, h))
        prev = h
    repo.insert_entries(ex, rows_out)
    return out
