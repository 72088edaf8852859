"""The network registry in the store: the only module with SQL for regions, enterprises, sites,
devices and parameters (SQLAlchemy Core; the same statements run on SQLite and PostgreSQL).

Writes validate first (duplicate keys, references to objects in the batch or already stored, enum
values, ranges) and then upsert everything in one transaction in dependency order, so a rejected
batch leaves the store as it was. Devices keep their ``id`` and ``created_utc`` when updated.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, Table, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row

from tianlan.errors import Conflict, StoreError
from tianlan.model.hebei import hebei_regions
from tianlan.model.parameters import default_parameters
from tianlan.model.registry import REGION_LEVELS, Device, Enterprise, Parameter, Region, Registry, Site
from tianlan.store.schema import devices, enterprises, parameters, regions, sites

_IN_CHUNK = 500  # codes per IN (...) list; well under SQLite's bound-parameter limit


class DeviceRow(NamedTuple):
    """One device as the gateway caches it (``parameters`` split into codes)."""

    id: int
    mn: str
    password: str
    st: str | None
    kind: str
    protocol: str
    crc_variant: str
    site_code: str | None
    parameters: list[str]
    active: bool


# --- row ⇄ domain mapping ------------------------------------------------------------------------

def _region_row(r: Region) -> dict[str, Any]:
    return {"code": r.code, "name": r.name, "name_en": r.name_en, "level": r.level, "parent_code": r.parent}


def _enterprise_row(e: Enterprise) -> dict[str, Any]:
    return {"code": e.code, "name": e.name, "region_code": e.region, "industry": e.industry,
            "key_polluter": e.key_polluter}


def _site_row(s: Site) -> dict[str, Any]:
    return {
        "code": s.code, "name": s.name, "kind": s.kind, "region_code": s.region, "lon": s.lon, "lat": s.lat,
        "control_level": s.control_level, "background": s.background, "section_type": s.section_type,
        "target_class": s.target_class, "enterprise_code": s.enterprise, "outlet_type": s.outlet_type,
        "attrs": json.dumps(s.attrs, ensure_ascii=False),
    }


def _parameter_row(p: Parameter) -> dict[str, Any]:
    return {"code": p.code, "name": p.name, "name_en": p.name_en, "unit": p.unit, "system": p.system,
            "code_2005": p.code_2005}


def _device_row(d: Device, created_utc: float) -> dict[str, Any]:
    return {"mn": d.mn, "password": d.password, "st": d.st, "kind": d.kind, "protocol": d.protocol,
            "crc_variant": d.crc, "site_code": d.site, "parameters": ",".join(d.parameters),
            "active": d.active, "created_utc": created_utc}


def _split(text: str | None) -> list[str]:
    return [p for p in (text or "").split(",") if p]


def _region(r: Row[Any]) -> Region:
    return Region(code=r.code, name=r.name, name_en=r.name_en, level=r.level, parent=r.parent_code)


def _enterprise(r: Row[Any]) -> Enterprise:
    return Enterprise(code=r.code, name=r.name, region=r.region_code, industry=r.industry,
                      key_polluter=bool(r.key_polluter))


def _site(r: Row[Any]) -> Site:
    return Site(code=r.code, name=r.name, kind=r.kind, region=r.region_code, lon=r.lon, lat=r.lat,
                control_level=r.control_level, background=bool(r.background), section_type=r.section_type,
                target_class=r.target_class, enterprise=r.enterprise_code, outlet_type=r.outlet_type,
                attrs=json.loads(r.attrs or "{}"))


def _parameter(r: Row[Any]) -> Parameter:
    return Parameter(code=r.code, name=r.name, name_en=r.name_en, unit=r.unit, system=r.system,
                     code_2005=r.code_2005)


def _device(r: Row[Any]) -> Device:
    return Device(mn=r.mn, password=r.password, kind=r.kind, st=r.st, protocol=r.protocol, crc=r.crc_variant,
                  site=r.site_code, parameters=_split(r.parameters), active=bool(r.active))


_LOADERS: dict[str, tuple[Table, Callable[[Row[Any]], Any]]] = {
    "regions": (regions, _region),
    "enterprises": (enterprises, _enterprise),
    "sites": (sites, _site),
    "parameters": (parameters, _parameter),
}


class RegistryRepo:
    """Regions, enterprises, sites, devices and parameters in the store at ``engine``."""

    def __init__(self, engine: Engine) -> None:
        if engine.dialect.name not in ("sqlite", "postgresql"):
            raise StoreError(f"registry: unsupported database {engine.dialect.name!r}")
        self.engine = engine

    # --- writing ---------------------------------------------------------------------------------

    def upsert_regions(self, items: Iterable[Region]) -> None:
        self.import_registry(Registry(regions=list(items)))

    def upsert_enterprises(self, items: Iterable[Enterprise]) -> None:
        self.import_registry(Registry(enterprises=list(items)))

    def upsert_sites(self, items: Iterable[Site]) -> None:
        self.import_registry(Registry(sites=list(items)))

    def upsert_devices(self, items: Iterable[Device]) -> None:
        self.import_registry(Registry(devices=list(items)))

    def upsert_parameters(self, items: Iterable[Parameter]) -> None:
        self.import_registry(Registry(parameters=list(items)))

    def import_registry(self, reg: Registry) -> dict[str, int]:
        """Insert or update everything in ``reg`` in one transaction; returns the count per section.

        References may point into ``reg`` or at stored objects. Validation runs before the first
        write, and the transaction covers the rest, so a rejected import changes nothing.
        """
        with self.engine.begin() as conn:
            reg.validate(self._referenced(conn, reg))
            self._write(conn, reg)
            _ledger_registry(conn, reg)  # each changed row → a ledger entry, same transaction
        return reg.counts()

    def add_device(self, device: Device, *, replace: bool = False) -> int:
        """Register ``device`` and return its id; Conflict if its MN exists and not ``replace``."""
        with self.engine.begin() as conn:
            exists = conn.execute(select(devices.c.id).where(devices.c.mn == device.mn)).first()
            if exists is not None and not replace:
                raise Conflict(f"设备 MN {device.mn!r} 已存在（替换请用 --replace）/ device MN already "
                               "exists (use --replace to replace it)")
            reg = Registry(devices=[device])
            reg.validate(self._referenced(conn, reg), locate=lambda _s, _i: f"device {device.mn}")
            self._write(conn, reg)
            _ledger_registry(conn, reg)
            return int(conn.execute(select(devices.c.id).where(devices.c.mn == device.mn)).scalar_one())

    def seed_defaults(self) -> int:
        """Add the default parameter table and Hebei's regions where missing; returns rows added.

        Idempotent: stored rows with the same code are left as they are (an operator may have edited
        them).
        """
        added = 0
        with self.engine.begin() as conn:
            for table, rows in ((regions, [_region_row(r) for r in hebei_regions()]),
                                (parameters, [_parameter_row(p) for p in default_parameters()])):
                have = set(conn.execute(select(table.c.code)).scalars())
                missing = [r for r in rows if r["code"] not in have]
                if missing:
                    conn.execute(self._insert(table).on_conflict_do_nothing(index_elements=["code"]), missing)
                    added += len(missing)
                    _ledger_rows(conn, table.name, missing)
        return added

    # --- reading ---------------------------------------------------------------------------------

    def load(self) -> Registry:
        """Everything, each section sorted by its key."""
        with self.engine.connect() as conn:
            parts = {name: [make(r) for r in conn.execute(select(t).order_by(t.c.code))]
                     for name, (t, make) in _LOADERS.items()}
            parts["devices"] = [_device(r) for r in conn.execute(select(devices).order_by(devices.c.mn))]
        return Registry(**parts)

    def is_empty(self) -> bool:
        """True when neither regions nor parameters are stored (a fresh store, before seeding)."""
        with self.engine.connect() as conn:
            return all(conn.execute(select(t.c.code).limit(1)).first() is None for t in (regions, parameters))

    def get_site(self, code: str) -> Site | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(sites).where(sites.c.code == code)).first()
        return None if row is None else _site(row)

    def get_device(self, mn: str) -> Device | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(devices).where(devices.c.mn == mn)).first()
        return None if row is None else _device(row)

    def list_devices(self) -> list[Device]:
        """All devices, by MN."""
        with self.engine.connect() as conn:
            return [_device(r) for r in conn.execute(select(devices).order_by(devices.c.mn))]

    def device_rows(self) -> list[DeviceRow]:
        """(id, mn, password, st, kind, protocol, crc_variant, site_code, parameters, active) by id."""
        c = devices.c
        q = select(c.id, c.mn, c.password, c.st, c.kind, c.protocol, c.crc_variant, c.site_code,
                   c.parameters, c.active).order_by(c.id)
        with self.engine.connect() as conn:
            return [DeviceRow(r.id, r.mn, r.password, r.st, r.kind, r.protocol, r.crc_variant, r.site_code,
                              _split(r.parameters), bool(r.active)) for r in conn.execute(q)]

    def summary(self) -> dict[str, dict[str, int]]:
        """Counts: regions by level, sites by kind, devices by kind/protocol/crc, parameters by system."""
        groups = {
            "regions_by_level": regions.c.level, "sites_by_kind": sites.c.kind,
            "devices_by_kind": devices.c.kind, "devices_by_protocol": devices.c.protocol,
            "devices_by_crc": devices.c.crc_variant, "parameters_by_system": parameters.c.system,
        }
        out: dict[str, dict[str, int]] = {}
        with self.engine.connect() as conn:
            for name, col in groups.items():
                rows = conn.execute(select(col, func.count()).group_by(col).order_by(col))
                out[name] = {str(k): int(n) for k, n in rows}
        order: dict[str, int] = {lvl: i for i, lvl in enumerate(REGION_LEVELS)}
        out["regions_by_level"] = dict(sorted(out["regions_by_level"].items(), key=lambda kv: order.get(kv[0], 9)))
        return out

    # --- internals -------------------------------------------------------------------------------

    def _insert(self, table: Table) -> Any:
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        return dialect.insert(table)

    def _upsert(self, conn: Connection, table: Table, key: str, rows: Sequence[dict[str, Any]],
                keep: tuple[str, ...] = ()) -> None:
        if not rows:
            return
        ins = self._insert(table)
        update = {c: ins.excluded[c] for c in rows[0] if c != key and c not in keep}
        conn.execute(ins.on_conflict_do_update(index_elements=[key], set_=update), list(rows))

    def _write(self, conn: Connection, reg: Registry) -> None:
        # Parents before children: validation guarantees a parent's level ranks above its child's.
        rank = {lvl: i for i, lvl in enumerate(REGION_LEVELS)}
        ordered = sorted(reg.regions, key=lambda r: rank[r.level])
        self._upsert(conn, regions, "code", [_region_row(r) for r in ordered])
        self._upsert(conn, enterprises, "code", [_enterprise_row(e) for e in reg.enterprises])
        self._upsert(conn, sites, "code", [_site_row(s) for s in reg.sites])
        self._upsert(conn, parameters, "code", [_parameter_row(p) for p in reg.parameters])
        now = time.time()
        self._upsert(conn, devices, "mn", [_device_row(d, now) for d in reg.devices], keep=("created_utc",))

    def _referenced(self, conn: Connection, reg: Registry) -> Registry:
        """The stored objects that ``reg`` refers to (for validating references)."""
        region_codes = {r.parent for r in reg.regions} | {e.region for e in reg.enterprises}
        region_codes |= {s.region for s in reg.sites}
        enterprise_codes = {s.enterprise for s in reg.sites}
        site_codes = {d.site for d in reg.devices}
        return Registry(
            regions=self._fetch(conn, "regions", region_codes),
            enterprises=self._fetch(conn, "enterprises", enterprise_codes),
            sites=self._fetch(conn, "sites", site_codes),
        )

    def _fetch(self, conn: Connection, section: str, codes: set[str | None]) -> list[Any]:
        table, make = _LOADERS[section]
        wanted = sorted(c for c in codes if c is not None)
        out: list[Any] = []
        for i in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[i:i + _IN_CHUNK]
            out.extend(make(r) for r in conn.execute(select(table).where(table.c.code.in_(chunk))))
        return out


# --- ledger (issue 5 §1: registry changes are ledger entries) -------------------------------------

def _ledger_rows(conn: Connection, table: str, rows: Sequence[dict[str, Any]]) -> None:
    """One ledger entry per row of ``table`` that differs from what the ledger last recorded.

    Attributed to the acting user (``tianlan.ledger.chain.current_actor``: the CLI's ``--as-user``).
    The device password (HJ 212 PW, a shared secret) is covered by the row digest, not copied into
    the entry's payload.
    """
    from tianlan.ledger.chain import current_actor, record_rows

    if not rows:
        return
    kind = {"regions": "registry.region", "enterprises": "registry.enterprise", "sites": "registry.site",
            "parameters": "registry.parameter", "devices": "registry.device"}[table]
    key = "mn" if table == "devices" else "code"
    record_rows(conn, kind=kind, actor=current_actor(), subject_table=table,
                rows=[({key: row[key]}, {k: v for k, v in row.items() if k not in ("password", "created_utc")})
                      for row in rows])


def _ledger_registry(conn: Connection, reg: Registry) -> None:
    _ledger_rows(conn, "regions", [_region_row(r) for r in reg.regions])
    _ledger_rows(conn, "enterprises", [_enterprise_row(e) for e in reg.enterprises])
    _ledger_rows(conn, "sites", [_site_row(s) for s in reg.sites])
    _ledger_rows(conn, "parameters", [_parameter_row(p) for p in reg.parameters])
    _ledger_rows(conn, "devices", [_device_row(d, 0.0) for d in reg.devices])
