"""Composite index (环境空气质量综合指数), city ranking, excellent/good-day ratio and year-on-year change.

Composite index (城市环境空气质量排名技术规定, 2018; reference README §4.4, vector ASSESS-003)::

    I_i = C_i / S_i        I_sum = Σ w_i · I_i over SO2, NO2, PM10, PM2.5, CO, O3        I_max = max I_i

C_i: period means of SO2, NO2, PM10, PM2.5 (µg/m3); CO the 95th percentile of daily means (mg/m3);
O3 the 90th percentile of daily maximum 8 h means (µg/m3), all over the same period. S_i: grade-2
**annual** limits of SO2 (60), NO2 (40), PM10 (70), PM2.5 (35), the grade-2 24 h limit of CO (4 mg/m3)
and the daily-max-8 h limit of O3 (160), GB 3095-2012 (``gb3095_limits.csv`` in ``standards/``).
Weights w_i are 1 (the published unweighted form).

UNCONFIRMED for data from 2026-03-01 (README §4.4, §9.1): whether S_i become the GB 3095-2026
transitional limits, and weights PM2.5 × 3, NO2 × 2, O3 × 2. Both are configuration here
(:class:`CompositeConfig`); the default keeps GB 3095-2012 limits and unit weights for every date.

Cities rank by ascending I_sum as published (2 decimals, GB/T 8170); equal published values share
a rank (1, 2, 2, 4). A city with an invalid statistic has no composite index and no rank.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType

import numpy as np

COMPONENTS: tuple[str, ...] = ("SO2", "NO2", "PM10", "PM2.5", "CO_p95", "O3_8h_p90")
"""The six statistics of the composite index (names as in :data:`tianlan.assess.aggregate.PERIOD_STATS`)."""

# statistic → (pollutant, averaging_time) of the limit used as S_i
_LIMIT_ROWS: Mapping[str, tuple[str, str]] = MappingProxyType({
    "SO2": ("SO2", "annual"), "NO2": ("NO2", "annual"), "PM10": ("PM10", "annual"),
    "PM2.5": ("PM2.5", "annual"), "CO_p95": ("CO", "24h"), "O3_8h_p90": ("O3", "8h_daily_max"),
})

LIMITS_FILE = Path(__file__).with_name("standards") / "gb3095_limits.csv"
"""GB 3095-2012 and GB 3095-2026 (transitional, final) limits, grades 1 and 2, with validity dates."""


@dataclass(frozen=True, slots=True)
class LimitRow:
    """One row of ``gb3095_limits.csv``: a limit of one edition/phase, valid ``valid_from`` … ``valid_to``."""

    standard: str
    phase: str
    valid_from: dt.date
    valid_to: dt.date | None
    pollutant: str
    averaging_time: str
    grade1: float
    grade2: float
    unit: str


@lru_cache(maxsize=1)
def limit_rows() -> tuple[LimitRow, ...]:
    """All rows of the GB 3095 limits table (``standards/gb3095_limits.csv``)."""
    rows: list[LimitRow] = []
    with LIMITS_FILE.open(encoding="utf-8") as f:
        for r in csv.DictReader(f):
            rows.append(LimitRow(
                r["standard"], r["phase"], dt.date.fromisoformat(r["valid_from"]),
                dt.date.fromisoformat(r["valid_to"]) if r["valid_to"] else None,
                r["pollutant"], r["averaging_time"], float(r["grade1"]), float(r["grade2"]), r["unit"],
            ))
    return tuple(rows)


def gb3095_limit(pollutant: str, averaging_time: str, *, grade: int = 2, on: dt.date | None = None,
                 standard: str | None = None, phase: str | None = None) -> float:
    """A GB 3095 limit (µg/m3; CO mg/m3) by the date of the data (`on`) or by edition and phase.

    ``gb3095_limit("PM2.5", "24h", on=date(2026, 5, 1))`` → 60 (2026 transitional, grade 2).
    """
    cands = [r for r in limit_rows() if r.pollutant == pollutant and r.averaging_time == averaging_time]
    if standard is not None:
        cands = [r for r in cands if r.standard.replace(" ", "") == standard.replace(" ", "")]
    if phase is not None:
        cands = [r for r in cands if r.phase == phase]
    if on is not None:
        cands = [r for r in cands if r.valid_from <= on and (r.valid_to is None or on <= r.valid_to)]
    if len(cands) != 1:
        raise KeyError(f"no single GB 3095 limit for {pollutant} {averaging_time} "
                       f"(standard={standard}, phase={phase}, on={on}): {len(cands)} rows")
    return cands[0].grade2 if grade == 2 else cands[0].grade1


def exceeds(value: float, pollutant: str, averaging_time: str, *, on: dt.date, grade: int = 2) -> bool:
    """Whether `value` is above the limit in force on `on` (vector ASSESS-008)."""
    return value > gb3095_limit(pollutant, averaging_time, grade=grade, on=on)


@dataclass(frozen=True, slots=True)
class CompositeConfig:
    """S_i and w_i of the composite index. Default: GB 3095-2012 grade-2 limits, unit weights."""

    standard: str = "GB 3095-2012"
    phase: str | None = None
    weights: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({c: 1.0 for c in COMPONENTS}))
    decimals: int = 2

    @property
    def limits(self) -> dict[str, float]:
        """S_i per component (µg/m3; CO mg/m3)."""
        return {c: gb3095_limit(p, a, standard=self.standard, phase=self.phase) for c, (p, a) in _LIMIT_ROWS.items()}

    @property
    def label(self) -> str:
        w = "" if all(v == 1 for v in self.weights.values()) else " weighted"
        return f"{self.standard}{' ' + self.phase if self.phase else ''}{w}"


DEFAULT_CONFIG = CompositeConfig()
WEIGHTED_2026_UNCONFIRMED = MappingProxyType({"SO2": 1.0, "NO2": 2.0, "PM10": 1.0, "PM2.5": 3.0, "CO_p95": 1.0,
                                             "O3_8h_p90": 2.0})
"""Weights one code base attributes to the 2026 rules (README §4.4): UNCONFIRMED, opt-in only."""


@dataclass(frozen=True, slots=True)
class CompositeResult:
    """``single`` I_i per component (None when its statistic is missing); ``total`` I_sum (None unless
    all six are present); ``max_index`` I_max and ``max_pollutants`` (ties: all of them)."""

    single: dict[str, float | None]
    total: float | None
    max_index: float | None
    max_pollutants: tuple[str, ...]

    def rounded(self, decimals: int = 2) -> float | None:
        """I_sum as published (GB/T 8170, 2 decimals)."""
        return None if self.total is None else round_half_even(self.total, decimals)


def round_half_even(value: float, decimals: int) -> float:
    """GB/T 8170 rounding of the decimal text of `value` (half to even)."""
    return float(Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_EVEN))


def composite_index(stats: Mapping[str, float | None], config: CompositeConfig = DEFAULT_CONFIG) -> CompositeResult:
    """Composite index of one city and period from its six statistics (keys :data:`COMPONENTS`).

    I_i are computed exactly (rationals of the decimal texts) so that ties of I_max are true ties
    (ASSESS-003: PM10 74/70 = PM2.5 37/35).
    """
    limits = config.limits
    exact: dict[str, Fraction | None] = {}
    for c in COMPONENTS:
        v = stats.get(c)
        exact[c] = None if v is None or not np.isfinite(v) else Fraction(repr(float(v))) / Fraction(repr(limits[c]))
    single = {c: None if f is None else float(f) for c, f in exact.items()}
    present = {c: f for c, f in exact.items() if f is not None}
    if not present:
        return CompositeResult(single, None, None, ())
    top = max(present.values())
    total = None
    if len(present) == len(COMPONENTS):
        total = float(sum(Fraction(repr(float(config.weights.get(c, 1.0)))) * f for c, f in present.items()))
    return CompositeResult(single, total, float(top), tuple(c for c, f in present.items() if f == top))


def composite_arrays(stats: Mapping[str, np.ndarray], config: CompositeConfig = DEFAULT_CONFIG
                     ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Vectorised :func:`composite_index`: (I_sum per key, NaN unless all six present; I_i per key)."""
    limits = config.limits
    single = {c: np.asarray(stats[c], dtype=float) / limits[c] for c in COMPONENTS}
    total = sum(config.weights.get(c, 1.0) * single[c] for c in COMPONENTS)
    return np.asarray(total, dtype=float), single


