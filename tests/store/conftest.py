"""Store fixtures: ``engine`` runs a test on SQLite and, when TIANLAN_TEST_PG_URL is set, PostgreSQL.

Self-contained on purpose (it may move to tests/conftest.py). For PostgreSQL each test gets a fresh
database, created on the server named by the URL and dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from tianlan.store.engine import open_store

PG_ENV = "TIANLAN_TEST_PG_URL"


def _pg_engine(server_url: str) -> Iterator[Engine]:
    url = make_url(server_url)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    name = f"tianlan_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        engine = open_store(url.set(database=name).render_as_string(hide_password=False))
        try:
            yield engine
        finally:
            engine.dispose()
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A freshly migrated, empty store."""
    if request.param == "sqlite":
        eng = open_store(f"sqlite:///{tmp_path / 'tianlan.db'}")
        try:
            yield eng
        finally:
            eng.dispose()
        return
    server_url = os.environ.get(PG_ENV)
    if not server_url:
        pytest.skip(f"{PG_ENV} not set")
    yield from _pg_engine(server_url)
