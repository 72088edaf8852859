"""The default parameter table (HJ 212-2017 Appendix B) and the factors each kind of site reports.

Data: ``data/parameters.csv`` — code, Chinese and English name, unit, system (air | gas | water |
noise), the HJ/T 212-2005 code ("原编码" column of the 2017 tables), the unit at a pollution source
when it differs, and a note.

Units. The packet carries no unit (reference §4.7), so the unit here is what the platform assumes:
- Ambient air stations report PM2.5, PM10, SO2, NO2 and O3 in µg/m³ and CO in mg/m³ (HJ 633, GB 3095).
  The 2017 table prints ng/m³ for particulate matter and mg/m³ for the gases; we follow the networks.
- SO2, NO2, NO and NOx are in both the ambient and the flue-gas tables under one code. The row's
  ``unit`` is the ambient one; at a source outlet (CEMS) they are mg/m³, given as ``source_unit``
  and returned by :func:`unit_for`.
- a05024 (O3) and w01003 (turbidity) are not in the 2017 tables but are what stations send.
"""

from __future__ import annotations

import csv
from functools import lru_cache
from importlib import resources

from tianlan.errors import InputError
from tianlan.model.registry import SITE_KINDS, Parameter

# HJ 633-2012 / GB 3095-2012 criteria pollutants, then meteorology, as ambient stations report them.
AIR_CRITERIA: tuple[str, ...] = ("a34004", "a34002", "a21026", "a21004", "a21005", "a05024")
AIR_MET: tuple[str, ...] = ("a01001", "a01002", "a01006", "a01007", "a01008")
# Surface-water automatic stations: the five routine items plus nutrients, CODMn and turbidity.
WATER: tuple[str, ...] = (
    "w01001", "w01009", "w01010", "w01014", "w01019", "w21003", "w21011", "w21001", "w01003",
)
# Flue-gas CEMS (HJ 75): pollutants, then the flue-gas parameters needed to correct and convert them.
SOURCE_GAS: tuple[str, ...] = (
    "a21026", "a21002", "a34013", "a19001", "a01012", "a01013", "a01014", "a01011", "a00000",
)
# Wastewater outlet: flow, COD, NH3-N, TP, TN, pH (the common discharge-permit set).
SOURCE_WATER: tuple[str, ...] = ("w00000", "w01018", "w21003", "w21011", "w21001", "w01001")


@lru_cache(maxsize=1)
def _rows() -> tuple[dict[str, str], ...]:
    text = resources.files("tianlan.model").joinpath("data/parameters.csv").read_text("utf-8")
    return tuple(csv.DictReader(text.splitlines()))


def default_parameters() -> list[Parameter]:
    """The parameter table seeded into a fresh store (HJ 212-2017 Appendix B, plus O3 and turbidity)."""
    return [
        Parameter(code=r["code"], name=r["name"], name_en=r["name_en"], unit=r["unit"],
                  system=r["system"], code_2005=r["code_2005"] or None)
        for r in _rows()
    ]


def unit_for(code: str, kind: str) -> str:
    """The assumed unit of ``code`` at a site of ``kind`` (air | water | source); '' if unknown."""
    for r in _rows():
        if r["code"] == code:
            return r["source_unit"] if kind == "source" and r["source_unit"] else r["unit"]
    return ""


def expected_parameters(kind: str, outlet_type: str | None = None) -> list[str]:
    """The factor codes a device at a site of ``kind`` is expected to report.

    air: the six criteria pollutants and five meteorological parameters; water: surface-water
    station items; source: the flue-gas CEMS set, or the wastewater set when ``outlet_type`` is water.
    """
    if kind == "air":
        return [*AIR_CRITERIA, *AIR_MET]
    if kind == "water":
        return list(WATER)
    if kind == "source":
        return list(SOURCE_WATER if outlet_type == "water" else SOURCE_GAS)
    raise InputError("kind", f"未知取值 / unknown value {kind!r}; 应为 / expected: {' | '.join(SITE_KINDS)}")
