"""A station compared with one neighbour only: a pair, whose disagreement belongs to neither (SPA-01).

SPA-01 compares a station with the median of its neighbours that report at the hour. Where only
one neighbour reports — two-station cities (Hengshui), or a third station that lacks the
parameter — the comparison is a pair, and a disagreement between the two is symmetric: each
station's SPA-01 sees the other as its whole reference, so both are flagged at the same hours,
one "below its neighbours", the other "above". On the clean Hebei 2019 release 1074A and 1075A
(each the other's only NO2 neighbour: 3188A reports no NO2) raised four such mirrored pairs of
episodes: eight level-2 alarms for four disagreements, at least four of them at the wrong station.

From two series alone the station that departed cannot be told. An edge test (the one XV-04 uses
to tell a copier from its source: whose series steps where the finding starts and ends) was
measured and rejected: the fraud SPA-01 looks for often *removes* change — a copied, flattened
or sprayed series runs on while the honest neighbour's steps with the weather — so it points at
the wrong station exactly then (a copied day at 1074A was attributed to 1075A). A pair finding
is therefore kept at both stations with half the evidence score (:data:`PAIR_WEIGHT`: a priori
either station is the one, 1 : 1), which the default alarm policy grades as a notice (level 1)
rather than a warning; a finding that rests on two or more neighbours is unchanged.
"""

from __future__ import annotations

import numpy as np

#: Evidence weight of a finding that rests on one neighbour (either station of the pair is the one).
PAIR_WEIGHT = 0.5


def sole_neighbour(count: np.ndarray, matrix: np.ndarray, s: int, e: int, mask: np.ndarray) -> int | None:
    """The row of ``matrix`` (neighbours' values, one row each) that the comparison rests on over
    the ``mask`` hours of [s, e) when it rests on one neighbour — at most one neighbour reported at
    half or more of those hours (``count``: neighbours reporting per hour) — else None."""
    m = mask[s:e]
    c = count[s:e][m]
    if c.size == 0 or float(np.median(c)) > 1:
        return None
    present = np.isfinite(matrix[:, s:e][:, m]).sum(axis=1)
    if not present.any():
        return None
    return int(np.argmax(present))
