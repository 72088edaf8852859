"""A synthetic sample network in Hebei's real cities, for demos, the simulator and tests.

The regions are real (``hebei_regions``); the sites, enterprises and devices are invented and say so
in their names (示例 = sample). Air stations are placed near each city's real centre and cover every
control level and one background site; water sections cover every section type and several GB 3838
target classes on real rivers and lakes; enterprises in typical Hebei industries each have a flue-gas
and a wastewater outlet. Every site has one device: a 24-hex-character MN (HJ 212-2017), except about
one in six that uses a 14-digit 2005-style MN and protocol 2005; one device computes a Modbus CRC
(low byte first), as some real loggers do (reference §2.1). The same seed gives the same network.
"""

from __future__ import annotations

import random
import string

from tianlan.model.hebei import hebei_regions, region_centres
from tianlan.model.parameters import default_parameters, expected_parameters
from tianlan.model.registry import (
    CONTROL_LEVELS,
    CrcName,
    Device,
    Enterprise,
    OutletType,
    Region,
    Registry,
    SectionType,
    Site,
    TargetClass,
    default_st,
)

# (river or lake, section name, region code, lon, lat, section type, GB 3838 target class)
_WATER_SECTIONS: tuple[tuple[str, str, str, float, float, SectionType, TargetClass], ...] = (
    ("滦河", "乌龙矶", "130803", 117.80, 40.96, "inbound", "II"),
    ("永定河", "安次", "131002", 116.63, 39.45, "outbound", "IV"),
    ("白洋淀", "圈头", "130632", 115.98, 38.90, "lake", "III"),
    ("滹沱河", "正定", "130123", 114.58, 38.11, "key", "III"),
    ("潮白河", "三河", "131082", 117.05, 39.95, "inbound", "IV"),
    ("衡水湖", "湖心", "131103", 115.61, 37.63, "lake", "III"),
    ("滏阳河", "丛台", "130403", 114.50, 36.62, "key", "IV"),
    ("南运河", "运河区", "130903", 116.85, 38.31, "outbound", "V"),
)
# (region code, name stem, industry, key polluter)
_ENTERPRISES = (
    ("130209", "曹妃甸示例钢铁有限公司", "钢铁 steel", True),
    ("130481", "武安示例钢铁有限公司", "钢铁 steel", True),
    ("130111", "栾城示例制药有限公司", "制药 pharmaceuticals", True),
    ("130609", "徐水示例热电有限公司", "火电 thermal power", True),
    ("130983", "黄骅示例化工有限公司", "化工 chemicals", True),
    ("130582", "沙河示例玻璃有限公司", "玻璃 flat glass", False),
)
# Ultra-low emission limits for flue gas (mg/m³), kept with the outlet as an attribute.
_GAS_LIMITS = {"a34013": 10, "a21026": 35, "a21002": 50}
_AIR_NAMES = ("监测站", "开发区", "文化中心", "人民公园", "高新区", "体育场", "火车站", "职教园区")


