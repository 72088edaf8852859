"""Hebei's region tree: real GB/T 2260 codes, names, and a working province → township chain."""

from __future__ import annotations

from tianlan.model.hebei import PROVINCE_CODE, hebei_regions, region_centres
from tianlan.model.registry import Registry

CITIES = {
    "130100": ("石家庄市", "Shijiazhuang"), "130200": ("唐山市", "Tangshan"), "130300": ("秦皇岛市", "Qinhuangdao"),
    "130400": ("邯郸市", "Handan"), "130500": ("邢台市", "Xingtai"), "130600": ("保定市", "Baoding"),
    "130700": ("张家口市", "Zhangjiakou"), "130800": ("承德市", "Chengde"), "130900": ("沧州市", "Cangzhou"),
    "131000": ("廊坊市", "Langfang"), "131100": ("衡水市", "Hengshui"),
}


def by_code() -> dict:  # type: ignore[type-arg]
    return {r.code: r for r in hebei_regions()}


def test_valid_unique_and_parents_first() -> None:
    regions = hebei_regions()
    Registry(regions=regions).validate()
    assert len({r.code for r in regions}) == len(regions)
    seen: set[str] = set()
    for r in regions:
        assert r.parent is None or r.parent in seen
        seen.add(r.code)
    assert all(r.name and r.name_en for r in regions)
    assert all(r.code.isdigit() and len(r.code) in (6, 9) for r in regions)


def test_province_and_eleven_cities() -> None:
    regions = by_code()
    prov = regions[PROVINCE_CODE]
    assert (prov.name, prov.level, prov.parent) == ("河北省", "province", None)
    for code, (zh, en) in CITIES.items():
        r = regions[code]
        assert (r.name, r.name_en, r.level, r.parent) == (zh, en, "city", PROVINCE_CODE)
        assert any(c.parent == code and c.level == "county" for c in regions.values()), code


def test_special_areas() -> None:
    regions = by_code()
    assert (regions["133100"].name, regions["133100"].level) == ("雄安新区", "city")
    assert (regions["130682"].name, regions["130682"].parent) == ("定州市", PROVINCE_CODE)
    assert (regions["130181"].name, regions["130181"].parent) == ("辛集市", PROVINCE_CODE)
    assert regions["130629"].parent == "133100"  # 容城县 reported under Xiong'an
    assert regions["130102"].name == "长安区"


def test_chain_province_city_county_township() -> None:
    regions = by_code()
    chain = []
    code: str | None = "130123100"
    while code:
        chain.append((regions[code].name, regions[code].level))
        code = regions[code].parent
    assert chain == [("正定镇", "township"), ("正定县", "county"), ("石家庄市", "city"), ("河北省", "province")]
    assert sum(r.level == "township" for r in regions.values()) >= 5


def test_centres_are_in_hebei() -> None:
    centres = region_centres()
    lon, lat = centres["130100"]
    assert abs(lon - 114.51) < 0.05 and abs(lat - 38.04) < 0.05
    for code in [*CITIES, "133100", "130181", "130682"]:
        lon, lat = centres[code]
        assert 113.4 < lon < 119.9 and 36.0 < lat < 42.7, code
