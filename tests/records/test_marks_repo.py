"""Enterprise marks on both stores: own outlets only, late/retroactive kept and flagged, QC read."""

from __future__ import annotations

import pytest
from records_world import World

from tianlan.errors import InputError
from tianlan.ledger.marks import MarkRules
from tianlan.qc.core import Mark
from tianlan.store.marks_repo import MarksRepo

T0 = 1_546_300_800


def test_marks_own_outlet_only_and_timeliness(world: World) -> None:
    now = [T0 - 3600.0]
    repo = MarksRepo(world.engine, clock=lambda: now[0], rules=MarkRules(window_days=10, grace_h=1))
    m = repo.add(world.u("ent1"), station="S-E1", kind="maintenance", start_utc=T0, end_utc=T0 + 4 * 3600,
                 reason="更换采样探头 / probe replaced", document="运维单 17")
    assert m.timeliness == "on-time" and m.enterprise_code == "E1"
    now[0] = T0 + 5 * 3600
    m2 = repo.add(world.u("ent1"), station="S-E1", kind="shutdown", start_utc=T0 + 3600, end_utc=T0 + 2 * 3600,
                  reason="停炉")
    assert m2.timeliness == "retroactive" and m2.delay_s == 4 * 3600
    now[0] = T0 + 30 * 86400
    m3 = repo.add(world.u("ent1"), station="S-E1", kind="fault", start_utc=T0, end_utc=T0 + 3600, reason="故障")
    assert m3.timeliness == "late"  # kept, flagged
    for who, station in (("ent1", "S-E2"), ("ent2", "S-E1"), ("ent1", "A-SJZ")):
        with pytest.raises(InputError) as e:
            repo.add(world.u(who), station=station, kind="maintenance", start_utc=T0, end_utc=T0 + 60, reason="x")
        assert e.value.field == "--station"
    with pytest.raises(InputError) as e:
        repo.add(world.u("city_sjz"), station="S-E1", kind="maintenance", start_utc=T0, end_utc=T0 + 60, reason="x")
    assert e.value.field == "user"
    with pytest.raises(InputError) as e:
        repo.add(world.u("ent1"), station="S-E1", kind="maintenance", start_utc=T0, end_utc=T0, reason="x")
    assert e.value.field == "--to"
    # reads: own enterprise, the city of the outlet, the province; not the other enterprise or city
    assert len(repo.list(world.u("ent1"))) == 3
    assert repo.list(world.u("ent2")) == []
    assert repo.list(world.u("city_ts")) == []
    assert [x.timeliness for x in repo.list(world.u("city_sjz"), timeliness="late")] == ["late"]
    with pytest.raises(InputError) as e:
        repo.list(world.u("ent2"), station="S-E1")
    assert e.value.field == "--station"
    # the QC read: Mark objects overlapping the window, oldest first
    got = repo.marks_for("S-E1", T0 + 1800, T0 + 2 * 3600)
    assert all(isinstance(x, Mark) for x in got)
    assert [(x.mark, x.start_utc) for x in got] == [("maintenance", T0), ("fault", T0), ("shutdown", T0 + 3600)]
    assert repo.marks_for("S-E1", T0 + 5 * 3600, T0 + 6 * 3600) == []
    assert got[0].created_utc == T0 - 3600.0
