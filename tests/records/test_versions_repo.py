"""Corrections without overwrite on both stores: the raw row stays, as-of reads give the old value."""

from __future__ import annotations

import pytest
from records_world import PARAM, World
from sqlalchemy import select

from tianlan.errors import InputError
from tianlan.store.schema import observations
from tianlan.store.versions_repo import VersionsRepo


class Clock:
    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def tick(self, s: float = 10.0) -> float:
        self.t += s
        return self.t


def _raw(world: World, t: int) -> tuple:
    with world.engine.connect() as c:
        return tuple(c.execute(select(observations.c.value, observations.c.flag)
                               .where(observations.c.time_utc == t, observations.c.parameter == PARAM,
                                      observations.c.kind == "hour")).first())  # type: ignore[arg-type]


def _value_at(repo: VersionsRepo, t: int, as_of: float | None) -> tuple:
    rows = [r for r in repo.series("MN-A", start_utc=t, end_utc=t + 1, kind="hour", as_of=as_of)]
    assert len(rows) == 1
    return rows[0].row.value, rows[0].row.flag, rows[0].version


def test_correction_is_a_version_and_as_of_returns_the_old_value(world: World) -> None:
    clock = Clock()
    repo = VersionsRepo(world.engine, clock=clock)
    t = world.day_utc + 5 * 3600
    raw_before = _raw(world, t)
    assert raw_before == (35.0, "N")
    v = repo.propose(world.u("city_sjz"), mn="MN-A", parameter=PARAM, kind="hour", time_utc=t, action="correct",
                     value=12.5, flag=None, reason="unit error in logger", document="运维记录 2019-001")
    assert v.status == "proposed"
    assert _value_at(repo, t, None) == (35.0, "N", 0)  # proposed is not in effect
    with pytest.raises(InputError) as e:
        repo.decide(world.u("city_sjz"), v.id, approve=True)
    assert e.value.field == "user"  # four eyes
    t_before = clock.tick()
    t_approve = clock.tick()
    v = repo.decide(world.u("city_sjz2"), v.id, approve=True, note="checked")
    assert v.status == "approved" and v.prev_value == 35.0 and v.decided_utc == t_approve
    clock.tick()
    # second correction later: substitution
    v2 = repo.propose(world.u("prov"), mn="MN-A", parameter=PARAM, kind="hour", time_utc=t, action="substitute",
                      value=13.0, flag="Re", reason="HJ 75 substitution", document="doc-2")
    t_approve2 = clock.tick()
    repo.decide(world.u("city_sjz"), v2.id, approve=True)
    assert _raw(world, t) == raw_before  # the raw row is untouched
    assert _value_at(repo, t, t_before) == (35.0, "N", 0)
    assert _value_at(repo, t, t_approve) == (12.5, "N", v.id)
    assert _value_at(repo, t, t_approve2 - 1) == (12.5, "N", v.id)
    assert _value_at(repo, t, t_approve2) == (13.0, "Re", v2.id)
    assert _value_at(repo, t, None) == (13.0, "Re", v2.id)
    # other hours are untouched
    assert _value_at(repo, t + 3600, None) == (36.0, "N", 0)
    (kind, raw_v, raw_f, versions), = repo.history(world.u("city_sjz"), mn="MN-A", parameter=PARAM, time_utc=t)
    assert (kind, raw_v, raw_f) == ("hour", 35.0, "N")
    assert [(x.id, x.status, x.prev_value) for x in versions] == [(v.id, "approved", 35.0), (v2.id, "approved", 12.5)]


def test_invalidation_and_rejection(world: World) -> None:
    repo = VersionsRepo(world.engine)
    t = world.day_utc
    v = repo.propose(world.u("city_sjz"), mn="MN-A", parameter=PARAM, kind="hour", time_utc=t, action="invalidate",
                     value=None, flag=None, reason="analyser out of control", document="QC log 7")
    with pytest.raises(InputError) as e:
        repo.decide(world.u("prov"), v.id, approve=False)
    assert e.value.field == "--note"
    repo.decide(world.u("prov"), v.id, approve=False, note="control chart fine")
    with pytest.raises(InputError) as e:
        repo.decide(world.u("city_sjz2"), v.id, approve=True)
    assert e.value.field == "version"  # decided once
    assert _value_at(repo, t, None) == (30.0, "N", 0)
    v = repo.propose(world.u("city_sjz"), mn="MN-A", parameter=PARAM, kind="hour", time_utc=t, action="invalidate",
                     value=None, flag=None, reason="analyser out of control", document="QC log 8")
    repo.decide(world.u("prov"), v.id, approve=True)
    assert _value_at(repo, t, None) == (None, "RM", v.id)
    assert [s for _, s in [(m, x.status) for m, x in repo.list(world.u("prov"))]] == ["approved", "rejected"]
    assert repo.list(world.u("city_ts")) == []  # another city sees none of Shijiazhuang's versions


def test_scope_and_field_errors(world: World) -> None:
    repo = VersionsRepo(world.engine)
    t = world.day_utc
    base = dict(parameter=PARAM, kind="hour", time_utc=t, action="correct", value=1.0, flag=None, reason="r",
                document="d")
    with pytest.raises(InputError) as e:
        repo.propose(world.u("city_ts"), mn="MN-A", **base)  # type: ignore[arg-type]
    assert e.value.field == "--mn" and "scope" in e.value.reason
    with pytest.raises(InputError) as e:
        repo.propose(world.u("auditor"), mn="MN-A", **base)  # type: ignore[arg-type]
    assert e.value.field == "user"
    with pytest.raises(InputError) as e:
        repo.propose(world.u("city_sjz"), mn="NOPE", **base)  # type: ignore[arg-type]
    assert e.value.field == "--mn"
    with pytest.raises(InputError) as e:
        repo.propose(world.u("city_sjz"), mn="MN-A", **{**base, "time_utc": t + 1})  # type: ignore[arg-type]
    assert e.value.field == "--time"
    v = repo.propose(world.u("city_sjz"), mn="MN-A", **base)  # type: ignore[arg-type]
    with pytest.raises(InputError) as e:
        repo.decide(world.u("city_ts"), v.id, approve=True)
    assert e.value.field == "version"
    with pytest.raises(InputError) as e:
        repo.history(world.u("city_ts"), mn="MN-A", parameter=PARAM, time_utc=t)
    assert e.value.field == "--mn"
    with pytest.raises(InputError):
        list(repo.series("MN-A", user=world.u("ent1")))
