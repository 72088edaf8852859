"""Users and API keys in the store: the only module with SQL for ``users`` and ``api_keys``.

Every write also appends its ledger entry in the same transaction (``tianlan.ledger.chain``), so a
user or key change and its record commit together. Secrets never enter the ledger: entries carry
names, roles, scopes, public keys and hashes' digests only (through the covered-row digest).
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from tianlan.errors import Conflict, NotFound
from tianlan.ledger.chain import append_entry
from tianlan.store.schema import enterprises, regions
from tianlan.store.schema_ledger import api_keys, users


def user_row(conn: Connection, *, username: str | None = None, user_id: int | None = None) -> Any:
    q = select(users)
    q = q.where(users.c.username == username) if username is not None else q.where(users.c.id == user_id)
    return conn.execute(q).first()


def list_users(engine: Engine, role: str | None = None) -> list[Any]:
    q = select(users).order_by(users.c.username)
    if role is not None:
        q = q.where(users.c.role == role)
    with engine.connect() as conn:
        return list(conn.execute(q))


def count_users(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(users)).scalar_one())


def insert_user(engine: Engine, row: dict[str, Any], *, actor: str, payload: dict[str, Any]) -> Any:
    with engine.begin() as conn:
        if user_row(conn, username=row["username"]) is not None:
            raise Conflict(f"用户 {row['username']!r} 已存在 / user already exists")
        now = time.time()
        conn.execute(users.insert().values(**row, created_utc=now, updated_utc=now))
        append_entry(conn, kind="user.add", actor=actor, subject_table="users", subject_key=row["username"],
                     payload=payload)
        return user_row(conn, username=row["username"])


def update_user(engine: Engine, username: str, values: dict[str, Any], *, kind: str, actor: str,
                payload: dict[str, Any]) -> Any:
    with engine.begin() as conn:
        if user_row(conn, username=username) is None:
            raise NotFound("user", username)
        conn.execute(users.update().where(users.c.username == username).values(**values, updated_utc=time.time()))
        append_entry(conn, kind=kind, actor=actor, subject_table="users", subject_key=username, payload=payload)
        return user_row(conn, username=username)


def region_exists(engine: Engine, code: str) -> str | None:
    """The region's level, or None when no such region."""
    with engine.connect() as conn:
        return conn.execute(select(regions.c.level).where(regions.c.code == code)).scalar_one_or_none()


def enterprise_exists(engine: Engine, code: str) -> bool:
    with engine.connect() as conn:
        return conn.execute(select(enterprises.c.code).where(enterprises.c.code == code)).first() is not None


# --- API keys ------------------------------------------------------------------------------------

def insert_api_key(engine: Engine, row: dict[str, Any], *, actor: str) -> Any:
    from tianlan.ledger.covered import key_of

    with engine.begin() as conn:
        kid = int(conn.execute(api_keys.insert().values(**row, created_by=actor, created_utc=time.time())
                               .returning(api_keys.c.id)).scalar_one())
        append_entry(conn, kind="apikey.create", actor=actor, subject_table="api_keys",
                     subject_key=key_of("api_keys", {"id": kid}),
                     payload={"id": kid, "name": row["name"], "prefix": row["prefix"], "role": row["role"],
                              "scope": row["scope"], "rate_limit_per_min": row["rate_limit_per_min"]})
        return conn.execute(select(api_keys).where(api_keys.c.id == kid)).first()


def api_key_by_hash(engine: Engine, secret_sha256: bytes) -> Any:
    with engine.connect() as conn:
        return conn.execute(select(api_keys).where(api_keys.c.secret_sha256 == secret_sha256)).first()


def list_api_keys(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(api_keys).order_by(api_keys.c.id)))


def revoke_api_key(engine: Engine, key_id: int, *, actor: str) -> Any:
    from tianlan.ledger.covered import key_of

    with engine.begin() as conn:
        r = conn.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
        if r is None:
            raise NotFound("api key", str(key_id))
        if r.active:
            conn.execute(api_keys.update().where(api_keys.c.id == key_id).values(active=False, revoked_utc=time.time()))
            append_entry(conn, kind="apikey.revoke", actor=actor, subject_table="api_keys",
                         subject_key=key_of("api_keys", {"id": key_id}), payload={"id": key_id, "name": r.name})
        return conn.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