def rank(values: Sequence[float | None] | np.ndarray, *, decimals: int | None = 2) -> list[int | None]:
    """Competition ranks (1, 2, 2, 4) by ascending value; equal values — after rounding to
    `decimals` as published, when given — share a rank; None/NaN get no rank."""
    keyed: list[tuple[float, int]] = []
    for i, v in enumerate(values):
        if v is None or not np.isfinite(v):
            continue
        keyed.append((round_half_even(float(v), decimals) if decimals is not None else float(v), i))
    keyed.sort()
    out: list[int | None] = [None] * len(values)
    prev: float | None = None
    r = 0
    for pos, (v, i) in enumerate(keyed, start=1):
        if v != prev:
            r, prev = pos, v
        out[i] = r
    return out


def good_day_ratio(good_days: int, valid_days: int, *, decimals: int = 1) -> float | None:
    """Excellent-and-good day ratio (优良天数比例) in %: days with daily AQI ≤ 100 / valid days × 100,
    1 decimal (GB/T 8170; rounding clause UNCONFIRMED, README §4.5; vector ASSESS-004). None without
    valid days."""
    if valid_days <= 0:
        return None
    pct = Fraction(100 * good_days, valid_days)
    q = Decimal(pct.numerator) / Decimal(pct.denominator)
    return float(q.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_EVEN))


def change_pct(current: float | None, previous: float | None, *, decimals: int = 1) -> float | None:
    """Year-on-year change (同比) in %: (current − previous) / previous × 100; None when either is
    missing or the previous value is 0."""
    if current is None or previous is None or not np.isfinite(current) or not np.isfinite(previous) or previous == 0:
        return None
    return round_half_even((current - previous) / previous * 100.0, decimals)


def change_points(current: float | None, previous: float | None, *, decimals: int = 1) -> float | None:
    """Change in percentage points (for ratios such as the good-day ratio)."""
    if current is None or previous is None or not np.isfinite(current) or not np.isfinite(previous):
        return None
    return round_half_even(current - previous, decimals)
