"""QC inputs read from the store see the enterprise data marks (2022 marking rule), on both stores."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine

from tianlan.auth import keys
from tianlan.auth.users import UsersRepo
from tianlan.model.registry import Device, Enterprise, Site
from tianlan.qc.core import Mark
from tianlan.qc.inputs import load_store
from tianlan.store.marks_repo import MarksRepo
from tianlan.store.registry_repo import RegistryRepo

T0 = 1_546_300_800 - 8 * 3600  # 2019-01-01 00:00 Beijing
SO2 = "a21026"


@pytest.fixture(autouse=True)
def cheap_argon2() -> Iterator[None]:
    saved = dict(keys._COST)
    keys.set_cost(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    keys.set_cost(**saved)


def test_load_store_passes_the_stored_enterprise_marks_into_each_context(store: Engine, put_observations) -> None:
    reg = RegistryRepo(store)
    reg.upsert_enterprises([Enterprise("E1", "甲电厂", "130100")])
    reg.upsert_sites([Site("S-E1", "甲厂1号排口", "source", "130100", enterprise="E1", outlet_type="gas"),
                      Site("S-E2", "甲厂2号排口", "source", "130100", enterprise="E1", outlet_type="gas")])
    reg.add_device(Device("MN-E1", "123456", kind="source", site="S-E1"))
    reg.add_device(Device("MN-E2", "123456", kind="source", site="S-E2"))
    ids = {d.mn: d.id for d in reg.device_rows()}
    put_observations(store, [{"time_utc": T0 + h * 3600, "device_id": ids[mn], "parameter": SO2, "kind": "hour",
                              "value": 20.0 + h, "flag": "N", "frame_id": 1}
                             for mn in ("MN-E1", "MN-E2") for h in range(48)])
    ent = UsersRepo(store).add("ent1", "correct horse 1", "enterprise", "E1", display_name="甲厂", actor="setup")
    clock = [float(T0 + 50 * 3600)]
    marks = MarksRepo(store, clock=lambda: clock[0])
    marks.add(ent, station="S-E1", kind="shutdown", start_utc=T0 + 10 * 3600, end_utc=T0 + 14 * 3600, reason="停炉")
    marks.add(ent, station="S-E1", kind="maintenance", start_utc=T0 + 2 * 3600, end_utc=T0 + 3 * 3600, reason="维护")
    marks.add(ent, station="S-E1", kind="fault", start_utc=T0 + 100 * 3600, end_utc=T0 + 101 * 3600, reason="故障")

    ds = load_store(store, T0, T0 + 48 * 3600)
    got = ds.contexts["S-E1"].marks
    assert all(isinstance(m, Mark) for m in got)
    # oldest first; the mark outside the scanned window is not read; the creation time is kept (MARK-03)
    assert [(m.mark, m.start_utc - T0, m.end_utc - T0) for m in got] == [("maintenance", 7200, 10800),
                                                                         ("shutdown", 36000, 50400)]
    assert got[0].created_utc == clock[0]
    assert ds.contexts["S-E2"].marks == () or list(ds.contexts["S-E2"].marks) == []
