"""Shared fixtures: stores on SQLite and PostgreSQL, a running platform on free ports.

PostgreSQL tests need ``TIANLAN_TEST_PG_URL`` (``scripts/test`` starts a server and sets it); each
test gets a fresh database created on that server and dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from platform_helpers import Platform, start_platform
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from tianlan.store.engine import open_store

PG_URL = os.environ.get("TIANLAN_TEST_PG_URL")
SHARED = Path(os.environ.get("TIANLAN_SHARED_DIR", Path(__file__).resolve().parents[1].parent / "shared"))
HEBEI = SHARED / "data" / "cnemc-hebei-2019"


def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database on the test server; dropped afterwards."""
    if not PG_URL:
        pytest.skip("TIANLAN_TEST_PG_URL not set (scripts/test starts PostgreSQL and sets it)")
    name = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The store URL for both backends (the same test runs on each)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tianlan.db'}"
    else:
        yield from pg_database()


@pytest.fixture
def store(store_url: str) -> Iterator[Engine]:
    """A migrated, seeded store on each backend."""
    from tianlan.store.registry_repo import RegistryRepo

    engine = open_store(store_url, sqlite_synchronous="NORMAL")
    RegistryRepo(engine).seed_defaults()
    yield engine
    engine.dispose()


@pytest.fixture
def platform(store: Engine, tmp_path: Path) -> Iterator[Platform]:
    p, th = start_platform(store, tmp_path, idle_timeout_s=5.0, frame_timeout_s=2.0)
    yield p
    p.stop()
    th.join(30)


@pytest.fixture(autouse=True)
def _reset_acting_user() -> Iterator[None]:
    """A CLI command sets the acting user for the rest of its process; a test is not a process."""
    yield
    from tianlan.ledger.chain import set_actor

    set_actor(None)


@pytest.fixture
def tianlan_cli(store_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run the real ``tianlan`` CLI against ``store_url`` (both stores): ``tianlan_cli("device", "add", ...)``."""
    from typer.testing import CliRunner

    from tianlan.cli import app

    monkeypatch.delenv("TIANLAN_DATABASE_URL", raising=False)
    monkeypatch.delenv("TIANLAN_USER", raising=False)
    monkeypatch.setenv("COLUMNS", "200")  # rich messages without wrapping
    runner = CliRunner()

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(app, [*args, "--database-url", store_url])

    return invoke
