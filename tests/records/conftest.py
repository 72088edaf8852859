"""Fixtures of the record tests: cheap argon2id, and the small world of records_world.py on both stores."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from records_world import World, make_world
from sqlalchemy import Engine

from tianlan.auth import keys


@pytest.fixture(autouse=True)
def cheap_argon2() -> Iterator[None]:
    saved = dict(keys._COST)
    keys.set_cost(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    keys.set_cost(**saved)


@pytest.fixture
def world(store: Engine) -> World:
    return make_world(store)
