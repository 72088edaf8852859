"""Domain types of the registry: field checks and Registry.validate."""

from __future__ import annotations

from typing import Any

import pytest

from tianlan.errors import InputError
from tianlan.model.registry import (
    Device,
    Enterprise,
    Parameter,
    Region,
    Registry,
    Site,
    default_st,
)

PROV = Region("130000", "河北省", "Hebei", "province")
CITY = Region("130100", "石家庄市", "Shijiazhuang", "city", "130000")
ENT = Enterprise("E1", "示例钢铁", "130100", "steel")
AIR = Site("S-AIR", "监测站", "air", "130100", 114.51, 38.04, control_level="national")
WATER = Site("S-WAT", "断面", "water", "130100", section_type="key", target_class="III")
GAS = Site("S-GAS", "排口", "source", "130100", enterprise="E1", outlet_type="gas")


def base(**extra: list[Any]) -> Registry:
    parts: dict[str, list[Any]] = {"regions": [PROV, CITY], "enterprises": [ENT], "sites": [AIR, WATER, GAS]}
    for k, v in extra.items():
        parts[k] = parts.get(k, []) + v
    return Registry(**parts)


def test_device_st_defaults_by_kind() -> None:
    assert Device("M1", "123456").st == "22"
    assert Device("M1", "123456", kind="air").st == "22"
    assert Device("M1", "123456", kind="water").st == "21"
    assert Device("M1", "123456", kind="source").st == "31"
    assert Device("M1", "123456", kind="source", st="32").st == "32"
    assert default_st("source", "water") == "32"
    assert default_st("source", "gas") == "31"


def test_device_defaults_and_list_copy() -> None:
    codes = ("a34004", "a34002")
    d = Device("010000A8900016F000169DC0", "BF470F88957588DE902D1A52", parameters=codes)  # type: ignore[arg-type]
    assert d.parameters == ["a34004", "a34002"]
    assert (d.protocol, d.crc, d.active, d.site) == ("2017", "standard", True, None)


def test_site_lon_lat_become_floats() -> None:
    s = Site("S", "n", "air", "130100", 114, 38)
    assert isinstance(s.lon, float) and isinstance(s.lat, float)


@pytest.mark.parametrize(
    ("make", "field", "words"),
    [
        (lambda: Device("M", "123456", crc="crc16"), "crc", "crc16"),
        (lambda: Device("M", "123456", kind="noise"), "kind", "noise"),  # type: ignore[arg-type]
        (lambda: Device("M", "123456", protocol="2010"), "protocol", "2010"),  # type: ignore[arg-type]
        (lambda: Device("", "123456"), "mn", "empty"),
        (lambda: Device("   ", "123456"), "mn", "empty"),
        (lambda: Device("M", ""), "password", "empty"),
        (lambda: Device("M;N", "123456"), "mn", "forbidden"),
        (lambda: Device("M", "12 34"), "password", "forbidden"),
        (lambda: Device("M" * 65, "123456"), "mn", "too long"),
        (lambda: Device("M", "123456", st="12345"), "st", "too long"),
        (lambda: Device("M", "123456", parameters=["a34004", "a34004"]), "parameters", "duplicate"),
        (lambda: Device("M", "123456", parameters="a34004"), "parameters", "list"),  # type: ignore[arg-type]
        (lambda: Device("M", "123456", active="yes"), "active", "true or false"),  # type: ignore[arg-type]
        (lambda: Site("S", "n", "air", "130100", 181.0, 38.0), "lon", "out of range"),
        (lambda: Site("S", "n", "air", "130100", 114.0, -90.5), "lat", "out of range"),
        (lambda: Site("S", "n", "air", "130100", float("nan"), 38.0), "lon", "number"),
        (lambda: Site("S", "n", "air", "130100", 114.0, None), "lat", "together"),
        (lambda: Site("S", "n", "soil", "130100"), "kind", "soil"),  # type: ignore[arg-type]
        (lambda: Site("S", "n", "air", "130100", control_level="district"), "control_level", "district"),  # type: ignore[arg-type]
        (lambda: Site("S", "n", "air", "130100", section_type="key"), "section_type", "only for water"),  # type: ignore[arg-type]
        (lambda: Site("S", "n", "water", "130100", target_class="VI"), "target_class", "VI"),  # type: ignore[arg-type]
        (lambda: Site("S", "n", "source", "130100", outlet_type="noise"), "outlet_type", "noise"),  # type: ignore[arg-type]
        (lambda: Site("S", "n", "air", "130100", enterprise="E1"), "enterprise", "only for source"),
        (lambda: Site("S", "n", "air", "130100", attrs={1: "x"}), "attrs", "JSON"),
        (lambda: Site("S", "", "air", "130100"), "name", "empty"),
        (lambda: Site("S", "n", "air", ""), "region", "empty"),
        (lambda: Region("130100", "石家庄", "", "village"), "level", "village"),  # type: ignore[arg-type]
        (lambda: Region("130100", "石家庄", "", None), "level", "required"),  # type: ignore[arg-type]
        (lambda: Region("130100", "石家庄", "", "city", "130100"), "parent", "own parent"),
        (lambda: Region("1301000000001", "x", "", "city"), "code", "too long"),
        (lambda: Enterprise("E", "n", "130100", key_polluter="yes"), "key_polluter", "true or false"),  # type: ignore[arg-type]
        (lambda: Enterprise("E", "n", ""), "region", "empty"),
        (lambda: Parameter("a99999", "x", system="soil"), "system", "soil"),
        (lambda: Parameter("", "x"), "code", "empty"),
    ],
)
def test_field_errors_name_the_field(make: Any, field: str, words: str) -> None:
    with pytest.raises(InputError) as info:
        make()
    assert info.value.field == field
    assert str(info.value).startswith(f"{field}: ")
    assert words in str(info.value)


