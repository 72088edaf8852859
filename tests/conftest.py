"""Shared fixtures: stores on SQLite and PostgreSQL, a running platform on free ports.

PostgreSQL tests need ``TIANLAN_TEST_PG_URL`` (``scripts/test`` starts a server and sets it); each
test gets a fresh database created on that server and dropped afterwards.
"""

from __future__ import annotations

import asyncio
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from tianlan.settings import Settings
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


@dataclass
class Platform:
    """A platform running in a background thread on free ports."""

    engine: Engine
    settings: Settings
    hj212_port: int
    http_port: int
    running: object
    loop: asyncio.AbstractEventLoop

    def stop(self) -> None:
        r = self.running
        self.loop.call_soon_threadsafe(r.stop.set)  # type: ignore[attr-defined]


def start_platform(engine: Engine, tmp_path: Path, **settings: object) -> tuple[Platform, threading.Thread]:
    from tianlan import runtime

    s = Settings(data_dir=tmp_path, hj212_port=0, http_port=0, hj212_host="127.0.0.1", **settings)  # type: ignore[arg-type]
    ready = threading.Event()
    box: dict = {}

    def target() -> None:
        async def main() -> None:
            def on_ready(r: runtime.Running) -> None:
                box["running"] = r
                box["loop"] = asyncio.get_running_loop()
                ready.set()

            await runtime.serve(engine, s, on_ready=on_ready, install_signals=False)

        asyncio.run(main())

    th = threading.Thread(target=target, daemon=True)
    th.start()
    assert ready.wait(20), "platform did not start"
    r = box["running"]
    return Platform(engine, s, r.hj212_port, r.http_port, r, box["loop"]), th


@pytest.fixture
def platform(store: Engine, tmp_path: Path) -> Iterator[Platform]:
    p, th = start_platform(store, tmp_path, idle_timeout_s=5.0, frame_timeout_s=2.0)
    yield p
    p.stop()
    th.join(30)
