"""RegistryRepo on SQLite and PostgreSQL: seeding, exact round trip, upserts, all-or-nothing imports."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from tianlan.errors import Conflict, InputError
from tianlan.model.demo_network import demo_network
from tianlan.model.hebei import hebei_regions
from tianlan.model.parameters import default_parameters
from tianlan.model.registry import Device, Enterprise, Parameter, Region, Registry, Site
from tianlan.store import registry_repo as repo_module
from tianlan.store.registry_repo import DeviceRow, RegistryRepo
from tianlan.store.schema import devices, regions


def sorted_registry(reg: Registry) -> Registry:
    return Registry(
        regions=sorted(reg.regions, key=lambda x: x.code),
        enterprises=sorted(reg.enterprises, key=lambda x: x.code),
        sites=sorted(reg.sites, key=lambda x: x.code),
        devices=sorted(reg.devices, key=lambda x: x.mn),
        parameters=sorted(reg.parameters, key=lambda x: x.code),
    )


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_seed_defaults_is_idempotent(engine: Engine) -> None:
    repo = RegistryRepo(engine)
    assert repo.is_empty()
    n = repo.seed_defaults()
    assert n == len(hebei_regions()) + len(default_parameters())
    assert not repo.is_empty()
    assert repo.seed_defaults() == 0
    reg = repo.load()
    assert sorted_registry(Registry(regions=hebei_regions(), parameters=default_parameters())) == reg


def test_seed_keeps_operator_edits(engine: Engine) -> None:
    repo = RegistryRepo(engine)
    repo.seed_defaults()
    repo.upsert_parameters([Parameter("a34004", "PM2.5", "PM2.5", "mg/m³", "air")])
    repo.seed_defaults()
    assert {p.code: p for p in repo.load().parameters}["a34004"].unit == "mg/m³"


def test_demo_network_round_trip_is_exact(engine: Engine) -> None:
    repo = RegistryRepo(engine)
    reg = demo_network()
    assert repo.import_registry(reg) == reg.counts()
    assert repo.load() == sorted_registry(reg)
    # importing again changes nothing and keeps ids
    ids = {r.mn: r.id for r in repo.device_rows()}
    repo.import_registry(reg)
    assert repo.load() == sorted_registry(reg)
    assert {r.mn: r.id for r in repo.device_rows()} == ids


def test_edge_values_survive(engine: Engine) -> None:
    repo = RegistryRepo(engine)
    reg = Registry(
        regions=[Region("130000", "河北省", "", "province")],
        enterprises=[Enterprise("911301000000000001", "企业", "130000", "", False)],
        sites=[
            Site("S1", "n", "air", "130000", 114.123456789012345, 38.000000000001, "township", True),
            Site("S2", "n", "water", "130000"),
            Site("S3", "n", "source", "130000", enterprise="911301000000000001", outlet_type="gas",
                 attrs={"限值": {"a21026": 35.5}, "l": [1, None, "二"], "b": False}),
        ],
        devices=[Device("M" * 64, "p" * 40, kind="source", st="3101", protocol="2025", crc="modbus-be",
                        site="S3", parameters=[], active=False),
                 Device("NOSITE", "123456")],
        parameters=[Parameter("w01001", "pH值", "", "", "water", None)],
    )
    repo.import_registry(reg)
    assert repo.load() == sorted_registry(reg)


def test_upserts_in_pieces_reference_stored_objects(engine: Engine) -> None:
    repo = RegistryRepo(engine)
    repo.seed_defaults()
    repo.upsert_enterprises([Enterprise("E1", "钢铁", "130200", "steel")])
    repo.upsert_sites([Site("S1", "排口", "source", "130209", enterprise="E1", outlet_type="gas")])
    repo.upsert_devices([Device("MN1", "123456", kind="source", site="S1")])
    repo.upsert_regions([Region("130209100", "示例镇", "", "township", "130209")])
    # update in place
    repo.upsert_sites([Site("S1", "1号排口", "source", "130209", enterprise="E1", outlet_type="gas")])
    site = {s.code: s for s in repo.load().sites}["S1"]
    assert site.name == "1号排口"
    with pytest.raises(InputError) as info:
        repo.upsert_sites([Site("S2", "n", "source", "130209", enterprise="E-NONE")])
    assert str(info.value).startswith("sites[0]: enterprise: ")
    with pytest.raises(InputError, match=r"^regions\[0\]: parent: "):
        repo.upsert_regions([Region("139999001", "x", "", "township", "139999")])


def test_import_is_all_or_nothing_on_validation(engine: Engine) -> None:
    repo = RegistryRepo(engine)
    repo.seed_defaults()
    before = repo.load()
    bad = Registry(
        regions=[Region("130102001", "建北街道", "", "township", "130102")],
        sites=[Site("S1", "n", "air", "130102")],
        devices=[Device("MN1", "123456", site="S1"), Device("MN2", "123456", site="S-MISSING")],
    )
    with pytest.raises(InputError) as info:
        repo.import_registry(bad)
    assert str(info.value).startswith("devices[1]: site: ")
    assert repo.load() == before


def test_import_is_all_or_nothing_on_write_failure(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = RegistryRepo(engine)
    real = RegistryRepo._upsert

    def failing(self: RegistryRepo, conn: Any, table: Any, *a: Any, **k: Any) -> None:
        if table is devices:
            raise RuntimeError("disk full")
        real(self, conn, table, *a, **k)

    monkeypatch.setattr(repo_module.RegistryRepo, "_upsert", failing)
    with pytest.raises(RuntimeError):
        repo.import_registry(demo_network())
    assert count(engine, regions) == 0
    assert count(engine, devices) == 0


def test_add_device(engine: Engine) -> None:
    repo = RegistryRepo(engine)
    repo.seed_defaults()
    repo.upsert_sites([Site("W1", "断面", "water", "130100")])
    d = Device("010000A8900016F000169DC0", "123456", kind="water", crc="modbus-le", site="W1",
               parameters=["w01001", "w01009"])
    first = repo.add_device(d)
    assert repo.get_device(d.mn) == d
    with pytest.raises(Conflict, match="--replace"):
        repo.add_device(replace(d, password="654321"))
    assert repo.get_device(d.mn) == d
    assert repo.add_device(replace(d, password="654321"), replace=True) == first
    assert repo.get_device(d.mn).password == "654321"  # type: ignore[union-attr]
    with pytest.raises(InputError, match=r"^device M2: site: .*'W9'"):
        repo.add_device(Device("M2", "1", kind="water", site="W9"))
    with pytest.raises(InputError, match=r"^device M3: kind: "):
        repo.add_device(Device("M3", "1", kind="air", site="W1"))
    assert repo.get_device("M2") is None


def test_update_keeps_created_time(engine: Engine) -> None:
    repo = RegistryRepo(engine)
    repo.add_device(Device("M1", "123456"))
    with engine.connect() as conn:
        t0 = conn.execute(select(devices.c.created_utc)).scalar_one()
    repo.upsert_devices([Device("M1", "999999")])
    with engine.connect() as conn:
        assert conn.execute(select(devices.c.created_utc)).scalar_one() == t0


def test_lists_and_gateway_rows(engine: Engine) -> None:
    repo = RegistryRepo(engine)
    reg = demo_network(n_air=5, n_water=1, n_source=2)
    repo.import_registry(reg)
    listed = repo.list_devices()
    assert [d.mn for d in listed] == sorted(d.mn for d in reg.devices)
    rows = repo.device_rows()
    assert [r.id for r in rows] == sorted(r.id for r in rows)
    by_mn = {d.mn: d for d in reg.devices}
    for r in rows:
        assert isinstance(r, DeviceRow)
        d = by_mn[r.mn]
        assert r == DeviceRow(r.id, d.mn, d.password, d.st, d.kind, d.protocol, d.crc, d.site, d.parameters,
                              d.active)
        assert isinstance(r.id, int) and isinstance(r.active, bool)
    assert repo.get_device("nope") is None
    assert repo.get_site("HB-AIR-001") == reg.sites[0]
    assert repo.get_site("nope") is None


def test_summary(engine: Engine) -> None:
    repo = RegistryRepo(engine)
    repo.import_registry(demo_network())
    s = repo.summary()
    assert list(s["regions_by_level"]) == ["province", "city", "county", "township"]
    assert s["regions_by_level"]["city"] == 12
    assert s["sites_by_kind"] == {"air": 30, "source": 6, "water": 6}
    assert sum(s["devices_by_kind"].values()) == 42
    assert s["devices_by_crc"]["modbus-le"] == 1
    assert s["devices_by_protocol"]["2005"] == 7


def test_too_long_values_rejected_before_the_database(engine: Engine) -> None:
    repo = RegistryRepo(engine)
    with pytest.raises(InputError, match=r"^mn: .*too long"):
        repo.add_device(Device("M" * 65, "1"))
    with pytest.raises(InputError, match=r"^st: .*too long"):
        repo.add_device(Device("M", "1", st="31011"))