def demo_network(n_air: int = 30, n_water: int = 6, n_source: int = 6, seed: int = 0) -> Registry:
    """A valid, self-contained Registry: Hebei regions, the default parameters and a sample network."""
    rng = random.Random(seed)
    regions = hebei_regions()
    by_code = {r.code: r for r in regions}
    centres = region_centres()

    def centre(code: str) -> tuple[float, float]:
        r: Region | None = by_code[code]
        while r is not None:
            if r.code in centres:
                return centres[r.code]
            r = by_code.get(r.parent) if r.parent else None
        raise KeyError(code)

    def near(code: str, spread: float) -> tuple[float, float]:
        lon, lat = centre(code)
        return (round(lon + rng.uniform(-spread, spread), 4), round(lat + rng.uniform(-spread, spread), 4))

    # "Cities" for placing air stations: prefectures, Xiong'an, and the two province-run cities.
    cities = [r for r in regions if r.parent == "130000"]
    children: dict[str, list[Region]] = {}
    for r in regions:
        if r.parent:
            children.setdefault(r.parent, []).append(r)
    townships = [r for r in regions if r.level == "township"]

    sites: list[Site] = []
    for i in range(n_air):
        level = CONTROL_LEVELS[i % len(CONTROL_LEVELS)]
        city = cities[(i // len(CONTROL_LEVELS) + i) % len(cities)]
        counties = [c for c in children.get(city.code, []) if c.level == "county"]
        if level == "township":
            region = townships[(i // len(CONTROL_LEVELS)) % len(townships)]
            name = f"{region.name}空气站（示例）"
        elif level == "county" and counties:
            region = counties[-1]
            name = f"{region.name}环境监测站（示例）"
        else:
            region = counties[0] if counties else city
            name = f"{city.name.removesuffix('市')}{_AIR_NAMES[i % len(_AIR_NAMES)]}（示例）"
        background = i == min(5, n_air - 1)
        if background:
            name = name.replace("（示例）", "（对照点，示例）")
        spread = 0.05 if level in ("national", "provincial", "city") else 0.15
        lon, lat = near(region.code, spread)
        sites.append(Site(code=f"HB-AIR-{i + 1:03d}", name=name, kind="air", region=region.code, lon=lon, lat=lat,
                          control_level=level, background=background))

    for i in range(n_water):
        water, place, code, lon, lat, stype, target = _WATER_SECTIONS[i % len(_WATER_SECTIONS)]
        round_no = i // len(_WATER_SECTIONS)
        suffix = f"{round_no + 1}" if round_no else ""
        sites.append(Site(code=f"HB-WAT-{i + 1:03d}", name=f"{water}{place}{suffix}断面（示例）", kind="water",
                          region=code, lon=round(lon + 0.02 * round_no, 4), lat=lat, section_type=stype,
                          target_class=target))

    enterprises: list[Enterprise] = []
    for j in range((n_source + 1) // 2):
        region_code, name, industry, key = _ENTERPRISES[j % len(_ENTERPRISES)]
        if j >= len(_ENTERPRISES):
            name = name.replace("有限公司", f"{j // len(_ENTERPRISES) + 1}厂有限公司")
        enterprises.append(Enterprise(code=f"E{region_code}{j + 1:03d}", name=name, region=region_code,
                                      industry=industry, key_polluter=key))
    for i in range(n_source):
        ent = enterprises[i // 2]
        outlet: OutletType = "gas" if i % 2 == 0 else "water"
        label, permit_no = ("废气排放口", "DA001") if outlet == "gas" else ("废水总排口", "DW001")
        attrs: dict[str, object] = {"permit_outlet": permit_no}
        if outlet == "gas":
            attrs.update({"limits": dict(_GAS_LIMITS), "o2_ref": 6, "standard": "超低排放 ultra-low (coal-fired, 6 % O2)"})
        lon, lat = near(ent.region, 0.05)
        sites.append(Site(code=f"HB-SRC-{i + 1:03d}", name=f"{ent.name}{label}", kind="source",
                          region=ent.region, lon=lon, lat=lat, enterprise=ent.code, outlet_type=outlet,
                          attrs=attrs))

    devices: list[Device] = []
    modbus_done = False
    used: set[str] = set()
    for k, site in enumerate(sites):
        old = k % 6 == 5
        mn = ""
        while not mn or mn in used:
            mn = "".join(rng.choice(string.digits) for _ in range(14)) if old else f"{rng.getrandbits(96):024X}"
        used.add(mn)
        password = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(6))
        crc: CrcName = "standard"
        if not modbus_done and site.kind == "source" and site.outlet_type == "gas":
            crc, modbus_done = "modbus-le", True
        devices.append(Device(
            mn=mn, password=password, kind=site.kind, st=default_st(site.kind, site.outlet_type),
            protocol="2005" if old else "2017", crc=crc, site=site.code,
            parameters=expected_parameters(site.kind, site.outlet_type),
        ))
    if not modbus_done and devices:
        d = devices[0]
        devices[0] = Device(mn=d.mn, password=d.password, kind=d.kind, st=d.st, protocol=d.protocol,
                            crc="modbus-le", site=d.site, parameters=d.parameters)

    return Registry(regions=regions, enterprises=enterprises, sites=sites, devices=devices,
                    parameters=default_parameters())
