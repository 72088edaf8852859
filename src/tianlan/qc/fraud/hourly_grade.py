"""Is a cut-off one that an hourly value is judged against? (FOR-01 at ambient-air stations.)

FOR-01 looks for hourly values parked just below a cut-off: a limit of ``Context.limits`` or an
HJ 633-2012 IAQI breakpoint. At ambient-air stations the limits given are the GB 3095-2012 Grade II
24-hour limits (O3: the 1-hour one; :data:`tianlan.qc.inputs.AIR_LIMITS`). Whether an hourly value
is *judged* against such a number depends on the pollutant (HJ 633-2012, real-time reporting):

* PM2.5 and PM10 have no 1-hour limits and no 1-hour breakpoints: their hourly values are graded
  with the 24-hour breakpoints (75 µg/m³ PM2.5 = IAQI 100, the Grade II limit). An hour just below
  75 is "good", one above it "lightly polluted", on the public display at once — the cut-off a
  clipper parks hourly values under (catalogue 4(12); the benchmark's clipping scenario).
* SO2, NO2, CO and O3 are graded hour by hour on their own 1-hour scales (NO2: 100, 200, 700 …
  µg/m³; CO: 5, 10, 35 … mg/m³). Their 24-hour limits (NO2 80 µg/m³, CO 4 mg/m³) bind a day's
  mean only: an hour above them is neither an exceedance nor shown as one, and a day with some
  hours above still complies. Parking hours just below such a number hides nothing the hour is
  judged by; values near it pile up where a city's traffic peaks usually sit. On the clean Hebei
  2019 release (January–June, 53 stations) 12 of FOR-01's 23 level-2 alarms were NO2 bunched below
  80 µg/m³ and one CO below 4 mg/m³.

A FOR-01 finding at a cut-off that is *only* a 24-hour limit of a gas with a 1-hour scale (not
also a 1-hour breakpoint; SO2's 150 µg/m³ is the 1-hour IAQI 50 breakpoint as well) is kept as a
notice: its evidence score is multiplied by ``weight`` (default 0.5, as for a pair finding,
:mod:`tianlan.qc.fraud.pairs`), which the default alarm policy grades as level 1. CEMS and water
limits apply to the hourly values themselves and are unchanged.
"""

from __future__ import annotations

#: Evidence weight of bunching below a daily limit that no hourly value is judged against.
DAILY_LIMIT_WEIGHT = 0.5

#: Ambient-air pollutants graded hour by hour on their own 1-hour scale (HJ 633-2012): HJ 212 codes
#: and the labels FOR-01's cut-offs also know them by.
HOURLY_SCALE_GASES: frozenset[str] = frozenset({"a21026", "a21004", "a21005", "a05024", "SO2", "NO2", "CO", "O3"})


def judged_hourly(parameter: str, cutoff_kind: str, site_kind: str | None) -> bool:
    """Whether hourly values of ``parameter`` are judged against a cut-off of kind ``cutoff_kind``
    (FOR-01's ``"limit"``, ``"limit; IAQI … breakpoint …"`` or ``"IAQI … breakpoint …"``) at a
    site of ``site_kind``: False only for an ambient-air (``"air"``) gas of
    :data:`HOURLY_SCALE_GASES` whose cut-off is a limit and not also an IAQI breakpoint."""
    if site_kind != "air" or parameter.split(":")[0] not in HOURLY_SCALE_GASES:
        return True
    return cutoff_kind.strip() != "limit"
