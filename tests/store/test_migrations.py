"""Alembic migrations build exactly the schema declared in tianlan.store.schema, on both stores."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from tianlan.store.engine import current_revision, head_revision, migrate
from tianlan.store.schema import metadata


def test_migrated_store_matches_schema_and_is_at_head(store) -> None:
    assert current_revision(store) == head_revision()
    with store.connect() as c:
        diff = compare_metadata(MigrationContext.configure(c), metadata)
    # PostgreSQL has the extra per-device index on observations by design (see schema.py)
    diff = [d for d in diff if not (d[0] == "remove_index" and d[1].name == "ix_observations_device_time")]
    assert diff == []
    migrate(store)  # idempotent
    assert current_revision(store) == head_revision()
