"""The default parameter table and the factors expected per kind of site."""

from __future__ import annotations

import pytest

from tianlan.errors import InputError
from tianlan.model.parameters import default_parameters, expected_parameters, unit_for
from tianlan.model.registry import Registry


def table() -> dict:  # type: ignore[type-arg]
    return {p.code: p for p in default_parameters()}


def test_valid_and_unique() -> None:
    params = default_parameters()
    Registry(parameters=params).validate()
    assert len(params) == len(table())
    assert {p.system for p in params} == {"air", "gas", "water", "noise"}


@pytest.mark.parametrize(
    ("code", "name", "unit", "system", "code_2005"),
    [
        ("a34004", "细颗粒物(PM2.5)", "µg/m³", "air", None),
        ("a34002", "可吸入颗粒物(PM10)", "µg/m³", "air", None),
        ("a05024", "臭氧", "µg/m³", "air", None),
        ("a21026", "二氧化硫", "µg/m³", "air", "02"),
        ("a21004", "二氧化氮", "µg/m³", "air", None),
        ("a21005", "一氧化碳", "mg/m³", "air", "04"),
        ("a01008", "风向", "°", "air", None),
        ("a00000", "废气", "m³/s", "gas", "B02"),
        ("a34013", "烟尘", "mg/m³", "gas", "01"),
        ("a19001", "氧气含量", "%", "gas", "S01"),
        ("a01013", "烟气压力", "kPa", "gas", "S08"),
        ("w00000", "污水", "L/s", "water", "B01"),
        ("w01018", "化学需氧量", "mg/L", "water", "011"),
        ("w21003", "氨氮", "mg/L", "water", "060"),
        ("w01001", "pH值", "", "water", "001"),
        ("w01014", "电导率", "µS/cm", "water", None),
        ("w20111", "总汞", "µg/L", "water", "020"),
        ("Leq", "等效声级", "dB", "noise", "Leq"),
    ],
)
def test_rows(code: str, name: str, unit: str, system: str, code_2005: str | None) -> None:
    p = table()[code]
    assert (p.name, p.unit, p.system, p.code_2005) == (name, unit, system, code_2005)
    assert p.name_en


def test_units_by_context() -> None:
    assert unit_for("a21026", "air") == "µg/m³"
    assert unit_for("a21026", "source") == "mg/m³"
    assert unit_for("a21002", "source") == "mg/m³"
    assert unit_for("a21005", "source") == "mg/m³"
    assert unit_for("w01018", "source") == "mg/L"
    assert unit_for("zz999", "air") == ""


def test_expected_parameters() -> None:
    assert expected_parameters("air") == ["a34004", "a34002", "a21026", "a21004", "a21005", "a05024",
                                          "a01001", "a01002", "a01006", "a01007", "a01008"]
    assert expected_parameters("water") == ["w01001", "w01009", "w01010", "w01014", "w01019", "w21003",
                                            "w21011", "w21001", "w01003"]
    assert expected_parameters("source") == ["a21026", "a21002", "a34013", "a19001", "a01012", "a01013",
                                             "a01014", "a01011", "a00000"]
    assert expected_parameters("source", "gas") == expected_parameters("source")
    assert expected_parameters("source", "water")[:2] == ["w00000", "w01018"]
    codes = set(table())
    for kind, outlet in (("air", None), ("water", None), ("source", "gas"), ("source", "water")):
        assert set(expected_parameters(kind, outlet)) <= codes


def test_expected_parameters_unknown_kind() -> None:
    with pytest.raises(InputError, match="^kind: .*noise"):
        expected_parameters("noise")
