"""AQI by HJ 633, exactly: individual indices (IAQI), AQI, level, primary and exceeding pollutants.

Pure and table-driven: the breakpoints and rules of each edition come from ``standards/`` through
``tianlan.assess.editions``. This is the scalar, reference implementation; ``aqi_frame`` computes
the same results for whole columns and is tested to agree with it.

Units: SO2, NO2, O3, PM10, PM2.5 in µg/m3, CO in mg/m3 (HJ 633 Table 1/3). Gaseous pollutants are
at the reference state of GB 3095 (298.15 K from 2018-09-01), PM at actual conditions; Tianlan does
not convert them here.

Arithmetic (reference README §2.1–2.2):

* A float concentration means the decimal it prints as (``repr``): 2.2 is 11/5, not the binary
  neighbour of 2.2. Everything after that is exact (``fractions.Fraction``), and the IAQI is
  rounded **up** at the end only, so a value on a breakpoint gives exactly that level and
  CO 2.2 mg/m3 gives 55, not the 56 a naive double ``ceil`` gives (vector IAQI-016).
* HJ 633-2026 first rounds the concentration per GB/T 8170 (half to even on an exact trailing 5):
  SO2, NO2, O3, PM10, PM2.5 to whole µg/m3, CO to 0.1 mg/m3 (§4.2.2/§4.2.3). The 2012 text states
  no such rule; the 2012 editions use the value as given.
* Above the IAQI-500 breakpoint the standards define nothing; Tianlan gives 500 and says so in the
  note ("beyond scale", a common convention — UNCONFIRMED as a rule; vector IAQI-021).
* Special rules above 800 µg/m3 (HJ 633-2012 Table 1 notes 2–3; HJ 633-2026 Table 3 notes b–c):
  2012 SO2 1 h > 800 → no 1 h IAQI, the SO2 IAQI comes from the 24 h concentration (in an hourly
  report: the ``so2_24h`` argument — which 24 h value is meant is UNCONFIRMED; Tianlan's file
  command uses the 24 h sliding mean ending at that hour); 2012 O3 8 h > 800 → no 8 h IAQI, the O3
  IAQI is the 1 h one; 2026 SO2 1 h > 800 → 200, O3 8 h > 800 → 300.

Primary pollutants (首要污染物): only when AQI > 50, every pollutant whose IAQI equals the AQI
(ties all). Exceeding pollutants (超标污染物, 2012 editions only): IAQI > 100. Both are named by
pollutant (``O3`` for the O3 1 h and 8 h sub-indices). HJ 633-2026 §5.3.1 (the NA rule): with a
pollutant missing, the AQI is computed from the others and published only when above 100; otherwise
AQI and level are NA (``None``) and the note says why. Missing pollutants under 2012 rules: the AQI
is the maximum of the sub-indices present, and the note lists what was missing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from tianlan.assess.editions import (
    HOURLY_EXTRA_INPUTS,
    POLLUTANT_KEYS,
    POLLUTANT_OF,
    POLLUTANTS,
    Edition,
    EditionSpec,
    canonical_indicator,
    parse_edition,
    spec,
)
from tianlan.assess.levels import Level, level_for
from tianlan.errors import InputError

Number = float | int | str | Decimal | Fraction

#: Note events, in the order a note lists them.
EVENTS: tuple[str, ...] = ("missing", "no_substitute", "substituted", "dropped", "fixed", "beyond")
#: Extra note flags (not per pollutant).
NA_PUBLISH = "na"  # 2026: pollutant missing and AQI <= 100 -> AQI and level NA
PUBLISHED_INCOMPLETE = "published_incomplete"  # 2026: pollutant missing, AQI > 100, published


def exact(concentration: Any, *, field: str = "concentration") -> Fraction | None:
    """The exact value of a concentration; None for None or NaN.

    A float stands for the decimal it prints as (``repr``). Negative or infinite values raise
    InputError naming ``field``.
    """
    if concentration is None:
        return None
    if isinstance(concentration, bool):
        raise InputError(field, f"expected a number, got {concentration!r}")
    try:
        if isinstance(concentration, Fraction):
            v = concentration
        elif isinstance(concentration, int):
            v = Fraction(concentration)
        elif isinstance(concentration, float):
            if math.isnan(concentration):
                return None
            if math.isinf(concentration):
                raise InputError(field, f"not a finite number: {concentration!r}")
            v = Fraction(Decimal(repr(float(concentration))))
        elif isinstance(concentration, Decimal):
            if concentration.is_nan():
                return None
            if not concentration.is_finite():
                raise InputError(field, f"not a finite number: {concentration!r}")
            v = Fraction(concentration)
        elif isinstance(concentration, str):
            s = concentration.strip()
            if s == "" or s.lower() in ("nan", "na"):
                return None
            d = Decimal(s)
            if not d.is_finite():
                raise InputError(field, f"not a finite number: {concentration!r}")
            v = Fraction(d)
        else:
            f = float(concentration)  # NumPy scalars and other real numbers
            if math.isnan(f):
                return None
            return exact(f, field=field)
    except (InvalidOperation, ValueError, TypeError) as e:
        raise InputError(field, f"not a number: {concentration!r}") from e
    if v < 0:
        raise InputError(field, f"concentration cannot be negative: {concentration!r}")
    return v


def round_half_even(value: Fraction, decimals: int) -> Fraction:
    """``value`` rounded to ``decimals`` places, half to even (GB/T 8170 on an exact trailing 5)."""
    scale = Fraction(10) ** decimals
    q = value * scale
    n = math.floor(q)
    r = q - n
    if r > Fraction(1, 2) or (r == Fraction(1, 2) and n % 2 == 1):
        n += 1
    return Fraction(n) / scale


def rounded_concentration(indicator: str, concentration: Number, edition: Edition | str) -> Fraction | None:
    """The concentration the IAQI of ``edition`` is computed from (2026: rounded per GB/T 8170)."""
    indicator = _check_indicator(spec(edition), indicator)
    c = exact(concentration, field=indicator)
    if c is None:
        return None
    d = spec(edition).decimals(indicator)
    return c if d is None else round_half_even(c, d)


def _check_indicator(sp: EditionSpec, indicator: str) -> str:
    ind = canonical_indicator(indicator)
    if ind not in sp.breakpoints:
        raise InputError("indicator", f"unknown indicator {indicator!r}; expected one of {', '.join(sp.breakpoints)}")
    return ind


def interpolate(points: Sequence[tuple[Fraction, int]], c: Fraction) -> tuple[int, bool]:
    """(IAQI rounded up, beyond scale) for an exact concentration on one breakpoint column."""
    if c > points[-1][0]:
        return points[-1][1], True
    for i, (bp, level) in enumerate(points):
        if c <= bp:
            if i == 0 or c == bp:
                return level, False
            bp_lo, lv_lo = points[i - 1]
            raw = Fraction(level - lv_lo) * (c - bp_lo) / (bp - bp_lo) + lv_lo
            return math.ceil(raw), False
    raise AssertionError("unreachable")  # pragma: no cover


def _iaqi_detail(sp: EditionSpec, indicator: str, c: Fraction) -> tuple[int | None, str | None]:
    """(IAQI or None, event) for an exact, unrounded concentration; event names a rule that applied."""
    d = sp.decimals(indicator)
    if d is not None:
        c = round_half_even(c, d)
    rule = sp.special.get(indicator)
    if rule is not None and c > rule.above:
        if rule.action == "fixed":
            return rule.iaqi, "fixed"
        return None, rule.action  # "substitute" / "drop": the report decides what replaces it
    value, beyond = interpolate(sp.breakpoints[indicator], c)
    return value, ("beyond" if beyond else None)


def iaqi(indicator: str, concentration: Number | None, edition: Edition | str) -> int | None:
    """The individual AQI (IAQI, an integer rounded up) of one indicator by ``edition``.

    ``indicator`` is a breakpoint column: so2_24h, so2_1h, no2_24h, no2_1h, co_24h, co_1h, o3_1h,
    o3_8h, pm10_24h, pm25_24h. Returns None for a missing concentration (None/NaN) and where the
    standard gives no IAQI: 2012 SO2 1 h > 800 µg/m3 (use so2_24h) and 2012 O3 8 h > 800 µg/m3
    (use o3_1h). Above the IAQI-500 breakpoint returns 500 (see ``beyond_scale``). Negative values
    raise InputError.
    """
    sp = spec(edition)
    indicator = _check_indicator(sp, indicator)
    c = exact(concentration, field=indicator)
    if c is None:
        return None
    return _iaqi_detail(sp, indicator, c)[0]


def beyond_scale(indicator: str, concentration: Number | None, edition: Edition | str) -> bool:
    """True when the concentration lies above the indicator's IAQI-500 breakpoint (IAQI capped at 500)."""
    sp = spec(edition)
    indicator = _check_indicator(sp, indicator)
    c = exact(concentration, field=indicator)
    return c is not None and _iaqi_detail(sp, indicator, c)[1] == "beyond"


