"""docs/registry.md stays true: its YAML and CSV examples read, and describe the same network."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tianlan.model.registry import SECTIONS
from tianlan.model.registry_io import read_registry, write_registry
from tianlan.registry_cli import device_app

DOC = Path(__file__).resolve().parents[2] / "docs" / "registry.md"
pytestmark = pytest.mark.skipif(not DOC.exists(), reason="docs/registry.md absent")


def _text() -> str:
    return DOC.read_text(encoding="utf-8")


def test_the_yaml_and_csv_examples_are_the_same_valid_network(tmp_path: Path) -> None:
    text = _text()
    (yaml_block,) = re.findall(r"```yaml\n(.*?)```", text, re.S)
    (tmp_path / "example.yaml").write_text(yaml_block, encoding="utf-8")
    csv_blocks = dict(re.findall(r"\*\*(\w+)\.csv\*\*\n+```csv\n(.*?)```", text, re.S))
    assert sorted(csv_blocks) == sorted(SECTIONS)
    (tmp_path / "csv").mkdir()
    for name, block in csv_blocks.items():
        (tmp_path / "csv" / f"{name}.csv").write_text(block, encoding="utf-8")
    from_yaml = read_registry(tmp_path / "example.yaml")
    from_csv = read_registry(tmp_path / "csv")
    assert from_yaml == from_csv
    assert {s.kind for s in from_yaml.sites} == {"air", "water", "source"}
    assert {s.outlet_type for s in from_yaml.sites if s.kind == "source"} == {"gas", "water"}
    # The CSV example is exactly what export writes.
    write_registry(from_yaml, tmp_path / "out", "csv")
    for name, block in csv_blocks.items():
        assert (tmp_path / "out" / f"{name}.csv").read_text(encoding="utf-8").replace("\r\n", "\n") == block


def test_the_documented_device_add_options_exist() -> None:
    synopsis = ("tianlan device add --mn MN --password PW [--crc standard|modbus-le|modbus-be] "
                "[--kind air|water|source] [--site CODE]")
    assert synopsis in _text()
    help_text = CliRunner().invoke(device_app, ["add", "--help"], env={"COLUMNS": "200"}).output
    for option in re.findall(r"--[a-z-]+", synopsis):
        assert option in help_text
