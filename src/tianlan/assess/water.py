"""Surface-water quality class by GB 3838-2002 and the 2011 assessment method.

Pure functions over numbers. Values are in the units of GB 3838-2002 Table 1: mg/L for every item
except pH (dimensionless), water temperature (°C) and fecal coliforms (count/L). Note that HJ 212
devices report Hg, Cd, Cr(VI), As and Pb in µg/L by default (HJ 212-2017 Appendix B): convert
before calling (the ``tianlan assess water`` command does it for a ``[ug/L]`` column suffix).

Rules and where they come from (reference ``standards/README.md`` §5):

* Single-factor assessment (GB 3838-2002 §5.1): each item is graded against the class limits of
  Table 1. Upper-limit items meet a class when value ≤ limit, dissolved oxygen (a lower limit)
  when value ≥ limit; a value equal to a limit meets that class. The best class met is the
  item's class; an item that meets no class is 劣V (worse than V).
* pH: 6–9 for every class, so a pH in range is class I; outside 6–9 it meets no class and is
  graded 劣V — the convention of implementations, **UNCONFIRMED** as a written rule.
* DO class I is "saturation 90 % (or 7.5)"; the 7.5 mg/L figure is used.
* Total phosphorus has a river column and a lake/reservoir column; total nitrogen is defined for
  lakes/reservoirs only and is graded with that column wherever it is given.
* Section class (地表水环境质量评价办法(试行), 环办〔2011〕22号): the worst class among the assessed
  items, which are the 24 Table 1 items minus water temperature, total nitrogen and fecal
  coliforms (21 items). TN and fecal coliforms are still graded, for information.
* Exceeding pollutants: items of the section class worse than class III, with the exceedance
  multiple (C − S_III) / S_III. Water temperature, pH and dissolved oxygen get **no multiple**
  (listed as exceeding, multiple ``None``): the 2011 method's wording "水温、pH值和溶解氧等项目不计算
  超标倍数" is quoted in a third-party code base; the method text itself was not seen
  (**UNCONFIRMED**, reference §9 item 6). Ordering of the main pollutants (worst class first, then
  the largest multiple, cyanide and the heavy metals Hg, Cd, Cr(VI), Pb, As first) follows the same
  secondary source — **UNCONFIRMED**.
* Item codes: the HJ 212-2017 Appendix B codes where the reference lists them (pH w01001, DO w01009,
  CODMn w01019, COD w01018, BOD5 w01017, NH3-N w21003, TP w21011, TN w21001, WT w01010, Cu w20122,
  Zn w20123, Hg w20111, Cd w20115, Cr(VI) w20117, As w20119, Pb w20120, oil w22001, volatile
  phenol w23002 — the metals as "total"); the other six are HJ 525-2009 codes as used by
  surface-water platforms in third-party code (F w21017, Se w20128, CN w21016, LAS w19002, S2-
  w21019, fecal coliforms w02003), not checked against HJ 525 itself. HJ 525's plain-metal codes
  (w20138 Cu, w20139 Zn, w20140 Se, w20141 As, w20142 Hg, w20143 Cd, w20144 Pb) are accepted too.
* Period (month, quarter, year) assessment: arithmetic mean of each item over the period, then the
  single-factor rule (pH is averaged like the rest) — the 2011 averaging clauses were not seen,
  **UNCONFIRMED**. Means are computed exactly (rational arithmetic on the values as written), so a
  mean that equals a limit meets that class without floating-point doubt.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from enum import IntEnum
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from tianlan.errors import InputError

__all__ = [
    "DEFAULT_EXCLUDED",
    "METHOD",
    "STANDARD",
    "Exceedance",
    "Gb3838Item",
    "ParameterClass",
    "SampleClass",
    "SampleValue",
    "WaterClass",
    "Waterbody",
    "classify_parameter",
    "classify_period",
    "classify_sample",
    "exceedance_multiple",
    "gb3838_items",
    "parameter_names",
    "parse_waterbody",
    "period_means",
    "resolve_parameter",
    "water_class_array",
]

STANDARD = "GB 3838-2002"
METHOD = "地表水环境质量评价办法(试行) 环办〔2011〕22号"
VALID_FROM = date(2002, 6, 1)

Waterbody = Literal["river", "lake"]
SampleValue = float | int | str | Decimal | Fraction | None
"""A value as given: a number, its decimal text, or None/NaN/"" for not measured."""
Direction = Literal["max", "min", "range", "special"]

_TABLE = Path(__file__).parent / "standards" / "gb3838_2002_limits.csv"


class WaterClass(IntEnum):
    """GB 3838-2002 water quality class; a larger value is worse. 6 is 劣V (worse than class V)."""

    I = 1  # noqa: E741 - the standard's own name
    II = 2
    III = 3
    IV = 4
    V = 5
    WORSE_THAN_V = 6

    @property
    def label(self) -> str:
        """The class as printed in bulletins: I … V, 劣V."""
        return "劣V" if self is WaterClass.WORSE_THAN_V else self.name

    @property
    def qualitative(self) -> str:
        """Qualitative grade of the 2011 method: I–II 优, III 良好, IV 轻度污染, V 中度污染, 劣V 重度污染."""
        return ("优", "优", "良好", "轻度污染", "中度污染", "重度污染")[self - 1]

    @property
    def qualitative_en(self) -> str:
        return ("excellent", "excellent", "good", "slightly polluted", "moderately polluted", "heavily polluted")[self - 1]

    @classmethod
    def parse(cls, text: str | int | WaterClass, *, field: str = "target_class", allow_worse: bool = True) -> WaterClass:
        """A class from ``I``…``V``, ``Ⅰ``…``Ⅴ``, ``1``…``5``, ``劣V`` / ``劣Ⅴ``; raises InputError naming ``field``."""
        if isinstance(text, WaterClass):
            wc = text
        else:
            s = str(text).strip().upper().replace("类", "").replace("CLASS", "").strip()
            s = s.translate(_ROMAN)
            wc_or_none = _CLASS_WORDS.get(s)
            if wc_or_none is None:
                raise InputError(field, f"未知水质类别 / unknown water class {text!r}; 应为 / expected I, II, III, IV, V"
                                 + (" or 劣V" if allow_worse else ""))
            wc = wc_or_none
        if wc is WaterClass.WORSE_THAN_V and not allow_worse:
            raise InputError(field, "目标类别不能为劣V / a target class must be I–V, not 劣V")
        return wc


_ROMAN = str.maketrans({"Ⅰ": "I", "Ⅱ": "II", "Ⅲ": "III", "Ⅳ": "IV", "Ⅴ": "V"})
_CLASS_WORDS: dict[str, WaterClass] = {
    **{c.name: c for c in list(WaterClass)[:5]},
    **{str(int(c)): c for c in list(WaterClass)[:5]},
    "劣V": WaterClass.WORSE_THAN_V, "劣5": WaterClass.WORSE_THAN_V, "WORSE THAN V": WaterClass.WORSE_THAN_V,
    "WORSE_THAN_V": WaterClass.WORSE_THAN_V, ">V": WaterClass.WORSE_THAN_V,
}

DEFAULT_EXCLUDED: frozenset[str] = frozenset({"WT", "TN", "FC"})
"""Items graded but not counted in the section class (2011 method: 21 items = Table 1 minus these)."""

# Cyanide and heavy metals come first among the main pollutants (2011 method as quoted, UNCONFIRMED).
_PRIORITY: frozenset[str] = frozenset({"CN", "Hg", "Cd", "Cr6+", "Pb", "As"})
# Items that get no exceedance multiple (2011 method as quoted, UNCONFIRMED).
_NO_MULTIPLE: frozenset[str] = frozenset({"WT", "pH", "DO"})


@dataclass(frozen=True, slots=True)
class Gb3838Item:
    """One item of GB 3838-2002 Table 1 as loaded from ``standards/gb3838_2002_limits.csv``.

    ``limits`` are the class I…V limits (river/all waters), ``lake_limits`` those of the
    lake/reservoir column where the table has one (TP) — exact fractions of the printed values.
    For pH ``limits`` is ``None`` and ``range`` is (6, 9); water temperature has no limits.
    """

    key: str
    code: str
    name_cn: str
    name_en: str
    unit: str
    direction: Direction
    limits: tuple[Fraction, ...] | None
    lake_limits: tuple[Fraction, ...] | None
    range: tuple[Fraction, Fraction] | None
    in_section_class: bool
    item_no: int
    standard: str
    valid_from: date

    def limits_for(self, waterbody: Waterbody) -> tuple[Fraction, ...] | None:
        if waterbody == "lake" and self.lake_limits is not None:
            return self.lake_limits
        return self.limits if self.limits is not None else self.lake_limits


# canonical key in this module -> the table's `code` column
_TABLE_KEY = {"pH": "PH"}
_ALIASES: dict[str, tuple[str, ...]] = {
    "WT": ("water temperature", "temperature", "temp", "水温", "w01010"),
    "pH": ("ph值", "w01001"),
    "DO": ("dissolved oxygen", "溶解氧", "w01009"),
    "CODMn": ("permanganate index", "IMn", "高锰酸盐指数", "w01019"),
    "COD": ("CODCr", "chemical oxygen demand", "化学需氧量", "w01018"),
    "BOD5": ("BOD", "five-day biochemical oxygen demand", "五日生化需氧量", "w01017"),
    "NH3-N": ("NH3N", "ammonia nitrogen", "ammonia", "氨氮", "w21003"),
    "TP": ("total phosphorus", "总磷", "w21011"),
    "TN": ("total nitrogen", "总氮", "w21001"),
    "Cu": ("copper", "铜", "总铜", "total copper", "w20122", "w20138"),
    "Zn": ("zinc", "锌", "总锌", "total zinc", "w20123", "w20139"),
    "F": ("F-", "fluoride", "氟化物", "w21017"),
    "Se": ("selenium", "硒", "总硒", "total selenium", "w20128", "w20140"),
    "As": ("arsenic", "砷", "总砷", "total arsenic", "w20119", "w20141"),
    "Hg": ("mercury", "汞", "总汞", "total mercury", "w20111", "w20142"),
    "Cd": ("cadmium", "镉", "总镉", "total cadmium", "w20115", "w20143"),
    "Cr6+": ("Cr6", "CrVI", "Cr(VI)", "hexavalent chromium", "六价铬", "铬(六价)", "w20117"),
    "Pb": ("lead", "铅", "总铅", "total lead", "w20120", "w20144"),
    "CN": ("CN-", "cyanide", "氰化物", "w21016"),
    "VPhenol": ("volatile phenol", "phenol", "挥发酚", "w23002"),
    "Oil": ("petroleum", "petroleum oils", "石油类", "w22001"),
    "LAS": ("anionic surfactant", "阴离子表面活性剂", "w19002"),
    "S2-": ("S2", "sulfide", "sulphide", "硫化物", "w21019"),
    "FC": ("FecalColi", "fecal coliforms", "fecal coliform", "粪大肠菌群", "w02003"),
}
# Keys that also fix the waterbody column (the names used by the test vectors and by bulletins).
_FORCED: dict[str, tuple[str, Waterbody]] = {
    "tpriver": ("TP", "river"), "tplake": ("TP", "lake"), "tplakereservoir": ("TP", "lake"),
    "tnlake": ("TN", "lake"),
}


def _norm(name: str) -> str:
    return "".join(ch for ch in name.strip().lower() if ch not in " _-()（）.")


def _frac(text: str) -> Fraction:
    return Fraction(Decimal(text.strip()))


@lru_cache(maxsize=1)
def gb3838_items() -> dict[str, Gb3838Item]:
    """The 24 basic items of GB 3838-2002 Table 1, by canonical key (pH, DO, CODMn, NH3-N, TP …)."""
    with open(_TABLE, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    by_code: dict[str, list[dict[str, str]]] = {}
    for r in rows:
        by_code.setdefault(r["code"], []).append(r)
    out: dict[str, Gb3838Item] = {}
    for key in _ALIASES:
        group = by_code[_TABLE_KEY.get(key, key)]
        first = group[0]
        direction: Direction = first["direction"]  # type: ignore[assignment]
        limits = lake = None
        rng = None
        for r in group:
            if direction == "range":
                lo, hi = r["class_I"].split("-")
                rng = (_frac(lo), _frac(hi))
                continue
            if direction == "special":
                continue
            vals = tuple(_frac(r[f"class_{c}"]) for c in ("I", "II", "III", "IV", "V"))
            if r["waterbody"] == "lake_reservoir":
                lake = vals
            else:
                limits = vals
        out[key] = Gb3838Item(
            key=key, code=first["hj212_code"], name_cn=first["parameter_cn"], name_en=first["parameter_en"],
            unit=first["unit"], direction=direction, limits=limits, lake_limits=lake, range=rng,
            in_section_class=first["in_section_class_2011"] == "yes", item_no=int(first["item_no"]),
            standard=first["standard"], valid_from=date.fromisoformat(first["valid_from"]),
        )
    return out


@lru_cache(maxsize=1)
def _alias_index() -> dict[str, str]:
    idx: dict[str, str] = {}
    for key, names in _ALIASES.items():
        for n in (key, *names):
            idx[_norm(n)] = key
    return idx


def parameter_names() -> list[str]:
    """Canonical item keys in Table 1 order (WT, pH, DO, CODMn, COD, BOD5, NH3-N, TP, TN, Cu, …)."""
    return sorted(gb3838_items(), key=lambda k: (gb3838_items()[k].item_no, k))


def resolve_parameter(name: str) -> tuple[Gb3838Item, Waterbody | None]:
    """The Table 1 item for a name or HJ 212 code, and the waterbody the name fixes (``TP_lake``…).

    Accepts the canonical keys (``pH``, ``DO``, ``CODMn``, ``COD``, ``BOD5``, ``NH3-N``, ``TP``,
    ``TN``, ``Cu`` … ``FC``), English and Chinese names, HJ 212 / HJ 525 codes (``w01001`` pH,
    ``w01009`` DO, ``w01019`` CODMn, ``w01018`` COD, ``w01017`` BOD5, ``w21003`` NH3-N, ``w21011`` TP,
    ``w21001`` TN, ``w20111`` Hg …), case, spaces, ``_`` and ``-`` ignored. Raises InputError.
    """
    n = _norm(name)
    if n in _FORCED:
        key, wb = _FORCED[n]
        return gb3838_items()[key], wb
    key2 = _alias_index().get(n)
    if key2 is None:
        raise InputError(name, "不是 GB 3838-2002 表1 的项目 / not a GB 3838-2002 Table 1 item; 可用 / accepted: "
                         + ", ".join(parameter_names()) + " (or HJ 212 codes such as w21003)")
    return gb3838_items()[key2], None


def parse_waterbody(text: str | None, *, field: str = "type") -> Waterbody:
    """``river`` or ``lake`` from river/河流/lake/reservoir/lake_reservoir/湖库…; empty → river."""
    s = _norm(text or "")
    if s in ("", "river", "河流", "河", "stream"):
        return "river"
    if s in ("lake", "reservoir", "lakereservoir", "湖库", "湖泊", "水库", "湖", "库"):
        return "lake"
    raise InputError(field, f"未知水体类型 / unknown water body type {text!r}; 应为 / expected river | lake")


# -- single values ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ParameterClass:
    """The class of one item: ``value`` in the item's unit (mg/L; pH none; FC count/L).

    ``water_class`` is ``None`` for an item the table does not grade (water temperature).
    ``limit`` is the limit of the class met (``None`` for 劣V, pH and ungraded items);
    ``waterbody`` the column used; ``in_section_class`` whether it counts for the section class;
    ``name`` the name or code the caller used for the item.
    """

    parameter: str
    code: str
    value: float
    unit: str
    water_class: WaterClass | None
    waterbody: Waterbody
    in_section_class: bool
    limit: float | None = None
    note: str = ""
    name: str = ""

    @property
    def label(self) -> str:
        return self.water_class.label if self.water_class is not None else ""


@dataclass(frozen=True, slots=True)
class Exceedance:
    """An item worse than ``reference_class``; ``multiple`` = (C − S) / S, None where not computed."""

    parameter: str
    code: str
    value: float
    water_class: WaterClass
    reference_class: WaterClass
    limit: float | None
    multiple: float | None


def _exact(value: SampleValue, field: str) -> Fraction:
    if isinstance(value, Fraction):
        return value
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InputError(field, f"应为有限数字 / must be a finite number, got {value!r}")
        return Fraction(value)
    if isinstance(value, bool) or value is None:
        raise InputError(field, f"应为数字 / must be a number, got {value!r}")
    try:
        d = Decimal(str(value).strip()) if isinstance(value, str) else Decimal(repr(float(value)))
    except (ValueError, ArithmeticError, TypeError) as e:
        raise InputError(field, f"应为数字 / must be a number, got {value!r}") from e
    if not d.is_finite():
        raise InputError(field, f"应为有限数字 / must be a finite number, got {value!r}")
    return Fraction(d)


def _grade(item: Gb3838Item, x: Fraction, waterbody: Waterbody) -> tuple[WaterClass | None, Fraction | None]:
    if item.direction == "special":
        return None, None
    if item.direction == "range":
        assert item.range is not None
        lo, hi = item.range
        return (WaterClass.I, None) if lo <= x <= hi else (WaterClass.WORSE_THAN_V, None)
    limits = item.limits_for(waterbody)
    assert limits is not None
    for i, lim in enumerate(limits):
        if (x <= lim) if item.direction == "max" else (x >= lim):
            return WaterClass(i + 1), lim
    return WaterClass.WORSE_THAN_V, None


def _classify_exact(name: str, x: Fraction, waterbody: Waterbody) -> ParameterClass:
    item, forced = resolve_parameter(name)
    wb = forced or waterbody
    if x < 0 and item.direction != "special":
        raise InputError(name, f"不能为负 / must not be negative, got {float(x)!r}")
    if item.direction == "range" and x > 14:
        raise InputError(name, f"pH 应在 0–14 / pH must be within 0–14, got {float(x)!r}")
    wc, lim = _grade(item, x, wb)
    note = ""
    if item.direction == "special":
        note = "水温按人为变化评价，不分类 / water temperature is judged on man-made change, not graded"
    elif item.direction == "range" and wc is WaterClass.WORSE_THAN_V:
        note = "pH 超出 6–9，按劣V计（惯例，未确认）/ pH outside 6–9 graded 劣V (convention, UNCONFIRMED)"
    elif item.key == "TN" and wb == "river":
        note = "总氮限值仅适用于湖库，仅供参考 / TN limits are for lakes/reservoirs; informative"
    return ParameterClass(
        parameter=item.key, code=item.code, value=float(x), unit=item.unit, water_class=wc, waterbody=wb,
        in_section_class=item.in_section_class, limit=None if lim is None else float(lim), note=note, name=name,
    )


def classify_parameter(name: str, value: float | str | Decimal | Fraction, *,
                       waterbody: Waterbody = "river") -> ParameterClass:
    """The GB 3838-2002 class of one item's value (Table 1; GB 3838 §5.1 single-factor rule).

    ``name``: canonical key, name or HJ 212 code (see :func:`resolve_parameter`); ``TP_lake`` /
    ``TP_river`` fix the TP column whatever ``waterbody`` says. ``value`` in the item's unit.
    Upper limits: value ≤ limit meets the class; DO: value ≥ limit; pH: 6–9 else 劣V.
    """
    return _classify_exact(name, _exact(value, name), waterbody)


def exceedance_multiple(name: str, value: float, *, reference_class: WaterClass | str = WaterClass.III,
                        waterbody: Waterbody = "river") -> float | None:
    """(C − S) / S against the ``reference_class`` limit (GB 3838 §5.1; Guangdong-bulletin practice).

    Computed exactly, so NH3-N 2.3 against 1.0 gives 1.3, not 1.2999999999999998. ``None`` when
    the value is within the class, and for water temperature, pH and DO, which the 2011 method (as
    quoted, UNCONFIRMED) does not give a multiple.
    """
    item, forced = resolve_parameter(name)
    m = _multiple(item, _exact(value, name), WaterClass.parse(reference_class, field="reference_class",
                                                               allow_worse=False), forced or waterbody)
    return None if m is None else float(m)


def _multiple(item: Gb3838Item, x: Fraction, ref: WaterClass, wb: Waterbody) -> Fraction | None:
    if item.key in _NO_MULTIPLE or item.direction != "max":
        return None
    limits = item.limits_for(wb)
    assert limits is not None
    s = limits[ref - 1]
    return (x - s) / s if x > s else None


def water_class_array(name: str, values: npt.ArrayLike, *, waterbody: Waterbody = "river") -> npt.NDArray[np.int8]:
    """Vectorised class of many values of one item: 1…5 for I…V, 6 for 劣V, 0 for NaN / not graded.

    Same rule as :func:`classify_parameter` on float values (equal to a limit meets the class).
    """
    item, forced = resolve_parameter(name)
    v = np.asarray(values, dtype=float)
    out = np.zeros(v.shape, dtype=np.int8)
    ok = np.isfinite(v)
    if item.direction == "special":
        return out
    if item.direction == "range":
        assert item.range is not None
        lo, hi = (float(b) for b in item.range)
        out[ok] = np.where((v[ok] >= lo) & (v[ok] <= hi), 1, 6)
        return out
    limits = item.limits_for(forced or waterbody)
    assert limits is not None
    lim = np.array([float(x) for x in limits])
    if item.direction == "max":
        # first class whose limit is >= value; equal limits (COD I = II) give the better class
        out[ok] = np.searchsorted(lim, v[ok], side="left") + 1
    else:
        # DO: limits fall with the class; first class whose limit is <= value
        out[ok] = np.searchsorted(-lim, -v[ok], side="left") + 1
    return out


# -- samples and periods ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SampleClass:
    """The class of a sample (or of a period mean) of one section.

    ``water_class``: worst class of the items counted for the section class (None if none was
    given); ``worst``: those items at that class; ``exceedances``: items worse than class III,
    in main-pollutant order, with multiples; ``meets_target``/``target_exceedances`` against the
    section's target class when one is given. ``n_samples`` is 1 for a single sample.
    """

    water_class: WaterClass | None
    parameters: tuple[ParameterClass, ...]
    worst: tuple[str, ...]
    exceedances: tuple[Exceedance, ...]
    waterbody: Waterbody
    target_class: WaterClass | None = None
    meets_target: bool | None = None
    target_exceedances: tuple[Exceedance, ...] = ()
    n_samples: int = 1
    standard: str = STANDARD
    method: str = METHOD

    @property
    def label(self) -> str:
        return self.water_class.label if self.water_class is not None else ""

    @property
    def qualitative(self) -> str:
        return self.water_class.qualitative if self.water_class is not None else ""

    @property
    def main_pollutants(self) -> tuple[str, ...]:
        """Up to three main pollutants (主要污染指标): the first three exceedances of class III."""
        return tuple(e.parameter for e in self.exceedances[:3])

    def parameter(self, name: str) -> ParameterClass | None:
        key = resolve_parameter(name)[0].key
        return next((p for p in self.parameters if p.parameter == key), None)


def _check_date(on: date | None) -> None:
    if on is not None and on < VALID_FROM:
        raise InputError("date", f"{on.isoformat()} 早于 GB 3838-2002 实施日 / before GB 3838-2002 came into force "
                         f"({VALID_FROM.isoformat()}); GB 3838-88 is not tabulated")


def _exceedances(graded: list[tuple[ParameterClass, Fraction, Gb3838Item]], ref: WaterClass) -> tuple[Exceedance, ...]:
    found: list[tuple[tuple[int, int, Fraction, int], Exceedance]] = []
    for pc, x, item in graded:
        if pc.water_class is None or pc.water_class <= ref or not pc.in_section_class:
            continue
        m = _multiple(item, x, ref, pc.waterbody)
        lim = None
        if item.direction in ("max", "min"):
            limits = item.limits_for(pc.waterbody)
            assert limits is not None
            lim = float(limits[ref - 1])
        e = Exceedance(pc.parameter, pc.code, pc.value, pc.water_class, ref, lim, None if m is None else float(m))
        sort_key = (0 if item.key in _PRIORITY else 1, -int(pc.water_class), -(m if m is not None else Fraction(-1)),
                    item.item_no)
        found.append((sort_key, e))
    found.sort(key=lambda t: t[0])
    return tuple(e for _, e in found)


def _assess(exact: Mapping[str, Fraction], *, waterbody: Waterbody, target_class: WaterClass | str | None,
            exclude: Iterable[str] | None, n_samples: int) -> SampleClass:
    excluded = {resolve_parameter(n)[0].key for n in (DEFAULT_EXCLUDED if exclude is None else exclude)}
    graded: list[tuple[ParameterClass, Fraction, Gb3838Item]] = []
    seen: dict[str, str] = {}
    for name, x in exact.items():
        item, _ = resolve_parameter(name)
        if item.key in seen:
            raise InputError(name, f"与 {seen[item.key]!r} 重复，同为 {item.key} / duplicates {seen[item.key]!r}; "
                             f"both are {item.key}")
        seen[item.key] = name
        pc = _classify_exact(name, x, waterbody)
        counts = item.key not in excluded and pc.water_class is not None
        if counts != pc.in_section_class:
            pc = replace(pc, in_section_class=counts)
        graded.append((pc, x, item))
    graded.sort(key=lambda t: t[2].item_no)
    counted = [pc for pc, _, _ in graded if pc.in_section_class and pc.water_class is not None]
    wc = max((pc.water_class for pc in counted if pc.water_class is not None), default=None)
    worst = tuple(pc.parameter for pc in counted if pc.water_class == wc) if wc is not None else ()
    target = None if target_class is None else WaterClass.parse(target_class, allow_worse=False)
    return SampleClass(
        water_class=wc, parameters=tuple(pc for pc, _, _ in graded), worst=worst,
        exceedances=_exceedances(graded, WaterClass.III), waterbody=waterbody, target_class=target,
        meets_target=None if target is None or wc is None else wc <= target,
        target_exceedances=() if target is None else _exceedances(graded, target), n_samples=n_samples,
    )


def _present(v: object) -> bool:
    if v is None:
        return False
    if isinstance(v, str):
        return v.strip() != ""
    if isinstance(v, float) and math.isnan(v):
        return False
    return True


def classify_sample(values: Mapping[str, SampleValue], *, waterbody: Waterbody = "river",
                    target_class: WaterClass | str | None = None, exclude: Iterable[str] | None = None,
                    on: date | None = None) -> SampleClass:
    """Single-factor class of one sample (GB 3838-2002 §5.1; 2011 method section class).

    ``values``: item name or HJ 212 code → value in the item's unit; ``None``/NaN = not measured.
    ``waterbody``: ``river`` or ``lake`` (lake/reservoir TP column). ``target_class``: the
    section's target (I–V) for compliance. ``exclude``: items graded but not counted for the
    section class (default water temperature, TN, fecal coliforms). ``on``: date of the data,
    checked against the edition's validity.
    """
    _check_date(on)
    exact = {name: _exact(v, name) for name, v in values.items() if _present(v)}
    return _assess(exact, waterbody=waterbody, target_class=target_class, exclude=exclude, n_samples=1)


def _period_exact(samples: Iterable[Mapping[str, SampleValue]]) -> tuple[dict[str, Fraction], int]:
    sums: dict[str, Fraction] = {}
    counts: dict[str, int] = {}
    names: dict[str, str] = {}
    n = 0
    for s in samples:
        n += 1
        in_sample: dict[str, str] = {}
        for name, v in s.items():
            key = resolve_parameter(name)[0].key
            if key in in_sample:
                raise InputError(name, f"样品 {n} 中与 {in_sample[key]!r} 重复 / duplicates {in_sample[key]!r} in sample {n}")
            in_sample[key] = name
            names.setdefault(key, name)
            if not _present(v):
                continue
            sums[key] = sums.get(key, Fraction(0)) + _exact(v, name)
            counts[key] = counts.get(key, 0) + 1
    return {names[k]: sums[k] / counts[k] for k in sums}, n


def period_means(samples: Iterable[Mapping[str, SampleValue]]) -> dict[str, float]:
    """Arithmetic mean of each item over the samples of a period (missing values skipped)."""
    exact, _ = _period_exact(samples)
    return {k: float(v) for k, v in exact.items()}


def classify_period(samples: Iterable[Mapping[str, SampleValue]], *, waterbody: Waterbody = "river",
                    target_class: WaterClass | str | None = None, exclude: Iterable[str] | None = None,
                    on: date | None = None) -> SampleClass:
    """Class of a period (week, month, quarter, year): the single-factor rule on each item's mean.

    Each item is averaged over the samples where it was measured (exact rational mean of the
    values as written), then graded as in :func:`classify_sample`. The 2011 method's averaging
    clauses were not seen (UNCONFIRMED); ``n_samples`` records how many samples were given.
    """
    _check_date(on)
    exact, n = _period_exact(samples)
    if n == 0:
        raise InputError("samples", "时段内无样品 / no samples in the period")
    return _assess(exact, waterbody=waterbody, target_class=target_class, exclude=exclude, n_samples=n)
