"""A witness for a station between two neighbours (WAT-04; qc_fraud.md §F).

A river-end station has one adjacent neighbour, and :func:`tianlan.qc.fraud.water.witness` gives it
the next station beyond that neighbour. A station *between* two neighbours departs from both when
both of them moved in the same days (the benchmark, and real networks, can dilute or rescale two
stations of one river at once): the two pairwise tests agree and blame the wrong station. The
next station beyond either neighbour settles it — the middle station agrees with it, a station
that really moved departs from it too.

Which neighbour the further station lies beyond is not in a station's own context (its distances
are from itself; a river's stations 18 km up and 36 km down look alike). The travel time is
estimated in both directions and the better-correlated side is taken; the time itself is then
``attrs["travel_hours"]``'s when it maps the station, else that estimate (the evidence gives the
direction, the lag and its source).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from tianlan.qc.core import Context, Series


def middle_witness(series: Series, ctx: Context, refs: Sequence[dict[str, Any]], *,
                   max_lag_hours: float) -> dict[str, Any] | None:
    """The nearest station of ``ctx.neighbours`` (``ctx.distances_km``) that measures the parameter
    and is neither this station nor one of its adjacent ``refs`` (two, one each side), aligned by
    its own travel time (``reference(..., adjacent=False)``); None without one or with other than
    two adjacent references."""
    from tianlan.qc.fraud.water import reference, travel_lag  # water imports this module

    if len(refs) != 2 or any(r["witness"] for r in refs):
        return None
    taken = {series.station, *(r["station"] for r in refs)}
    cands = sorted((float(d), st) for st, d in ctx.distances_km.items()
                   if st not in taken and d is not None
                   and len(ctx.neighbours.get(st, {}).get(series.parameter, ())))
    if not cands:
        return None
    st = cands[0][1]
    # the side: the direction whose estimated travel time correlates better (a mapped travel time
    # gives the time, not the side); NaN-safe
    bare = replace(ctx, attrs={k: v for k, v in ctx.attrs.items() if k != "travel_hours"})
    up = travel_lag(series, bare, st, -1, max_lag_hours, adjacent=False)[2]
    down = travel_lag(series, bare, st, +1, max_lag_hours, adjacent=False)[2]
    direction = +1 if (down == down and (up != up or down > up)) else -1
    return reference(series, ctx, st, direction, max_lag_hours=max_lag_hours, adjacent=False)
