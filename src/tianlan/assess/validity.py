"""Data-validity rules for ambient-air statistics (GB 3095 Table 4, HJ 663) and device-flag screening.

A statistic is *valid* only when enough valid inputs went into it; otherwise it is empty (None/NaN),
never guessed. Every aggregate carries its :class:`Coverage` so a reader can see why.

Minimum data (GB 3095-2012 §6 Table 4, unchanged in GB 3095-2026 Table 4 and §6.4; reference
README §3.3):

=========================  =====================================  =====================================
statistic                  pollutants                             minimum
=========================  =====================================  =====================================
1 h mean                   SO2, NO2, CO, O3, NOx (*)              ≥ 45 minutes of sampling in the hour
daily (24 h) mean          SO2, NO2, CO, PM10, PM2.5, NOx         ≥ 20 hourly means in the natural day
O3 8 h sliding mean        O3                                     ≥ 6 hourly means in the 8 hours
O3 daily max 8 h           O3                                     ≥ 14 valid windows of the 17 ending
                                                                  at hours 8 … 24, or fewer if the
                                                                  maximum exceeds the limit (HJ 663
                                                                  §6.1.2; reference README §4.3)
monthly mean               SO2, NO2, PM10, PM2.5, NOx             ≥ 27 daily values (February ≥ 25)
annual mean                SO2, NO2, PM10, PM2.5, NOx             ≥ 324 daily values per year and
                                                                  ≥ 27 per month (February ≥ 25)
daily mean                 TSP, BaP, Pb                           24 h of sampling
=========================  =====================================  =====================================

(*) Platform decisions where the table is silent (reference README §3.3/§9, UNCONFIRMED):

* PM10 and PM2.5 1 h means use the same 45-minute rule as the gases.
* The O3 daily maximum 1 h value needs ≥ 20 valid hours, like the daily means.
* Monthly and annual CO (95th percentile of daily means) and O3 (90th percentile of daily maximum
  8 h means) statistics use the same day counts as the means.

Device flags (HJ 212-2017 Table 8, via :func:`tianlan.hj212.codes.data_flag`): only ``N`` (normal)
— and its HJ/T 212-2005 air-station twin ``3`` (normal data) — make a value count as valid. ``F``
(stopped), ``M`` (maintenance), ``S`` (manually set), ``D`` (fault), ``C`` (calibration), ``T``
(above the measuring range: only a lower bound of the truth, so not a valid mean input), ``B``
(communication fault), any other or unknown flag make it invalid: the value is excluded from every
statistic and counted in ``Coverage.flagged``. A value without a flag (files, manual entry) counts
as valid.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from tianlan.hj212.codes import data_flag

POLLUTANTS: tuple[str, ...] = ("SO2", "NO2", "CO", "O3", "PM10", "PM2.5")
"""The six basic pollutants of GB 3095 Table 1 as named in Tianlan files (CO in mg/m3, others µg/m3)."""

VALID_FLAGS: frozenset[str] = frozenset({"N", "3"})
"""Device flags that leave a value valid: HJ 212-2017 ``N``; HJ/T 212-2005 air-station ``3``."""

STANDARD_2012 = "GB 3095-2012"
STANDARD_2026 = "GB 3095-2026"


@dataclass(frozen=True, slots=True)
class Coverage:
    """How much data an aggregate saw.

    ``expected``: inputs the period should have (60 minutes, 24 hours, 8 hours, 17 windows, days of
    the month …); ``present``: inputs that arrived with a value; ``valid``: present and not made
    invalid by a device flag (what the statistic used); ``flagged``: present but excluded by a flag
    (``present == valid + flagged``); ``required``: the minimum of valid inputs the rule asks for.
    """

    expected: int
    present: int
    valid: int
    flagged: int = 0
    required: int = 0

    @property
    def missing(self) -> int:
        """Inputs that never arrived."""
        return self.expected - self.present

    @property
    def sufficient(self) -> bool:
        """True when ``valid`` reaches ``required``."""
        return self.valid >= self.required


@dataclass(frozen=True, slots=True)
class ValidityRules:
    """The minimum-data rules of one GB 3095 edition (Table 4), per pollutant where they differ.

    Counts are minimum numbers of *valid* inputs. ``hour_min_minutes`` and ``day_min_hours`` map a
    pollutant to its rule; a pollutant absent from ``day_min_hours`` has no daily-mean rule in the
    table (O3 is assessed by its daily maximum 1 h and 8 h values instead).
    """

    standard: str
    hour_min_minutes: Mapping[str, int]
    day_min_hours: Mapping[str, int]
    o3_max_1h_min_hours: int = 20
    o3_8h_min_hours: int = 6
    mda8_min_windows: int = 14
    month_min_days: int = 27
    february_min_days: int = 25
    year_min_days: int = 324
    year_requires_each_month: bool = True
    clause: str = field(default="Table 4")

    def minutes_for_hour(self, pollutant: str) -> int:
        """Minimum valid minutes for the 1 h mean of `pollutant` (45; GB 3095 Table 4)."""
        return self.hour_min_minutes.get(pollutant, 45)

    def hours_for_day(self, pollutant: str) -> int:
        """Minimum valid hours for the daily value of `pollutant` (20 for the Table 4 gases and PM)."""
        if pollutant == "O3":
            return self.o3_max_1h_min_hours
        return self.day_min_hours.get(pollutant, 20)

    def days_for_month(self, year: int, month: int) -> int:
        """Minimum valid daily values for a monthly statistic: 27, February 25 (GB 3095 Table 4)."""
        return self.february_min_days if month == 2 else self.month_min_days

    def days_for_year(self, year: int) -> int:
        """Minimum valid daily values for an annual statistic: 324 (GB 3095 Table 4)."""
        return self.year_min_days


_HOUR_45 = MappingProxyType({p: 45 for p in ("SO2", "NO2", "CO", "O3", "NOx", "PM10", "PM2.5")})
_DAY_20 = MappingProxyType(
    {"SO2": 20, "NO2": 20, "CO": 20, "PM10": 20, "PM2.5": 20, "NOx": 20, "TSP": 24, "BaP": 24, "Pb": 24}
)

RULES_2012 = ValidityRules(STANDARD_2012, _HOUR_45, _DAY_20, clause="GB 3095-2012 §6 Table 4")
"""GB 3095-2012 Table 4 (day, 8 h, month and year rows confirmed; the 45-minute row believed identical)."""

RULES_2026 = ValidityRules(STANDARD_2026, _HOUR_45, _DAY_20, clause="GB 3095-2026 §6.4 Table 4")
"""GB 3095-2026 Table 4 (read in the official text; same numbers as 2012)."""

SWITCH_DATE = dt.date(2026, 3, 1)
"""GB 3095-2026 / HJ 633-2026 / HJ 663-2026 in force (reference README §0)."""


def rules_for(day: dt.date | dt.datetime, *, choice: str = "auto") -> ValidityRules:
    """The validity rules in force for data of `day` (calendar date of the data).

    The edition follows the AQI edition that :func:`tianlan.assess.editions.edition_for` picks for a
    daily report of that date (both switched on 2026-03-01): HJ 633-2026 ↔ GB 3095-2026, every
    HJ 633-2012 variant ↔ GB 3095-2012. `choice` is passed on (``auto`` or an edition name).
    """
    from tianlan.assess.editions import Edition, edition_for

    d = day.date() if isinstance(day, dt.datetime) else day
    return RULES_2026 if edition_for(d, "daily", choice) is Edition.HJ633_2026 else RULES_2012


def rules_for_standard(name: str) -> ValidityRules:
    """Rules by GB 3095 edition name (``GB 3095-2012`` / ``GB 3095-2026``)."""
    key = name.replace(" ", "").upper()
    if key == "GB3095-2012":
        return RULES_2012
    if key == "GB3095-2026":
        return RULES_2026
    raise ValueError(f"unknown GB 3095 edition {name!r}")


# -- device flags ---------------------------------------------------------------------------------


def flag_is_valid(flag: str | None) -> bool:
    """True when a value carrying device flag `flag` counts as valid (``N``/``3`` or no flag).

    Every other flag — F, M, S, D, C, T, B of HJ 212-2017 Table 8, the 2005 letters and digits, and
    unknown codes — makes the value invalid (module docstring).
    """
    if flag is None:
        return True
    f = flag.strip()
    return f == "" or f in VALID_FLAGS


def flag_reason(flag: str) -> str:
    """Why a flag invalidates data, Chinese then English (unknown flags say so)."""
    meaning = data_flag(flag.strip())
    if meaning is None:
        return f"未知标记 / unknown flag {flag!r}"
    return f"{meaning.zh} / {meaning.en} ({meaning.code})"


def flag_valid_mask(flags: np.ndarray | None, n: int) -> np.ndarray:
    """Boolean mask (True = flag leaves the value valid) for an array of flag texts (None = no flag)."""
    if flags is None:
        return np.ones(n, dtype=bool)
    arr = np.asarray(flags, dtype=object)
    return np.fromiter((flag_is_valid(f) for f in arr), dtype=bool, count=len(arr))


def screen(values: np.ndarray | list[float | None], flags: np.ndarray | list[str | None] | None = None
           ) -> tuple[np.ndarray, int, int]:
    """Values with invalid ones blanked, plus (present, flagged) counts.

    `values` may hold None/NaN for missing inputs; a present value whose flag is not valid becomes
    NaN and is counted as flagged. Returns ``(float array with NaN for missing or invalid,
    present, flagged)``.
    """
    v = np.array([np.nan if x is None else x for x in values], dtype=float) if isinstance(values, list) \
        else np.asarray(values, dtype=float).copy()
    present = np.isfinite(v)
    ok = flag_valid_mask(None if flags is None else np.asarray(flags, dtype=object), len(v))
    flagged = present & ~ok
    v[flagged] = np.nan
    return v, int(present.sum()), int(flagged.sum())


# -- period helpers -------------------------------------------------------------------------------


def days_in_month(year: int, month: int) -> int:
    """Calendar days of the month (the ``expected`` of a monthly statistic)."""
    return calendar.monthrange(year, month)[1]


def days_in_year(year: int) -> int:
    """Calendar days of the year (365 or 366)."""
    return 366 if calendar.isleap(year) else 365


def month_valid(n_valid_days: int, year: int, month: int, rules: ValidityRules) -> bool:
    """Whether a monthly statistic with `n_valid_days` daily values is valid (≥ 27; Feb ≥ 25)."""
    return n_valid_days >= rules.days_for_month(year, month)


def year_valid(n_valid_days: int, year: int, rules: ValidityRules,
               per_month: Mapping[int, int] | None = None) -> bool:
    """Whether an annual statistic is valid: ≥ 324 daily values and, when `rules` say so and the
    per-month counts are given, ≥ 27 in each month (≥ 25 in February) — GB 3095 Table 4."""
    if n_valid_days < rules.days_for_year(year):
        return False
    if rules.year_requires_each_month and per_month is not None:
        return all(per_month.get(m, 0) >= rules.days_for_month(year, m) for m in range(1, 13))
    return True
