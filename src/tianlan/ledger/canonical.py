"""Canonical encodings the ledger hashes: one byte string for each entry, row and checkpoint.

Canonical JSON = ``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
allow_nan=False)`` encoded as UTF-8. Floats use Python's shortest round-trip form, which both
SQLite (REAL) and PostgreSQL (double precision) return bit-exact, so a digest computed at write
time is reproduced by ``tianlan ledger verify`` on either store.

Entry hash (issue 5 §1)::

    body = canonical JSON of {seq, time_utc, kind, actor, subject_table, subject_key,
                              payload (object), row_digest (hex or null)}
    hash = SHA-256(prev_hash ‖ SHA-256(body))

Hashing the body first lets an inclusion proof carry a later entry as its 32-byte body digest.
"""

from __future__ import annotations

import json
from hashlib import sha256
from typing import Any

GENESIS = bytes(32)


def dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


_json_str = json.JSONEncoder(ensure_ascii=False).encode


def _s(v: str) -> str:
    """A JSON string literal, as json.dumps writes it (verification calls this per field): printable
    ASCII without a quote or backslash needs no escape, so it is quoted as is; the rest go to json."""
    if v.isascii() and v.isprintable() and '"' not in v and "\\" not in v:
        return '"' + v + '"'
    return _json_str(v)


_S_CACHE: dict[str, str] = {}


def _sc(v: str) -> str:
    """:func:`_s` remembered, for the few distinct values of an entry's kind, actor and subject table."""
    r = _S_CACHE.get(v)
    if r is None:
        if len(_S_CACHE) > 4096:
            _S_CACHE.clear()
        r = _S_CACHE[v] = _s(v)
    return r


def _f(v: float) -> str:
    """A float as json.dumps writes it (shortest round-trip repr); NaN and infinities are refused."""
    x = float(v)
    if x != x or x in (float("inf"), float("-inf")):
        raise ValueError("time_utc must be finite")
    return repr(x)


def entry_body(seq: int, time_utc: float, kind: str, actor: str, subject_table: str, subject_key: str,
               payload_json: str, row_digest: bytes | None) -> bytes:
    """The canonical body of an entry; ``payload_json`` must be :func:`dumps` of the payload.

    Built by splicing the already-canonical payload text (keys in sorted order), which equals
    ``dumps`` of the whole object and spares verification a parse per entry.
    """
    digest = "null" if row_digest is None else '"' + row_digest.hex() + '"'
    return (f'{{"actor":{_sc(actor)},"kind":{_sc(kind)},"payload":{payload_json},"row_digest":{digest},'
            f'"seq":{int(seq)},"subject_key":{_s(subject_key)},"subject_table":{_sc(subject_table)},'
            f'"time_utc":{_f(time_utc)}}}').encode()


def entry_hash(prev_hash: bytes, body: bytes) -> bytes:
    return sha256(prev_hash + sha256(body).digest()).digest()


def checkpoint_message(*, first_seq: int, seq: int, head_hash: bytes, entries_root: bytes, time_utc: float,
                       key_id: str) -> bytes:
    """What the platform key signs for a checkpoint (canonical JSON, UTF-8)."""
    return dumps({"platform": "tianlan", "type": "ledger-checkpoint", "first_seq": first_seq, "seq": seq,
                  "hash": head_hash.hex(), "entries_root": entries_root.hex(), "time_utc": float(time_utc),
                  "key_id": key_id}).encode("utf-8")
