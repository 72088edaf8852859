"""Users: argon2id passwords, role/scope validation, personal keys, ledger entries (both stores)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tianlan.auth import keys
from tianlan.auth.roles import Role
from tianlan.auth.users import User, UsersRepo
from tianlan.errors import AuthError, Conflict, InputError, NotFound
from tianlan.model.registry import Enterprise
from tianlan.store.registry_repo import RegistryRepo


def test_add_get_authenticate(store) -> None:
    users = UsersRepo(store)
    u = users.add("li.wei", "correct horse", Role.CITY, "130100", display_name="李伟", actor="system")
    assert isinstance(u, User) and u.role is Role.CITY and u.scope == "130100" and u.active
    assert u.public_key is not None and len(u.public_key) == 32
    assert users.get("li.wei") == u == users.by_id(u.id)
    assert users.authenticate("li.wei", "correct horse") == u
    with pytest.raises(AuthError):
        users.authenticate("li.wei", "wrong password")
    with pytest.raises(AuthError):
        users.authenticate("nobody", "correct horse")
    with pytest.raises(NotFound):
        users.get("nobody")
    with pytest.raises(Conflict):
        users.add("li.wei", "another pass", Role.CITY, "130100", actor="system")
    with store.connect() as c:
        stored = c.execute(text("SELECT password_hash FROM users WHERE username = 'li.wei'")).scalar_one()
    assert stored.startswith("$argon2id$") and "correct horse" not in stored


def test_role_and_scope_validated(store) -> None:
    users = UsersRepo(store)
    with pytest.raises(InputError) as e:
        users.add("a1", "password1", "king", "130000", actor="system")
    assert e.value.field == "role"
    with pytest.raises(InputError) as e:
        users.add("a1", "password1", Role.CITY, "999999", actor="system")
    assert e.value.field == "scope"
    with pytest.raises(InputError) as e:  # the province roles need the province, not a city
        users.add("a1", "password1", Role.ADMIN, "130100", actor="system")
    assert e.value.field == "scope"
    with pytest.raises(InputError) as e:
        users.add("a1", "password1", Role.ENTERPRISE, "NOPE", actor="system")
    assert e.value.field == "scope"
    with pytest.raises(InputError) as e:
        users.add("a1", "short", Role.CITY, "130100", actor="system")
    assert e.value.field == "password"
    RegistryRepo(store).upsert_enterprises([Enterprise(code="E1", name="钢铁厂", region="130100")])
    assert users.add("e1", "password1", Role.ENTERPRISE, "E1", actor="system").scope == "E1"
    assert users.add("adm", "password1", Role.ADMIN, "130000", actor="system").role is Role.ADMIN
    assert [u.username for u in users.list(Role.ADMIN)] == ["adm"]
    assert [u.username for u in users.list()] == ["adm", "e1"]


def test_disable_and_passwords(store) -> None:
    users = UsersRepo(store)
    u = users.add("wang", "password1", Role.PROVINCE, "130000", actor="system")
    users.set_active("wang", False, actor="adm")
    with pytest.raises(AuthError):
        users.authenticate("wang", "password1")
    users.set_active("wang", True, actor="adm")
    # own change keeps the key pair; an admin reset rotates it (the old key cannot be decrypted)
    same = users.set_password("wang", "password2", actor="wang", old_password="password1")
    assert same.public_key == u.public_key
    users.authenticate("wang", "password2")
    with pytest.raises(AuthError):
        users.authenticate("wang", "password1")
    reset = users.set_password("wang", "password3", actor="adm")
    assert reset.public_key != u.public_key
    sig = users.sign_as("wang", "password3", b"day 2019-01-01")
    assert keys.verify_signature(reset.public_key, b"day 2019-01-01", sig)
    assert not keys.verify_signature(u.public_key, b"day 2019-01-01", sig)


def test_sign_as_needs_the_password(store) -> None:
    users = UsersRepo(store)
    u = users.add("sig", "password1", Role.SIGNATORY, "130100", actor="system")
    sig = users.sign_as("sig", "password1", "报告 R-1".encode())
    assert len(sig) == 64
    assert keys.verify_signature(u.public_key, "报告 R-1".encode(), sig)
    assert not keys.verify_signature(u.public_key, "报告 R-2".encode(), sig)
    assert not keys.verify_signature(u.public_key, b"x", b"\0" * 64)
    with pytest.raises(AuthError):
        users.sign_as("sig", "wrong-password", b"x")
    # the private key is stored encrypted: the raw key bytes are nowhere in the row
    with store.connect() as c:
        blob = bytes(c.execute(text("SELECT private_key_enc FROM users WHERE username='sig'")).scalar_one())
    assert blob.startswith(b"TK1")
    with pytest.raises(AuthError):
        keys.decrypt_private_key(blob, "password1", "someone-else")  # bound to the username


def test_user_changes_enter_the_ledger(store) -> None:
    users = UsersRepo(store)
    users.add("zhao", "password1", Role.AUDIT, "130000", actor="root")
    users.set_active("zhao", False, actor="root")
    with store.connect() as c:
        rows = c.execute(text("SELECT kind, actor, subject_table, subject_key, payload FROM ledger_entries "
                              "WHERE subject_table = 'users' ORDER BY seq")).all()
    assert [(r[0], r[1], r[3]) for r in rows] == [("user.add", "root", "zhao"), ("user.disable", "root", "zhao")]
    assert "password" not in rows[0][4] or "public_key" in rows[0][4]
    assert "password1" not in rows[0][4]