@dataclass(frozen=True)
class AqiResult:
    """AQI of one hour or one day, with what it rests on.

    ``aqi`` and ``level`` are None when not published (no pollutant, or the HJ 633-2026 NA rule).
    ``iaqi`` maps the pollutant keys that received a sub-index to it. ``primary`` and ``exceeding``
    name pollutants (SO2 NO2 CO O3 PM10 PM2.5). ``note`` (Chinese, then English) says which special
    rule, cap or missing-data rule applied, or is None.
    """

    aqi: int | None
    level: Level | None
    primary: tuple[str, ...]
    iaqi: dict[str, int]
    exceeding: tuple[str, ...]
    edition: Edition
    note: str | None
    events: tuple[tuple[str, str], ...] = field(default=(), compare=False, repr=False)


#: How a keyword input is named in notes and in the columns of ``tianlan assess aqi``.
INPUT_COLUMNS: dict[str, str] = {
    "so2_24h": "SO2_24h",
    "pm10_24h_sliding": "PM10_24h",
    "pm25_24h_sliding": "PM2.5_24h",
    "o3_8h": "O3_8h",
}


def _label(key: str, source: str) -> str:
    return key if source == "value" else INPUT_COLUMNS.get(source, source)


_EVENT_TEXT: dict[str, tuple[str, str]] = {
    "missing": ("缺测", "missing"),
    "no_substitute": ("1 小时浓度 > 800 且无 24 小时浓度，无分指数", "1 h > 800 and no 24 h value, no IAQI"),
    "substituted": ("1 小时浓度 > 800，分指数按 24 小时浓度计算", "1 h > 800, IAQI from the 24 h value"),
    "dropped": ("8 小时浓度 > 800，不计 8 小时分指数，按 1 小时计", "8 h > 800, no 8 h IAQI, O3 from the 1 h value"),
    "fixed": ("浓度 > 800，分指数取规定值", "> 800, IAQI set by the standard"),
    "beyond": ("超出 IAQI 500 对应浓度，记 500", "above the IAQI-500 breakpoint, capped at 500"),
}


