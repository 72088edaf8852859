"""AQI levels I–VI: ranges, names, colours (HJ 633 Table 2 / 2026 Table 1, levels CSV)."""

from __future__ import annotations

import pytest

from tianlan.assess.editions import Edition
from tianlan.assess.levels import Level, level_for, level_table


def test_levels_table() -> None:
    assert [i.level for i in level_table()] == ["I", "II", "III", "IV", "V", "VI"]
    assert Level.I.category_cn == "优" and Level.I.category_en == "Excellent" and Level.I.rgb == (0, 228, 0)
    assert Level.II.hex == "#FFFF00" and Level.II.level_cn == "二级"
    assert Level.III.color_en == "orange" and Level.III.rgb == (255, 126, 0)
    assert Level.IV.category_cn == "中度污染" and Level.IV.hex == "#FF0000"
    assert Level.V.rgb == (153, 0, 76) and Level.V.color_cn == "紫色"
    assert Level.VI.category_en == "Severely polluted" and Level.VI.hex == "#7E0023" and Level.VI.aqi_max is None
    assert Level.II.label() == "II 良 Good"
    assert [lv.index for lv in Level] == list(range(6))
    for lv in Level:
        r, g, b = lv.rgb
        assert lv.hex == f"#{r:02X}{g:02X}{b:02X}"


@pytest.mark.parametrize("ed", list(Edition))
def test_level_bounds_inclusive(ed: Edition) -> None:
    expect = {0: "I", 1: "I", 50: "I", 51: "II", 100: "II", 101: "III", 150: "III", 151: "IV", 200: "IV",
              201: "V", 300: "V", 301: "VI", 500: "VI", 900: "VI"}  # fmt: skip
    for a, lv in expect.items():
        assert level_for(a, ed) is Level(lv)
    assert level_for(None, ed) is None
    with pytest.raises(ValueError):
        level_for(-1, ed)
