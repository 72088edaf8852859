"""API keys for other departments' systems (DESIGN "Users": shared data through the API, scoped).

A key is a 256-bit random token shown once at creation (``tlk_<prefix>_<secret>``); the store keeps
only its SHA-256 — enough for a high-entropy token, and a lookup is one indexed query — and the
first characters (``prefix``) to recognise it in lists. Creation and revocation are ledger entries.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from hashlib import sha256

from sqlalchemy import Engine

from tianlan.auth.roles import Role
from tianlan.auth.users import check_scope, parse_role
from tianlan.errors import AuthError, InputError
from tianlan.store import users_repo as repo

TOKEN_PREFIX = "tlk_"


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: int
    name: str
    role: Role
    scope: str
    rate_limit_per_min: int
    active: bool
    prefix: str = ""


def _key(r: object) -> ApiKey:
    return ApiKey(id=int(r.id), name=r.name, role=Role(r.role), scope=r.scope,  # type: ignore[attr-defined]
                  rate_limit_per_min=int(r.rate_limit_per_min), active=bool(r.active),  # type: ignore[attr-defined]
                  prefix=r.prefix)  # type: ignore[attr-defined]


def _hash(secret: str) -> bytes:
    return sha256(secret.encode("utf-8")).digest()


class ApiKeysRepo:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, name: str, role: str | Role, scope: str, *, rate_limit_per_min: int = 60,
               actor: str) -> tuple[ApiKey, str]:
        """A new key and its secret (shown once; only the hash is stored)."""
        if not name or not name.strip():
            raise InputError("name", "a key needs a name (whose system it is)")
        if not 1 <= rate_limit_per_min <= 100_000:
            raise InputError("rate_limit_per_min", "1..100000 requests per minute")
        r = parse_role(role)
        check_scope(self.engine, r, scope)
        prefix = secrets.token_hex(4)
        secret = f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
        row = repo.insert_api_key(self.engine, {"name": name.strip(), "prefix": prefix, "secret_sha256": _hash(secret),
                                                "role": r.value, "scope": scope,
                                                "rate_limit_per_min": rate_limit_per_min, "active": True}, actor=actor)
        return _key(row), secret

    def lookup(self, secret: str) -> ApiKey:
        """The active key with this secret; AuthError if unknown or revoked."""
        r = repo.api_key_by_hash(self.engine, _hash(secret or ""))
        if r is None:
            raise AuthError(reason="unknown API key")
        if not r.active:
            raise AuthError(reason=f"API key {r.id} revoked")
        return _key(r)

    def list(self) -> list[ApiKey]:
        return [_key(r) for r in repo.list_api_keys(self.engine)]

    def revoke(self, key_id: int, *, actor: str) -> ApiKey:
        return _key(repo.revoke_api_key(self.engine, key_id, actor=actor))
