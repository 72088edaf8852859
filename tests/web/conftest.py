"""Shared fixtures of the web tests (API and pages), on both stores.

``web_world``: a store holding a small two-city world written through the real write paths
(registry import, the frame writer's ``BatchStore``, ``AssessRepo.replace``, the alarm repository,
``QcRepo.write``): in Shijiazhuang (130100, "own") and Tangshan (130200, "other") one air station,
one water section and one enterprise gas outlet each, with 48 hours of data, official results,
alarms and a QC result. ``app_client``: a TestClient on an app over that store (no gateway);
``client_as(role)``: a TestClient signed in as a user of that role scoped to Shijiazhuang (its
enterprise / agency for those roles, the province for province-wide roles); ``api_key(role)``: a
key secret of that role scoped likewise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from web_world import AGENCY, OWN_CITY, OWN_ENTERPRISE, PASSWORD, build_world

from tianlan.auth.roles import SCOPE_OF, Role, ScopeKind
from tianlan.errors import NotFound
from tianlan.settings import Settings


@dataclass
class World:
    engine: Engine
    alarm_ids: dict[str, int]
    data_dir: Path


@pytest.fixture
def web_world(store: Engine, tmp_path: Path) -> World:
    return World(store, build_world(store), tmp_path)


def web_settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, session_secret="test-secret-not-for-production")


@pytest.fixture
def app_client(web_world: World) -> Iterator[TestClient]:
    from tianlan.web.app import create_app

    app = create_app(web_world.engine, settings=web_settings(web_world.data_dir))
    with TestClient(app) as c:
        yield c


@pytest.fixture(autouse=True)
def _cheap_argon2() -> Iterator[None]:
    """Fast password hashing in tests (the production cost is 64 MiB and 3 passes)."""
    from tianlan.auth import keys

    old = dict(keys._COST)
    keys.set_cost(time_cost=1, memory_cost=8, parallelism=1)
    yield
    keys.set_cost(**old)


def scope_code(role: Role) -> str:
    """The scope a test principal of ``role`` gets: Shijiazhuang, its enterprise, an agency, or the province."""
    kind = SCOPE_OF[role]
    return {ScopeKind.PROVINCE: "130000", ScopeKind.REGION: OWN_CITY, ScopeKind.ENTERPRISE: OWN_ENTERPRISE,
            ScopeKind.AGENCY: AGENCY}[kind]


@pytest.fixture
def client_as(app_client: TestClient, web_world: World) -> Iterator[Callable[[Role], TestClient]]:
    """``client_as(role)``: a new TestClient on the same app, signed in as a user of ``role``."""
    from tianlan.auth.users import UsersRepo

    users = UsersRepo(web_world.engine)
    made: list[TestClient] = []

    def make(role: Role, *, scope: str | None = None) -> TestClient:
        name = f"u-{role.value}-{scope or scope_code(role)}"
        try:
            users.get(name)
        except NotFound:
            users.add(name, PASSWORD, role, scope or scope_code(role), display_name=f"测试 {role.value}", actor="test")
        c = TestClient(app_client.app)
        c.__enter__()
        made.append(c)
        r = c.post("/api/v1/auth/login", json={"username": name, "password": PASSWORD})
        assert r.status_code == 200, r.text
        c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        return c

    yield make
    for c in made:
        c.__exit__(None, None, None)


@pytest.fixture
def api_key(web_world: World) -> Callable[..., str]:
    """``api_key(role, scope=None, rate_limit_per_min=60)`` → the secret of a new key."""
    from tianlan.auth.apikeys import ApiKeysRepo

    repo = ApiKeysRepo(web_world.engine)

    def make(role: Role, *, scope: str | None = None, rate_limit_per_min: int = 600) -> str:
        _key, secret = repo.create(f"key-{role.value}", role, scope or scope_code(role),
                                   rate_limit_per_min=rate_limit_per_min, actor="test")
        return secret

    return make
