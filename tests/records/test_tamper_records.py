"""Edits and deletions of record rows done with SQL are found by ``ledger verify``, naming table and row."""

from __future__ import annotations

import pytest
from records_world import PARAM, PW, World
from sqlalchemy import Table, delete, select, update

from tianlan.ledger.verify import verify
from tianlan.store.custody_repo import CustodyRepo
from tianlan.store.marks_repo import MarksRepo
from tianlan.store.review_repo import ReviewRepo
from tianlan.store.schema_records import (
    custody_steps,
    enterprise_marks,
    observation_versions,
    review_actions,
    version_decisions,
)
from tianlan.store.versions_repo import VersionsRepo

T0 = 1_546_300_800
MINE = {"observation_versions", "version_decisions", "review_actions", "custody_samples", "custody_steps",
        "enterprise_marks"}


def _records(world: World) -> None:
    v = VersionsRepo(world.engine)
    x = v.propose(world.u("city_sjz"), mn="MN-A", parameter=PARAM, kind="hour", time_utc=world.day_utc,
                  action="correct", value=1.0, flag=None, reason="r", document="d")
    v.decide(world.u("prov"), x.id, approve=True)
    ReviewRepo(world.engine).act(world.u("city_sjz"), PW, "A-SJZ", world.day_utc, "approve")
    c = CustodyRepo(world.engine)
    c.record(world.u("lab_sampler"), PW, "S1", "sample", T0, {"place": "p", "container": "c", "preservation": "p"})
    c.record(world.u("lab_sampler"), PW, "S1", "transfer", T0 + 60, {"from": "lab_sampler", "to": "lab_analyst"})
    MarksRepo(world.engine).add(world.u("ent1"), station="S-E1", kind="fault", start_utc=T0, end_utc=T0 + 60,
                                reason="r")


def _found(world: World) -> set[tuple[str, str | None, str | None]]:
    return {(p.kind, p.table, p.row) for p in verify(world.engine, public_key=None).problems if p.table in MINE}


@pytest.mark.parametrize(("table", "change"), [
    (observation_versions, {"value": 99.0}),
    (version_decisions, {"user": "someone_else"}),
    (review_actions, {"digest": "0" * 64}),
    (custody_steps, {"time_utc": T0 - 3600}),
    (enterprise_marks, {"timeliness": "on-time"}),
    (observation_versions, None),  # None: delete the row
    (review_actions, None),
    (enterprise_marks, None),
])
def test_sql_edit_or_delete_is_detected(world: World, table: Table, change: dict | None) -> None:
    _records(world)
    assert _found(world) == set()
    with world.engine.begin() as c:
        rid = c.execute(select(table.c.id).order_by(table.c.id.desc()).limit(1)).scalar_one()
        if change is None:
            if table is observation_versions:
                c.execute(delete(version_decisions).where(version_decisions.c.version_id == rid))
            c.execute(delete(table).where(table.c.id == rid))
        else:
            c.execute(update(table).where(table.c.id == rid).values(**change))
    found = _found(world)
    want = ("row-deleted" if change is None else "row-changed", table.name, str(rid))
    assert want in found, found
