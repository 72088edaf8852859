"""Range checks: gross and physical range, station climatology (catalogue RNG-01, RNG-02).

Catalogue rows RNG-01/02 of ``reference/qc_fraud.md`` §F; ioos_qc ``gross_range_test`` and
``climatology_test``, SaQC ``flagRange``, OpenAQ's negative-value flag. Only values the instrument
calls valid are judged (a span gas during a C-flagged hour is EQP-01's business).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tianlan.errors import InputError
from tianlan.qc.checks._common import (
    canonical,
    info,
    local_hour,
    local_month,
    log_values,
    runs,
    sample,
    valid_mask,
)
from tianlan.qc.core import Context, Finding, Param, Series, Status, detector


def _span(value: Any, code: str, default: tuple[float, float], name: str) -> tuple[float, float]:
    if isinstance(value, Mapping):
        hit = next((v for k, v in value.items() if canonical(k) == code), value.get("default"))
        value = hit
    if value is None:
        return default
    if not isinstance(value, Sequence) or len(value) != 2:
        raise InputError(f"RNG-01.{name}", f"expected [low, high] or a mapping of parameter to [low, high], got {value!r}")
    lo, hi = (float("-inf") if value[0] is None else float(value[0]), float("inf") if value[1] is None else float(value[1]))
    return lo, hi


def _finite(span: list[float]) -> list[float | None]:
    """A span for JSON evidence: an open end is None."""
    return [x if np.isfinite(x) else None for x in span]


@detector(
    "RNG-01",
    name="gross and physical range",
    family="rng",
    targets=["sensor faults", "impossible values"],
    params={
        "fail_span": Param(None, "unit of the value", "[low, high] of the instrument/physical range, or {parameter: "
                           "[low, high]}; None = the per-parameter table (PM 0–10000 µg/m³, CO 0–62.5 mg/m³ …)"),
        "suspect_span": Param(None, "unit of the value", "[low, high] plausible at the network, or {parameter: [low, high]}; "
                              "None = the per-parameter table (PM2.5 ≤ 1000, PM10 ≤ 3000, SO2 ≤ 1000, NO2/O3 ≤ 500 µg/m³, "
                              "CO ≤ 20 mg/m³ …)"),
    },
)
def gross_range(series: Series, ctx: Context, *, fail_span: Any, suspect_span: Any) -> list[Finding]:
    """Values outside the instrument/physical span (FAIL) or the network's plausible span (SUSPECT).

    Catalogue RNG-01; ioos_qc ``gross_range_test`` (fail_span, suspect_span). Units are the
    network's: ambient µg/m³ with CO in mg/m³, flue gas mg/m³, water mg/L. Defaults per parameter
    from HJ 653/654 analyser ranges (see ``checks._common``); a negative concentration always fails
    (OpenAQ flag N). Unknown parameters without given spans are not evaluated.

    Findings: runs of consecutive values with the same verdict — ``negative``, ``below-range``,
    ``above-range`` (FAIL), ``gross-range-low``, ``gross-range-high`` (SUSPECT). Score: the largest
    excess beyond the span, relative to the span's bound (|x − bound| / max(|bound|, 1)).
    """
    code = canonical(series.parameter)
    row = info(series, ctx)
    inf = float("inf")
    fdef = row.fail if row else (-inf, inf)
    sdef = row.suspect if row else (-inf, inf)
    flo, fhi = _span(fail_span, code, fdef, "fail_span")
    slo, shi = _span(suspect_span, code, sdef, "suspect_span")
    v = series.values
    ok = valid_mask(series)
    if not ok.any():
        return []
    # reason per value: 0 none, 1 negative, 2 below, 3 above, 4 suspect low, 5 suspect high
    why = np.zeros(v.size, dtype=np.int8)
    with np.errstate(invalid="ignore"):
        why[ok & (v > shi)] = 5
        why[ok & (v < slo)] = 4
        why[ok & (v > fhi)] = 3
        why[ok & (v < flo)] = 2
        why[ok & (v < 0) & (flo >= 0)] = 1
    names = {1: ("negative", Status.FAIL, flo), 2: ("below-range", Status.FAIL, flo), 3: ("above-range", Status.FAIL, fhi),
             4: ("gross-range-low", Status.SUSPECT, slo), 5: ("gross-range-high", Status.SUSPECT, shi)}
    out = []
    for r, (reason, status, bound) in names.items():
        for s, e in runs(why == r):
            x = v[s:e]
            excess = float(np.max(np.abs(x - bound))) / max(abs(bound), 1.0)
            out.append(Finding(s, e, status, reason, excess,
                               {"fail_span": _finite([flo, fhi]), "suspect_span": _finite([slo, shi]), "min": float(x.min()),
                                "max": float(x.max()),
                                "values": sample(v, s, e), "count": e - s}))
    return sorted(out, key=lambda f: f.start)


def _quantile_sorted(v: np.ndarray, q: float) -> float:
    """``np.quantile(v, q)`` (linear) of an already sorted array."""
    p = q * (v.size - 1)
    i = int(np.floor(p))
    j = min(i + 1, v.size - 1)
    return float(v[i] + (p - i) * (v[j] - v[i]))


@detector(
    "RNG-02",
    name="climatology",
    family="rng",
    targets=["drift", "faults", "scaled data"],
    params={
        "low_q": Param(0.001, "quantile", "lower quantile of the station's history for the month and hour"),
        "high_q": Param(0.999, "quantile", "upper quantile of the station's history for the month and hour"),
        "margin": Param(0.5, "fraction of the span", "extra room beyond the quantiles, as a fraction of q_high − q_low "
                        "on the log scale (linear for parameters without a log offset)"),
        "hour_window": Param(1, "h", "hours either side pooled into a cell (0 = the hour alone)"),
        "month_window": Param(0, "months", "months either side pooled into a cell"),
        "min_count": Param(150, "values", "reference values a cell needs to be used (two other years × 30 d × 3 h = 180)"),
        "leave_out": Param("year", "", "what the reference excludes: 'year' (the value's own year — a multi-year "
                           "history) or 'month' (its own month — one year of history, use with month_window ≥ 1)"),
    },
)
def climatology(series: Series, ctx: Context, *, low_q: float, high_q: float, margin: float, hour_window: int,
                month_window: int, min_count: int, leave_out: str) -> list[Finding]:
    """Values outside the station's own month × hour climatology (catalogue RNG-02).

    ioos_qc ``climatology_test``, with the reference built from the series itself: for a value in
    month m, local hour h, the reference is every other valid value of the series in months m ±
    ``month_window`` and hours h ± ``hour_window`` that does not share its ``leave_out`` unit (so a
    value never judges itself, and an episode is judged against other years or months). A cell needs
    ``min_count`` values; otherwise the value is not evaluated (nothing is returned for it — one
    year of history with ``leave_out='year'`` evaluates nothing). Values are compared on the log
    scale ln(x + c) of the parameter table (linear where it has no offset): SUSPECT when beyond
    [q_low, q_high] by more than ``margin`` × (q_high − q_low).

    Findings: runs of ``climatology-high`` / ``climatology-low`` (SUSPECT). Score: the largest excess
    beyond the quantile in units of (q_high − q_low) of the cell. Evidence: the cell's quantiles in
    the value's unit, the reference count, a sample of the values.
    """
    if leave_out not in ("year", "month"):
        raise InputError("RNG-02.leave_out", f"expected 'year' or 'month', got {leave_out!r}")
    n = len(series)
    if n == 0:
        return []
    row = info(series, ctx)
    c = row.log_offset if row else 0.0
    x = log_values(series.values, c)
    ok = valid_mask(series) & np.isfinite(x)
    if ok.sum() < min_count:
        return []
    y, m = local_month(series.times)
    h = local_hour(series.times)
    unit = y if leave_out == "year" else y * 12 + m
    if np.unique(unit[ok]).size < 2:  # nothing to compare with
        return []
    qlo = np.full(n, np.nan)
    qhi = np.full(n, np.nan)
    cnt = np.zeros(n, dtype=np.int64)
    idx_ok = np.flatnonzero(ok)
    cell = (m[idx_ok] - 1) * 24 + h[idx_ok]
    order = np.argsort(cell, kind="stable")
    bounds = np.searchsorted(cell[order], np.arange(12 * 24 + 1))
    rows = idx_ok[order]  # series rows, grouped by (month, hour) cell
    for c0 in np.unique(cell).tolist():
        mo, hr = divmod(c0, 24)
        near = [((mo + dm) % 12) * 24 + (hr + dh) % 24
                for dm in range(-month_window, month_window + 1) for dh in range(-hour_window, hour_window + 1)]
        ref_rows = np.concatenate([rows[bounds[k]:bounds[k + 1]] for k in set(near)])
        if ref_rows.size < min_count:
            continue
        srt = np.argsort(x[ref_rows], kind="stable")
        ref_sorted, ref_unit = x[ref_rows][srt], unit[ref_rows][srt]
        mine = rows[bounds[c0]:bounds[c0 + 1]]
        for u in np.unique(unit[mine]).tolist():
            ref = ref_sorted[ref_unit != u]
            if ref.size < min_count:
                continue
            lo, hi = _quantile_sorted(ref, low_q), _quantile_sorted(ref, high_q)
            tgt = mine[unit[mine] == u]
            qlo[tgt], qhi[tgt], cnt[tgt] = lo, hi, ref.size
    span = qhi - qlo
    room = margin * np.where(span > 0, span, 0.0)
    with np.errstate(invalid="ignore"):
        high = ok & (x > qhi + room)
        low = ok & (x < qlo - room)
    out = []
    for mask, reason, bound in ((high, "climatology-high", qhi), (low, "climatology-low", qlo)):
        for s, e in runs(mask):
            excess = np.abs(x[s:e] - bound[s:e]) / np.where(span[s:e] > 0, span[s:e], 1.0)
            back = (lambda q: float(np.exp(q) - c)) if c > 0 else float
            out.append(Finding(s, e, Status.SUSPECT, reason, float(excess.max()),
                               {"q_low": round(back(qlo[s]), 4), "q_high": round(back(qhi[s]), 4), "low_q": low_q,
                                "high_q": high_q,
                                "margin": margin, "reference_count": int(cnt[s]), "leave_out": leave_out,
                                "values": sample(series.values, s, e), "count": e - s}))
    return sorted(out, key=lambda f: f.start)
