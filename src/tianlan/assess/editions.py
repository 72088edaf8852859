"""Editions of HJ 633 (the AQI regulation) and which one applies to a datum.

The tables and rules of each edition are data (``standards/hj633_editions.yaml`` and the breakpoint
CSVs next to it, copied verbatim from ``shared/reference/standards``); this module loads them and
answers two questions: *which edition* applies to a date (``edition_for``) and *what that edition
says* (``spec``: breakpoints, the indicator that feeds each pollutant's sub-index in the hourly and
the daily report, concentration rounding, the special rules above 800 µg/m3).

Editions (reference README §0, §2.3, §2.3a):

* ``HJ633-2012`` — the 2012 text. Real-time report: SO2/NO2/CO/O3 1 h, O3 8 h sliding mean and the
  PM10/PM2.5 **24 h sliding means** (Table 4). Daily report: 24 h means, O3 daily max 1 h and 8 h.
* ``HJ633-2012-published`` — what the national real-time platform actually published before
  2026-03-01: the 1 h PM values against the 24 h breakpoints and no O3 8 h sub-index (measured on
  the 2019 release: 138,200 of 138,200 station-hours). Its daily report is the 2012 text's.
* ``HJ633-2026`` — in force from 2026-03-01: new PM breakpoints at IAQI 100, concentration rounding,
  fixed IAQI above 800 µg/m3, no exceeding pollutant, the NA rule for missing pollutants.

``auto`` (README §0): data up to 2026-02-28 use the 2012 rules (the published practice for hourly
data, the text for daily data), data from 2026-03-01 the 2026 rules. Daily data are placed by their
calendar date; hourly data by their **hour-ending time** in Beijing time, the Chinese label of an
hourly value (the value for 07:00–08:00 is "08:00"). So the last hour of 2026-02-28 (23:00–24:00),
labelled 2026-03-01 00:00, is the first hour reported under HJ 633-2026: its report is made when the
2026 edition is in force. Callers whose timestamps mark the start of the hour (HJ 212 ``DataTime``)
pass ``time_marks="start"``.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from functools import cache
from importlib import resources
from typing import Any, Literal

import yaml

from tianlan.errors import InputError

BEIJING = timezone(timedelta(hours=8), "CST")
STANDARDS_PACKAGE = "tianlan.assess"
STANDARDS_DIR = "standards"
EDITIONS_FILE = "hj633_editions.yaml"

Report = Literal["hourly", "daily"]
REPORTS: tuple[str, ...] = ("hourly", "daily")

#: Pollutant keys of the value mappings and of the ``tianlan assess aqi`` CSV columns.
POLLUTANT_KEYS: tuple[str, ...] = ("SO2", "NO2", "CO", "O3", "PM10", "PM2.5", "O3_8h")
#: The pollutant each key belongs to (primary and exceeding pollutants are named by pollutant).
POLLUTANT_OF: dict[str, str] = {k: ("O3" if k == "O3_8h" else k) for k in POLLUTANT_KEYS}
#: Pollutant names in reporting order.
POLLUTANTS: tuple[str, ...] = ("SO2", "NO2", "CO", "O3", "PM10", "PM2.5")
#: Keyword inputs of the hourly report (24 h and 8 h sliding values an hourly row may need).
HOURLY_EXTRA_INPUTS: tuple[str, ...] = ("so2_24h", "pm10_24h_sliding", "pm25_24h_sliding", "o3_8h")


class Edition(StrEnum):
    """An edition of HJ 633 that Tianlan computes; every result records the one it used."""

    HJ633_2012 = "HJ633-2012"
    HJ633_2012_PUBLISHED = "HJ633-2012-published"
    HJ633_2026 = "HJ633-2026"


STANDARD_CHOICES: tuple[str, ...] = ("auto", *(e.value for e in Edition))


@dataclass(frozen=True)
class IndicatorUse:
    """One sub-index of a report: pollutant key, breakpoint column, and where its value comes from."""

    key: str  # pollutant key, e.g. "PM2.5" or "O3_8h"
    indicator: str  # breakpoint column, e.g. "pm25_24h"
    input: str  # "value" (values[key]) or the name of a keyword input, e.g. "pm25_24h_sliding"


@dataclass(frozen=True)
class SpecialRule:
    """A footnote rule for a concentration above ``above`` (HJ 633-2012 Table 1 / 2026 Table 3 notes)."""

    indicator: str
    above: Fraction
    action: Literal["substitute", "drop", "fixed"]
    clause: str
    substitute: str | None = None  # breakpoint column of the substitute value (action "substitute")
    input: str | None = None  # keyword input holding the substitute value
    iaqi: int | None = None  # the fixed IAQI (action "fixed")


@dataclass(frozen=True)
class EditionSpec:
    """What one edition says, loaded from the standards data files."""

    edition: Edition
    title: str
    issued: date | None
    valid_from: date | None
    valid_to: date | None
    table_file: str
    breakpoints: Mapping[str, tuple[tuple[Fraction, int], ...]]  # indicator -> ((BP, IAQI), …) ascending
    concentration_decimals: Mapping[str, int] | None  # indicator family (so2, co, pm25 …) -> decimals
    exceeding_above: int | None
    na_rule: bool
    hourly: tuple[IndicatorUse, ...]
    daily: tuple[IndicatorUse, ...]
    special: Mapping[str, SpecialRule]  # by indicator

    def uses(self, report: str) -> tuple[IndicatorUse, ...]:
        """The sub-indices of the hourly or daily report."""
        return self.hourly if _report(report) == "hourly" else self.daily

    def decimals(self, indicator: str) -> int | None:
        """Decimals a concentration is rounded to before its IAQI (None: no rounding)."""
        if self.concentration_decimals is None:
            return None
        return self.concentration_decimals.get(family(indicator))


def canonical_indicator(name: str) -> str:
    """``PM25_24H`` or ``pm25_24h_ugm3`` -> ``pm25_24h`` (breakpoint column names, case and unit free)."""
    n = name.strip().lower()
    for suffix in ("_ugm3", "_mgm3"):
        n = n.removesuffix(suffix)
    return n


def family(indicator: str) -> str:
    """The pollutant family of an indicator column: ``pm25_24h`` -> ``pm25``."""
    return indicator.split("_", 1)[0]


def _report(report: str) -> str:
    if report not in REPORTS:
        raise InputError("--report", f"unknown report {report!r}; expected hourly or daily / 报告类型应为 hourly 或 daily")
    return report


def _read_text(name: str) -> str:
    return resources.files(STANDARDS_PACKAGE).joinpath(STANDARDS_DIR, name).read_text(encoding="utf-8")


def _as_date(v: Any) -> date | None:
    if v is None or isinstance(v, date):
        return v
    return date.fromisoformat(str(v))


@cache
def _config() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(_read_text(EDITIONS_FILE))
    return data


@cache
def load_breakpoints(table_file: str) -> dict[str, tuple[tuple[Fraction, int], ...]]:
    """Breakpoint columns of an HJ 633 IAQI table: indicator -> ((BP, IAQI), …), exact.

    Column names lose their unit suffix (``pm25_24h_ugm3`` -> ``pm25_24h``); empty cells (level not
    defined for that indicator, e.g. SO2 1 h above 200) are left out.
    """
    rows = list(csv.DictReader(_read_text(table_file).splitlines()))
    out: dict[str, tuple[tuple[Fraction, int], ...]] = {}
    for col in rows[0]:
        if col == "iaqi":
            continue
        ind = col.rsplit("_", 1)[0]
        pts = tuple((Fraction(Decimal(r[col])), int(r["iaqi"])) for r in rows if r[col].strip() != "")
        if any(b1[0] <= b0[0] or b1[1] <= b0[1] for b0, b1 in zip(pts, pts[1:], strict=False)):
            raise ValueError(f"{table_file}: column {col} is not strictly increasing")
        out[ind] = pts
    return out


def _uses(entries: Mapping[str, Any]) -> tuple[IndicatorUse, ...]:
    return tuple(IndicatorUse(k, v["indicator"], v.get("input", "value")) for k, v in entries.items())


@cache
def spec(edition: Edition | str) -> EditionSpec:
    """The rules and tables of an edition (loaded once from the standards data files)."""
    ed = parse_edition(edition)
    raw = _config()["editions"][ed.value]
    special = {}
    for s in raw.get("special") or ():
        special[s["indicator"]] = SpecialRule(
            indicator=s["indicator"],
            above=Fraction(Decimal(str(s["above"]))),
            action=s["action"],
            clause=s["clause"],
            substitute=s.get("substitute"),
            input=s.get("input"),
            iaqi=s.get("iaqi"),
        )
    return EditionSpec(
        edition=ed,
        title=raw["title"],
        issued=_as_date(raw.get("issued")),
        valid_from=_as_date(raw.get("valid_from")),
        valid_to=_as_date(raw.get("valid_to")),
        table_file=raw["iaqi_table"],
        breakpoints=load_breakpoints(raw["iaqi_table"]),
        concentration_decimals=raw.get("concentration_decimals"),
        exceeding_above=raw.get("exceeding_above"),
        na_rule=bool(raw.get("na_rule")),
        hourly=_uses(raw["hourly"]),
        daily=_uses(raw["daily"]),
        special=special,
    )


def parse_edition(name: Edition | str) -> Edition:
    """The Edition called ``name`` (exact value, e.g. ``HJ633-2026``); InputError("--standard") otherwise."""
    if isinstance(name, Edition):
        return name
    try:
        return Edition(name)
    except ValueError:
        raise InputError(
            "--standard", f"unknown standard {name!r}; expected one of {', '.join(STANDARD_CHOICES)} / 未知标准版本"
        ) from None


def parse_standard(choice: Edition | str) -> Edition | None:
    """``None`` for ``auto`` (choose by date), else the named Edition; InputError("--standard") otherwise."""
    if isinstance(choice, str) and not isinstance(choice, Edition) and choice == "auto":
        return None
    return parse_edition(choice)


@dataclass(frozen=True)
class AutoPeriod:
    """One row of the ``auto`` table: the editions for data dated within [start, end] (Beijing dates)."""

    start: date | None
    end: date | None
    hourly: Edition
    daily: Edition


@cache
def auto_periods() -> tuple[AutoPeriod, ...]:
    """The ``auto`` table of the editions file, in date order."""
    out = tuple(
        AutoPeriod(_as_date(p.get("from")), _as_date(p.get("to")), Edition(p["hourly"]), Edition(p["daily"]))
        for p in _config()["auto"]
    )
    return out


def switch_points() -> tuple[datetime, ...]:
    """The Beijing-time instants (naive) at which ``auto`` changes edition, e.g. 2026-03-01 00:00."""
    return tuple(datetime.combine(p.start, datetime.min.time()) for p in auto_periods() if p.start is not None)


def beijing_naive(when: datetime) -> datetime:
    """``when`` as a naive Beijing-time datetime (a naive input is taken to be Beijing time already)."""
    if when.tzinfo is None:
        return when
    return when.astimezone(BEIJING).replace(tzinfo=None)


def edition_for(
    when: date | datetime,
    report: Report | str,
    choice: Edition | str = "auto",
    *,
    time_marks: Literal["end", "start"] = "end",
) -> Edition:
    """The edition that applies to data of ``report`` kind dated ``when``.

    ``choice`` other than ``auto`` returns that edition whatever the date (InputError("--standard")
    for an unknown name). With ``auto`` (README §0):

    * daily data: the calendar date of ``when`` (a datetime is reduced to its Beijing date);
      2026-02-28 → HJ633-2012, 2026-03-01 → HJ633-2026.
    * hourly data: ``when`` is the hour-ending time in Beijing time (naive = Beijing; aware
      datetimes are converted); before 2026-03-01 00:00 → HJ633-2012-published, from it →
      HJ633-2026. ``time_marks="start"`` says ``when`` marks the start of the hour (HJ 212
      DataTime), so one hour is added first. A bare date is refused for hourly data.
    """
    rep = _report(report)
    chosen = parse_standard(choice)
    if chosen is not None:
        return chosen
    if rep == "hourly":
        if not isinstance(when, datetime):
            raise InputError("time", f"hourly data need a date and time (hour-ending, Beijing time), got the date {when!r}")
        t = beijing_naive(when)
        if time_marks == "start":
            t = t + timedelta(hours=1)
        elif time_marks != "end":
            raise ValueError(f"time_marks must be 'end' or 'start', not {time_marks!r}")
        for p in auto_periods():
            if (p.start is None or t >= datetime.combine(p.start, datetime.min.time())) and (
                p.end is None or t < datetime.combine(p.end + timedelta(days=1), datetime.min.time())
            ):
                return p.hourly
    else:
        d = beijing_naive(when).date() if isinstance(when, datetime) else when
        for p in auto_periods():
            if (p.start is None or d >= p.start) and (p.end is None or d <= p.end):
                return p.daily
    raise InputError("time", f"no HJ 633 edition covers {when!r}")  # pragma: no cover - the auto table is contiguous
