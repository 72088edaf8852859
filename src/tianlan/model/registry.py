"""The monitoring network as domain types: regions, enterprises, sites, devices, parameters.

Every type is a frozen dataclass that checks its own fields when built (enum values, ranges, empty
keys, lengths the store can hold) and raises ``InputError(field, reason)``. References between
objects (site → region, device → site, …) are checked by :meth:`Registry.validate`, which names the
offending item (``devices[3]``) so the caller can point a user at the right row of a file.

Enum values are plain strings so that YAML, CSV, JSON and SQL carry them unchanged.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from tianlan.errors import InputError

RegionLevel = Literal["province", "city", "county", "township"]
SiteKind = Literal["air", "water", "source"]
ControlLevel = Literal["national", "provincial", "city", "county", "township"]
SectionType = Literal["inbound", "outbound", "lake", "key"]
TargetClass = Literal["I", "II", "III", "IV", "V"]
OutletType = Literal["gas", "water"]
Protocol = Literal["2005", "2017", "2025"]
CrcName = Literal["standard", "modbus-le", "modbus-be"]

REGION_LEVELS: tuple[RegionLevel, ...] = ("province", "city", "county", "township")
SITE_KINDS: tuple[SiteKind, ...] = ("air", "water", "source")
DEVICE_KINDS = SITE_KINDS
CONTROL_LEVELS: tuple[ControlLevel, ...] = ("national", "provincial", "city", "county", "township")
SECTION_TYPES: tuple[SectionType, ...] = ("inbound", "outbound", "lake", "key")
# GB 3838-2002 surface-water classes.
TARGET_CLASSES: tuple[TargetClass, ...] = ("I", "II", "III", "IV", "V")
OUTLET_TYPES: tuple[OutletType, ...] = ("gas", "water")
PROTOCOLS: tuple[Protocol, ...] = ("2005", "2017", "2025")
# standard = HJ 212 Appendix A CRC sent high byte first; the Modbus variants are devices that send
# the CRC-16/Modbus value (reference §2.1), low byte first (le) or high byte first (be).
CRC_VARIANTS: tuple[CrcName, ...] = ("standard", "modbus-le", "modbus-be")
PARAMETER_SYSTEMS: tuple[str, ...] = ("", "air", "gas", "water", "noise", "other")

# HJ 212-2017 Table 5 system codes: 22 ambient air, 21 surface water, 31 flue gas, 32 wastewater.
DEFAULT_ST: dict[str, str] = {"air": "22", "water": "21", "source": "31"}
WASTEWATER_ST = "32"

# Column widths of tianlan.store.schema; checked here so SQLite and PostgreSQL reject the same input.
_MAX = {"region": 12, "enterprise": 32, "site": 32, "mn": 64, "st": 4, "parameter": 16, "code_2005": 8}
# Characters that would break an HJ 212 header (`;`, `,`, `=`, `&&` delimit it) or a list cell here.
_FORBIDDEN = set(";,=&") | {" ", "\t", "\r", "\n"}


def default_st(kind: str, outlet_type: str | None = None) -> str:
    """Expected HJ 212 ST for a device kind (HJ 212-2017 Table 5); 32 for a wastewater outlet."""
    if kind == "source" and outlet_type == "water":
        return WASTEWATER_ST
    return DEFAULT_ST[kind]


def _choice(name: str, value: object, allowed: Sequence[str], *, optional: bool = False) -> None:
    if value is None:
        if optional:
            return
        raise InputError(name, "不能为空 / is required")
    if value not in allowed:
        shown = " | ".join(a for a in allowed if a) or "''"
        raise InputError(name, f"未知取值 / unknown value {value!r}; 应为 / expected: {shown}")


def _key(name: str, value: object, max_len: int) -> None:
    """A code or key: a non-empty string without spaces or delimiters, at most max_len chars."""
    if not isinstance(value, str) or not value.strip():
        raise InputError(name, "不能为空 / must not be empty")
    bad = sorted({c for c in value if c in _FORBIDDEN or not c.isprintable()})
    if bad:
        raise InputError(name, f"含非法字符 / contains forbidden characters {''.join(bad)!r} in {value!r}")
    if len(value) > max_len:
        raise InputError(name, f"过长 / too long ({len(value)} > {max_len} characters): {value!r}")


def _text(name: str, value: object, *, required: bool = False) -> None:
    if not isinstance(value, str):
        raise InputError(name, f"应为文本 / must be text, got {type(value).__name__}")
    if required and not value.strip():
        raise InputError(name, "不能为空 / must not be empty")


def _ref(name: str, value: object, max_len: int) -> None:
    if value is not None:
        _key(name, value, max_len)


def _bool(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise InputError(name, f"应为 true/false / must be true or false, got {value!r}")


@dataclass(frozen=True)
class Region:
    """An administrative division (GB/T 2260 code; 9-digit statistics codes for townships)."""

    code: str
    name: str
    name_en: str
    level: RegionLevel
    parent: str | None = None

    def __post_init__(self) -> None:
        _key("code", self.code, _MAX["region"])
        _text("name", self.name, required=True)
        _text("name_en", self.name_en)
        _choice("level", self.level, REGION_LEVELS)
        _ref("parent", self.parent, _MAX["region"])
        if self.parent == self.code:
            raise InputError("parent", f"不能是自身 / a region cannot be its own parent: {self.code!r}")


@dataclass(frozen=True)
class Enterprise:
    """A pollution-source enterprise (排污单位); ``code`` is its unified social credit code."""

    code: str
    name: str
    region: str
    industry: str = ""
    key_polluter: bool = True

    def __post_init__(self) -> None:
        _key("code", self.code, _MAX["enterprise"])
        _text("name", self.name, required=True)
        _key("region", self.region, _MAX["region"])
        _text("industry", self.industry)
        _bool("key_polluter", self.key_polluter)


@dataclass(frozen=True)
class Site:
    """A monitoring site: an air station, a water section, or an enterprise outlet (kind source).

    ``lon``/``lat`` are WGS-84 degrees. Air-only fields: ``control_level``, ``background``;
    water-only: ``section_type``, ``target_class`` (GB 3838 class); source-only: ``enterprise``,
    ``outlet_type``. ``attrs`` holds anything else (limits, permit outlet number…) as JSON-able data.
    """

    code: str
    name: str
    kind: SiteKind
    region: str
    lon: float | None = None
    lat: float | None = None
    control_level: ControlLevel | None = None
    background: bool = False
    section_type: SectionType | None = None
    target_class: TargetClass | None = None
    enterprise: str | None = None
    outlet_type: OutletType | None = None
    attrs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _key("code", self.code, _MAX["site"])
        _text("name", self.name, required=True)
        _choice("kind", self.kind, SITE_KINDS)
        _key("region", self.region, _MAX["region"])
        for name, lo, hi in (("lon", -180.0, 180.0), ("lat", -90.0, 90.0)):
            v = getattr(self, name)
            if v is None:
                continue
            if isinstance(v, bool) or not isinstance(v, int | float) or math.isnan(v):
                raise InputError(name, f"应为数字 / must be a number, got {v!r}")
            if not lo <= v <= hi:
                raise InputError(name, f"超出范围 / out of range [{lo:g}, {hi:g}]: {v!r}")
            object.__setattr__(self, name, float(v))
        if (self.lon is None) != (self.lat is None):
            missing = "lat" if self.lat is None else "lon"
            raise InputError(missing, "经纬度须同时给出 / lon and lat must be given together")
        _choice("control_level", self.control_level, CONTROL_LEVELS, optional=True)
        _bool("background", self.background)
        _choice("section_type", self.section_type, SECTION_TYPES, optional=True)
        _choice("target_class", self.target_class, TARGET_CLASSES, optional=True)
        _ref("enterprise", self.enterprise, _MAX["enterprise"])
        _choice("outlet_type", self.outlet_type, OUTLET_TYPES, optional=True)
        # A field of another kind is almost always a shifted column or a wrong kind; say so.
        only = {"control_level": "air", "section_type": "water", "target_class": "water",
                "enterprise": "source", "outlet_type": "source"}
        for name, kind in only.items():
            if getattr(self, name) is not None and self.kind != kind:
                raise InputError(name, f"仅适用于 {kind} 站点 / only for {kind} sites, this site is {self.kind}")
        if not isinstance(self.attrs, dict):
            raise InputError("attrs", f"应为映射 / must be a mapping, got {type(self.attrs).__name__}")
        # attrs are stored as JSON text; anything JSON would change (int keys, tuples, NaN) is refused
        # here so that what is stored reads back equal.
        try:
            same = json.loads(json.dumps(self.attrs, allow_nan=False)) == self.attrs
        except (TypeError, ValueError):
            same = False
        if not same:
            raise InputError("attrs", "须为 JSON 对象（字符串键）/ must be a JSON object with string keys")


@dataclass(frozen=True)
class Device:
    """A data logger reporting over HJ 212, keyed by its MN.

    ``password`` is the HJ 212 PW (a shared secret, sent in clear by the standard, reference §5.6);
    ``st`` the system code it is expected to send (default by kind, HJ 212-2017 Table 5);
    ``protocol`` the dialect year; ``crc`` the CRC variant it computes; ``parameters`` the factor
    codes it is expected to report.
    """

    mn: str
    password: str
    kind: SiteKind = "air"
    st: str | None = None
    protocol: Protocol = "2017"
    crc: CrcName = "standard"
    site: str | None = None
    parameters: list[str] = field(default_factory=list)
    active: bool = True

    def __post_init__(self) -> None:
        # MN is not validated by format (reference §3.3): any key the header can carry.
        _key("mn", self.mn, _MAX["mn"])
        _key("password", self.password, 64)
        _choice("kind", self.kind, DEVICE_KINDS)
        if self.st is None or self.st == "":
            object.__setattr__(self, "st", DEFAULT_ST[self.kind])
        _key("st", self.st, _MAX["st"])
        _choice("protocol", self.protocol, PROTOCOLS)
        _choice("crc", self.crc, CRC_VARIANTS)
        _ref("site", self.site, _MAX["site"])
        if isinstance(self.parameters, str) or not isinstance(self.parameters, Iterable):
            raise InputError("parameters", "应为代码列表 / must be a list of parameter codes")
        params = list(self.parameters)
        for p in params:
            _key("parameters", p, _MAX["parameter"])
        if len(set(params)) != len(params):
            dup = sorted({p for p in params if params.count(p) > 1})
            raise InputError("parameters", f"重复 / duplicate codes {dup}")
        object.__setattr__(self, "parameters", params)
        _bool("active", self.active)


@dataclass(frozen=True)
class Parameter:
    """A monitored factor: HJ 212-2017 Appendix B code, names, unit, system and the 2005 code."""

    code: str
    name: str
    name_en: str = ""
    unit: str = ""
    system: str = ""
    code_2005: str | None = None

    def __post_init__(self) -> None:
        _key("code", self.code, _MAX["parameter"])
        _text("name", self.name, required=True)
        _text("name_en", self.name_en)
        _text("unit", self.unit)
        _choice("system", self.system, PARAMETER_SYSTEMS)
        if self.code_2005 == "":
            object.__setattr__(self, "code_2005", None)
        _ref("code_2005", self.code_2005, _MAX["code_2005"])


SECTIONS: tuple[str, ...] = ("regions", "enterprises", "sites", "devices", "parameters")
ITEM_TYPES: dict[str, type] = {
    "regions": Region, "enterprises": Enterprise, "sites": Site, "devices": Device, "parameters": Parameter,
}
KEY_FIELD: dict[str, str] = {
    "regions": "code", "enterprises": "code", "sites": "code", "devices": "mn", "parameters": "code",
}

Locator = Callable[[str, int], str]


def _default_locator(section: str, index: int) -> str:
    return f"{section}[{index}]"


@dataclass(frozen=True)
class Registry:
    """A set of registry objects (a whole network or part of one, e.g. what one file holds)."""

    regions: list[Region] = field(default_factory=list)
    enterprises: list[Enterprise] = field(default_factory=list)
    sites: list[Site] = field(default_factory=list)
    devices: list[Device] = field(default_factory=list)
    parameters: list[Parameter] = field(default_factory=list)

    def section(self, name: str) -> list[Any]:
        return list(getattr(self, name))

    def counts(self) -> dict[str, int]:
        return {s: len(self.section(s)) for s in SECTIONS}

    def validate(self, known: Registry | None = None, *, locate: Locator = _default_locator) -> None:
        """Raise InputError for a duplicate key or a dangling reference.

        References may point at this registry or at ``known`` (what the store already holds); an item
        here replaces the ``known`` one with the same key. ``locate(section, index)`` names the item in
        the error (``devices[3]`` by default; a file and row when read from disk).
        """
        validate_registry(self, known, locate=locate)


def validate_registry(reg: Registry, known: Registry | None = None, *,
                      locate: Locator = _default_locator) -> None:
    """See :meth:`Registry.validate`."""
    index: dict[str, dict[str, Any]] = {}
    for section in SECTIONS:
        key = KEY_FIELD[section]
        table: dict[str, Any] = {getattr(x, key): x for x in (known.section(section) if known else [])}
        first: dict[str, int] = {}
        for i, item in enumerate(reg.section(section)):
            if not isinstance(item, ITEM_TYPES[section]):
                raise InputError(section, f"应为 {ITEM_TYPES[section].__name__} / expected "
                                 f"{ITEM_TYPES[section].__name__}, got {type(item).__name__}",
                                 where=locate(section, i))
            k = getattr(item, key)
            if k in first:
                raise InputError(key, f"重复 / duplicate {k!r} (also at {locate(section, first[k])})",
                                 where=locate(section, i))
            first[k] = i
            table[k] = item
        index[section] = table
    regions, enterprises, sites = index["regions"], index["enterprises"], index["sites"]

    def need(table: dict[str, Any], what: tuple[str, str], code: str | None, fld: str, where: str) -> Any:
        if code is not None and code not in table:
            raise InputError(fld, f"引用的{what[0]}不存在 / unknown {what[1]} {code!r}", where=where)
        return table.get(code) if code is not None else None

    region_, enterprise_, site_ = ("行政区", "region"), ("企业", "enterprise"), ("站点", "site")
    rank = {lvl: i for i, lvl in enumerate(REGION_LEVELS)}
    for i, r in enumerate(reg.regions):
        parent = need(regions, region_, r.parent, "parent", locate("regions", i))
        if parent is not None and rank[parent.level] >= rank[r.level]:
            raise InputError("parent", f"上级须高于本级 / parent {parent.code!r} is a {parent.level}, "
                             f"not above a {r.level}", where=locate("regions", i))
    for i, e in enumerate(reg.enterprises):
        need(regions, region_, e.region, "region", locate("enterprises", i))
    for i, s in enumerate(reg.sites):
        need(regions, region_, s.region, "region", locate("sites", i))
        need(enterprises, enterprise_, s.enterprise, "enterprise", locate("sites", i))
    for i, d in enumerate(reg.devices):
        site = need(sites, site_, d.site, "site", locate("devices", i))
        if site is not None and site.kind != d.kind:
            raise InputError("kind", f"与站点类型不符 / device kind {d.kind!r} does not match site "
                             f"{site.code!r} of kind {site.kind!r}", where=locate("devices", i))
