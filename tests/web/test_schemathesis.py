"""Schemathesis against the running platform's OpenAPI schema: no input makes the server fail (5xx).

Every operation of ``/api/openapi.json`` gets a bounded number of generated requests (valid and
invalid parameters and bodies), once as the public and once with a province-wide API key (so that
the scoped endpoints run their queries rather than stop at 401), over real HTTP into a platform on
the two-city test world — SQLite here; the access and data tests cover PostgreSQL.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from platform_helpers import Platform, start_platform
from schemathesis.checks import not_a_server_error
from sqlalchemy import Engine
from web_world import build_world

from tianlan.auth.apikeys import ApiKeysRepo
from tianlan.auth.roles import Role
from tianlan.store.engine import open_store
from tianlan.store.registry_repo import RegistryRepo

EXAMPLES_PER_OPERATION = 12
TIME_BUDGET_S = 240


@pytest.fixture
def fuzz_platform(tmp_path: Path) -> Iterator[tuple[Platform, str]]:
    engine: Engine = open_store(f"sqlite:///{tmp_path / 'tianlan.db'}", sqlite_synchronous="NORMAL")
    RegistryRepo(engine).seed_defaults()
    build_world(engine)
    _key, secret = ApiKeysRepo(engine).create("fuzz", Role.PROVINCE, "130000", rate_limit_per_min=100_000, actor="test")
    p, th = start_platform(engine, tmp_path, idle_timeout_s=5.0, frame_timeout_s=2.0, assess_interval_s=0)
    yield p, secret
    p.stop()
    th.join(30)
    engine.dispose()


def _fuzz(op, base: str, headers: dict[str, str], statuses: list[int]) -> None:  # type: ignore[no-untyped-def]
    @given(case=op.as_strategy())
    @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    def run(case) -> None:  # type: ignore[no-untyped-def]
        r = case.call_and_validate(base_url=base, headers=headers, checks=[not_a_server_error])
        statuses.append(r.status_code)

    run()


def test_no_server_errors(fuzz_platform: tuple[Platform, str]) -> None:
    p, secret = fuzz_platform
    base = f"http://127.0.0.1:{p.http_port}"
    schema = schemathesis.openapi.from_url(f"{base}/api/openapi.json")
    started = time.monotonic()
    failures: list[str] = []
    operations = 0
    statuses: list[int] = []
    for result in schema.get_all_operations():
        op = result.ok()
        operations += 1
        for headers in ({}, {"X-API-Key": secret}):
            try:
                _fuzz(op, base, headers, statuses)
            except Exception as e:  # collect every failing operation, then report them all
                failures.append(f"{op.method.upper()} {op.path} ({'key' if headers else 'public'}): {e}"[:2000])
        assert time.monotonic() - started < TIME_BUDGET_S, "schemathesis run over its time budget"
    assert operations >= 25
    # the run did exercise the API: many requests, and both answers and refusals among them
    assert len(statuses) >= operations * 2 * 3
    assert any(s == 200 for s in statuses) and any(400 <= s < 500 for s in statuses)
    print(f"schemathesis: {operations} operations, {len(statuses)} requests, "
          f"{sum(s < 300 for s in statuses)} 2xx, {sum(400 <= s < 500 for s in statuses)} 4xx")
    assert not failures, "\n\n".join(failures)
