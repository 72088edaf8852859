"""JSON observation ingest over real HTTP into a running platform (gateway writer), both stores:
answered after commit, archived byte for byte, duplicates recognised, refusals quarantined and named."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from platform_helpers import Platform, start_platform
from sqlalchemy import Engine
from web_world import build_world

from tianlan.store.frames_repo import FramesRepo


@pytest.fixture
def world_platform(store: Engine, tmp_path: Path) -> Iterator[Platform]:
    build_world(store)
    p, th = start_platform(store, tmp_path, idle_timeout_s=5.0, frame_timeout_s=2.0, assess_interval_s=0)
    yield p
    p.stop()
    th.join(30)


def _post(p: Platform, body: bytes) -> httpx.Response:
    return httpx.post(f"http://127.0.0.1:{p.http_port}/api/v1/ingest/observations", content=body,
                      headers={"content-type": "application/json"}, timeout=20)


def test_json_observations_are_committed_archived_and_deduplicated(world_platform: Platform) -> None:
    p = world_platform
    body = orjson.dumps({"mn": "MNAIRSJZ0001", "pw": "pw0001", "observations": [
        {"time": "2026-06-01T10:00:00+08:00", "parameter": "a34004", "kind": "hour", "value": 35.5, "flag": "N"},
        {"time": "2026-06-01 10:00", "parameter": "a21026", "kind": "hour", "value": 8.0, "flag": "N"},
    ]})
    r = _post(p, body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["status"] == "accepted" and out["observations"] == 2
    # committed before the answer: the archive holds the body byte for byte, the values are stored
    frame = FramesRepo(p.engine).frame(out["frame_id"])
    assert frame is not None and bytes(frame["data"]) == body and frame["channel"] == "json"
    rows = list(FramesRepo(p.engine).export("MNAIRSJZ0001", kind="hour", start_utc=1780279200, end_utc=1780282800))
    assert {(x.parameter, x.value) for x in rows} == {("a34004", 35.5), ("a21026", 8.0)}
    # a resend of the same bytes is a duplicate: archived, not stored twice
    again = _post(p, body).json()
    assert again["status"] == "duplicate" and again["duplicate_of"] == out["frame_id"] and again["observations"] == 0


@pytest.mark.parametrize(("body", "status", "field", "reason"), [
    (b"{not json", 422, "body", "json:malformed"),
    (orjson.dumps({"mn": "MNAIRSJZ0001", "pw": "pw0001", "observations": []}), 422, "observations", "json:invalid"),
    (orjson.dumps({"mn": "NOSUCHDEVICE", "pw": "x", "observations": [{"time": "2026-06-01", "parameter": "a34004"}]}),
     401, "mn", "unknown-mn"),
    (orjson.dumps({"mn": "MNAIRSJZ0001", "pw": "wrong", "observations": [{"time": "2026-06-01", "parameter": "a34004"}]}),
     401, "pw", "wrong-password"),
    (orjson.dumps({"mn": "MNAIRSJZ0001", "pw": "pw0001", "observations": [{"time": "yesterday", "parameter": "a34004"}]}),
     422, "observations[0].time", "bad-data"),
    (orjson.dumps({"mn": "MNAIRSJZ0001", "pw": "pw0001",
                   "observations": [{"time": "2026-06-01", "parameter": "a34004", "kind": "week"}]}),
     422, "observations[0].kind", "bad-data"),
])
def test_refusals_are_quarantined_and_name_the_field(world_platform: Platform, body: bytes, status: int, field: str,
                                                      reason: str) -> None:
    before = FramesRepo(world_platform.engine).stats()["quarantined"]
    r = _post(world_platform, body)
    assert r.status_code == status, r.text
    assert r.json()["error"]["field"] == field
    q = FramesRepo(world_platform.engine).quarantined(limit=1)
    assert FramesRepo(world_platform.engine).stats()["quarantined"] == before + 1
    assert q[0]["reason"] == reason and bytes(q[0]["data"]) == body
