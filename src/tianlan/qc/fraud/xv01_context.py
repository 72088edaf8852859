"""PM2.5 above PM10 because the PM10 channel is frozen or restarting (XV-01 background).

XV-01 flags runs of hours with PM2.5 above PM10 (:func:`tianlan.qc.fraud.cross.pm_inversion`).
PM2.5 is part of PM10, so a persistent inversion means one channel is wrong; the falsification
XV-01 is there for is a lowered PM10 slope or span (catalogue 4(8), B3: the benchmark's
``scaling``, PM10 × U(0.5, 0.8) for a week to a month) — a scaled channel goes on varying with
the air, every hour, before and after any gap.

Two other ways for PM10 to read below PM2.5 for a few hours are faults of the PM10 analyser
that say so in its own series:

* **Frozen PM10** — the channel repeats one value hour after hour (a stuck reading, a data
  logger that resends the last value): on the clean Hebei 2019 release 1077A's PM10 read
  42 µg/m³ for four hours and 31 µg/m³ for seven on 25 June while its PM2.5 went on at
  40–70 µg/m³ — and TMP-03 reported PM10 flat the night before. When at least ``frozen_share``
  of the run's PM10 hours (and at least three) equal one value while PM2.5's do not (its air goes
  on), the inversion is that fault, which TMP-03 reports on PM10 itself.
* **Restart** — the run begins within ``restart_hours`` after an hour with PM10 or PM2.5
  missing: a beta-attenuation monitor that comes back after an outage (power, tape change,
  maintenance) reads low while its new spot and heated inlet settle (1048A on 28 June: PM10
  5 → 11 → 26 → 39 → 47 µg/m³ in the hours after a gap while PM2.5 read 4 → 23 → 38 → 53 → 60,
  neighbours steady), as :mod:`tianlan.qc.fraud.restart_hour` says for XV-03. Only runs of at
  most ``restart_max_hours`` (a lowered slope outlasts any restart) in which PM10's share of
  PM2.5 climbs back by at least ``restart_recovery_ln`` from the first hour to the last
  (:func:`recovering`: the monitor settles; a lowered slope holds the share where it put it —
  without this test, 5 true XV-01 alarms of the seed-7 ``scaling`` run became notices).

Such a finding is kept as a notice: score × ``context_weight`` (default :data:`INVERSION_WEIGHT`,
graded level 1 by the default alarm policy), the evidence names the rule (``notice:
"xv01_frozen_pm10"`` or ``"xv01_restart"``). Measured numbers: docs/qc-benchmark-log.md, "XV-01, XV-02 and
FOR-01 background".
"""

from __future__ import annotations

import numpy as np

#: Evidence weight of an inversion explained by a frozen or restarting PM10 channel.
INVERSION_WEIGHT = 0.5


def frozen(values: np.ndarray, s: int, e: int, share: float, min_hours: int = 3) -> bool:
    """Whether at least ``share`` of the finite values of [s, e) — and at least ``min_hours`` of
    them — equal one value (the run's mode); False when ``share`` ≤ 0 (off)."""
    if share <= 0:
        return False
    v = np.asarray(values[s:e], dtype=float)
    v = v[np.isfinite(v)]
    if v.size < min_hours:
        return False
    _, counts = np.unique(v, return_counts=True)
    top = int(counts.max())
    return top >= min_hours and top >= share * v.size


def after_restart(channels: list[np.ndarray], s: int, e: int, gap_steps: int, max_steps: int) -> bool:
    """Whether the run [s, e) lasts at most ``max_steps`` and one of ``channels`` (aligned arrays,
    NaN where missing) is missing at one of the ``gap_steps`` steps right before ``s`` (the series'
    start does not count: an outage there cannot be seen); False when either bound is < 1 (off)."""
    if gap_steps < 1 or max_steps < 1 or e - s > max_steps or s == 0:
        return False
    a = max(0, s - gap_steps)
    return any(bool((~np.isfinite(np.asarray(c[a:s], dtype=float))).any()) for c in channels)


def recovering(pm10: np.ndarray, pm25: np.ndarray, s: int, e: int, min_rise_ln: float) -> bool:
    """Whether PM10's share of PM2.5, ``ln(PM10 ÷ PM2.5)``, rises from the first to the last hour
    of [s, e) where both are positive by at least ``min_rise_ln`` — a monitor settling back to the
    air after a restart; a lowered slope holds the share where it put it. True when
    ``min_rise_ln`` ≤ 0 (the test off)."""
    if min_rise_ln <= 0:
        return True
    a = np.asarray(pm10[s:e], dtype=float)
    b = np.asarray(pm25[s:e], dtype=float)
    with np.errstate(invalid="ignore"):
        ok = np.flatnonzero(np.isfinite(a) & np.isfinite(b) & (a > 0) & (b > 0))
    if ok.size < 2:
        return False
    first, last = ok[0], ok[-1]
    return float(np.log(a[last] / b[last]) - np.log(a[first] / b[first])) >= min_rise_ln
