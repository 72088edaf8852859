"""Temporal checks on one series: spike, rate of change, flat line, low variance, suppression, long
stable low, level shift (catalogue TMP-01..07, ``reference/qc_fraud.md`` §F). The flat line
(TMP-03) lives in :mod:`tianlan.qc.checks.flat`; its names are re-exported here.

All work on the series laid on its regular grid (``step_s``), with missing or instrument-invalid
values as gaps, and — for concentrations — on the log scale ``ln(x + c)`` with the per-parameter
offset ``c`` of ``checks._common`` (PM2.5 5, PM10 10, SO2 3, NO2 5, O3 10 µg/m³, CO 0.1 mg/m³), so
that a change reads as a ratio and low-end noise does not. The defaults were calibrated on the real
Hebei 2019 release (qc_fraud.md §D.2 floors; ``tests/qc/test_checks_real_data.py`` measures them).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tianlan.qc.checks._common import (
    aligned,
    canonical,
    info,
    iso,
    local_day,
    local_month,
    log_values,
    on_grid,
    per_parameter,
    robust_sigma,
    runs,
    sample,
    valid_mask,
)
from tianlan.qc.checks.flat import (  # noqa: F401  TMP-03 lives in checks.flat; its names stay importable here
    FLAT_COMPANIONS,
    _flat_context,
    _flat_runs,
    _persistence,
    _run_start,
    flat_line,
)
from tianlan.qc.core import Context, Finding, Param, Series, Status, detector


def _grid(series: Series, ctx: Context, log: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """(values on the grid with invalid → NaN, transformed values, grid position of each row, offset c)."""
    v = np.where(valid_mask(series), series.values, np.nan)
    g, pos = on_grid(series, v)
    row = info(series, ctx)
    c = (row.log_offset if row else 0.0) if log else 0.0
    return g, log_values(g, c), pos, c


def _rows(pos: np.ndarray, a: int, b: int) -> tuple[int, int]:
    """Row range of the series covering grid positions [a, b)."""
    s = int(np.searchsorted(pos, a, "left"))
    e = int(np.searchsorted(pos, b, "left"))
    if e <= s:  # the grid span has no row of its own: take the rows around it
        s, e = max(s - 1, 0), min(s + 1, pos.size)
    return s, e


_robust_sigma = robust_sigma  # 1.4826 · MAD of the finite values (tianlan.qc.checks._common)


# --- TMP-01 spike -------------------------------------------------------------------------------


@detector(
    "TMP-01",
    name="spike",
    family="tmp",
    targets=["sensor faults", "sampling interference (B1)"],
    params={
        "suspect_z": Param(10.0, "robust z", "both jumps of the spike at least this many robust sigmas of the hourly change"),
        "fail_z": Param(20.0, "robust z", "both jumps this large → FAIL"),
        "min_jump": Param(1.2, "ln units", "both jumps at least this large on the log scale (1.2 ≈ a factor 3.3)"),
    },
)
def spike(series: Series, ctx: Context, *, suspect_z: float, fail_z: float, min_jump: float) -> list[Finding]:
    """Single values that jump away from both neighbours and back (catalogue TMP-01).

    ioos_qc ``spike_test`` "differential" method (opposite-sign jumps on both sides) with a SaQC
    ``flagMAD``-style robust scale: on the log scale x = ln(v + c), d1 = x_i − x_{i−1}, d2 = x_i − x_{i+1}
    must have the same sign and min(|d1|, |d2|) must exceed both ``min_jump`` and ``suspect_z`` × σ,
    σ = 1.4826 · MAD of the series' one-step changes. ``fail_z`` makes it FAIL. Values next to a gap
    are not judged.

    Findings: ``spike`` (one value each). Score: min(|d1|, |d2|) / σ (robust z). Evidence: the three
    values, both jumps, σ and the thresholds.
    """
    g, x, pos, c = _grid(series, ctx)
    if x.size < 3:
        return []
    d = np.diff(x)
    sigma = _robust_sigma(d)
    if not np.isfinite(sigma) or sigma <= 0:
        sigma = float(np.nanstd(d)) if np.isfinite(np.nanstd(d)) else 0.0
    if sigma <= 0:
        return []
    d1 = d[:-1]  # x_i - x_{i-1} for i = 1..n-2
    d2 = -d[1:]  # x_i - x_{i+1}
    with np.errstate(invalid="ignore"):
        same = np.sign(d1) == np.sign(d2)
        jump = np.minimum(np.abs(d1), np.abs(d2))
        hit = same & (jump > min_jump) & (jump > suspect_z * sigma)
    out = []
    for k in np.flatnonzero(hit).tolist():
        i = k + 1
        s, e = _rows(pos, i, i + 1)
        z = float(jump[k] / sigma)
        status = Status.FAIL if z >= fail_z else Status.SUSPECT
        out.append(Finding(s, e, status, "spike", z,
                           {"values": [float(g[i - 1]), float(g[i]), float(g[i + 1])],
                            "jumps_ln": [round(float(d1[k]), 4), round(float(d2[k]), 4)], "sigma_ln": round(sigma, 4),
                            "suspect_z": suspect_z, "fail_z": fail_z, "min_jump": min_jump, "log_offset": c}))
    return out


# --- TMP-02 rate of change ----------------------------------------------------------------------


@detector(
    "TMP-02",
    name="rate of change",
    family="tmp",
    targets=["sampling interference (B1)", "parameter tampering (B3)"],
    params={
        "threshold": Param(2.3, "ln units per interval", "|Δ ln(x + c)| between consecutive intervals (catalogue t = 0.5 "
                           "flags ~5 % of real hours, §D.2(d); 2.3 ≈ a factor 10)"),
        "min_abs": Param(None, "unit of the value", "and |Δx| at least this, one value or {parameter: value} (None: 20 × the "
                         "parameter's log offset: PM2.5 100, PM10 200, SO2 60, NO2 100, O3 200 µg/m³, CO 2 mg/m³)"),
        "min_z": Param(8.0, "robust z", "and |Δ ln| at least this many robust sigmas of the series' own one-step changes"),
    },
)
def rate_of_change(series: Series, ctx: Context, *, threshold: float, min_abs: Any, min_z: float) -> list[Finding]:
    """Steps between consecutive intervals larger than ``threshold`` on the log scale (TMP-02).

    ioos_qc ``rate_of_change_test`` and SaQC ``flagJumps``/``flagRaise``, on ln(x + c) so a step
    reads as a ratio (log scale for PM, as the catalogue says; the same for gases). Both the ratio and
    the absolute change ``min_abs`` must be exceeded, so 2 → 12 µg/m³ is not a "step". The catalogue's
    t = 0.5 is far below the natural hourly variability of Chinese urban data (§D.2(d): Δln < −0.5 on
    5 % of clean hours); the default is calibrated on Hebei 2019, with ``min_z`` robust sigmas of the
    series' own one-step changes on top (a noisy analyser is not a string of steps). A step must be a
    step: the level before it steady and the new level held one more interval — the way into and
    out of a single odd value is TMP-01's spike. A step into or out of a gap is not judged.
    Parameters without a log offset (meteorology, pH) are judged on the value's own scale.

    Findings: ``step-up`` / ``step-down`` (SUSPECT), one per step, covering the two values. Score:
    |Δ ln| / threshold. Evidence: both values, the step, σ, thresholds.
    """
    g, x, pos, c = _grid(series, ctx)
    if x.size < 2:
        return []
    given = per_parameter(min_abs, canonical(series.parameter), None)
    mabs = 20.0 * c if given is None else float(given)
    d = np.diff(x)
    dv = np.abs(np.diff(g))
    # the new level must hold one more interval and the old one must have been steady: a step that
    # reverts at once, or the way back from a spike, is TMP-01's
    d2 = np.full(d.size, np.nan)
    d2[:-1] = x[2:] - x[:-2]
    d0 = np.full(d.size, np.nan)  # the step into the value before: a step out of a spike is no step
    d0[1:] = d[:-1]
    with np.errstate(invalid="ignore"):
        holds = ~np.isfinite(d2) | ((np.sign(d2) == np.sign(d)) & (np.abs(d2) >= threshold / 2))
        holds &= ~(np.abs(d0) >= threshold / 2)
        hit = (np.abs(d) > threshold) & (dv >= mabs) & holds
    sigma = _robust_sigma(d)
    if np.isfinite(sigma) and sigma > 0:
        with np.errstate(invalid="ignore"):
            hit &= np.abs(d) >= min_z * sigma
    out = []
    for k in np.flatnonzero(hit).tolist():
        s, e = _rows(pos, k, k + 2)
        out.append(Finding(s, e, Status.SUSPECT, "step-up" if d[k] > 0 else "step-down", float(abs(d[k]) / threshold),
                           {"values": [float(g[k]), float(g[k + 1])], "step_ln": round(float(d[k]), 4), "threshold": threshold,
                            "sigma_ln": round(sigma, 4) if np.isfinite(sigma) else None, "min_z": min_z,
                            "min_abs": mabs, "log_offset": c}))
    return out


# --- TMP-04 low variance ------------------------------------------------------------------------


def _rolling_std(x: np.ndarray, w: int, min_obs: int) -> np.ndarray:
    """Std of the window of ``w`` values ending at each position (NaN-aware; NaN with < min_obs)."""
    ok = np.isfinite(x)
    x0 = np.where(ok, x, 0.0)
    c1 = np.concatenate(([0.0], np.cumsum(x0)))
    c2 = np.concatenate(([0.0], np.cumsum(x0 * x0)))
    cn = np.concatenate(([0], np.cumsum(ok)))
    out = np.full(x.size, np.nan)
    if x.size < w:
        return out
    s1 = c1[w:] - c1[:-w]
    s2 = c2[w:] - c2[:-w]
    nn = cn[w:] - cn[:-w]
    with np.errstate(invalid="ignore", divide="ignore"):
        var = (s2 - s1 * s1 / nn) / np.maximum(nn - 1, 1)
    std = np.sqrt(np.maximum(var, 0.0))
    std[nn < min_obs] = np.nan
    out[w - 1:] = std
    return out


@detector(
    "TMP-04",
    name="low variance",
    family="tmp",
    targets=["long stable values (B2)", "signal substitution (B4)", "attenuated sensor"],
    params={
        "window_hours": Param(24, "h", "rolling window of the standard deviation"),
        "min_obs_share": Param(0.75, "fraction", "valid share a window needs"),
        "percentile": Param(1.0, "%", "percentile of the station's own rolling std for the season (p1)"),
        "ratio": Param(0.25, "×", "suspect when the std is below ratio × that percentile"),
        "month_window": Param(1, "months", "months either side that make the season of the reference"),
        "min_resolutions": Param(20.0, "× resolution", "windows whose mean is below this many reporting steps are exempt "
                                 "(quantised low values look steady: CO < 2.0 mg/m³, others < 20 µg/m³; as TMP-03)"),
    },
)
def low_variance(series: Series, ctx: Context, *, window_hours: float, min_obs_share: float, percentile: float,
                 ratio: float, month_window: int, min_resolutions: float) -> list[Finding]:
    """Windows whose variability is far below the station's own usual variability (catalogue TMP-04).

    ioos_qc ``attenuated_signal_test`` and SaQC ``flagByVariance`` with a station-relative threshold,
    as the catalogue asks: the rolling std of ln(x + c) over ``window_hours`` is compared with the
    ``percentile``-th percentile of the same statistic over the station's history in the same season
    (months ± ``month_window``, leaving out the window's own month so an anomaly does not set its own
    bar; a month with no other month of its season in the series is not evaluated). By construction
    1 % of windows sit below p1, so the threshold is ``ratio`` × p1 (calibrated on Hebei 2019).
    Windows whose mean is at or below the detection level, or below ``min_resolutions`` reporting
    steps, are exempt (clean air is flat at the analyser floor and coarse resolution makes low values
    steady).

    Findings: ``low-variance`` (SUSPECT), merged over overlapping windows. Score: threshold / std
    (≥ 1, capped at 100). Evidence: the lowest std, the reference percentile, the threshold, a sample of values.
    """
    g, x, pos, c = _grid(series, ctx)
    step_h = max(int(series.step_s), 1) / 3600
    w = max(int(round(window_hours / step_h)), 3)
    if x.size < 2 * w:
        return []
    std = _rolling_std(x, w, int(np.ceil(min_obs_share * w)))
    mean_v = np.full(x.size, np.nan)
    ok = np.isfinite(g)
    cs = np.concatenate(([0.0], np.cumsum(np.where(ok, g, 0.0))))
    cn = np.concatenate(([0], np.cumsum(ok)))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_v[w - 1:] = (cs[w:] - cs[:-w]) / (cn[w:] - cn[:-w])
    row = info(series, ctx)
    det = row.detection if row else -np.inf
    if row is not None and row.log_offset > 0:  # concentrations only: quantised near zero
        det = max(det, min_resolutions * row.resolution)
    gt = series.times[0] + np.arange(x.size, dtype=np.int64) * max(int(series.step_s), 1)
    year, month = local_month(gt)
    ym = year * 12 + month - 1
    thr = np.full(x.size, np.nan)
    have = np.isfinite(std)
    # reference: the season's other months (never the window's own month, which may hold the anomaly)
    for u in np.unique(ym[have]).tolist():
        dm = np.abs(month - (u % 12 + 1))
        ref = std[have & (np.minimum(dm, 12 - dm) <= month_window) & (ym != u)]
        if ref.size < 10 * w:
            continue
        thr[ym == u] = ratio * np.percentile(ref, percentile)
    with np.errstate(invalid="ignore"):
        low = have & (std < thr) & (mean_v > det)
    out = []
    for a, b in runs(low):
        s_g = max(a - w + 1, 0)
        s, e = _rows(pos, s_g, b)
        k = a + int(np.nanargmin(std[a:b]))
        out.append(Finding(s, e, Status.SUSPECT, "low-variance", float(min(thr[k] / max(std[k], 1e-12), 100.0)),
                           {"min_std_ln": round(float(std[k]), 5), "threshold_ln": round(float(thr[k]), 5),
                            "percentile": percentile,
                            "ratio": ratio, "window_hours": window_hours, "values": sample(g, s_g, b), "log_offset": c}))
    return out


# --- TMP-05 suppression episode -----------------------------------------------------------------

#: What interference at the inlet acts on (TMP-05's registry hint): PM2.5, PM10, SO2.
SUPPRESSIBLE = ("a34004", "a34002", "a21026")
#: Parameters that should *not* fall when the checked one is suppressed by interference at the inlet:
#: water mist and covers take particulates (and soluble SO2) but not CO or NO2 (§D.2(d), rule D).
COMPANIONS: dict[str, tuple[str, ...]] = {
    "a34004": ("a21005", "a21004"),
    "a34002": ("a21005", "a21004"),
    "a21026": ("a21005", "a21004"),
    "a21005": ("a34004", "a34002", "a21004"),
    "a21004": ("a34004", "a34002", "a21005"),
}


def _aligned(times: np.ndarray, other: Series) -> np.ndarray:
    """Valid values of ``other`` at exactly ``times`` (NaN where it has none)."""
    return aligned(times, other, values=np.where(valid_mask(other), other.values, np.nan))


@detector(
    "TMP-05",
    name="suppression episode",
    family="tmp",
    targets=["sampling interference: spraying, blocking, covering (B1)"],
    parameters=SUPPRESSIBLE,
    params={
        "drop": Param(0.7, "fraction", "fall below (1 − drop) × baseline (catalogue r = 50 %; 70 % calibrated on Hebei 2019)"),
        "drop_hours": Param(2, "h", "the fall happens within this many hours"),
        "recovery_hours": Param(6, "h", "back to recover_share × baseline within this many hours of the onset"),
        "recover_share": Param(0.9, "fraction", "share of the baseline that counts as recovered"),
        "baseline_hours": Param(3, "h", "hours before the fall whose median is the baseline"),
        "min_baseline": Param(None, "unit of the value", "only episodes from at least this baseline (None: 15 × log offset: "
                              "PM2.5 75, PM10 150, SO2 45, NO2 75, O3 150 µg/m³, CO 1.5 mg/m³)"),
        "min_hours": Param(2, "h", "suppressed for at least this long (a single low hour is a spike, TMP-01)"),
        "min_z": Param(4.0, "robust z", "the fall on the log scale at least this many robust sigmas of the station's "
                       "hourly log changes (keeps noisy analysers out)"),
        "companion_share": Param(0.5, "fraction", "the episode stands only if no companion parameter of the station fell by "
                                 "more than this share of the fall (log scale); None = univariate"),
    },
)
def suppression(series: Series, ctx: Context, *, drop: float, drop_hours: float, recovery_hours: float, recover_share: float,
                baseline_hours: float, min_baseline: float | None, min_hours: float, min_z: float,
                companion_share: float | None) -> list[Finding]:
    """A sudden drop of more than ``drop`` that recovers within ``recovery_hours`` (catalogue TMP-05).

    The signature of spraying or covering an inlet (Xi'an 2016, Linfen 2017–18 cases; Wu et al. 2018
    spatio-temporal outliers): from a baseline (median of the ``baseline_hours`` before the fall
    window) the value falls below (1 − ``drop``) × baseline within ``drop_hours``, stays down at least
    ``min_hours`` and returns to ``recover_share`` × baseline within ``recovery_hours``. Only from a
    baseline of ``min_baseline`` or more (interference is aimed at polluted hours; §D.2(d) injects at
    PM2.5 ≥ 75), and only falls of ``min_z`` robust sigmas of the station's hourly log changes. A drop
    that does not recover (a front, rain) is not an episode.

    Corroboration (§D.2(d): a univariate drop rule has 1–2 % precision on real data): the station's
    companion parameters (``COMPANIONS``: CO and NO2 for particulates and SO2; the other primaries for
    CO and NO2) in ``ctx.series`` must not have fallen by more than ``companion_share`` of the fall
    between the baseline and the episode — air masses and mixing move them together, a sprayed or
    covered inlet does not. Without companions the rule is univariate (evidence says so). O3 has no
    companions (it moves against the primaries).

    The registry hint ``parameters`` (what the runner applies it to unless a configuration says
    otherwise) is PM2.5, PM10 and SO2: what mist, covers and NaOH act on; CO/NO2/O3 dips at real
    stations are traffic, titration and noisy analysers (on Hebei 2019 they tripled the findings).

    Findings: ``suppression`` (SUSPECT) over the suppressed hours. Score: 1 − lowest / baseline.
    Evidence: baseline, lowest value, hours suppressed, fall in robust z, companions' falls.
    """
    code = canonical(series.parameter)
    g, x, pos, c = _grid(series, ctx)
    row = info(series, ctx)
    step = max(int(series.step_s), 1)
    step_h = step / 3600
    kmin = max(int(round(min_hours / step_h)), 1)
    kb = max(int(round(baseline_hours / step_h)), 1)
    kd = max(int(round(drop_hours / step_h)), 1)
    kr = max(int(round(recovery_hours / step_h)), 1)
    floor = float(min_baseline) if min_baseline is not None else 15.0 * (row.log_offset if row else 1.0)
    n = g.size
    if n < kb + kd + 2:
        return []
    # cheap pre-filter: the value is below (1 - drop) × the largest of the baseline window
    hi = np.full(n, np.nan)
    for k in range(kd, kd + kb):
        sh = np.full(n, np.nan)
        sh[k:] = g[:n - k]
        hi = np.fmax(hi, sh)
    with np.errstate(invalid="ignore"):
        cand = np.flatnonzero(np.isfinite(g) & (hi >= floor) & (g < (1 - drop) * hi))
    if cand.size == 0:
        return []
    sigma = _robust_sigma(np.diff(x))
    # baselines and recoveries of all candidates at once; the loop below sees only real episodes
    cand = cand[cand >= kd + kb - 1]
    bw = sliding_window_view(g, kb)[cand - kd - kb + 1]
    keep = np.isfinite(bw).sum(axis=1) * 2 > kb
    cand, bw = cand[keep], bw[keep]
    if cand.size == 0:
        return []
    base = np.nanmedian(bw, axis=1)
    with np.errstate(invalid="ignore"):
        keep = (base >= floor) & (g[cand] < (1 - drop) * base)
    cand, base = cand[keep], base[keep]
    fut = sliding_window_view(np.concatenate((g, np.full(kr + 1, np.nan))), kr)[cand + 1]
    with np.errstate(invalid="ignore"):
        recm = np.isfinite(fut) & (fut >= recover_share * base[:, None])
    has = recm.any(axis=1)
    cand, base, first = cand[has], base[has], np.argmax(recm[has], axis=1)
    if cand.size == 0:
        return []
    comp_codes = COMPANIONS.get(code, ()) if companion_share is not None else ()
    gt = series.times[0] + np.arange(n, dtype=np.int64) * step
    comps: dict[str, np.ndarray] = {}  # companions on this grid, log scale
    for name, other in ctx.series.items():
        kc = canonical(name)
        if kc in comp_codes and kc not in comps and len(other):
            oc = info(other, ctx)
            comps[kc] = log_values(_aligned(gt, other), oc.log_offset if oc else 0.0)
    out = []
    last_end = -1
    for i, b, r0 in zip(cand.tolist(), base.tolist(), first.tolist(), strict=True):
        if i < last_end:
            continue
        r = i + 1 + r0  # first recovered position
        a = i  # the suppressed span starts at the first value below recovery level in the fall window
        while a - 1 > i - kd and np.isfinite(g[a - 1]) and g[a - 1] < recover_share * b:
            a -= 1
        low = float(np.nanmin(g[a:r]))
        fall = float(np.log(b + c) - np.log(low + c)) if c > 0 else float(b - low)
        if r - a < kmin or (np.isfinite(sigma) and sigma > 0 and fall < min_z * sigma):
            continue
        comp_falls: dict[str, float | None] = {}
        for kc, cx in comps.items():
            cb, ce = cx[i - kd - kb + 1:i - kd + 1], cx[a:r]
            if np.isfinite(cb).any() and np.isfinite(ce).any():
                comp_falls[kc] = round(float(np.nanmedian(cb) - np.nanmedian(ce)), 4)
            else:
                comp_falls[kc] = None
        known = [f for f in comp_falls.values() if f is not None]
        if companion_share is not None and known and max(known) > companion_share * fall:
            continue
        s, e = _rows(pos, a, r)
        out.append(Finding(s, e, Status.SUSPECT, "suppression", float(1 - low / b),
                           {"baseline": round(b, 4), "lowest": low, "hours_suppressed": (r - a) * step_h,
                            "fall_ln": round(fall, 4), "fall_z": round(fall / sigma, 2) if sigma and np.isfinite(sigma) else None,
                            "companion_falls_ln": comp_falls, "corroborated": bool(known), "drop": drop,
                            "recover_share": recover_share, "min_baseline": floor,
                            "values": sample(g, max(a - kb - kd, 0), r + 1)}))
        last_end = r
    return out


# --- TMP-06 long stable low ---------------------------------------------------------------------

FLOW_CODES = ("a00000", "w00000")


@detector(
    "TMP-06",
    name="long stable low",
    family="tmp",
    targets=["dilution or bypass (B2)", "treatment switched off, clean-water intake (B9)"],
    params={
        "alpha": Param(0.5, "× limit", "the window's p95 below alpha × the applicable limit"),
        "max_cv": Param(0.05, "fraction", "and its coefficient of variation below this"),
        "days": Param(7, "d", "for at least this many consecutive days"),
        "min_coverage": Param(0.75, "fraction", "valid share a window needs"),
    },
)
def long_stable_low(series: Series, ctx: Context, *, alpha: float, max_cv: float, days: float,
                    min_coverage: float) -> list[Finding]:
    """Values that stay low and steady for days (catalogue TMP-06: "长期稳定低值").

    Guangxi 2022 cases (effluent "stable and low" with the treatment idle and the intake fed from a
    clean tank) and the HJ 356 constant-value rule: over ``days`` consecutive local days, p95 <
    ``alpha`` × limit and CV = std / mean < ``max_cv``. The limit is ``ctx.limits`` of the parameter
    (by code or name); without one, nothing is evaluated. At a source (``ctx.attrs['kind'] ==
    'source'``) windows where the outlet's flow series (a00000 / w00000 in ``ctx.series``) has a
    median ≤ 0 are skipped — the rule applies "while the process runs". Windows whose p95 is at or
    below the detection level are exempt (indistinguishable from clean).

    Findings: ``stable-low`` (SUSPECT), overlapping windows merged. Score: days covered / ``days``.
    Evidence: limit, the lowest CV and highest p95 seen, thresholds.
    """
    code = canonical(series.parameter)
    limit = next((float(v) for k, v in ctx.limits.items() if canonical(k) == code), None)
    if limit is None or limit <= 0 or len(series) == 0:
        return []
    step = max(int(series.step_s), 1)
    per_day = max(86400 // step, 1)
    D = max(int(round(days)), 1)
    g, pos = on_grid(series, np.where(valid_mask(series), series.values, np.nan))
    t_first = int(series.times[0])
    # align the grid on local days
    day0 = local_day(np.array([t_first]))[0]
    lead = int((t_first - (day0 * 86400 - 8 * 3600)) // step)
    full = np.concatenate((np.full(lead, np.nan), g))
    nd = full.size // per_day
    if nd < D:
        return []
    blocks = full[: nd * per_day].reshape(nd, per_day)
    flow_ok = np.ones(nd, dtype=bool)
    if str(ctx.attrs.get("kind", "")) == "source":
        fs = next((s for k, s in ctx.series.items() if canonical(k) in FLOW_CODES), None)
        if fs is not None and len(fs):
            ft = (day0 * 86400 - 8 * 3600) + np.arange(nd * per_day) * step
            i = np.clip(np.searchsorted(fs.times, ft), 0, len(fs) - 1)
            fv = np.where(fs.times[i] == ft, fs.values[i], np.nan).reshape(nd, per_day)
            with np.errstate(all="ignore"):
                fm = np.nanmedian(fv, axis=1)
            flow_ok = ~(fm <= 0)
    # window sums from daily sums: mean and CV are cheap; the p95 only where they already pass
    ok = np.isfinite(blocks)
    b0 = np.where(ok, blocks, 0.0)
    kern = np.ones(D)
    cnt = np.convolve(ok.sum(axis=1).astype(float), kern, "valid")
    s1 = np.convolve(b0.sum(axis=1), kern, "valid")
    s2 = np.convolve((b0 * b0).sum(axis=1), kern, "valid")
    with np.errstate(all="ignore"):
        mean = s1 / cnt
        cv = np.sqrt(np.maximum(s2 - s1 * s1 / cnt, 0.0) / np.maximum(cnt - 1, 1)) / mean
    cover = cnt / (D * per_day)
    running = sliding_window_view(flow_ok, D).all(axis=1)
    row = info(series, ctx)
    det = row.detection if row else -np.inf
    with np.errstate(invalid="ignore"):
        hit = (cover >= min_coverage) & (cv < max_cv) & (mean > 0) & running
    p95 = np.full(hit.size, np.nan)
    for w in np.flatnonzero(hit).tolist():
        p95[w] = np.nanpercentile(blocks[w:w + D], 95)
    with np.errstate(invalid="ignore"):
        hit &= (p95 < alpha * limit) & (p95 > det)
    out = []
    for a, b in runs(hit):
        ga, gb = a * per_day - lead, (b - 1 + D) * per_day - lead
        s, e = _rows(pos, max(ga, 0), max(gb, 1))
        out.append(Finding(s, e, Status.SUSPECT, "stable-low", (b - 1 + D - a) / D,
                           {"limit": limit, "alpha": alpha, "max_cv": max_cv, "days": D,
                            "min_cv": round(float(np.nanmin(cv[a:b])), 5),
                            "max_p95": round(float(np.nanmax(p95[a:b])), 4), "values": sample(g, max(ga, 0), max(gb, 1))}))
    return out


# --- TMP-07 level shift -------------------------------------------------------------------------


def _binseg(y: np.ndarray, penalty: float, min_size: int, max_cps: int = 20) -> list[int]:
    """Change points of the mean of ``y`` by binary segmentation (L2 cost): each split must reduce
    the squared error by more than ``penalty`` and leave segments of ``min_size`` or more."""
    n = y.size
    c1 = np.concatenate(([0.0], np.cumsum(y)))
    c2 = np.concatenate(([0.0], np.cumsum(y * y)))

    def cost(a: int, b: int) -> float:
        m = b - a
        s = c1[b] - c1[a]
        return float(c2[b] - c2[a] - s * s / m)

    def best(a: int, b: int) -> tuple[float, int]:
        if b - a < 2 * min_size:
            return 0.0, -1
        k = np.arange(a + min_size, b - min_size + 1)
        left_n = k - a
        right_n = b - k
        sl = c1[k] - c1[a]
        sr = c1[b] - c1[k]
        ql = c2[k] - c2[a]
        qr = c2[b] - c2[k]
        costs = (ql - sl * sl / left_n) + (qr - sr * sr / right_n)
        j = int(np.argmin(costs))
        return cost(a, b) - float(costs[j]), int(k[j])

    segs = [(0, n)]
    cps: list[int] = []
    while len(cps) < max_cps:
        cands = [(best(a, b), (a, b)) for a, b in segs]
        (gain, k), (a, b) = max(cands, key=lambda z: z[0][0])
        if k < 0 or gain <= penalty:
            break
        cps.append(k)
        segs.remove((a, b))
        segs += [(a, k), (k, b)]
    return sorted(cps)


ROUTINE_EVENTS = ("zero_check", "span_check")


@detector(
    "TMP-07",
    name="level shift",
    family="tmp",
    targets=["parameter or software tampering (B3)", "relocation or unapproved change (B12)"],
    params={
        "penalty": Param(3.0, "× σ² ln n", "binary-segmentation penalty on daily means of ln(x + c)"),
        "min_days": Param(7, "d", "shortest segment either side of a change point"),
        "min_shift": Param(0.4, "ln units", "shift (difference of segment medians) worth reporting at a logged event"),
        "unexplained_shift": Param(None, "ln units", "shift reported without any event (None: only shifts at events)"),
        "event_window_days": Param(3, "d", "how close a change point must be to an event to line up with it"),
        "compare_days": Param(14, "d", "days either side whose daily medians measure the shift"),
    },
)
def level_shift(series: Series, ctx: Context, *, penalty: float, min_days: int, min_shift: float, unexplained_shift: float | None,
                event_window_days: float, compare_days: int) -> list[Finding]:
    """Persistent shifts of level, reported where they line up with a metadata or parameter event
    (catalogue TMP-07; SaQC ``flagChangePoints``, ADTK ``LevelShiftAD``, Greenstone et al. 2022).

    A small binary segmentation (L2 cost on the mean, penalty ``penalty`` × σ² × ln n with σ the
    robust scale of day-to-day changes / √2) on daily means of ln(x + c) — days with ≥ 12 valid
    hours (or ≥ half the day's intervals). The shift at a change point is the difference of the
    medians of the ``compare_days`` daily means either side. Weather moves daily means of urban air
    by factors of 3 within a week, so a univariate shift alone is not evidence: a shift ≥
    ``min_shift`` within ``event_window_days`` of an event in ``ctx.events`` (any kind but the
    routine zero/span checks: parameter changes, relocation, firmware, operator …) is SUSPECT
    ``level-shift-at-event``; others are reported only when ``unexplained_shift`` is set and reached
    (``level-shift``). Spatial consistency (SPA-03) judges shifts against neighbours.

    Findings: from the change point to the end of the following segment. Score: |shift| in ln units
    (≈ relative change). Evidence: the change point's day, shift, event matched, segment medians.
    """
    if len(series) == 0:
        return []
    g, x, pos, c = _grid(series, ctx)
    step = max(int(series.step_s), 1)
    per_day = max(86400 // step, 1)
    gt = series.times[0] + np.arange(x.size, dtype=np.int64) * step
    day = local_day(gt)
    dk, ds = np.unique(day, return_index=True)
    ok = np.isfinite(x)
    cnt = np.add.reduceat(ok.astype(np.int64), ds)
    sm = np.add.reduceat(np.where(ok, x, 0.0), ds)
    good = cnt >= max(per_day // 2, 1)
    if good.sum() < 2 * min_days:
        return []
    y = sm[good] / cnt[good]
    ydays = dk[good]
    sigma = _robust_sigma(np.diff(y)) / np.sqrt(2)
    if not np.isfinite(sigma) or sigma <= 0:
        return []
    cps = _binseg(y, penalty * sigma * sigma * np.log(y.size), int(min_days))
    if not cps:
        return []
    evs = [e for e in ctx.events if str(e.get("kind", "")).lower() not in ROUTINE_EVENTS and e.get("time_utc") is not None]
    code = canonical(series.parameter)
    evs = [e for e in evs if e.get("key") in (None, "", "*") or canonical(str(e.get("key"))) == code
           or str(e.get("kind", "")).lower() in ("relocation", "site", "metadata", "firmware", "operator")]
    ev_days = np.array([local_day(np.array([int(e["time_utc"])]))[0] for e in evs], dtype=np.int64)
    bounds = [0, *cps, y.size]
    out = []
    for j, k in enumerate(cps):
        before = y[max(k - compare_days, bounds[j]):k]
        after = y[k:min(k + compare_days, bounds[j + 2])]
        shift = float(np.median(after) - np.median(before))
        cp_day = int(ydays[k])
        match = None
        if ev_days.size:
            dist = np.abs(ev_days - cp_day)
            m = int(np.argmin(dist))
            if dist[m] <= event_window_days:
                match = evs[m]
        if match is not None and abs(shift) >= min_shift:
            reason = "level-shift-at-event"
        elif unexplained_shift is not None and abs(shift) >= unexplained_shift:
            reason = "level-shift"
        else:
            continue
        seg_end_day = int(ydays[bounds[j + 2] - 1]) + 1
        t0 = int(cp_day * 86400 - 8 * 3600)
        t1 = int(seg_end_day * 86400 - 8 * 3600)
        s = int(np.searchsorted(series.times, t0))
        e = int(np.searchsorted(series.times, t1))
        if e <= s:
            continue
        back = (lambda q: float(np.exp(q) - c)) if c > 0 else float
        ev: dict[str, Any] = {"change_day_utc": t0, "change_day": iso(t0), "shift": round(shift, 4),
                              "ratio": round(float(np.exp(shift)), 4) if c > 0 else None,
                              "median_before": round(back(np.median(before)), 4),
                              "median_after": round(back(np.median(after)), 4),
                              "sigma": round(float(sigma), 4), "min_shift": min_shift, "penalty": penalty}
        if match is not None:
            ev["event"] = {k: match.get(k) for k in ("time_utc", "kind", "key", "old", "new", "approved") if k in match}
        out.append(Finding(s, e, Status.SUSPECT, reason, abs(shift), ev))
    return out
