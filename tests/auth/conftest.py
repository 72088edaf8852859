"""Cheap argon2id for tests (the production cost is 64 MiB × 3 passes per hash)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tianlan.auth import keys


@pytest.fixture(autouse=True)
def cheap_argon2() -> Iterator[None]:
    saved = dict(keys._COST)
    keys.set_cost(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    keys.set_cost(**saved)
