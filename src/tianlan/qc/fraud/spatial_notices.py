"""SPA-01 findings graded as notices: an upward level shift above the station's usual level, and a
gas episode below the neighbours at the analyser's zero (SPA-01).

SPA-01 compares a station with the median of its neighbours (:mod:`tianlan.qc.fraud.spatial`).
Every falsification of an ambient station *lowers* its reading (spraying, covering, a lowered
slope, clipping, relocation to cleaner air: qc_fraud.md §A.1, §A.7), so a finding above the
neighbours is kept but weighted as a notice (the "notice instead of a deletion" pattern: the
finding stays in the record with its evidence, its score is multiplied by a weight, the rule is
named in the evidence, and a parameter switches it off).

**Upward level shift above the usual level** (``upshift_weight``). A level shift up against the
neighbours is one of two things:

* the *end of a lowered period* — a slope set back after weeks at ×0.5–0.8 (the scaling scenario):
  the station returns to where it stood against its neighbours before; the return is sometimes
  the only trace of the lowering (one that began within the reference days), so it keeps its
  weight;
* a *rise above the station's usual level* — the station now reads higher against its neighbours
  than it did before the reference days: a new local source (a building site, a boiler), an
  analyser drifting up, a changed siting. That is a maintenance matter, not falsification, and
  the finding becomes a notice.

The usual level is the median daily residual (ln units) over the days *before* the shift test's
reference days — the past only, as the test itself, so a batch scan and the live stream agree
(the stream's 45 days leave 8 such days). Without at least ``min_days`` of them the usual level
is unknown and the finding keeps its weight. A shift counts as a rise when the recent level lies
above the usual one by at least ``share`` of the shift: most of the step is above where the
station used to be.

**Gas at the analyser's zero** (``floor_weight``). A gas analyser's zero wanders between its daily
zero checks: HJ 654-2013 allows a 24-hour zero drift of ±5 ppb for SO2, NO2 and O3 and ±1 ppm for
CO — at the 25 °C reference state of the release, about 13 (SO2), 9 (NO2), 10 (O3) µg/m³ and
1.1 mg/m³ (CO): :data:`ZERO_DRIFT`. A reading within that band cannot be told from zero. An
episode below the neighbours in which the station's gas sits in that band (median over the
deviating hours) is an analyser reporting its zero while the air around it is polluted: a zero or
span check not marked in the release, a lost sample flow, a failed lamp or converter. That is a
fault for maintenance, and the log ratio against the neighbours measures the neighbours, not the
station. None of the falsification scenarios the benchmark injects parks a gas at zero: spraying
and clipping act on PM, scaling keeps the course of the reading (×0.5–0.8). The finding stays, as
a notice; particulate is not covered (PM close to zero is itself a 4(2) signature, qc_fraud §A.1).
On the clean Hebei 2019 release 26 episodes below the neighbours were level-2 alarms; the gas
ones mostly sat at 1–6 µg/m³ (SO2, NO2, O3) or 0.1–0.3 mg/m³ (CO), often a constant value, while
the neighbours read tens.

Measured on the clean Hebei 2019 release and the scaling injections: see docs/qc-benchmark-log.md, "SPA-01:
clean background".
"""

from __future__ import annotations

from typing import Any

import numpy as np

#: Score factor of a gas episode below the neighbours at the analyser's zero.
FLOOR_WEIGHT = 0.5
#: 24-hour zero drift allowed to the gas analysers (HJ 654-2013 §6 "performance indicators", item
#: "24h零点漂移"): ±5 ppb SO2, NO2, O3 and ±1 ppm CO, in µg/m³ (CO mg/m³) at the 25 °C, 1013.25 hPa
#: reference state that gases have been reported at since 1 September 2018 (GB 3095-2012 as amended,
#: standards/README.md §3.4): M / 24.465 L/mol gives ×2.619 SO2, ×1.880 NO2, ×1.962 O3, ×1.145 CO (at
#: the pre-2018 273 K standard state they would be 2.858, 2.053, 2.141, 1.250). Source status: the
#: ±5 ppb / ±1 ppm figures were read in a public code table of the HJ 654 performance items, not
#: in the standard's own text; the clause number is from the standard's table of contents.
#: [verify the figures against HJ 654-2013 §6 itself]
ZERO_DRIFT: dict[str, float] = {"a21026": 13.0, "a21004": 9.4, "a05024": 9.8, "a21005": 1.1}

#: Score factor of an upward level shift that takes the station above its usual level.
UPSHIFT_WEIGHT = 0.5
#: Share of the shift that must lie above the usual level for the shift to count as a rise.
UPSHIFT_ABOVE_SHARE = 0.75


def usual_level(dm: np.ndarray, before_day: int, min_days: int) -> float | None:
    """Median of the daily residuals ``dm`` before day ``before_day``; None with fewer than
    ``min_days`` finite days there."""
    prior = dm[:max(0, before_day)]
    prior = prior[np.isfinite(prior)]
    if prior.size < max(1, min_days):
        return None
    return float(np.median(prior))


def upshift_factor(dm: np.ndarray, ep: dict[str, Any], *, ref_days: int, min_days: int, weight: float,
                   share: float, ev: dict[str, Any], notice: str = "spa01_upshift_above_usual") -> float:
    """Score factor of the level-shift episode ``ep`` (:func:`tianlan.qc.fraud.spatial.daily_shifts`)
    over the daily residuals ``dm``: ``weight`` when it is upward and its recent level lies at least
    ``share`` × the shift above the usual level before its reference days, else 1. The usual level
    and the rule go into ``ev`` (``usual_median_ln``, ``above_usual_ln``, ``notice``)."""
    if ep["sign"] <= 0:
        return 1.0
    usual = usual_level(dm, int(ep["first_day"]) - int(ref_days), min_days)
    if usual is None:
        ev["usual_median_ln"] = None
        return 1.0
    above = float(ep["recent_median"]) - usual
    ev["usual_median_ln"] = round(usual, 4)
    ev["above_usual_ln"] = round(above, 4)
    if weight >= 1 or above < share * abs(float(ep["shift"])):
        return 1.0
    ev["notice"] = notice
    return float(weight)


def at_zero(values: np.ndarray, s: int, e: int, mask: np.ndarray, drift: float | None) -> float | None:
    """The station's median over the ``mask`` hours of [s, e) when it lies within the analyser's
    zero drift ``drift`` (the reading cannot be told from zero), else None."""
    if drift is None:
        return None
    v = values[s:e][mask[s:e]]
    v = v[np.isfinite(v)]
    if v.size == 0:
        return None
    med = float(np.median(v))
    return med if med <= drift else None