def test_parameter_empty_code_2005_is_none() -> None:
    assert Parameter("w01010", "水温", code_2005="").code_2005 is None


def test_valid_registry_passes() -> None:
    base(devices=[Device("M1", "123456", kind="water", site="S-WAT"), Device("M2", "654321")]).validate()


@pytest.mark.parametrize(
    ("reg", "where", "field", "words"),
    [
        (base(sites=[Site("S-AIR", "again", "air", "130100")]), "sites[3]", "code", "duplicate 'S-AIR'"),
        (base(devices=[Device("M1", "1"), Device("M2", "2"), Device("M1", "3")]), "devices[2]", "mn",
         "also at devices[0]"),
        (base(regions=[Region("130102", "长安区", "", "county", "139900")]), "regions[2]", "parent",
         "unknown region '139900'"),
        (base(regions=[Region("130123", "正定县", "", "county", "130000"),
                       Region("130123100", "正定镇", "", "township", "130123"),
                       Region("130199", "x", "", "city", "130123100")]), "regions[4]", "parent", "not above"),
        (base(enterprises=[Enterprise("E2", "n", "999999")]), "enterprises[1]", "region", "unknown region"),
        (base(sites=[Site("S2", "n", "air", "130999")]), "sites[3]", "region", "unknown region '130999'"),
        (base(sites=[Site("S2", "n", "source", "130100", enterprise="NOPE")]), "sites[3]", "enterprise",
         "unknown enterprise 'NOPE'"),
        (base(devices=[Device("M1", "1", site="S-NOPE")]), "devices[0]", "site", "unknown site 'S-NOPE'"),
        (base(devices=[Device("M1", "1", kind="air", site="S-WAT")]), "devices[0]", "kind", "does not match"),
    ],
)
def test_registry_errors_name_item_and_field(reg: Registry, where: str, field: str, words: str) -> None:
    with pytest.raises(InputError) as info:
        reg.validate()
    assert info.value.where == where
    assert info.value.field == field
    assert str(info.value).startswith(f"{where}: {field}: ")
    assert words in str(info.value)


def test_references_resolve_in_known() -> None:
    known = base()
    Registry(devices=[Device("M1", "1", kind="source", site="S-GAS")]).validate(known)
    with pytest.raises(InputError, match="site"):
        Registry(devices=[Device("M1", "1", kind="source", site="S-GAS")]).validate()


def test_item_in_batch_replaces_known_one() -> None:
    # The batch changes S-WAT into an air site; a device in the same batch is checked against that.
    changed = Site("S-WAT", "改为空气站", "air", "130100")
    Registry(sites=[changed], devices=[Device("M1", "1", kind="air", site="S-WAT")]).validate(base())
    with pytest.raises(InputError, match="does not match"):
        Registry(sites=[changed], devices=[Device("M1", "1", kind="water", site="S-WAT")]).validate(base())


def test_custom_locator_names_the_row() -> None:
    reg = Registry(devices=[Device("M1", "1", site="X")])
    with pytest.raises(InputError, match=r"^devices.csv row 2: site: "):
        reg.validate(locate=lambda s, i: f"{s}.csv row {i + 2}")


def test_wrong_item_type_is_rejected() -> None:
    with pytest.raises(InputError, match=r"regions\[0\]: regions: .*Site"):
        Registry(regions=[AIR]).validate()  # type: ignore[list-item]
