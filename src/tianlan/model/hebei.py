"""Hebei province's administrative regions, the default region tree of a fresh store.

The data lives in ``data/hebei_regions.yaml`` (GB/T 2260 codes; see the comments there for the three
places where the parent is not the code prefix: Xinji, Dingzhou and the Xiong'an counties).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from typing import Any

import yaml

from tianlan.model.registry import Region

PROVINCE_CODE = "130000"
_REGION_FIELDS = ("code", "name", "name_en", "level", "parent")


@lru_cache(maxsize=1)
def _rows() -> tuple[dict[str, Any], ...]:
    text = resources.files("tianlan.model").joinpath("data/hebei_regions.yaml").read_text("utf-8")
    return tuple(yaml.safe_load(text)["regions"])


def hebei_regions() -> list[Region]:
    """Hebei's regions, parents before children: province, cities, counties, townships."""
    regions = [Region(**{k: row[k] for k in _REGION_FIELDS if k in row}) for row in _rows()]
    order = {lvl: i for i, lvl in enumerate(("province", "city", "county", "township"))}
    return sorted(regions, key=lambda r: order[r.level])


def region_centres() -> dict[str, tuple[float, float]]:
    """Approximate centre (lon, lat), WGS-84 degrees, of the regions the data file gives one for."""
    return {row["code"]: (float(row["centre"][0]), float(row["centre"][1])) for row in _rows() if "centre" in row}
