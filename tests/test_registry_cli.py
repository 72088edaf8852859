"""``tianlan registry …`` and ``tianlan device …`` through Typer's CliRunner."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tianlan.model.parameters import expected_parameters
from tianlan.model.registry import Device
from tianlan.model.registry_io import read_registry
from tianlan.registry_cli import app, device_app
from tianlan.store.engine import open_store
from tianlan.store.registry_repo import RegistryRepo

root = typer.Typer()
root.add_typer(app, name="registry")
root.add_typer(device_app, name="device")

NETWORK = """\
regions:
  - {code: '130123100', name: 正定镇, level: township, parent: '130123'}
sites:
  - {code: W-HT, name: 滹沱河正定断面, kind: water, region: '130123', lon: 114.58, lat: 38.11,
     section_type: key, target_class: III}
  - {code: A-01, name: 人民会堂, kind: air, region: '130102', lon: 114.509, lat: 38.0457,
     control_level: national}
"""
MN = "010000A8900016F000169DC0"


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Run a command against a fresh data directory; returns (run, data_dir)."""
    monkeypatch.delenv("TIANLAN_DATABASE_URL", raising=False)
    monkeypatch.delenv("TIANLAN_DATA_DIR", raising=False)
    data = tmp_path / "data"
    runner = CliRunner()

    def run(*args: str, data_dir: Path | None = data):  # type: ignore[no-untyped-def]
        extra = ["--data-dir", str(data_dir)] if data_dir is not None else []
        result = runner.invoke(root, [*args, *extra])
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    return run, data


@pytest.fixture
def network(cli, tmp_path: Path):  # type: ignore[no-untyped-def]
    run, data = cli
    f = tmp_path / "network.yaml"
    f.write_text(NETWORK, encoding="utf-8")
    r = run("registry", "import", str(f))
    assert r.exit_code == 0, r.output
    return run, data


def repo_at(data: Path) -> RegistryRepo:
    return RegistryRepo(open_store(f"sqlite:///{data / 'tianlan.db'}"))


def test_device_add_water_modbus_on_site(network) -> None:  # type: ignore[no-untyped-def]
    run, data = network
    r = run("device", "add", "--mn", MN, "--password", "123456", "--crc", "modbus-le", "--kind", "water",
            "--site", "W-HT")
    assert r.exit_code == 0, r.output
    assert r.output.startswith("已登记设备 / device registered")
    assert MN in r.output and "modbus-le" in r.output
    d = repo_at(data).get_device(MN)
    assert d == Device(MN, "123456", kind="water", st="21", crc="modbus-le", site="W-HT",
                       parameters=["w01001", "w01009", "w01010", "w01014", "w01019", "w21003", "w21011",
                                   "w21001", "w01003"])
    shown = run("device", "show", MN)
    assert shown.exit_code == 0
    assert "modbus-le" in shown.output and "滹沱河正定断面" in shown.output


def test_device_add_defaults_and_options(network) -> None:  # type: ignore[no-untyped-def]
    run, data = network
    assert run("device", "add", "--mn", "88888880000001", "--password", "123456").exit_code == 0
    assert run("device", "add", "--mn", "M-AIR", "--password", "abcdef", "--site", "A-01", "--protocol", "2005",
               "--st", "22", "--parameters", "a34004,a34002").exit_code == 0
    repo = repo_at(data)
    assert repo.get_device("88888880000001") == Device("88888880000001", "123456", kind="air", st="22",
                                                       parameters=expected_parameters("air"))
    d = repo.get_device("M-AIR")
    assert d is not None
    assert (d.kind, d.protocol, d.site, d.parameters) == ("air", "2005", "A-01", ["a34004", "a34002"])


def test_kind_defaults_to_the_sites_kind(network) -> None:  # type: ignore[no-untyped-def]
    run, data = network
    assert run("device", "add", "--mn", "W2", "--password", "123456", "--site", "W-HT").exit_code == 0
    assert repo_at(data).get_device("W2").kind == "water"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("args", "option", "words"),
    [
        (["--crc", "crc16"], "--crc", "crc16"),
        (["--kind", "noise"], "--kind", "noise"),
        (["--protocol", "2010"], "--protocol", "2010"),
        (["--site", "NO-SUCH-SITE"], "--site", "NO-SUCH-SITE"),
        (["--site", "W-HT", "--kind", "air"], "--kind", "does not match"),
        (["--st", "31011"], "--st", "too long"),
        (["--parameters", "a34004,a34004"], "--parameters", "duplicate"),
    ],
)
def test_device_add_rejects_bad_options(network, args: list[str], option: str, words: str) -> None:  # type: ignore[no-untyped-def]
    run, data = network
    r = run("device", "add", "--mn", "M1", "--password", "123456", *args)
    assert r.exit_code == 2
    assert r.stderr.startswith(f"错误 / error: {option}: ")
    assert words in r.stderr
    assert "Traceback" not in r.output
    assert repo_at(data).get_device("M1") is None


