"""Code tables: required entries, 2005 → 2017 mapping by (ST, code), flags."""

from __future__ import annotations

import pytest

from tianlan.hj212 import CODE_2005_TO_2017, PARAMETERS, normalise_code
from tianlan.hj212.codes import (
    CN_TABLE,
    DATA_FLAGS_2017,
    ST_NAMES,
    System,
    command,
    data_flag,
)


@pytest.mark.parametrize(
    ("code", "en", "system"),
    [
        ("a05024", "O3", System.AIR_QUALITY),
        ("a34004", "PM2.5", System.AIR_QUALITY),
        ("a34002", "PM10", System.AIR_QUALITY),
        ("a21026", "SO2", System.FLUE_GAS),
        ("a21004", "NO2", System.FLUE_GAS),
        ("a21005", "CO", System.FLUE_GAS),
        ("a01007", "wind speed", System.AIR_QUALITY),
        ("a19001", "O2 content", System.FLUE_GAS),
        ("w01018", "COD", System.WASTEWATER),
        ("w21003", "ammonia nitrogen", System.WASTEWATER),
        ("LA", "A-weighted sound level", System.NOISE),
    ],
)
def test_parameters_table(code: str, en: str, system: System) -> None:
    entry = PARAMETERS[code]
    assert entry.en == en and entry.system is system and entry.zh
    assert entry.code == code


def test_shared_codes_list_every_system() -> None:
    assert System.AIR_QUALITY in PARAMETERS["a21026"].systems
    assert System.SURFACE_WATER in PARAMETERS["w01001"].systems


@pytest.mark.parametrize(
    ("code", "st", "expected"),
    [
        ("02", "31", "a21026"),
        ("S01", "31", "a19001"),
        ("B02", "31", "a00000"),
        ("011", "32", "w01018"),
        ("060", "32", "w21003"),
        ("B01", "32", "w00000"),
        ("b01", "32", "w00000"),
        ("023", "32", "w20116"),
        ("023", "31", "023"),  # vendor code on a flue-gas device (Appendix A #2), not chromium
        ("011", "31", "011"),
        ("02", "32", "02"),
        ("011", None, "011"),
        ("a34004", "22", "a34004"),
        ("ua19004", "101", "ua19004"),
    ],
)
def test_normalise_code_maps_by_system(code: str, st: str | None, expected: str) -> None:
    assert normalise_code(code, st) == expected


def test_2005_mapping_targets_exist() -> None:
    assert all(target in PARAMETERS for target in CODE_2005_TO_2017.values())
    assert CODE_2005_TO_2017[("31", "02")] == "a21026" and CODE_2005_TO_2017[("32", "060")] == "w21003"


def test_flags() -> None:
    assert [code for code, flag in DATA_FLAGS_2017.items() if not flag.invalid] == ["N", "T"]
    assert set(DATA_FLAGS_2017) == set("NFMSDCTB")
    assert data_flag("P", "2005") is not None and data_flag("P", "2005").invalid  # type: ignore[union-attr]
    assert data_flag("P") is None
    assert data_flag("3") is not None and not data_flag("3").invalid  # type: ignore[union-attr]
    assert data_flag("0").en == "calibration data"  # type: ignore[union-attr]
    assert data_flag("F", "2005").en == "emission source stopped"  # type: ignore[union-attr]


def test_st_and_cn_tables() -> None:
    assert ST_NAMES["22"] == ("空气质量监测", "ambient air quality monitoring")
    assert ST_NAMES["91"][1] == "system interaction"
    assert CN_TABLE["9014"].kinds == ("answer",)
    assert command("3013", "2005").en == "equipment operation"  # type: ignore[union-attr]
    assert command("3013").en == "start cleaning / blow-back"  # type: ignore[union-attr]
    assert command("9015", "2025") is not None and command("9015") is None