def compose_note(edition: Edition | str, report: str, events: Sequence[tuple[str, str]], flags: Sequence[str] = ()) -> str | None:
    """The note of a result: events are (event, pollutant key) pairs; flags NA_PUBLISH / PUBLISHED_INCOMPLETE.

    Deterministic (canonical order), so the scalar and the vectorised path give the same text.
    """
    sp = spec(edition)
    sources = {u.key: u.input for u in sp.uses(report)}
    clauses = {r.indicator: r.clause for r in sp.special.values()}
    ind_of = {u.key: u.indicator for u in sp.uses(report)}
    seen = set(events)
    parts: list[str] = []
    for ev in EVENTS:
        keys = [k for k in POLLUTANT_KEYS if (ev, k) in seen]
        if not keys:
            continue
        cn, en = _EVENT_TEXT[ev]
        names = ", ".join(_label(k, sources.get(k, "value")) for k in keys)
        extra = ""
        if ev in ("substituted", "dropped", "fixed", "no_substitute"):
            cl = sorted({clauses.get(ind_of.get(k, ""), "") for k in keys} - {""})
            extra = f" ({sp.edition.value} {'; '.join(cl)})" if cl else ""
        parts.append(f"{names}: {cn} / {en}{extra}")
    if NA_PUBLISH in flags:
        parts.append(
            "AQI、级别记为 NA（有污染物缺测且 AQI ≤ 100）/ AQI and level NA: pollutant missing and AQI ≤ 100"
            f" ({sp.edition.value} §5.3.1)"
        )
    elif PUBLISHED_INCOMPLETE in flags:
        parts.append(f"AQI > 100，按其余污染物发布 / AQI > 100, published from the other pollutants ({sp.edition.value} §5.3.1)")
    return "; ".join(parts) if parts else None


def finish(
    edition: Edition,
    report: str,
    sub: Mapping[str, int],
    events: Sequence[tuple[str, str]],
) -> AqiResult:
    """Assemble an AqiResult from the sub-indices: AQI, NA rule, level, primary, exceeding, note."""
    sp = spec(edition)
    aqi_value = max(sub.values()) if sub else None
    missing = any(ev in ("missing", "no_substitute") for ev, _ in events)
    flags: list[str] = []
    if sp.na_rule and missing:
        if aqi_value is None or aqi_value <= 100:
            flags.append(NA_PUBLISH)
            aqi_value = None
        else:
            flags.append(PUBLISHED_INCOMPLETE)
    primary: tuple[str, ...] = ()
    if aqi_value is not None and aqi_value > 50:
        tops = {POLLUTANT_OF[k] for k, v in sub.items() if v == aqi_value}
        primary = tuple(p for p in POLLUTANTS if p in tops)
    exceeding: tuple[str, ...] = ()
    if sp.exceeding_above is not None:
        over = {POLLUTANT_OF[k] for k, v in sub.items() if v > sp.exceeding_above}
        exceeding = tuple(p for p in POLLUTANTS if p in over)
    ordered = {k: sub[k] for k in POLLUTANT_KEYS if k in sub}
    return AqiResult(
        aqi=aqi_value,
        level=level_for(aqi_value, edition),
        primary=primary,
        iaqi=ordered,
        exceeding=exceeding,
        edition=edition,
        note=compose_note(edition, report, events, flags),
        events=tuple(events),
    )


