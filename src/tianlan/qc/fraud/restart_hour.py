"""A low PM hour next to an outage: the analyser's start-up or shut-down hour (XV-03 background).

PM analysers in the national network (beta attenuation, TEOM) report an hourly mean of a sampling
cycle. The hour in which an analyser comes back after an outage (power, maintenance, a tape or
filter change, a transmission fault) or the last hour before it stops is a partial cycle: the
instrument integrates a fraction of the hour, or a freshly advanced spot, and reports a value far
below the air's — on the clean Hebei 2019 release 3 µg/m³ against 60–80 at 1030A after a three-hour
gap, 2 against 47 at 1031A, 10 against 270 at 1030A, each a single hour bracketed by missing data
on one side and normal values on the other. XV-03 reads such an hour as "PM suppressed while the
gases are normal" — the gases come from other analysers that did not stop.

A spray or a cover (catalogue 4(2)) is a deliberate act that must last to pay (hourly values
enter daily means; sprays in the reference cases last hours), and it does not need the analyser
to stop first. A finding of at most ``max_hours`` whose own PM is missing at the hour right before
it or right after it is therefore kept as a notice: its evidence score is halved (as for a pair
finding, :mod:`tianlan.qc.fraud.pairs`), which the default alarm policy grades as level 1 — the
hour is listed for data quality, not raised as fraud. Findings that last longer, or that have
data on both sides, are unchanged.

Measured on the clean Hebei 2019 release (January–June, 53 stations) and the benchmark's spray
injections: docs/qc-benchmark-log.md, "Clean incidents (second round)".
"""

from __future__ import annotations

import numpy as np

#: Evidence weight of a short drop next to an outage (a partial sampling cycle is as likely).
RESTART_WEIGHT = 0.5


def next_to_outage(own: np.ndarray, s: int, e: int, max_steps: int) -> bool:
    """Whether the run [s, e) of ``own`` (the station's PM, NaN where missing) lasts at most
    ``max_steps`` and the step right before ``s`` or right at ``e`` is missing (the series' edges
    do not count as missing: there the outage cannot be seen)."""
    if max_steps < 1 or e - s > max_steps:
        return False
    before = s > 0 and not np.isfinite(own[s - 1])
    after = e < own.size and not np.isfinite(own[e])
    return bool(before or after)
