"""Clock integrity: device timestamps against reception, order and duplicates (catalogue TIM-01).

Data times come from the data logger's clock (HJ 212 ``DataTime``, the start of the period for
minute, hour and day data); reception times from the platform's. An hourly value for 08:00–09:00 is
stamped 08:00 and arrives after 09:00 — that is not skew (reference/hj212.md §7 item 7). The offset
studied here is ``received − (time + step_s)``: the upload latency plus the clock error.
"""

from __future__ import annotations

import numpy as np

from tianlan.qc.checks._common import iso, runs, sample
from tianlan.qc.core import Context, Finding, Param, Series, Status, detector


@detector(
    "TIM-01",
    name="clock integrity",
    family="tim",
    targets=["forged monitoring time (2015 measures 5(4))", "device clock drift"],
    params={
        "max_drift_s": Param(120, "s", "clock error beyond which the device clock is wrong (2 min)"),
        "expected_latency_s": Param(300, "s", "normal upload delay after the end of a period"),
        "min_values": Param(6, "values", "values a local day needs for the clock-behind test"),
    },
)
def clock_integrity(series: Series, ctx: Context, *, max_drift_s: float, expected_latency_s: float,
                    min_values: int) -> list[Finding]:
    """Device clock ahead or behind the platform's, timestamps out of order, duplicated or off-grid.

    Catalogue TIM-01 (ioos_qc ``impossible_date_test``; glider-dac #371 for duplicate stamps).
    - ``non-monotonic`` (FAIL): a time earlier than the one before it;
    - ``duplicate-time``: the same time twice — SUSPECT when the values agree (a retransmission),
      FAIL when they differ (two values for one period);
    - ``off-grid`` (SUSPECT): a time not on the series' ``step_s`` grid (hourly data stamped 08:07);
    - ``clock-ahead`` (SUSPECT): received before the period ended by more than ``max_drift_s`` — the
      device clock runs ahead (or the data were made up before they could be measured);
    - ``clock-behind`` (SUSPECT): on a local day with ``min_values`` or more receptions, even the
      smallest offset exceeds ``expected_latency_s`` + ``max_drift_s`` while the offsets stay within
      ``max_drift_s`` of each other — a steady lag, i.e. a clock behind (a burst of backfill varies
      and is CMP-03's).
    Reception needs ``Series.received``; order and duplicates do not. Score: the clock error in
    minutes (duplicates, order, grid: count). Evidence: offsets (s) of a sample, thresholds.
    """
    n = len(series)
    if n == 0:
        return []
    t = series.times
    v = series.values
    step = max(int(series.step_s), 1)
    out: list[Finding] = []
    if n > 1:
        d = np.diff(t)
        if not (d > 0).all():  # strictly increasing times (the usual case) have neither
            _order_and_duplicates(t, v, d, out)
    off = (t % step) != 0 if step in (60, 300, 600, 900, 1800, 3600, 86400) else np.zeros(n, dtype=bool)
    for s, e in runs(off):
        out.append(Finding(s, e, Status.SUSPECT, "off-grid", float(e - s),
                           {"times": [iso(x) for x in t[s:e][:10]], "step_s": step}))
    if series.received is None:
        return sorted(out, key=lambda f: (f.start, f.reason))
    rec = np.asarray(series.received, dtype=np.float64)
    offset = rec - (t + step)
    ahead = np.isfinite(offset) & (offset < -max_drift_s)
    for s, e in runs(ahead):
        o = offset[s:e]
        out.append(Finding(s, e, Status.SUSPECT, "clock-ahead", float(-o.min() / 60),
                           {"offset_s": sample(o, 0, e - s), "max_drift_s": max_drift_s, "from": iso(int(t[s]))}))
    _clock_behind(t, offset, out, max_drift_s=max_drift_s, expected_latency_s=expected_latency_s,
                  min_values=min_values)
    return sorted(out, key=lambda f: (f.start, f.reason))


def _order_and_duplicates(t: np.ndarray, v: np.ndarray, d: np.ndarray, out: list[Finding]) -> None:
    """The ``non-monotonic`` and ``duplicate-time`` findings of times ``t`` (``d``: their differences)."""
    n = t.size
    back = np.flatnonzero(d < 0) + 1
    for s, e in runs(np.isin(np.arange(n), back)):
        out.append(Finding(s - 1, e, Status.FAIL, "non-monotonic", float(e - s),
                           {"times": [iso(x) for x in t[s - 1:e][:10]]}))
    dup = np.zeros(n, dtype=bool)
    order = np.argsort(t, kind="stable")
    st = t[order]
    same = np.flatnonzero(np.diff(st) == 0)
    for k in same:
        i, j = int(order[k]), int(order[k + 1])
        dup[i] = dup[j] = True
    if dup.any():
        for s, e in runs(dup):
            tv = t[s:e]
            conflict = False
            for x in np.unique(tv):
                vals = v[np.flatnonzero(t == x)]
                fin = vals[np.isfinite(vals)]
                if fin.size > 1 and np.ptp(fin) > 0:
                    conflict = True
            out.append(Finding(s, e, Status.FAIL if conflict else Status.SUSPECT, "duplicate-time", float(e - s),
                               {"times": [iso(x) for x in np.unique(tv)[:10]], "values": sample(v, s, e),
                                "conflicting_values": conflict}))


def _clock_behind(t: np.ndarray, offset: np.ndarray, out: list[Finding], *, max_drift_s: float,
                  expected_latency_s: float, min_values: int) -> None:
    """The ``clock-behind`` findings: per local (Beijing) day, the finite offsets (s) grouped at once
    (a stable sort by day, then min/max per group) instead of one pass over the series per day; the
    days in ascending order, each finding spanning the day's first to last finite value."""
    fi = np.flatnonzero(np.isfinite(offset))
    if fi.size == 0:
        return
    o = offset[fi]
    if o.max() <= expected_latency_s + max_drift_s:
        return  # no day's smallest offset can exceed it (the usual case: data on time)
    dd = (t[fi] + 8 * 3600) // 86400
    if dd.size > 1 and (dd[1:] < dd[:-1]).any():
        order = np.argsort(dd, kind="stable")  # within a day, the rows stay in series order
        fi, dd, o = fi[order], dd[order], o[order]
    starts = np.flatnonzero(np.concatenate(([True], dd[1:] != dd[:-1])))
    ends = np.append(starts[1:], dd.size)
    lo = np.minimum.reduceat(o, starts)
    spread = np.maximum.reduceat(o, starts) - lo  # np.ptp: max − min
    hit = ((ends - starts) >= min_values) & (lo > expected_latency_s + max_drift_s) & (spread <= max_drift_s)
    for g in np.flatnonzero(hit).tolist():
        lo_g = float(lo[g])
        s, e = int(fi[starts[g]]), int(fi[ends[g] - 1]) + 1
        out.append(Finding(s, e, Status.SUSPECT, "clock-behind", (lo_g - expected_latency_s) / 60,
                           {"min_offset_s": round(lo_g, 1), "spread_s": round(float(spread[g]), 1),
                            "expected_latency_s": expected_latency_s,
                            "max_drift_s": max_drift_s, "day_utc": int(dd[starts[g]] * 86400 - 8 * 3600)}))
