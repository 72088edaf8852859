"""Which tables' rows the ledger covers, and the digest of such a row (issue 5 §2).

A module that records changes of meaning in a table declares it once::

    covered.register("devices", ["mn"], ["password", "site_code", "active", ...])

and calls :func:`tianlan.ledger.chain.append_entry` with ``subject_table="devices"`` and
``subject_key=covered.key_of("devices", {"mn": mn})`` after each change. The entry stores the
row's digest; ``tianlan ledger verify`` recomputes every covered row's digest and compares it with
the newest entry about that row: a value changed, a row deleted, rows with keys swapped, or a row
written without an entry are each reported with the table and the row's key.

Digest = SHA-256 of canonical JSON of {column: value} over the key and covered columns, values
normalised by column type (booleans as true/false, integers, floats, binary as hex, text).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from hashlib import sha256
from typing import Any

from sqlalchemy import Boolean, Connection, Float, Integer, LargeBinary

from tianlan.errors import InputError
from tianlan.ledger.canonical import dumps
from tianlan.store import ledger_repo as repo


@dataclass(frozen=True, slots=True)
class Covered:
    table: str
    key_columns: tuple[str, ...]
    columns: tuple[str, ...]  # key columns first, then the covered ones, each once

    def key_of(self, row: dict[str, Any]) -> str:
        vals = [_norm_key(row[k]) for k in self.key_columns]
        return str(vals[0]) if len(vals) == 1 else dumps(vals)

    def parse_key(self, key: str) -> list[Any]:
        """The key column values of ``key`` (as :meth:`key_of` wrote it), typed like the columns."""
        if len(self.key_columns) == 1:
            vals = [key]
        else:
            vals = json.loads(key)
            if not isinstance(vals, list) or len(vals) != len(self.key_columns):
                raise InputError("subject_key",
                                 f"expected a JSON list of {len(self.key_columns)} key values for {self.table}")
        out = []
        for c, v in zip(self.key_columns, vals, strict=True):
            try:
                out.append(_key_parser(self.table, c)(v))
            except (TypeError, ValueError) as e:
                raise InputError("subject_key", f"{self.table}.{c}: {v!r} is not a valid key value") from e
        return out


_REGISTRY: dict[str, Covered] = {}


def _norm_key(v: Any) -> Any:
    return v.hex() if isinstance(v, (bytes, bytearray, memoryview)) else v


def register(table_name: str, key_columns: list[str] | tuple[str, ...], columns: list[str] | tuple[str, ...]) -> Covered:
    """Declare that rows of ``table_name`` are covered by ledger entries (idempotent)."""
    from tianlan.store.schema import metadata

    t = metadata.tables.get(table_name)
    if t is None:
        raise InputError("table_name", f"no table {table_name!r} in the store schema")
    cols = tuple(dict.fromkeys([*key_columns, *columns]))
    for c in cols:
        if c not in t.c:
            raise InputError("columns", f"table {table_name} has no column {c!r}")
    if not key_columns:
        raise InputError("key_columns", "at least one key column")
    cov = Covered(table_name, tuple(key_columns), cols)
    _REGISTRY[table_name] = cov
    return cov


def is_covered(table_name: str) -> bool:
    _load_builtin()
    return table_name in _REGISTRY


def get(table_name: str) -> Covered:
    _load_builtin()
    try:
        return _REGISTRY[table_name]
    except KeyError:
        raise InputError("subject_table", f"{table_name!r} is not a covered table") from None


def tables() -> list[Covered]:
    _load_builtin()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def key_of(table_name: str, row: dict[str, Any]) -> str:
    return get(table_name).key_of(row)


def _normaliser(table: str, col: str) -> Any:
    from tianlan.store.schema import metadata

    typ = metadata.tables[table].c[col].type
    if isinstance(typ, Boolean):
        return bool
    if isinstance(typ, Integer):
        return int
    if isinstance(typ, Float):
        return float
    if isinstance(typ, LargeBinary):
        return lambda v: bytes(v).hex()
    return str


def _key_parser(table: str, col: str) -> Any:
    from tianlan.store.schema import metadata

    typ = metadata.tables[table].c[col].type
    if isinstance(typ, LargeBinary):
        return lambda v: bytes.fromhex(v) if isinstance(v, str) else bytes(v)
    if isinstance(typ, Boolean):
        return lambda v: v in (True, 1, "1", "true", "True")
    return _normaliser(table, col)


def digest(cov: Covered, row: dict[str, Any]) -> bytes:
    """SHA-256 of the canonical form of ``row`` (covered columns only)."""
    norm = {}
    for c in cov.columns:
        v = row[c]
        norm[c] = None if v is None else _normaliser(cov.table, c)(v)
    return sha256(dumps(norm).encode("utf-8")).digest()


def digest_in(conn: Connection, table_name: str, subject_key: str) -> bytes | None:
    """Digest of the row ``subject_key`` of a covered table as it stands in ``conn``; None if absent."""
    cov = get(table_name)
    row = repo.covered_row(conn, cov.table, cov.key_columns, cov.parse_key(subject_key), cov.columns)
    return None if row is None else digest(cov, row)


_BUILTIN_LOADED = False


def _load_builtin() -> None:
    """Import the modules that register Tianlan's own covered tables (users, keys, registry)."""
    global _BUILTIN_LOADED
    if _BUILTIN_LOADED:
        return
    _BUILTIN_LOADED = True
    import tianlan.ledger.coverage  # noqa: F401
