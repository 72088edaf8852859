"""API keys: secret shown once, only its hash stored; lookup, revoke; ledger entries (both stores)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tianlan.auth.apikeys import ApiKey, ApiKeysRepo
from tianlan.auth.roles import Role
from tianlan.errors import AuthError, InputError, NotFound


def test_create_lookup_revoke(store) -> None:
    repo = ApiKeysRepo(store)
    key, secret = repo.create("生态环境厅数据共享", Role.DEPARTMENT, "130100", rate_limit_per_min=120, actor="adm")
    assert isinstance(key, ApiKey) and key.active and key.rate_limit_per_min == 120 and key.role is Role.DEPARTMENT
    assert secret.startswith("tlk_") and len(secret) > 40
    with store.connect() as c:
        dump = str(c.execute(text("SELECT * FROM api_keys")).all())
    assert secret not in dump and secret[len("tlk_") + 9:] not in dump  # the random part (may itself hold "_")
    assert repo.lookup(secret) == key
    with pytest.raises(AuthError):
        repo.lookup(secret + "x")
    with pytest.raises(AuthError):
        repo.lookup("")
    other, _ = repo.create("other", Role.DEPARTMENT, "130000", actor="adm")
    assert [k.id for k in repo.list()] == [key.id, other.id]
    revoked = repo.revoke(key.id, actor="adm")
    assert not revoked.active
    with pytest.raises(AuthError):
        repo.lookup(secret)
    with pytest.raises(NotFound):
        repo.revoke(999, actor="adm")
    with store.connect() as c:
        kinds = c.execute(text("SELECT kind FROM ledger_entries WHERE subject_table = 'api_keys' ORDER BY seq")).scalars().all()
    assert kinds == ["apikey.create", "apikey.create", "apikey.revoke"]


def test_create_validates(store) -> None:
    repo = ApiKeysRepo(store)
    with pytest.raises(InputError) as e:
        repo.create("x", Role.DEPARTMENT, "nope", actor="adm")
    assert e.value.field == "scope"
    with pytest.raises(InputError) as e:
        repo.create("", Role.DEPARTMENT, "130100", actor="adm")
    assert e.value.field == "name"
    with pytest.raises(InputError) as e:
        repo.create("x", Role.DEPARTMENT, "130100", rate_limit_per_min=0, actor="adm")
    assert e.value.field == "rate_limit_per_min"