def _check_values(values: Mapping[str, Any]) -> None:
    for k in values:
        if k not in POLLUTANT_KEYS:
            raise InputError(str(k), f"unknown pollutant; expected one of {', '.join(POLLUTANT_KEYS)} / 未知污染物")


def _report_aqi(report: str, values: Mapping[str, Any], edition: Edition | str, extras: Mapping[str, Any]) -> AqiResult:
    ed = parse_edition(edition)
    sp = spec(ed)
    _check_values(values)
    sub: dict[str, int] = {}
    events: list[tuple[str, str]] = []
    for use in sp.uses(report):
        raw = values.get(use.key) if use.input == "value" else extras.get(use.input)
        c = exact(raw, field=use.key if use.input == "value" else use.input)
        if c is None:
            events.append(("missing", use.key))
            continue
        value, ev = _iaqi_detail(sp, use.indicator, c)
        if ev == "substitute":
            rule = sp.special[use.indicator]
            assert rule.substitute is not None and rule.input is not None
            c24 = exact(extras.get(rule.input), field=rule.input)
            if c24 is None:
                events.append(("no_substitute", use.key))
                continue
            value, ev2 = _iaqi_detail(sp, rule.substitute, c24)
            events.append(("substituted", use.key))
            if ev2 == "beyond":
                events.append(("beyond", use.key))
        elif ev == "drop":
            events.append(("dropped", use.key))
            continue
        elif ev is not None:
            events.append((ev, use.key))
        assert value is not None
        sub[use.key] = value
    return finish(ed, report, sub, events)


def hourly_aqi(
    values: Mapping[str, Number | None],
    edition: Edition | str,
    *,
    so2_24h: Number | None = None,
    pm10_24h_sliding: Number | None = None,
    pm25_24h_sliding: Number | None = None,
    o3_8h: Number | None = None,
) -> AqiResult:
    """Real-time (hourly) AQI of one station-hour by ``edition``.

    ``values``: the hour's 1 h means by pollutant key (SO2 NO2 CO O3 PM10 PM2.5; µg/m3, CO mg/m3);
    an ``O3_8h`` key is the 8 h sliding mean ending this hour. What feeds each sub-index:

    * HJ633-2012-published and HJ633-2026: SO2, NO2, CO, O3 1 h on the 1 h columns and PM10, PM2.5
      1 h on the 24 h (daily) columns; no O3 8 h.
    * HJ633-2012 (Table 4): SO2, NO2, CO, O3 1 h; O3 8 h (``o3_8h``, else ``values["O3_8h"]``); PM10
      and PM2.5 24 h sliding means (``pm10_24h_sliding``, ``pm25_24h_sliding``) — their 1 h means
      get no IAQI.

    ``so2_24h`` is the 24 h SO2 value used when SO2 1 h > 800 µg/m3 under the 2012 editions.
    """
    extras = {
        "so2_24h": so2_24h,
        "pm10_24h_sliding": pm10_24h_sliding,
        "pm25_24h_sliding": pm25_24h_sliding,
        "o3_8h": o3_8h if o3_8h is not None else values.get("O3_8h"),
    }
    assert set(extras) == set(HOURLY_EXTRA_INPUTS)
    return _report_aqi("hourly", values, edition, extras)


def daily_aqi(values: Mapping[str, Number | None], edition: Edition | str) -> AqiResult:
    """Daily AQI of one station-day (or city-day) by ``edition``.

    ``values``: daily means of SO2 NO2 CO PM10 PM2.5 (µg/m3, CO mg/m3), ``O3`` the daily maximum
    1 h mean and ``O3_8h`` the daily maximum 8 h mean. HJ 633-2012 uses all seven (Table 3);
    HJ 633-2026 drops O3 1 h (§4.2.2).
    """
    return _report_aqi("daily", values, edition, {})
