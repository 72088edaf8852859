"""What the record repositories share: who the acting user is allowed to touch, and where a station is.

Issue 5 §3-7 repositories (versions, review, custody, marks, interference) all check access here,
in the repository layer, before any read or write (DESIGN principle 6): a region-bound role sees
the stations of its region and every region below it; an enterprise its own outlets; an agency the
stations whose site attributes name it as operator (``attrs.operator``); province-wide roles every
station. A station is a site code, or a device MN when the device belongs to no site (as in QC).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, select

from tianlan.auth.roles import SCOPE_OF, Role, ScopeKind
from tianlan.errors import InputError, NotFound
from tianlan.ledger.chain import append_entry
from tianlan.ledger.covered import key_of
from tianlan.store.schema import devices, sites
from tianlan.store.scoped import RegionTree, load_region_tree


class Actor(Protocol):
    """The acting user (``tianlan.auth.users.User`` satisfies it)."""

    username: str
    display_name: str
    role: Role
    scope: str
    active: bool
    public_key: bytes


@dataclass(frozen=True)
class Station:
    """A station as access checks need it."""

    code: str
    kind: str  # air | water | source | device (a device without a site)
    region: str | None
    enterprise: str | None
    operator: str | None
    name: str = ""


def load_station(conn: Connection, code: str, *, field: str = "--station") -> Station:
    """The station ``code`` (site code, or MN of a device without a site); InputError naming ``field``."""
    r = conn.execute(select(sites.c.code, sites.c.kind, sites.c.region_code, sites.c.enterprise_code, sites.c.attrs,
                            sites.c.name).where(sites.c.code == code)).first()
    if r is not None:
        try:
            attrs = json.loads(r.attrs or "{}")
        except ValueError:
            attrs = {}
        op = attrs.get("operator") if isinstance(attrs, dict) else None
        return Station(r.code, r.kind, r.region_code, r.enterprise_code, str(op) if op else None, r.name)
    d = conn.execute(select(devices.c.mn, devices.c.site_code).where(devices.c.mn == code)).first()
    if d is not None and d.site_code is None:
        return Station(d.mn, "device", None, None, None, d.mn)
    if d is not None:
        return load_station(conn, d.site_code, field=field)
    raise InputError(field, f"no station or device {code!r} / 无此站点")


def station_of_device(conn: Connection, mn: str, *, field: str = "--mn") -> tuple[int, Station]:
    """(device id, its station) for device ``mn``."""
    d = conn.execute(select(devices.c.id, devices.c.mn, devices.c.site_code).where(devices.c.mn == mn)).first()
    if d is None:
        raise InputError(field, f"no device with MN {mn!r} / 无此设备")
    if d.site_code is None:
        return int(d.id), Station(d.mn, "device", None, None, None, d.mn)
    return int(d.id), load_station(conn, d.site_code, field=field)


def station_devices(conn: Connection, station: str) -> list[tuple[int, str]]:
    """(id, mn) of the devices of a station (its site's devices, or the device itself)."""
    rows = conn.execute(select(devices.c.id, devices.c.mn).where(devices.c.site_code == station)).all()
    if rows:
        return [(int(r.id), r.mn) for r in rows]
    r = conn.execute(select(devices.c.id, devices.c.mn).where(devices.c.mn == station,
                                                               devices.c.site_code.is_(None))).first()
    return [(int(r.id), r.mn)] if r else []


class Access:
    """Scope checks for one store (the region tree is loaded once per repository)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._tree: RegionTree | None = None

    @property
    def tree(self) -> RegionTree:
        if self._tree is None:
            self._tree = load_region_tree(self.engine)
        return self._tree

    def covers(self, user: Actor, st: Station) -> bool:
        """Whether ``st`` lies in ``user``'s scope."""
        kind = SCOPE_OF[user.role]
        if kind is ScopeKind.PROVINCE:
            return True
        if kind is ScopeKind.REGION:
            if self.tree.is_province(user.scope):
                return True
            return st.region is not None and st.region in self.tree.descendants(user.scope)
        if kind is ScopeKind.ENTERPRISE:
            return st.enterprise is not None and st.enterprise == user.scope
        return st.operator is not None and st.operator == user.scope  # agency: the stations it operates

    def require(self, user: Actor, st: Station, *, field: str = "--station", roles: Iterable[Role] | None = None,
                what: str = "access") -> None:
        """InputError naming ``field`` unless the user is active, holds one of ``roles`` and covers ``st``."""
        active(user)
        if roles is not None and user.role not in set(roles):
            allowed = ", ".join(sorted(r.value for r in roles))
            raise InputError("user", f"{user.username} ({user.role.value}) may not {what}; roles allowed: {allowed} "
                                     "/ 无此权限")
        if not self.covers(user, st):
            raise InputError(field, f"{st.code} is outside {user.username}'s scope {user.scope!r} / 超出权限范围")


def active(user: Actor) -> None:
    if not user.active:
        raise InputError("user", f"{user.username} is deactivated / 账号已停用")


def ledger(conn: Connection, *, kind: str, user: str, table: str, row_id: int, payload: dict[str, Any]) -> int:
    """Ledger entry for the row ``row_id`` just written to the covered ``table``; returns its seq."""
    e = append_entry(conn, kind=kind, actor=user, subject_table=table, subject_key=key_of(table, {"id": row_id}),
                     payload=payload)
    return e.seq


def signer_keys(conn: Connection, username: str) -> list[bytes]:
    """Every public key ``username`` has held (current first, then those the ledger recorded at
    creation and at each key rotation), so a signature made before a reset still verifies."""
    from tianlan.store.schema_ledger import ledger_entries as le
    from tianlan.store.schema_ledger import users

    keys: list[bytes] = []
    cur = conn.execute(select(users.c.public_key).where(users.c.username == username)).scalar()
    if cur is not None:
        keys.append(bytes(cur))
    q = select(le.c.payload).where(le.c.subject_table == "users", le.c.subject_key == username).order_by(le.c.seq)
    for (payload,) in conn.execute(q):
        p = json.loads(payload)
        for k in ("public_key", "previous_public_key"):
            if isinstance(p.get(k), str):
                b = bytes.fromhex(p[k])
                if b not in keys:
                    keys.append(b)
    return keys


def verify_by(conn: Connection, username: str, message: bytes, signature: bytes) -> bool:
    """Whether ``signature`` over ``message`` verifies with a key ``username`` has held."""
    from tianlan.auth.keys import verify_signature

    return any(verify_signature(k, message, signature) for k in signer_keys(conn, username))


def not_found(kind: str, key: object) -> NotFound:
    return NotFound(kind, str(key))


def ledger_proof(conn: Connection, table: str, row_id: int) -> dict[str, Any]:
    """The ledger's evidence for one covered row: its newest entry (with the canonical body, so the
    entry hash can be recomputed as SHA-256(prev_hash ‖ SHA-256(body))) and, when a signed
    checkpoint covers the entry, the RFC 6962 audit path from the entry hash to the checkpoint's
    entries root and the platform's signature. Hex strings throughout."""
    from tianlan.ledger import merkle
    from tianlan.ledger.canonical import checkpoint_message
    from tianlan.ledger.chain import entry_from_row
    from tianlan.store import ledger_repo
    from tianlan.store.schema_ledger import ledger_entries as le

    key = key_of(table, {"id": row_id})
    seq = conn.execute(select(le.c.seq).where(le.c.subject_table == table, le.c.subject_key == key)
                       .order_by(le.c.seq.desc()).limit(1)).scalar()
    if seq is None:
        return {"table": table, "id": row_id, "entry": None}
    row = ledger_repo.entry(conn, int(seq))
    assert row is not None
    e = entry_from_row(row)
    out: dict[str, Any] = {"table": table, "id": row_id, "entry": {
        "seq": e.seq, "kind": e.kind, "actor": e.actor, "time_utc": e.time_utc, "body": e.body().decode("utf-8"),
        "row_digest": e.row_digest.hex() if e.row_digest else None, "prev_hash": e.prev_hash.hex(),
        "hash": e.hash.hex()}, "checkpoint": None}
    cp = ledger_repo.checkpoint_covering(conn, e.seq)
    if cp is not None:
        leaves = merkle.split(cp.entry_hashes)
        index = e.seq - cp.first_seq
        out["checkpoint"] = {
            "first_seq": cp.first_seq, "seq": cp.seq, "hash": cp.hash.hex(), "entries_root": cp.entries_root.hex(),
            "index": index, "size": len(leaves), "path": [p.hex() for p in merkle.audit_path(leaves, index)],
            "time_utc": cp.time_utc, "key_id": cp.key_id, "public_key": cp.public_key.hex(),
            "signature": cp.signature.hex(),
            "message": checkpoint_message(first_seq=cp.first_seq, seq=cp.seq, head_hash=cp.hash,
                                          entries_root=cp.entries_root, time_utc=cp.time_utc,
                                          key_id=cp.key_id).decode("utf-8"),
        }
    return out
