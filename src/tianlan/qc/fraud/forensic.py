"""Forensic detectors (qc_fraud.md §F, FOR family): statistical traces that values were edited, parked
under a cut-off, selectively dropped or copied.

Each detector works per *station-month* (calendar month in Beijing time, UTC+8) — the unit the
false-alarm budget of issue 4 is counted in — and returns at most one finding per month and test
(FOR-01: per cut-off; FOR-06: one per copied day). They are evidence for a person, so every finding is ``SUSPECT`` and
carries counts, the reference it was compared with, the effect size and the p-value, never a
verdict on validity (DESIGN §3; qc_fraud.md §0 item 9).

Two gates, always both (FOR-01/02/05; FOR-06 matches copies exactly or nearly). Real hourly data
are large and never exactly textbook-distributed, so a p-value alone fires on everything
(qc_fraud.md §D.2(b): genuine PM data "fail" last-digit and Benford tests at p ≈ 1e-15). A finding
needs an **effect size** above a floor chosen from the clean Hebei 2019 data (the real-data test
asserts the resulting finding rates) **and** a small p-value from a null that respects the data's
structure (conditional Poisson, circular shifts), which only guards against noise in small samples.

Measured on the clean Hebei 2019 data (53 stations, January–June, 313 station-months, the six
pollutants, GB 3095 grade II limits, production neighbour rule), findings per station-month:
FOR-01 0.013 (4), FOR-02 0, FOR-05 0.0064 (2), FOR-06 0; under the default alarm policy each
finding is one level-2 alarm. Injected into the same data (event recall): ``tianlan.sim.fraud``
clipping (3–10 days parked under the PM2.5 limit) 0.72–0.85 over three seeds, every value above
the PM2.5/PM10 limit clipped for a month 0.89–0.93; 25 % of a month's values rounded to 0/5
0.88–0.98; ``selective_missing`` 0.82–0.88; ``copied`` 0.49 — 38 of 39 copies of the station's
own days or of a neighbour's day, but 1 of 41 copies from a station that is not among the
neighbours the context holds (see FOR-06). ``tests/qc/test_fraud_forensic.py`` asserts ceilings
on the clean rates and floors on recall.

FOR-01 with its truncated-tail test at limits (flue gas converted to the reference O2; with
neighbours, the expected exceedances predicted hour by hour from them): clean Hebei findings 0.035
per station-month (11 of 313), the benchmark's ``clipping`` scenario found by FOR-01 alone in 16
of 20 injections (14 with the bin test alone); simulated CEMS outlets (no neighbours): clean 0,
``clipping`` 0.90 (0.15 before the O2 conversion). FOR-05 at a station without neighbours (a
flue-gas outlet) tests the station's own values left around its gaps: clean simulated outlets 0,
``selective_missing`` 1.00.

FOR-01's paired tail test (round 3; :mod:`~tianlan.qc.fraud.forensic_tail`): with neighbours, each
hour that came within h of a limit is weighed by the neighbours' chance that it exceeded. On the
clean Hebei data with the benchmark's limits (``tianlan.qc.inputs.AIR_LIMITS``) FOR-01's findings
went from 16 to 23 over the six pollutants (0.051 → 0.073 per station-month; most of the new ones
on NO2 at its 24-hour limit of 80 µg/m³ applied to hourly values); FOR-01 alone on the
``clipping`` injections, seeds 2019/7/31: 16→18, 19→20, 13→16 of 20 and 42→47, 40→43, 40→44
of 50.

Implementation, one module per test: :mod:`~tianlan.qc.fraud.forensic_bunching` (FOR-01, with the
truncated-tail statistics in :mod:`~tianlan.qc.fraud.forensic_tail`),
:mod:`~tianlan.qc.fraud.forensic_digits` (FOR-02), :mod:`~tianlan.qc.fraud.forensic_missing`
(FOR-05), :mod:`~tianlan.qc.fraud.forensic_copies` (FOR-06) and the shared helpers of
:mod:`~tianlan.qc.fraud.forensic_common`. This module re-exports their names (importing it
registers all four detectors).
"""

from __future__ import annotations

from tianlan.qc.fraud.forensic_bunching import (
    IAQI_INDICATOR,
    BinPrefix,
    _breakpoints,
    _neighbour_level,
    bunching,
    cutoffs,
    neighbour_step,
    threshold_bunching,
)
from tianlan.qc.fraud.forensic_common import (
    BEIJING_OFFSET_S,
    FORENSIC_PARAMETERS,
    _aligned,
    _binom_cdf,
    _binom_sf,
    _column_median,
    _index_range,
    _iso,
    _month_bounds,
    _months,
    _neighbour_series,
    _poisson_cdf,
    _prefix,
    _score,
    _windows,
    resolution,
)
from tianlan.qc.fraud.forensic_copies import (
    _NETWORK_CACHE,
    affine_residual,
    copied_sequences,
    day_matrix,
)
from tianlan.qc.fraud.forensic_digits import BENFORD_2ND, digit_counts, digit_forensics, heaping_profile
from tianlan.qc.fraud.forensic_missing import (
    average_ranks,
    local_threshold,
    own_level_missingness,
    rank_shift_auc,
    selective_missingness,
)
from tianlan.qc.fraud.forensic_tail import (
    NeighbourTailPrefix,
    log_ratios,
    neighbour_tail,
    tail_counts,
    truncated_tail,
)

__all__ = [
    "BENFORD_2ND", "BEIJING_OFFSET_S", "FORENSIC_PARAMETERS", "IAQI_INDICATOR", "BinPrefix", "NeighbourTailPrefix",
    "_breakpoints", "_neighbour_level",
    "_NETWORK_CACHE", "_aligned", "_binom_cdf", "_binom_sf", "_column_median", "_index_range", "_iso",
    "_month_bounds", "_months", "_neighbour_series", "_poisson_cdf", "_prefix", "_score", "_windows",
    "affine_residual", "average_ranks", "bunching", "copied_sequences", "cutoffs", "day_matrix", "digit_counts",
    "digit_forensics", "heaping_profile", "local_threshold", "log_ratios", "neighbour_step", "neighbour_tail",
    "own_level_missingness", "rank_shift_auc", "resolution", "selective_missingness", "tail_counts",
    "threshold_bunching", "truncated_tail",
]