def test_device_add_bad_mn_and_password(cli) -> None:  # type: ignore[no-untyped-def]
    run, _ = cli
    r = run("device", "add", "--mn", "A B", "--password", "123456")
    assert (r.exit_code, r.stderr.split(":")[1].strip()) == (2, "--mn")
    r = run("device", "add", "--mn", "AB", "--password", "")
    assert r.exit_code == 2 and "--password" in r.stderr


def test_device_add_duplicate_and_replace(network) -> None:  # type: ignore[no-untyped-def]
    run, data = network
    assert run("device", "add", "--mn", "M1", "--password", "111111").exit_code == 0
    r = run("device", "add", "--mn", "M1", "--password", "222222")
    assert r.exit_code == 2 and "--replace" in r.stderr
    r = run("device", "add", "--mn", "M1", "--password", "222222", "--replace")
    assert r.exit_code == 0 and r.output.startswith("已更新设备 / device updated")
    assert repo_at(data).get_device("M1").password == "222222"  # type: ignore[union-attr]


def test_device_list_formats(network) -> None:  # type: ignore[no-untyped-def]
    run, _ = network
    run("device", "add", "--mn", MN, "--password", "123456", "--crc", "modbus-le", "--kind", "water",
        "--site", "W-HT")
    run("device", "add", "--mn", "88888880000001", "--password", "654321")
    items = json.loads(run("device", "list", "--format", "json").output)
    assert [i["mn"] for i in items] == sorted([MN, "88888880000001"])
    assert {i["mn"]: i["crc"] for i in items}[MN] == "modbus-le"
    rows = list(csv.DictReader(io.StringIO(run("device", "list", "--format", "csv").output)))
    assert {r["mn"]: r["site"] for r in rows} == {MN: "W-HT", "88888880000001": ""}
    table = run("device", "list").output
    assert MN in table and "88888880000001" in table and "W-HT" in table
    r = run("device", "list", "--format", "xml")
    assert r.exit_code == 2 and "--format" in r.stderr


def test_device_show_unknown(cli) -> None:  # type: ignore[no-untyped-def]
    run, _ = cli
    r = run("device", "show", "NOPE")
    assert r.exit_code == 2
    assert r.stderr.startswith("错误 / error: ") and "NOPE" in r.stderr


def test_fresh_store_is_seeded(cli) -> None:  # type: ignore[no-untyped-def]
    run, _ = cli
    r = run("registry", "show")
    assert r.exit_code == 0, r.output
    assert "行政区 / regions" in r.output and "province" in r.output and "township" in r.output
    assert "参数 / parameters" in r.output


def test_import_error_names_file_and_field_and_imports_nothing(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run, data = cli
    f = tmp_path / "bad.yaml"
    f.write_text(NETWORK + "devices:\n  - {mn: M1, password: '1', kind: water, site: W-HT}\n"
                 "  - {mn: M2, password: '2', crc: crc-32}\n", encoding="utf-8")
    r = run("registry", "import", str(f))
    assert r.exit_code == 2
    assert r.stderr.startswith(f"错误 / error: {f}: devices[1]: crc: ")
    assert repo_at(data).load().sites == []


def test_import_unknown_site_reference(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run, data = cli
    d = tmp_path / "csvset"
    d.mkdir()
    (d / "devices.csv").write_text("mn,password,kind,site\nM1,123456,air,GHOST\n", encoding="utf-8")
    r = run("registry", "import", str(d))
    assert r.exit_code == 2
    assert f"{d / 'devices.csv'} row 2: site: " in r.stderr and "GHOST" in r.stderr
    assert repo_at(data).list_devices() == []


def test_export_import_round_trip(network, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run, data = network
    run("device", "add", "--mn", MN, "--password", "123456", "--crc", "modbus-le", "--kind", "water",
        "--site", "W-HT")
    original = repo_at(data).load()
    for name, fmt in (("out.yaml", []), ("out-csv", ["--format", "csv"])):
        target = tmp_path / name
        r = run("registry", "export", str(target), *fmt)
        assert r.exit_code == 0, r.output
        assert read_registry(target) == original
        other = tmp_path / f"data-{name}"
        assert run("registry", "import", str(target), data_dir=other).exit_code == 0
        assert repo_at(other).load() == original
    r = run("registry", "export", str(tmp_path / "x"), "--format", "xml")
    assert r.exit_code == 2 and "--format" in r.stderr


def test_database_url_option(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run, _ = cli
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    r = run("device", "add", "--mn", "M1", "--password", "123456", "--database-url", url, data_dir=None)
    assert r.exit_code == 0, r.output
    assert RegistryRepo(open_store(url)).get_device("M1") is not None


def test_database_url_from_environment(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    run, _ = cli
    url = f"sqlite:///{tmp_path / 'from-env.db'}"
    monkeypatch.setenv("TIANLAN_DATABASE_URL", url)
    assert run("device", "add", "--mn", "M9", "--password", "123456", data_dir=None).exit_code == 0
    assert RegistryRepo(open_store(url)).get_device("M9") is not None
