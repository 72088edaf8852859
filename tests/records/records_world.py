"""A small world for the record tests: two cities, two enterprises, users of every role, one day of
hourly data (the ``world`` fixture of conftest.py builds it on each store)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from tianlan.auth.users import User, UsersRepo
from tianlan.ledger.review import day_start
from tianlan.model.registry import Device, Enterprise, Site
from tianlan.store.registry_repo import RegistryRepo

PW = "correct horse 1"
DAY = "2019-01-01"
PARAM = "a34004"  # PM2.5
USERS = {  # username: (role, scope, display name)
    "city_sjz": ("city", "130100", "石家庄审核员"),
    "city_sjz2": ("city", "130100", "石家庄复核员"),
    "city_ts": ("city", "130200", "唐山审核员"),
    "prov": ("province", "130000", "省中心审核员"),
    "sig_sjz": ("signatory", "130100", "石家庄签发人"),
    "ent1": ("enterprise", "E1", "甲厂"),
    "ent2": ("enterprise", "E2", "乙厂"),
    "admin": ("admin", "130000", "管理员"),
    "auditor": ("audit", "130000", "审计员"),
    "discipline": ("discipline", "130000", "纪检员"),
    "official": ("discipline", "130000", "王局长"),
    "lab_sampler": ("agency", "LAB1", "采样员"),
    "lab_analyst": ("agency", "LAB1", "分析员"),
    "lab_reviewer": ("agency", "LAB1", "审核人"),
    "lab_signer": ("agency", "LAB1", "授权签字人"),
}


@dataclass
class World:
    engine: Engine
    users: dict[str, User]
    day_utc: int

    def u(self, name: str) -> User:
        return self.users[name]


def insert_observations(engine: Engine, rows: list[dict]) -> None:
    """Observation rows straight into the store (test set-up), creating PostgreSQL partitions."""
    from sqlalchemy import insert

    from tianlan.store.partitions import PartitionKeeper, month_of
    from tianlan.store.schema import observations

    if engine.dialect.name == "postgresql":
        raw = engine.raw_connection()
        try:
            PartitionKeeper().ensure(raw.cursor(), {month_of(int(r["time_utc"])) for r in rows})
            raw.commit()
        finally:
            raw.close()
    with engine.begin() as c:
        c.execute(insert(observations), rows)


def make_world(store: Engine) -> World:
    reg = RegistryRepo(store)
    reg.upsert_enterprises([Enterprise("E1", "甲电厂", "130100"), Enterprise("E2", "乙钢厂", "130200")])
    reg.upsert_sites([
        Site("A-SJZ", "人民会堂", "air", "130102"),
        Site("A-TS", "唐山站", "air", "130200", attrs={"operator": "OPS1"}),
        Site("S-E1", "甲厂1号排口", "source", "130100", enterprise="E1", outlet_type="gas"),
        Site("S-E2", "乙厂1号排口", "source", "130200", enterprise="E2", outlet_type="gas"),
    ])
    for mn, site, kind in (("MN-A", "A-SJZ", "air"), ("MN-B", "A-TS", "air"), ("MN-E1", "S-E1", "source"),
                           ("MN-E2", "S-E2", "source")):
        reg.add_device(Device(mn, "123456", kind=kind, site=site))  # type: ignore[arg-type]
    ids = {d.mn: d for d in reg.device_rows()}
    day = day_start(DAY)
    rows = []
    for mn in ("MN-A", "MN-B"):
        for h in range(24):
            rows.append({"time_utc": day + h * 3600, "device_id": ids[mn].id, "parameter": PARAM, "kind": "hour",
                         "value": 30.0 + h, "flag": "N", "frame_id": 1})
    insert_observations(store, rows)
    repo = UsersRepo(store)
    users = {name: repo.add(name, PW, role, scope, display_name=dn, actor="setup")
             for name, (role, scope, dn) in USERS.items()}
    return World(store, users, day)
