"""AQI levels I–VI (空气质量指数级别) with names, colours and short health notes.

From ``standards/hj633_levels.csv`` (HJ 633-2012 Table 2 and Appendix A; HJ 633-2026 Table 1 and
Appendix A). Upper bounds are inclusive: 50 is I, 51 is II … 300 is V, 301 and above VI (vector
AQI-008). Both editions use the same ranges, names and colours; HJ 633-2026 prints level I as 1–50
(AQI 0 still falls in level I) and rewrites the advice text, which is not tabulated here.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from enum import Enum
from functools import cache
from importlib import resources

from tianlan.assess.editions import STANDARDS_DIR, STANDARDS_PACKAGE, Edition, parse_edition

LEVELS_FILE = "hj633_levels.csv"


@dataclass(frozen=True)
class LevelInfo:
    """One row of the levels table."""

    level: str  # "I" … "VI"
    level_cn: str  # 一级 … 六级
    aqi_min: int
    aqi_max: int | None  # None: open (level VI)
    category_cn: str  # 优 良 轻度污染 …
    category_en: str  # Excellent, Good, Lightly polluted …
    color_cn: str
    color_en: str
    rgb: tuple[int, int, int]
    hex: str  # "#00E400"
    cmyk: tuple[int, int, int, int]
    health_cn: str
    health_en: str


@cache
def level_table() -> tuple[LevelInfo, ...]:
    """The six levels, I first, as loaded from the data file."""
    text = resources.files(STANDARDS_PACKAGE).joinpath(STANDARDS_DIR, LEVELS_FILE).read_text(encoding="utf-8")
    out = []
    for r in csv.DictReader(text.splitlines()):
        out.append(
            LevelInfo(
                level=r["level"],
                level_cn=r["level_cn"],
                aqi_min=int(r["aqi_min"]),
                aqi_max=int(r["aqi_max"]) if r["aqi_max"].strip() else None,
                category_cn=r["category_cn"],
                category_en=r["category_en"],
                color_cn=r["color_cn"],
                color_en=r["color_en"],
                rgb=(int(r["r"]), int(r["g"]), int(r["b"])),
                hex=r["hex"].upper(),
                cmyk=(int(r["c"]), int(r["m"]), int(r["y"]), int(r["k"])),
                health_cn=r["health_short_cn"],
                health_en=r["health_short_en"],
            )
        )
    return tuple(out)


class Level(Enum):
    """AQI level I–VI; ``Level.II.category_cn == "良"``, ``Level.II.hex == "#FFFF00"``."""

    I = "I"  # noqa: E741 - the standard's own name for the level
    II = "II"
    III = "III"
    IV = "IV"
    V = "V"
    VI = "VI"

    @property
    def info(self) -> LevelInfo:
        return _info()[self.value]

    @property
    def level_cn(self) -> str:
        return self.info.level_cn

    @property
    def category_cn(self) -> str:
        return self.info.category_cn

    @property
    def category_en(self) -> str:
        return self.info.category_en

    @property
    def color_cn(self) -> str:
        return self.info.color_cn

    @property
    def color_en(self) -> str:
        return self.info.color_en

    @property
    def rgb(self) -> tuple[int, int, int]:
        return self.info.rgb

    @property
    def hex(self) -> str:
        return self.info.hex

    @property
    def aqi_min(self) -> int:
        return self.info.aqi_min

    @property
    def aqi_max(self) -> int | None:
        return self.info.aqi_max

    @property
    def index(self) -> int:
        """0 for I … 5 for VI."""
        return _ORDER.index(self)

    def label(self) -> str:
        """``II 良 Good`` — Chinese first, then English."""
        return f"{self.value} {self.category_cn} {self.category_en}"


_ORDER: tuple[Level, ...] = tuple(Level)


@cache
def _info() -> dict[str, LevelInfo]:
    table = {i.level: i for i in level_table()}
    missing = [lv.value for lv in Level if lv.value not in table]
    if missing:
        raise ValueError(f"{LEVELS_FILE}: levels {missing} missing")
    return table


@cache
def level_upper_bounds() -> tuple[int, ...]:
    """Inclusive upper AQI bound of levels I–V (VI is open): (50, 100, 150, 200, 300)."""
    return tuple(lv.aqi_max for lv in _ORDER if lv.aqi_max is not None)  # type: ignore[misc]


def level_for(aqi: int | None, edition: Edition | str = Edition.HJ633_2012) -> Level | None:
    """The level of an AQI (integer, already rounded up); None for None.

    Both editions share the ranges (upper bounds inclusive); the argument records that the choice is
    made per edition. A negative AQI raises ValueError.
    """
    parse_edition(edition)
    if aqi is None:
        return None
    if aqi < 0:
        raise ValueError(f"AQI cannot be negative: {aqi}")
    for lv, hi in zip(_ORDER, level_upper_bounds(), strict=False):
        if aqi <= hi:
            return lv
    return Level.VI
