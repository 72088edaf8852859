"""Registry files: exact YAML and CSV round trips, and errors that name file, row, field and reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tianlan.errors import InputError
from tianlan.model.demo_network import demo_network
from tianlan.model.registry import Device, Enterprise, Parameter, Region, Registry, Site
from tianlan.model.registry_io import read_registry, registry_format, write_registry


def tricky() -> Registry:
    """Values a careless writer would change: numeric-looking strings, YAML words, unicode, None."""
    return Registry(
        regions=[Region("130000", "河北省", "Hebei", "province"), Region("130100", "石家庄市", "", "city", "130000")],
        enterprises=[Enterprise("911301000000000001", "示例 \"引号\", 逗号", "130100", "", False)],
        sites=[
            Site("001", "true", "air", "130100", 114.123456789012, -0.0, control_level="township", background=True),
            Site("S-NULL", "null", "water", "130100", section_type="lake", target_class="II"),
            Site("S-SRC", "排口;分号", "source", "130100", 1e-7, 89.99999999, enterprise="911301000000000001",
                 outlet_type="water", attrs={"限值": {"w01018": 50.5}, "list": [1, "二", None], "yes": True}),
        ],
        devices=[
            Device("88888880000001", "123456", kind="air", site="001", protocol="2005", crc="modbus-be",
                   parameters=["a34004"]),
            Device("010000A8900016F000169DC0", "1e3456", kind="water", st="021", site="S-NULL", active=False),
            Device("aqms-1100-2020110011", "no", kind="source", st="32", site="S-SRC", protocol="2025",
                   crc="modbus-le", parameters=["w00000", "w01018"]),
            Device("NOSITE", "000000"),
        ],
        parameters=[Parameter("w01018", "化学需氧量", "COD", "mg/L", "water", "011"),
                    Parameter("w01001", "pH值", "pH", "", "water", "001"), Parameter("x1", "其他")],
    )


@pytest.mark.parametrize("make", [tricky, demo_network], ids=["tricky", "demo"])
@pytest.mark.parametrize("fmt", ["yaml", "csv"])
def test_round_trip_is_exact(tmp_path: Path, make, fmt: str) -> None:  # type: ignore[no-untyped-def]
    reg = make()
    target = tmp_path / ("reg.yaml" if fmt == "yaml" else "reg")
    write_registry(reg, target, fmt)
    back = read_registry(target)
    assert back == reg
    # and writing what was read gives the same bytes
    target2 = tmp_path / ("again.yaml" if fmt == "yaml" else "again")
    write_registry(back, target2, fmt)
    if fmt == "yaml":
        assert target2.read_bytes() == target.read_bytes()
    else:
        for f in target.iterdir():
            assert (target2 / f.name).read_bytes() == f.read_bytes()


def test_csv_layout(tmp_path: Path) -> None:
    files = write_registry(tricky(), tmp_path / "out", "csv")
    assert sorted(f.name for f in files) == sorted(
        ["regions.csv", "enterprises.csv", "sites.csv", "devices.csv", "parameters.csv"])
    devices = (tmp_path / "out" / "devices.csv").read_text("utf-8").splitlines()
    assert devices[0] == "mn,password,kind,st,protocol,crc,site,parameters,active"
    assert "w00000;w01018" in devices[3]
    sites = (tmp_path / "out" / "sites.csv").read_text("utf-8")
    assert '"{""限值"": {""w01018"": 50.5}' in sites  # attrs as JSON in one cell


def test_format_from_suffix_and_bad_format(tmp_path: Path) -> None:
    assert registry_format("x.yaml") == "yaml"
    assert registry_format("x.YML") == "yaml"
    assert registry_format("dir") == "csv"
    with pytest.raises(InputError, match="format"):
        write_registry(Registry(), tmp_path / "x", "xml")


def test_hand_written_yaml_is_coerced(tmp_path: Path) -> None:
    p = tmp_path / "hand.yml"
    p.write_text(
        "regions:\n"
        "  - {code: 130000, name: 河北省, level: province}\n"
        "sites:\n"
        "  - {code: W1, name: 断面, kind: water, region: 130000, lon: 115, lat: 38.5}\n"
        "devices:\n"
        "  - {mn: 88888880000001, password: 123456, kind: water, site: W1, protocol: 2005,\n"
        "     parameters: 'w01001, w01009', active: yes}\n",
        encoding="utf-8",
    )
    reg = read_registry(p)
    assert reg.regions[0] == Region("130000", "河北省", "", "province")
    assert reg.sites[0].lon == 115.0
    assert reg.devices[0] == Device("88888880000001", "123456", kind="water", site="W1", protocol="2005",
                                    parameters=["w01001", "w01009"])


def test_single_csv_file_with_known(tmp_path: Path) -> None:
    p = tmp_path / "devices.csv"
    p.write_text("mn,password,kind,site\nMN1,123456,water,S-W\n", encoding="utf-8")
    known = Registry(regions=[Region("130000", "河北省", "", "province")],
                     sites=[Site("S-W", "断面", "water", "130000")])
    assert read_registry(p, known=known).devices == [Device("MN1", "123456", kind="water", site="S-W")]
    with pytest.raises(InputError) as info:
        read_registry(p)
    assert str(info.value) == f"{p} row 2: site: 引用的站点不存在 / unknown site 'S-W'"


def test_csv_accepts_bom_and_blank_lines(tmp_path: Path) -> None:
    p = tmp_path / "parameters.csv"
    p.write_bytes("\ufeffcode,name,unit\r\nw01010,水温,°C\r\n,,\r\nw01009,溶解氧,mg/L\r\n".encode())
    assert [x.code for x in read_registry(p).parameters] == ["w01010", "w01009"]


def write(p: Path, text: str) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize(
    ("name", "text", "where", "field", "words"),
    [
        ("devices.csv", "mn,password,kind\nM1,123456,air\nM2,123456,noise\n", "devices.csv row 3", "kind",
         "unknown value 'noise'"),
        ("devices.csv", "mn,password,crc\nM1,123456,crc16\n", "devices.csv row 2", "crc", "crc16"),
        ("devices.csv", "mn,password\nM1,\n", "devices.csv row 2", "password", "empty"),
        ("devices.csv", "mn,kind\nM1,air\n", "devices.csv row 2", "password", "required"),
        ("devices.csv", "mn,password,active\nM1,1,maybe\n", "devices.csv row 2", "active", "true or false"),
        ("devices.csv", "mn,password\nM1,1\nM1,2\n", "devices.csv row 3", "mn", "duplicate 'M1'"),
        ("devices.csv", "mn,password,colour\nM1,1,red\n", "devices.csv row 1", "colour", "unknown column"),
        ("devices.csv", "mn,password\nM1,1,extra\n", "devices.csv row 2", "password", "more cells"),
        ("sites.csv", "code,name,kind,region,lon,lat\nS1,n,air,130000,east,38\n", "sites.csv row 2", "lon",
         "number"),
        ("sites.csv", "code,name,kind,region,lon,lat\nS1,n,air,130000,114,95\n", "sites.csv row 2", "lat",
         "out of range"),
        ("sites.csv", "code,name,kind,region,attrs\nS1,n,air,130000,{bad\n", "sites.csv row 2", "attrs", "JSON"),
        ("sites.csv", "code,name,kind,region,attrs\nS1,n,air,130000,[1]\n", "sites.csv row 2", "attrs",
         "JSON object"),
        ("sites.csv", "code,name,kind,region\nS1,n,air,139999\n", "sites.csv row 2", "region",
         "unknown region '139999'"),
        ("regions.csv", "code,name,level,parent\n130100,石家庄,city,130000\n", "regions.csv row 2", "parent",
         "unknown region"),
        ("reg.yaml", "devices:\n  - {mn: M1, password: '1'}\n  - {mn: M2, password: '2', crc: crc16}\n",
         "reg.yaml: devices[1]", "crc", "crc16"),
        ("reg.yaml", "devices:\n  - {mn: M1, password: '1', colour: red}\n", "reg.yaml: devices[0]", "colour",
         "unknown field"),
        ("reg.yaml", "devices:\n  - {mn: M1}\n", "reg.yaml: devices[0]", "password", "required"),
        ("reg.yaml", "devices:\n  - {mn: M1, password: '1', site: S9}\n", "reg.yaml: devices[0]", "site",
         "unknown site 'S9'"),
        ("reg.yaml", "sites:\n  - {code: S, name: n, kind: air, region: '1', lon: 200, lat: 1}\n",
         "reg.yaml: sites[0]", "lon", "out of range"),
        ("reg.yaml", "devices:\n  - just a string\n", "reg.yaml: devices[0]", "devices", "mapping"),
        ("reg.yaml", "gadgets: []\n", "reg.yaml", "gadgets", "unknown section"),
        ("reg.yaml", "devices: {mn: M1}\n", "reg.yaml", "devices", "list"),
        ("reg.yaml", "devices: [\n", "reg.yaml", "yaml", "cannot parse"),
    ],
)
def test_errors_name_file_row_field_reason(tmp_path: Path, name: str, text: str, where: str, field: str,
                                           words: str) -> None:
    p = write(tmp_path / name, text)
    with pytest.raises(InputError) as info:
        read_registry(p)
    e = info.value
    assert e.where == str(tmp_path / where)
    assert e.field == field
    assert words in e.reason
    assert str(e).startswith(f"{tmp_path / where}: {field}: ")


def test_directory_errors_name_the_file(tmp_path: Path) -> None:
    d = tmp_path / "set"
    write(d / "regions.csv", "code,name,level\n130000,河北省,province\n")
    write(d / "sites.csv", "code,name,kind,region\nS1,n,air,130000\nS2,n,water,130000\n")
    write(d / "devices.csv", "mn,password,kind,site\nM1,1,air,S1\nM2,2,air,S2\n")
    with pytest.raises(InputError) as info:
        read_registry(d)
    assert str(info.value).startswith(f"{d / 'devices.csv'} row 3: kind: ")


@pytest.mark.parametrize(
    ("setup", "words"),
    [
        (lambda p: p / "missing.yaml", "does not exist"),
        (lambda p: (p / "empty").mkdir() or p / "empty", "no registry CSV"),
        (lambda p: write(p / "reg.json", "{}"), ".yaml"),
        (lambda p: write(p / "gadgets.csv", "a\n1\n"), "file name"),
    ],
)
def test_path_errors(tmp_path: Path, setup, words: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InputError) as info:
        read_registry(setup(tmp_path))
    assert info.value.field == "path"
    assert words in str(info.value)


def test_json_attrs_written_as_object(tmp_path: Path) -> None:
    write_registry(tricky(), tmp_path / "x.yaml")
    text = (tmp_path / "x.yaml").read_text("utf-8")
    assert "限值:" in text  # attrs stay a readable mapping in YAML
    assert "'88888880000001'" in text  # digit-only MN quoted so it reads back as text
    d = tmp_path / "x"
    write_registry(tricky(), d, "csv")
    row = (d / "sites.csv").read_text("utf-8").splitlines()[3]
    assert json.loads(row[row.index('"{'):].strip('"').replace('""', '"'))["yes"] is True
