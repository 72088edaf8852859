"""Innocent readings of an XV-03 drop: a particle-free hour, a station in other air, a station at its usual level.

XV-03 (mist signature, catalogue 4(2): "PM falls sharply while neighbours and gases do not")
flags hours when the station's PM2.5 and PM10 fall against its neighbours while its gases do not.
Three kinds of such finding on the clean Hebei 2019 release (January–June, 53 stations) are not a
sprayed, misted, covered or blocked inlet; each is kept as a notice (evidence score × 0.5, level 1
by the default alarm policy) rather than a warning — the finding stays in the record.

**A blank hour** (:func:`blank_hour`). A mist in the inlet scavenges a part of the particles: the
reference sprays take the station's PM to 0.2–0.5 of what the air holds (qc_fraud.md §D.2(d); the
benchmark's ``spray`` injection: a factor from U(0.2, 0.5), ±15 % hour to hour). A reading at most
``blank_share`` (0.1) of what the air holds, for PM2.5 and PM10 at once, is the analyser sampling
particle-free air: a zero filter on the inlet for a leak or zero check, the hour of a filter or tape
change (HJ 817-2018 routine checks of PM analysers). Those checks are short and recur: on the release
the Shijiazhuang urban stations (1030A, 1033A, 1034A, 2862A) read 2–26 µg/m³ against neighbours at
30–370 µg/m³ in 23 single hours over the six months, in haze and in clean air, at no fixed clock
hour or interval (not a scheduled tape advance), both analysers at once with their ratio kept;
each time one partial hour, one blank hour and an instant return to the neighbours' level. A
finding of at most ``blank_hours`` with such an hour (in it or right after it) at a station that
has at least ``blank_repeats`` other blank hours in its series is kept as a notice: the blank is
the station's routine, not a spray (which must last to pay, and which is timed to pollution, not
repeated in clean air).

**Other air** (:func:`other_air`). A spray touches PM only: the station's gases keep their usual
relation to the neighbours' gases, and its PM falls by the spray's factor below it (ln 0.2 … ln
0.5·1.15 ≈ −1.6 … −0.55). Each channel's departure is measured as that of its log residual ``r =
ln(x + c) − median_k ln(y_k + c)`` over the finding's hours from its median over the whole series
(ln units). When the station's NO2 or CO departs by at least ``air_gas_ln`` (0.5: to 0.6 of its
usual share of the neighbours') and its PM by at most ``air_excess_ln`` (0.5) more — PM and the gas
fell together, less than the mildest spray apart — the station breathes other air than its
neighbours: a mountain or background site above the night's surface inversion (1035A 封龙山, the
Shijiazhuang control site, on the hill 20 km south-west of the city: on spring nights its PM2.5
10 µg/m³ and NO2 5 µg/m³ against urban neighbours at 60 and 75), or a plume that misses it.
XV-03's own gas test cannot see this: it compares each gas with its flank hours (which at night
are in the same other air) in robust z (a background site's gas residual is noisy), so a gas fall
of 1–2 ln units passes as "normal". Such a finding is a notice.

**At its usual level** (:func:`at_usual_level`). XV-03 measures the drop against the finding's
flank hours. When the station stood far above its neighbours in those hours — a local source
(1060A on 6 February 2019: 111 µg/m³ against 22 in the morning) — the drop is the end of that
excess: over the finding the station's PM is where it usually is against its neighbours (its PM
departure, as above, above ``−usual_ln``, 0.3). A spray takes the station below whatever it would
read, by the spray's factor: on the benchmark's 150 injected sprays (seeds 2019, 7, 31) every XV-03
finding's PM departure was −0.52 or lower. Such a finding is a notice.

**Settling after an outage** (:func:`settling`). A beta-attenuation monitor that comes back after an
outage (power, maintenance) reads low while its new spot and its heated inlet settle, and climbs back
to the air hour by hour (as :mod:`tianlan.qc.fraud.xv01_context` says of XV-01's restart): at 1046A on
16 February 2019, after five hours with every channel missing, PM2.5 read 3 → 3 → 5 → 8 → 13 → 19 →
28 µg/m³ while its neighbours held at 20–35 — six hours, longer than the one partial cycle
:mod:`tianlan.qc.fraud.restart_hour` covers. A spray holds the station at one share of the air (the
benchmark's factor, ±15 % hour to hour: a first-to-last change of its residual of at most
ln(1.15/0.85) ≈ 0.3, before the neighbours' own noise). A finding of at most ``settle_max_hours`` that
begins within ``settle_gap_hours`` after missing own PM (:func:`tianlan.qc.fraud.xv01_context.after_restart`)
and in which the station's PM residual against its neighbours climbs by at least ``settle_rise_ln``
(0.7, ×2) from its first hour to its last is a notice.

Measured on the clean Hebei 2019 release and the benchmark's spray injections (seeds 2019, 7, 31 ×
50): docs/qc-benchmark-log.md, "XV-03: blank hours and other air" and "XV-02 and XV-03: rises and restarts".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

#: Evidence weight of a drop that a blank hour, other air or the usual level explains (as for a pair finding).
CONTEXT_WEIGHT = 0.5


def blank_mask(values: Mapping[str, np.ndarray], expected: Mapping[str, np.ndarray], share: float) -> np.ndarray:
    """Per step: every PM code with a value (``values``) reads at most ``share`` × its ``expected``
    level (the station's PM with the drop undone, same unit; NaN where unknown), and at least one
    code has both. False where no code can be judged or ``share`` ≤ 0."""
    n = next(iter(values.values())).size if values else 0
    if n == 0 or share <= 0:
        return np.zeros(n, dtype=bool)
    seen = np.zeros(n, dtype=bool)
    ok = np.ones(n, dtype=bool)
    for code, v in values.items():
        x = np.asarray(v, dtype=np.float64)
        ex = np.asarray(expected[code], dtype=np.float64)
        known = np.isfinite(x) & np.isfinite(ex) & (ex > 0)
        seen |= known
        with np.errstate(invalid="ignore"):
            ok &= ~known | (x <= share * ex)
    return seen & ok


def blank_hour(blank: np.ndarray, s: int, e: int, max_steps: int, repeats: int, gap: int) -> bool:
    """Whether the run [s, e) lasts at most ``max_steps``, has a ``blank`` step in it or right at
    ``e``, and ``blank`` holds at ``repeats`` or more other steps at least ``gap`` steps away from
    the run (a habit of the station, not one event)."""
    if max_steps < 1 or repeats < 1 or e - s > max_steps:
        return False
    if not blank[s:min(e + 1, blank.size)].any():
        return False
    other = blank.copy()
    other[max(0, s - gap):min(blank.size, e + gap)] = False
    return int(other.sum()) >= repeats


def departure(r: np.ndarray, s: int, e: int, mask: np.ndarray) -> float:
    """Median of ``r`` over the ``mask`` steps of [s, e) less its median over the whole series (ln
    units): how far the station left its usual relation to its neighbours; NaN without values."""
    inside = r[s:e][mask[s:e]]
    inside = inside[np.isfinite(inside)]
    allv = r[np.isfinite(r)]
    if inside.size == 0 or allv.size < 24:
        return float("nan")
    return float(np.median(inside) - np.median(allv))


def other_air(channels: Mapping[str, Mapping[str, Any]], pm_codes: Sequence[str], gas_codes: Sequence[str],
              s: int, e: int, mask: np.ndarray, gas_ln: float, excess_ln: float) -> tuple[bool, float, dict[str, float]]:
    """Whether some gas of ``gas_codes`` left its usual relation to the neighbours (:func:`departure`
    of its residual ``r``) by at least ``gas_ln`` downwards while the PM codes' mean departure lies at
    most ``excess_ln`` below that gas's (PM and the gas fell together); that PM departure; and each
    gas's. ``channels``: per code, ``r``. False when ``gas_ln`` ≤ 0."""
    pm = [departure(np.asarray(channels[c]["r"], dtype=np.float64), s, e, mask) for c in pm_codes if c in channels]
    pm = [d for d in pm if np.isfinite(d)]
    pm_dep = float(np.mean(pm)) if pm else float("nan")
    gas = {g: departure(np.asarray(channels[g]["r"], dtype=np.float64), s, e, mask) for g in gas_codes if g in channels}
    if gas_ln <= 0 or not np.isfinite(pm_dep):
        return False, pm_dep, gas
    hit = any(np.isfinite(d) and d <= -gas_ln and pm_dep - d >= -excess_ln for d in gas.values())
    return hit, pm_dep, gas


def at_usual_level(pm_departure: float, usual_ln: float) -> bool:
    """Whether the PM departure (ln units, :func:`other_air`'s second value) lies above
    ``−usual_ln``: the station's PM over the finding is near its usual relation to its neighbours
    (what fell was an excess in the flank hours). False when ``usual_ln`` ≤ 0 or unknown."""
    return bool(usual_ln > 0 and np.isfinite(pm_departure) and pm_departure > -usual_ln)


def settling(r: np.ndarray, s: int, e: int, min_rise_ln: float) -> float | None:
    """The climb of the log residual ``r`` (the station's PM against its neighbours; NaN where
    unknown) from the first to the last step of [s, e) where it is finite, when it is at least
    ``min_rise_ln`` (a monitor settling back to the air), else None; None when ``min_rise_ln`` ≤ 0
    (off) or fewer than two steps are known."""
    if min_rise_ln <= 0:
        return None
    seg = np.asarray(r[s:e], dtype=np.float64)
    ok = np.flatnonzero(np.isfinite(seg))
    if ok.size < 2:
        return None
    rise = float(seg[ok[-1]] - seg[ok[0]])
    return rise if rise >= min_rise_ln else None
