"""People who use Tianlan: one role and one scope each, an argon2id password, a personal Ed25519 key.

Issue 5 §0. Every change (add, disable, password) is a ledger entry attributed to ``actor``. The
private key is encrypted under the user's password (:mod:`tianlan.auth.keys`), so signatures made
with :meth:`UsersRepo.sign_as` prove that the person who knew the password signed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Engine

from tianlan.auth import keys
from tianlan.auth.roles import SCOPE_OF, Role, ScopeKind
from tianlan.errors import AuthError, InputError, NotFound
from tianlan.store import users_repo as repo

USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")
AGENCY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")
MIN_PASSWORD = 8
# verifying against this keeps a login for an unknown user as slow as one for a known user
_DUMMY_HASH: str | None = None


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    display_name: str
    role: Role
    scope: str
    active: bool
    public_key: bytes | None


def _user(r: object) -> User:
    return User(id=int(r.id), username=r.username, display_name=r.display_name, role=Role(r.role),  # type: ignore[attr-defined]
                scope=r.scope, active=bool(r.active),  # type: ignore[attr-defined]
                public_key=None if r.public_key is None else bytes(r.public_key))  # type: ignore[attr-defined]


def parse_role(role: str | Role) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise InputError("role", f"unknown role {role!r}; known: {', '.join(r.value for r in Role)}") from None


def check_scope(engine: Engine, role: Role, scope: str) -> None:
    """InputError(scope) unless ``scope`` is the right kind of code for ``role`` and exists."""
    kind = SCOPE_OF[role]
    if not scope:
        raise InputError("scope", f"role {role.value} needs a {kind.value} code")
    if kind in (ScopeKind.PROVINCE, ScopeKind.REGION):
        level = repo.region_exists(engine, scope)
        if level is None:
            raise InputError("scope", f"no region with code {scope!r}")
        if kind is ScopeKind.PROVINCE and level != "province":
            raise InputError("scope", f"role {role.value} is bound to the province; {scope!r} is a {level}")
    elif kind is ScopeKind.ENTERPRISE:
        if not repo.enterprise_exists(engine, scope):
            raise InputError("scope", f"no enterprise with code {scope!r}")
    elif not AGENCY_RE.match(scope):
        raise InputError("scope", f"agency code {scope!r}: 1-32 letters, digits, '-' or '_'")


def check_password_rules(password: str, field: str = "password") -> None:
    if len(password) < MIN_PASSWORD:
        raise InputError(field, f"at least {MIN_PASSWORD} characters")


class UsersRepo:
    """Users in the store at ``engine``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(self, username: str, password: str, role: str | Role, scope: str, *, display_name: str = "",
            actor: str) -> User:
        """Create a user with a fresh personal key pair; Conflict if the username exists."""
        if not USERNAME_RE.match(username or ""):
            raise InputError("username", "2-64 characters: letters, digits, '.', '_', '@', '-' (first a letter or digit)")
        r = parse_role(role)
        check_scope(self.engine, r, scope)
        check_password_rules(password)
        private, public = keys.new_keypair()
        row = {"username": username, "display_name": display_name, "role": r.value, "scope": scope, "active": True,
               "password_hash": keys.hash_password(password), "public_key": public,
               "private_key_enc": keys.encrypt_private_key(private, password, username)}
        rec = repo.insert_user(self.engine, row, actor=actor,
                               payload={"username": username, "display_name": display_name, "role": r.value,
                                        "scope": scope, "public_key": public.hex()})
        return _user(rec)

    def get(self, username: str) -> User:
        with self.engine.connect() as conn:
            r = repo.user_row(conn, username=username)
        if r is None:
            raise NotFound("user", username)
        return _user(r)

    def by_id(self, user_id: int) -> User:
        with self.engine.connect() as conn:
            r = repo.user_row(conn, user_id=user_id)
        if r is None:
            raise NotFound("user", str(user_id))
        return _user(r)

    def list(self, role: str | Role | None = None) -> list[User]:
        return [_user(r) for r in repo.list_users(self.engine, None if role is None else parse_role(role).value)]

    def count(self) -> int:
        return repo.count_users(self.engine)

    def authenticate(self, username: str, password: str) -> User:
        """The user when ``password`` is right and the account active; AuthError otherwise."""
        global _DUMMY_HASH
        with self.engine.connect() as conn:
            r = repo.user_row(conn, username=username)
        if r is None:
            if _DUMMY_HASH is None:
                _DUMMY_HASH = keys.hash_password("tianlan-dummy-password")
            keys.check_password(_DUMMY_HASH, password)
            raise AuthError(reason=f"unknown user {username!r}")
        if not keys.check_password(r.password_hash, password):
            raise AuthError(reason=f"wrong password for {username!r}")
        if not r.active:
            raise AuthError("账户已停用 / account disabled", reason=f"user {username!r} disabled")
        return _user(r)

    def set_active(self, username: str, active: bool, *, actor: str) -> User:
        return _user(repo.update_user(self.engine, username, {"active": bool(active)},
                                      kind="user.enable" if active else "user.disable", actor=actor,
                                      payload={"username": username, "active": bool(active)}))

    def set_password(self, username: str, new_password: str, *, actor: str, old_password: str | None = None) -> User:
        """Set a new password and re-encrypt the personal key under it.

        With ``old_password`` (a user changing their own) the same key pair is kept. Without it (an
        administrator's reset) the old private key cannot be decrypted — by design — so the user
        gets a new key pair; the ledger entry records both public keys, so earlier signatures stay
        verifiable.
        """
        check_password_rules(new_password, "new_password")
        with self.engine.connect() as conn:
            r = repo.user_row(conn, username=username)
        if r is None:
            raise NotFound("user", username)
        if old_password is not None:
            if not keys.check_password(r.password_hash, old_password):
                raise AuthError(reason="old password wrong")
            private = keys.decrypt_private_key(bytes(r.private_key_enc), old_password, username)
            public = keys.public_bytes(private)
        else:
            private, public = keys.new_keypair()
        old_public = None if r.public_key is None else bytes(r.public_key).hex()
        rec = repo.update_user(self.engine, username,
                               {"password_hash": keys.hash_password(new_password), "public_key": public,
                                "private_key_enc": keys.encrypt_private_key(private, new_password, username)},
                               kind="user.passwd", actor=actor,
                               payload={"username": username, "public_key": public.hex(),
                                        "previous_public_key": old_public, "key_rotated": old_public != public.hex()})
        return _user(rec)

    def sign_as(self, username: str, password: str, message: bytes) -> bytes:
        """Ed25519 signature of ``message`` with the user's personal key (AuthError on a wrong password)."""
        self.authenticate(username, password)
        with self.engine.connect() as conn:
            r = repo.user_row(conn, username=username)
        if r is None or r.private_key_enc is None:
            raise AuthError(reason=f"user {username!r} has no personal key")
        return keys.sign(keys.decrypt_private_key(bytes(r.private_key_enc), password, username), message)
