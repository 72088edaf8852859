"""Flue-gas CEMS consistency (catalogue CEMS-01, -02, -04, -06; qc_fraud.md §A.4, §F).

Channels (HJ 212 codes): concentrations a21026 SO2, a21002 NOx, a34013 particulate (measured, dry
standard state, mg/m³); a19001 O2 (%); a00000 flow (dry standard, m³/s); a01011 velocity;
a01012 flue temperature (°C); ``load`` the unit's load (% of rated) when the plant reports it.

**Converted values.** Convention: the converted (折算) value of concentration ``c`` is the series
``ctx.series[c + ":zs"]`` (HJ 212 ``Zs…`` fields), on the same time grid as ``c``. CEMS-01 accepts
either as the checked series: checked as ``c`` it reads ``c:zs`` from the context, checked as
``c:zs`` it reads ``c``. The reference O2 of the plant's emission standard is ``ctx.attrs["o2_ref"]``
(%, e.g. 6 for coal power under GB 13223-2011).

**Process state** (shared by CEMS-02/04/06). A signal's *running level* is the median of its values
above half of its 90th percentile (the unit at work). A record shows *shutdown signs* when load or
flow is at most ``off_frac`` of its running level, O2 is at least ``o2_off`` (air in the duct), or
the flue gas is ``temp_drop`` °C or more below its running temperature; it shows *operation* when
every available signal is at work (load/flow ≥ ``on_frac`` of running, O2 below ``o2_off``, flue
temperature within ``temp_drop`` of running). Marks are claims, not signs: they are listed in the
evidence, never used to excuse a value (MARK-01 judges them). The state is computed once per
station and grid (``Context.cache``) and shared by the station's channels.

**Frozen signals** at flue-gas outlets are judged by CEMS-04 against the unit's state: an hourly
mean of minute records repeating to 0.01 mg/m³ is improbable only *while the unit runs* (a stopped
unit legitimately reads a constant load), judged against the series' own repeat rate; particulate
is in mg/m³, below the ambient µg/m³ floors of TMP-03, which misses its flat lines.

Measured (``benchmarks/detection.py``, 20 simulated coal power outlets × 61 days, 20 injections per
scenario): ``flat`` recall 1.00 (0.60 with TMP-03 alone), ``cems_dilution`` 1.00,
``cems_lockstep`` 1.00, ``scaling`` 1.00; clean data 0.47 level-2 alarms per station-month, 17 of
19 of them TMP-03 on a stopped unit's load (0.05 with TMP-03 switched off for ``kind: source``). Minute
data: 100 outlets × 30 days × 6 channels (25.9 M values) with CEMS-01/02/04/06 in 9 s of CPU in one
process (``benchmarks/detection_cems_perf.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tianlan.qc.checks._common import flag_in, smallest_step
from tianlan.qc.core import Context, Finding, Param, Series, Status, detector
from tianlan.qc.fraud.spatial import (
    aligned,
    daily_medians,
    daily_shifts,
    grid_index,
    iso_span,
    nanmedian_rows,
    runs,
    score01,
    slice_values,
    steps,
    windows,
)

SO2, NOX, DUST = "a21026", "a21002", "a34013"
CONCENTRATIONS = (SO2, NOX, DUST)
O2, FLOW, VELOCITY, TEMP, LOAD = "a19001", "a00000", "a01011", "a01012", "load"
ZS = ":zs"
#: HJ 212 flags under which a value is not a normal measurement (stopped, maintenance, fault,
#: calibration, manual, over range, comms fault): state checks leave such records alone.
NOT_NORMAL_FLAGS = frozenset({"F", "M", "D", "C", "S", "T", "B"})
_NOT_NORMAL_ANY_CASE = NOT_NORMAL_FLAGS | {x.lower() for x in NOT_NORMAL_FLAGS}


def _series(ctx: Context, code: str, times: np.ndarray) -> np.ndarray | None:
    s = ctx.series.get(code)
    if s is None or len(s) == 0:
        return None
    v = aligned(times, s)
    return v if np.isfinite(v).any() else None


def running_level(x: np.ndarray) -> float | None:
    """Median of the values above half of the 90th percentile: the signal's level at work."""
    fin = x[np.isfinite(x)]
    if fin.size < 3:
        return None
    p90 = float(np.quantile(fin, 0.9))
    at_work = fin[fin >= 0.5 * p90] if p90 > 0 else fin
    return float(np.median(at_work)) if at_work.size else None


def process_state(times: np.ndarray, ctx: Context, *, exclude: Sequence[str] = (), on_frac: float = 0.3,
                  off_frac: float = 0.1, o2_off: float = 19.0, temp_drop: float = 15.0) -> dict[str, Any]:
    """Shutdown signs and operation per record from load, flow, O2 and flue temperature.

    Returns ``signals`` (code → aligned values), ``levels`` (running levels), ``stopped_signs``
    (count of signals showing shutdown per record), ``n_signals`` (signals with a value per record)
    and ``operating`` (every available signal at work, at least one available).
    """
    key = ("cems.process_state", times.size, int(times[0]) if times.size else 0, int(times[-1]) if times.size else 0,
           tuple(c for c in (LOAD, FLOW, O2, TEMP) if c in exclude), on_frac, off_frac, o2_off, temp_drop)
    got = ctx.cache.get(key)
    if got is not None:
        return got
    n = times.size
    signals: dict[str, np.ndarray] = {}
    levels: dict[str, float] = {}
    stopped = np.zeros(n, dtype=np.int64)
    available = np.zeros(n, dtype=np.int64)
    at_work = np.ones(n, dtype=bool)
    for code in (LOAD, FLOW, O2, TEMP):
        if code in exclude:
            continue
        x = _series(ctx, code, times)
        if x is None:
            continue
        fin = np.isfinite(x)
        with np.errstate(invalid="ignore"):
            if code == O2:
                off = x >= o2_off
                on = x < o2_off
            else:
                lvl = running_level(x)
                if lvl is None or lvl <= 0:
                    continue
                levels[code] = lvl
                if code == TEMP:
                    off = x <= lvl - temp_drop
                    on = x > lvl - temp_drop
                else:
                    off = x <= off_frac * lvl
                    on = x >= on_frac * lvl
        signals[code] = x
        stopped += (off & fin).astype(np.int64)
        available += fin.astype(np.int64)
        at_work &= on | ~fin
    out = {"signals": signals, "levels": levels, "stopped_signs": stopped, "n_signals": available,
           "operating": at_work & (available > 0)}
    ctx.cache[key] = out  # the station's detectors share it (the runner clears the cache per station)
    return out


def _marks_over(ctx: Context, t0: int, t1: int) -> list[dict[str, Any]]:
    return [{"mark": m.mark, "start_utc": int(m.start_utc), "end_utc": int(m.end_utc)}
            for m in ctx.marks if m.start_utc < t1 and m.end_utc > t0]


def _normal(series: Series) -> np.ndarray:
    """Records whose HJ 212 flag (if any) says a normal measurement (vectorised over the distinct flags)."""
    bad = flag_in(series, _NOT_NORMAL_ANY_CASE)
    return np.ones(len(series), dtype=bool) if bad is None else ~bad


def _state_slices(state: dict[str, Any], s: int, e: int) -> dict[str, list[float | None]]:
    return {code: slice_values(v, s, e) for code, v in state["signals"].items()}


# --- CEMS-01 ----------------------------------------------------------------------------------


@detector(
    "CEMS-01",
    name="O2-corrected value recompute",
    family="cems",
    targets=["B3 tampered O2 reference or conversion", "B6 converted values not computed from the measured ones"],
    params={
        "rel_tolerance": Param(0.01, "fraction", "converted value and recompute may differ by this share …"),
        "rounding_steps": Param(1.0, "resolution steps", "… plus this many transmission steps of both values"),
        "max_o2": Param(19.0, "%", "records with O2 at or above this (air in the duct) are not checked"),
        "min_hours": Param(1.0, "h", "mismatching records in a row before a finding"),
    },
    systems=("source",),
    parameters=CONCENTRATIONS,
    history_s=86400,
)
def o2_recompute(series: Series, ctx: Context, *, rel_tolerance: float, rounding_steps: float, max_o2: float,
                 min_hours: float) -> list[Finding]:
    """Records whose converted concentration is not ``C·(21 − O2ref)/(21 − O2)`` (catalogue CEMS-01).

    HJ 75-2017 converts the measured dry concentration ``C`` at the measured ``O2`` to the
    reference O2 of the emission standard (``ctx.attrs["o2_ref"]``). A run of records where the
    reported converted value differs from the recompute by more than ``rel_tolerance`` (plus the
    rounding of both transmitted values) is FAIL: the arithmetic is not a matter of judgement. The
    evidence gives the O2 reference the reported values imply, ``21 − Zs/C·(21 − O2)`` — a constant
    other than ``o2_ref`` points at a changed reference in the DAS (§A.7 Tianjin case). Without
    ``o2_ref`` the median implied reference is used (noted in the evidence). Converted values without
    the measured value or O2 in the context: one NOT_EVALUATED finding naming what is missing.
    Score 0.8 at ``rel_tolerance``, 1 from 1.25 × it.
    """
    code = series.parameter
    zs_v: np.ndarray | None
    meas: np.ndarray | None
    zs_series: Series | None
    meas_series: Series | None
    if code.endswith(ZS):
        base = code[: -len(ZS)]
        if base not in CONCENTRATIONS:
            return []
        zs_v = series.values
        meas = _series(ctx, base, series.times)
        zs_series, meas_series = series, ctx.series.get(base)
    else:
        base = code
        if base not in CONCENTRATIONS:
            return []
        zs_v = _series(ctx, base + ZS, series.times)
        if zs_v is None:
            return []  # no converted values: nothing to recompute
        meas = series.values
        zs_series, meas_series = ctx.series.get(base + ZS), series
    o2 = _series(ctx, O2, series.times)
    if meas is None or o2 is None:
        missing = [c for c, v in ((base, meas), (O2, o2)) if v is None]
        return [Finding(0, len(series), Status.NOT_EVALUATED, "CEMS-01 converted values without " + " and ".join(missing),
                        0.0, {"station": series.station, "parameter": code, "missing": missing,
                              "convention": "converted values in ctx.series[code + ':zs']"})]
    ref = ctx.attrs.get("o2_ref")
    with np.errstate(invalid="ignore", divide="ignore"):
        usable = np.isfinite(meas) & np.isfinite(zs_v) & np.isfinite(o2) & (o2 < max_o2) & (meas > 0)
        implied = 21.0 - zs_v / meas * (21.0 - o2)
    inferred = False
    if ref is None:
        if usable.sum() < 3:
            return []
        ref = float(np.median(implied[usable]))
        inferred = True
    ref = float(ref)
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = (21.0 - ref) / (21.0 - o2)
        expected = meas * factor
    q_zs = smallest_step(zs_series.values if zs_series is not None else zs_v)
    q_c = smallest_step(meas_series.values if meas_series is not None else meas)
    tol = rel_tolerance * np.abs(expected) + rounding_steps * (q_zs + np.abs(factor) * q_c) / 2.0
    with np.errstate(invalid="ignore"):
        bad = usable & (np.abs(zs_v - expected) > tol)
        rel = np.abs(zs_v - expected) / np.abs(expected)
    out = []
    n_min = steps(min_hours, series.step_s)
    for s, e in runs(bad, n_min, steps(1, series.step_s), ~usable):
        sel = bad[s:e]
        med_rel = float(np.median(rel[s:e][sel]))
        out.append(Finding(s, e, Status.FAIL, "CEMS-01 converted value does not recompute from measured and O2",
                           score01(med_rel, rel_tolerance), {
                               **iso_span(series, s, e), "station": series.station, "parameter": base,
                               "inputs": {base: slice_values(meas, s, e), base + ZS: slice_values(zs_v, s, e),
                                          O2: slice_values(o2, s, e)},
                               "recomputed": slice_values(expected, s, e),
                               "relative_difference_median": round(med_rel, 5),
                               "implied_o2_ref_median": round(float(np.median(implied[s:e][sel])), 3),
                               "o2_ref": ref, "o2_ref_inferred": inferred,
                               "formula": "C_zs = C·(21 − O2ref)/(21 − O2) (HJ 75-2017)",
                               "resolution": {base: q_c, base + ZS: q_zs},
                               "thresholds": {"rel_tolerance": rel_tolerance, "rounding_steps": rounding_steps,
                                              "max_o2": max_o2, "min_hours": min_hours},
                           }))
    return out


# --- CEMS-02 ----------------------------------------------------------------------------------


def _line_fit(x: np.ndarray, y: np.ndarray, trim: float) -> tuple[float, float] | None:
    """Least-squares line y = a + b·x, refitted once without residuals beyond ``trim``; slope 0 when
    x barely varies."""
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 6:
        return None
    xx, yy = x[ok], y[ok]
    for _ in range(2):
        if xx.size < 6:
            return None
        if np.std(xx) < 1e-6 * max(1.0, abs(float(np.mean(xx)))):
            a, b = float(np.median(yy)), 0.0
        else:
            b, a = (float(c) for c in np.polyfit(xx, yy, 1))
        keep = np.abs(yy - (a + b * xx)) <= trim
        if keep.all():
            break
        xx, yy = xx[keep], yy[keep]
    return a, b


@detector(
    "CEMS-02",
    name="dilution air",
    family="cems",
    targets=["B2 dilution air let into the flue ahead of the probe (4(4))"],
    params={
        "min_o2_rise": Param(2.0, "O2 percentage points", "O2 above what the unit's load explains by this much"),
        "min_drop": Param(0.1, "fraction", "and the concentrations below their reference by this share"),
        "ref_days": Param(7.0, "d", "O2 as a function of load (or flow, or flue temperature) is fitted on these past days"),
        "min_ref_hours": Param(48.0, "h", "operating hours needed in the reference"),
        "min_hours": Param(2.0, "h", "hours in a row before a finding"),
        "o2_off": Param(19.0, "%", "O2 at or above this is a stopped unit, not dilution"),
        "on_frac": Param(0.3, "of running level", "load or flow at least this share: the unit is operating"),
    },
    systems=("source",),
    parameters=(O2,),
    history_s=10 * 86400,
)
def dilution_air(series: Series, ctx: Context, *, min_o2_rise: float, min_drop: float, ref_days: float,
                 min_ref_hours: float, min_hours: float, o2_off: float, on_frac: float) -> list[Finding]:
    """O2 up while the process does not explain it and the concentrations fall (catalogue CEMS-02).

    Checked on the O2 series. The unit's normal O2 is a line in its load, fitted each day on the
    previous ``ref_days`` of operating records (trimmed once at 1.5 points); without ``load`` the
    steadiness proxy is the flow, then the flue temperature. Dilution air raises O2 at an unchanged
    load (and raises the flow — which a flow-based fit reads as more load and expects *less* O2, so
    the excess only grows). A finding (SUSPECT) needs ``min_hours`` of operating records with O2
    ``min_o2_rise`` points above the expectation and the pooled concentrations (SO2, NOx,
    particulate, measured) at least ``min_drop`` below their reference median. The evidence gives
    the dilution the O2 implies, (20.9 − O2)/(20.9 − O2 expected), beside the observed concentration
    ratio. Score 0.8 at ``min_o2_rise``, 1 at 1.25 × it.
    """
    if series.parameter != O2:
        return []
    t = series.times
    o2 = series.values
    proxy_code = next((c for c in (LOAD, FLOW, TEMP) if _series(ctx, c, t) is not None), None)
    concs = {c: v for c in CONCENTRATIONS if (v := _series(ctx, c, t)) is not None}
    if proxy_code is None or not concs:
        return []
    proxy = _series(ctx, proxy_code, t)
    assert proxy is not None
    lvl = running_level(proxy)
    if lvl is None:
        return []
    with np.errstate(invalid="ignore"):
        if proxy_code == TEMP:
            operating = np.isfinite(o2) & (o2 < o2_off) & (proxy > lvl - 15.0)
        else:
            operating = np.isfinite(o2) & (o2 < o2_off) & (proxy >= on_frac * lvl)
    day = 86400
    per_h = 3600 / max(series.step_s, 1)
    expected = np.full(o2.shape, np.nan)
    fits: dict[int, tuple[float, float]] = {}
    k0 = int(t[0]) if t.size else 0
    for knot in range(k0, int(t[-1]) + 1 if t.size else k0, day):
        lo = np.searchsorted(t, knot - ref_days * day)
        hi = np.searchsorted(t, knot)
        sel = operating[lo:hi]
        if sel.sum() < min_ref_hours * per_h:
            continue
        fit = _line_fit(proxy[lo:hi][sel], o2[lo:hi][sel], 1.5)
        if fit is None:
            continue
        a, b = fit
        d0, d1 = hi, np.searchsorted(t, knot + day)
        expected[d0:d1] = a + b * proxy[d0:d1]
        fits[knot] = (a, b)
    with np.errstate(invalid="ignore"):
        excess = o2 - expected
        cand = operating & (excess >= min_o2_rise)
    out = []
    for s, e in runs(cand, steps(min_hours, series.step_s), steps(1, series.step_s), ~np.isfinite(excess)):
        lo = np.searchsorted(t, t[s] - ref_days * day)
        ratios: dict[str, float] = {}
        for c, v in concs.items():
            ref_sel = operating[lo:s] & np.isfinite(v[lo:s]) & ~cand[lo:s]
            cur = v[s:e][cand[s:e] & np.isfinite(v[s:e])]
            if ref_sel.sum() < 6 or cur.size == 0:
                continue
            ref_med = float(np.median(v[lo:s][ref_sel]))
            if ref_med > 0:
                ratios[c] = float(np.median(cur)) / ref_med
        if not ratios:
            continue
        pooled = float(np.exp(np.median(np.log(np.maximum(list(ratios.values()), 1e-6)))))
        if pooled > 1.0 - min_drop:
            continue
        sel = cand[s:e]
        o2_obs, o2_exp = float(np.median(o2[s:e][sel])), float(np.median(expected[s:e][sel]))
        out.append(Finding(s, e, Status.SUSPECT, "CEMS-02 O2 up at steady load while concentrations fall (dilution air)",
                           score01(float(np.median(excess[s:e][sel])), min_o2_rise), {
                               **iso_span(series, s, e), "station": series.station,
                               "inputs": {O2: slice_values(o2, s, e), proxy_code: slice_values(proxy, s, e),
                                          **{c: slice_values(v, s, e) for c, v in concs.items()},
                                          **({FLOW: slice_values(f, s, e)} if proxy_code != FLOW
                                             and (f := _series(ctx, FLOW, t)) is not None else {})},
                               "o2_expected": slice_values(expected, s, e, 3),
                               "o2_excess_median": round(float(np.median(excess[s:e][sel])), 3),
                               "steadiness_proxy": proxy_code, "proxy_running_level": round(lvl, 3),
                               "concentration_ratio": {c: round(r, 3) for c, r in ratios.items()},
                               "concentration_ratio_pooled": round(pooled, 3),
                               "dilution_implied_by_o2": round((20.9 - o2_obs) / (20.9 - o2_exp), 3),
                               "marks": _marks_over(ctx, int(t[s]), int(t[e - 1]) + series.step_s),
                               "thresholds": {"min_o2_rise": min_o2_rise, "min_drop": min_drop, "ref_days": ref_days,
                                              "min_hours": min_hours},
                           }))
    return out


# --- CEMS-04 ----------------------------------------------------------------------------------


@detector(
    "CEMS-04",
    name="state coherence",
    family="cems",
    targets=["B10 analyser or power fault hidden as zeros", "B8 data inconsistent with the unit's state",
             "B4 values transmitted while the unit is stopped"],
    params={
        "zero_tolerance": Param(0.0, "unit of the value", "a value at or below this is a zero"),
        "min_hours": Param(1.0, "h", "zeros in a row while operating before a finding"),
        "stopped_min_hours": Param(2.0, "h", "hours at working level while stopped before a finding"),
        "stopped_level": Param(0.5, "of running level", "a value at least this share of its running level is 'at work'"),
        "on_frac": Param(0.3, "of running level", "load/flow at least this share: operating"),
        "off_frac": Param(0.1, "of running level", "load/flow at most this share: a shutdown sign"),
        "o2_off": Param(19.0, "%", "O2 at or above this: a shutdown sign (air in the duct)"),
        "temp_drop": Param(15.0, "°C", "flue gas this far below its running temperature: a shutdown sign"),
        "frozen_hours": Param(3.0, "h", "identical values in a row while operating before a frozen-signal finding"),
        "frozen_alpha": Param(0.01, "", "… and the chance of such a run, from the series' own repeats, times the "
                              "operating records, below this; 0 = no frozen-signal check"),
        "frozen_min_steps": Param(20.0, "resolution steps", "frozen values below this many reporting steps are a floor, "
                                  "not a frozen signal"),
    },
    systems=("source",),
    parameters=(*CONCENTRATIONS, FLOW, O2, TEMP, VELOCITY),
    history_s=2 * 86400,
)
def state_coherence(series: Series, ctx: Context, *, zero_tolerance: float, min_hours: float, stopped_min_hours: float,
                    stopped_level: float, on_frac: float, off_frac: float, o2_off: float,
                    temp_drop: float, frozen_hours: float = 3.0, frozen_alpha: float = 0.01,
                    frozen_min_steps: float = 20.0) -> list[Finding]:
    """Zeros while the unit runs, and working values while it is stopped (catalogue CEMS-04).

    Practitioners' rule (§A.4, Tianjin monitoring centre): a zero concentration or flow is
    legitimate only when the other signals show a stopped unit. Two SUSPECT findings on the checked
    series (a concentration or the flow), judged from the *other* process signals:

    * ``zero while operating`` — ``min_hours`` of values ≤ ``zero_tolerance`` with a normal flag,
      no shutdown sign and every available signal at work (a fault, a cut cable, a forced zero);
    * ``values while stopped`` — ``stopped_min_hours`` with at least two shutdown signs (or the only
      available signal showing one) while the value stays at ``stopped_level`` of its running level
      (data that do not come from the stack).

    * ``frozen while operating`` — a run of identical values (to the reporting resolution) of at
      least ``frozen_hours`` while every available process signal shows operation, at a level of at
      least ``frozen_min_steps`` reporting steps, and improbable for this series: with p the share
      of consecutive equal values in the rest of the operating record (a half count added), a run of
      k values has chance p^(k−1), and p^(k−1) × (operating records) must be below
      ``frozen_alpha``. An hourly mean of a working analyser's minute values repeats to 0.01 mg/m³
      about never (HJ 76-2017 minute records; a live signal carries noise): a stuck analyser, a
      held value or a simulated signal (§A.8 B4). Also checked on O2, flue temperature and
      velocity (whose own noise sets p). Flat runs while the unit is stopped (load 0, humidity at
      the floor) are the stopped state, not a finding.

    Without any process signal the detector returns nothing. Score 0.8 at the minimum duration
    (frozen: at ``frozen_alpha``), 1 at 1.25 × it.
    """
    code = series.parameter
    if code not in (*CONCENTRATIONS, FLOW, O2, TEMP, VELOCITY):
        return []
    t = series.times
    x = series.values
    st = process_state(t, ctx, exclude=(code,), on_frac=on_frac, off_frac=off_frac, o2_off=o2_off, temp_drop=temp_drop)
    if not st["signals"]:
        return []
    normal = _normal(series)
    fin = np.isfinite(x)
    frozen = _frozen_runs(series, st, normal, frozen_hours=frozen_hours, frozen_alpha=frozen_alpha,
                          frozen_min_steps=frozen_min_steps) if frozen_alpha > 0 else []
    if code not in (*CONCENTRATIONS, FLOW):
        return [_frozen_finding(series, ctx, st, f) for f in frozen]
    with np.errstate(invalid="ignore"):
        zero = fin & normal & (x <= zero_tolerance)
    suspicious = zero & (st["stopped_signs"] == 0) & st["operating"]
    out: list[Finding] = []
    n_min = steps(min_hours, series.step_s)
    for s, e in runs(suspicious, n_min):
        out.append(Finding(s, e, Status.SUSPECT, f"CEMS-04 {code} zero while the unit operates",
                           score01(e - s, n_min), _cems04_evidence(series, ctx, st, s, e, {
                               "zero_tolerance": zero_tolerance, "min_hours": min_hours, "on_frac": on_frac,
                               "off_frac": off_frac, "o2_off": o2_off, "temp_drop": temp_drop})))
    lvl = running_level(x)
    if lvl is not None and lvl > 0:
        need = np.where(st["n_signals"] >= 2, 2, 1)
        with np.errstate(invalid="ignore"):
            ghost = fin & normal & (st["stopped_signs"] >= need) & (st["stopped_signs"] > 0) & (x >= stopped_level * lvl)
        n_stop = steps(stopped_min_hours, series.step_s)
        for s, e in runs(ghost, n_stop):
            ev = _cems04_evidence(series, ctx, st, s, e, {"stopped_min_hours": stopped_min_hours,
                                                          "stopped_level": stopped_level, "off_frac": off_frac,
                                                          "o2_off": o2_off, "temp_drop": temp_drop})
            ev["running_level"] = round(lvl, 4)
            out.append(Finding(s, e, Status.SUSPECT, f"CEMS-04 {code} at working level while the unit is stopped",
                               score01(e - s, n_stop), ev))
    out += [_frozen_finding(series, ctx, st, f) for f in frozen]
    out.sort(key=lambda f: f.start)
    return out


def _frozen_runs(series: Series, st: dict[str, Any], normal: np.ndarray, *, frozen_hours: float, frozen_alpha: float,
                 frozen_min_steps: float) -> list[dict[str, Any]]:
    """Runs of identical values while operating that the series' own repeat rate makes improbable."""
    x = series.values
    n = x.size
    if n < 3:
        return []
    q = smallest_step(x)
    tol = q / 2 if q > 0 else 1e-9
    operating = st["operating"] & (st["stopped_signs"] == 0) & np.isfinite(x) & normal
    with np.errstate(invalid="ignore"):
        same = (np.abs(np.diff(x)) < tol) & operating[1:] & operating[:-1]
    n_min = max(2, steps(frozen_hours, series.step_s))
    cand = [(s, e + 1) for s, e in runs(same, n_min - 1)]  # value ranges [s, e)
    if not cand:
        return []
    n_pairs = int((operating[1:] & operating[:-1]).sum())
    n_same = int(same.sum())
    n_op = max(int(operating.sum()), 1)
    out = []
    for s, e in cand:
        level = float(np.median(x[s:e]))
        if q > 0 and abs(level) < frozen_min_steps * q:
            continue
        # the repeat rate elsewhere: every other pair of the record, this run left out
        p_eq = (n_same - (e - s - 1) + 0.5) / (n_pairs - (e - s - 1) + 1.0)
        chance = float(np.exp((e - s - 1) * np.log(p_eq))) * n_op
        if chance >= frozen_alpha:
            continue
        out.append({"start": s, "end": e, "value": level, "chance": chance, "p_equal": p_eq, "resolution": q,
                    "operating_records": n_op, "frozen_hours": frozen_hours, "frozen_alpha": frozen_alpha,
                    "frozen_min_steps": frozen_min_steps})
    return out


def _frozen_finding(series: Series, ctx: Context, st: dict[str, Any], f: dict[str, Any]) -> Finding:
    s, e = f["start"], f["end"]
    ev = _cems04_evidence(series, ctx, st, s, e, {"frozen_hours": f["frozen_hours"], "frozen_alpha": f["frozen_alpha"],
                                                  "frozen_min_steps": f["frozen_min_steps"]})
    ev.update({"kind": "frozen", "value": f["value"], "records": e - s, "resolution": f["resolution"],
               "p_equal_elsewhere": round(f["p_equal"], 6), "operating_records": f["operating_records"],
               "chance_of_run": f["chance"]})
    effect = np.log(max(f["chance"], 1e-300)) / np.log(f["frozen_alpha"])  # ≥ 1 when the chance is below alpha
    return Finding(s, e, Status.SUSPECT, f"CEMS-04 {series.parameter} frozen while the unit operates",
                   score01(float(effect), 1.0), ev)


def _cems04_evidence(series: Series, ctx: Context, st: dict[str, Any], s: int, e: int,
                     thresholds: dict[str, Any]) -> dict[str, Any]:
    return {
        **iso_span(series, s, e), "station": series.station, "parameter": series.parameter,
        "inputs": {series.parameter: slice_values(series.values, s, e), **_state_slices(st, s, e)},
        "flags": None if series.flags is None else [None if f is None else str(f) for f in series.flags[s:min(e, s + 72)]],
        "running_levels": {k: round(v, 4) for k, v in st["levels"].items()},
        "shutdown_signs": st["stopped_signs"][s:min(e, s + 72)].tolist(),
        "marks": _marks_over(ctx, int(series.times[s]), int(series.times[e - 1]) + series.step_s),
        "thresholds": thresholds,
    }


# --- CEMS-06 ----------------------------------------------------------------------------------


def _hourly(times: np.ndarray, x: np.ndarray, step_s: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hourly means (at least half the hour present) of a series on a grid finer than an hour, the
    hour start times and each element's hour index; hourly and coarser series pass through."""
    if step_s >= 3600 or x.size == 0:
        return times, x, np.arange(x.size)
    idx, size = grid_index(times, step_s)
    per = max(1, 3600 // step_s)
    nh = (size + per - 1) // per
    g = np.full(nh * per, np.nan)
    g[idx] = x
    m = g.reshape(nh, per)
    cnt = np.isfinite(m).sum(axis=1)
    with np.errstate(invalid="ignore"):
        mean = np.where(cnt >= per / 2, np.nansum(m, axis=1) / np.maximum(cnt, 1), np.nan)
    return times[0] + np.arange(nh, dtype=np.int64) * per * step_s, mean, idx // per


def _rolling_r2(x: np.ndarray, y: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """R² of y on x, the count of pairs and the std of x over the ``w`` hours ending at each hour."""
    ok = np.isfinite(x) & np.isfinite(y)
    xs = np.where(ok, x - (x[ok].mean() if ok.any() else 0.0), 0.0)
    ys = np.where(ok, y - (y[ok].mean() if ok.any() else 0.0), 0.0)

    def roll(a: np.ndarray) -> np.ndarray:
        c = np.concatenate([[0.0], np.cumsum(a)])
        i = np.arange(1, a.size + 1)
        return c[i] - c[np.maximum(i - w, 0)]

    n = roll(ok.astype(np.float64))
    sx, sy, sxx, syy, sxy = roll(xs), roll(ys), roll(xs * xs), roll(ys * ys), roll(xs * ys)
    with np.errstate(invalid="ignore", divide="ignore"):
        vx = sxx - sx * sx / n
        vy = syy - sy * sy / n
        cov = sxy - sx * sy / n
        r2 = cov * cov / (vx * vy)
        sdx = np.sqrt(np.maximum(vx, 0.0) / n)
    return r2, n, sdx


@detector(
    "CEMS-06",
    name="emission–load decoupling",
    family="cems",
    targets=["B9 treatment or process manipulated so emissions no longer follow the unit",
             "B4 emission signal replaced or simulated"],
    params={
        "window_hours": Param(72.0, "h", "rolling regression window (operating hours of hourly means)"),
        "ref_days": Param(30.0, "d", "the usual fit is the median R² of the windows over these past days"),
        "min_ref_r2": Param(0.5, "R²", "the relation must usually hold at least this well to be judged"),
        "max_r2": Param(0.2, "R²", "a collapsed window fits at most this well …"),
        "min_r2_drop": Param(0.4, "R²", "… and at least this much worse than usual"),
        "min_coverage": Param(0.75, "fraction", "operating hours needed in a window"),
        "min_load_spread": Param(0.5, "of usual", "the load must vary at least this share of its usual spread"
                                 " (a steady load explains nothing, so R² falls by itself)"),
        "use_mass_rate": Param(True, "", "regress the emission rate C·flow (when flow is measured) rather than C"),
        "on_frac": Param(0.3, "of running level", "load at least this share: operating"),
        "shift_days": Param(3, "d", "emission-factor test: median daily residual of the last this many days …"),
        "shift_ref_days": Param(14, "d", "… against the median of this many days before them"),
        "shift_min": Param(0.2, "ln units", "… moved by at least this (≈ ×0.82 or ×1.22) …"),
        "shift_z": Param(4.0, "robust scales", "… and this many robust day-to-day scales; 0: off"),
    },
    systems=("source",),
    parameters=CONCENTRATIONS,
    history_s=40 * 86400,
)
def load_decoupling(series: Series, ctx: Context, *, window_hours: float, ref_days: float, min_ref_r2: float,
                    max_r2: float, min_r2_drop: float, min_coverage: float, min_load_spread: float,
                    use_mass_rate: bool, on_frac: float, shift_days: int, shift_ref_days: int, shift_min: float,
                    shift_z: float) -> list[Finding]:
    """Windows where emissions stop following the load while the unit runs (catalogue CEMS-06).

    On hourly means (minute data are averaged), ``ln(emission) = a + b·ln(load)`` is fitted over
    rolling ``window_hours`` of operating hours, the emission being the rate ``C·flow`` with
    ``use_mass_rate`` (a scrubber's outlet concentration may be flat while the mass still follows the
    coal burnt) or the concentration. Where the station's relation usually holds (median R² of the
    past ``ref_days`` ≥ ``min_ref_r2``), a window whose R² collapses to ≤ ``max_r2`` and at least
    ``min_r2_drop`` below usual, with the load still varying, is SUSPECT: emissions decoupled from
    the process (treatment switched, a signal substituted). The relation can also break by moving:
    the residual of the fit over the whole history, as daily medians of operating hours, shifting
    by ``shift_min`` and ``shift_z`` robust day-to-day scales between the ``shift_ref_days`` before and
    the last ``shift_days`` — the same load now emits a different amount (an analyser slope or span
    changed, §A.8 B3; treatment switched on for the inspection or off after it) — is SUSPECT too.
    Needs ``load``; otherwise returns nothing. Score 0.8 at the threshold (``min_r2_drop``; the
    shift's band), 1 at 1.25 × it.
    """
    code = series.parameter
    if code not in CONCENTRATIONS:
        return []
    load_s = ctx.series.get(LOAD)
    if load_s is None or len(load_s) == 0:
        return []
    load = aligned(series.times, load_s)
    emission = series.values
    flow = _series(ctx, FLOW, series.times) if use_mass_rate else None
    if flow is not None:
        emission = emission * flow
    ht, he, owner = _hourly(series.times, emission, series.step_s)
    _, hl, _ = _hourly(series.times, load, series.step_s)
    lvl = running_level(hl)
    if lvl is None or lvl <= 0:
        return []
    o2 = _series(ctx, O2, series.times)
    ho2 = _hourly(series.times, o2, series.step_s)[1] if o2 is not None else None
    with np.errstate(invalid="ignore", divide="ignore"):
        operating = np.isfinite(hl) & (hl >= on_frac * lvl) & (he > 0)
        if ho2 is not None:
            operating &= ~(ho2 >= 19.0)
        x = np.where(operating, np.log(hl), np.nan)
        y = np.where(operating, np.log(he), np.nan)
    w = max(6, int(round(window_hours)))
    r2, n, sdx = _rolling_r2(x, y, w)
    enough = n >= min_coverage * w
    r2 = np.where(enough, r2, np.nan)
    sdx = np.where(enough, sdx, np.nan)
    ref_w = max(1, int(round(ref_days * 24)))
    # usual fit at hour k: median over the windows that ended in [k − w − ref_w, k − w), i.e. before
    # the current window began
    starts = np.arange(r2.size) - w - ref_w + 1
    ref_r2 = nanmedian_rows(windows(r2, starts, ref_w))
    ref_sd = nanmedian_rows(windows(sdx, starts, ref_w))
    ref_count = np.isfinite(windows(r2, starts, ref_w)).sum(axis=1)
    with np.errstate(invalid="ignore"):
        collapsed = (ref_count >= ref_w / 3) & (ref_r2 >= min_ref_r2) & (r2 <= max_r2) & (r2 <= ref_r2 - min_r2_drop) \
            & (sdx >= min_load_spread * ref_sd)
    cover = np.zeros(r2.size, dtype=bool)
    for k in np.flatnonzero(collapsed):
        cover[max(0, k - w + 1):k + 1] = True
    out = []
    for hs, he_ in runs(cover, w // 2):
        s = int(np.searchsorted(owner, hs))
        e = int(np.searchsorted(owner, he_))
        if e <= s:
            continue
        sel = collapsed[hs:he_]
        cur = float(np.nanmin(r2[hs:he_][sel])) if sel.any() else float("nan")
        usual = float(np.nanmedian(ref_r2[hs:he_][sel])) if sel.any() else float("nan")
        out.append(Finding(s, e, Status.SUSPECT, f"CEMS-06 {code} emission no longer follows the load",
                           score01(usual - cur, min_r2_drop), {
                               **iso_span(series, s, e), "station": series.station, "kind": "decoupling",
                               "emission": f"{code}·{FLOW}" if flow is not None else code,
                               "inputs": {"hour_utc": [int(v) for v in ht[hs:min(he_, hs + 72)]],
                                          "emission_hourly": slice_values(he, hs, he_), "load_hourly": slice_values(hl, hs, he_)},
                               "r2_window_min": round(cur, 4), "r2_usual": round(usual, 4),
                               "r2_hourly": slice_values(r2, hs, he_, 3),
                               "thresholds": {"window_hours": window_hours, "ref_days": ref_days, "min_ref_r2": min_ref_r2,
                                              "max_r2": max_r2, "min_r2_drop": min_r2_drop,
                                              "min_load_spread": min_load_spread},
                           }))
    if shift_z > 0 and shift_days > 0:
        out += _emission_factor_shifts(series, code, ht, x, y, owner, flow is not None, shift_days=int(shift_days),
                                       shift_ref_days=int(shift_ref_days), shift_min=shift_min, shift_z=shift_z)
    out.sort(key=lambda f: f.start)
    return out


def _emission_factor_shifts(series: Series, code: str, ht: np.ndarray, x: np.ndarray, y: np.ndarray, owner: np.ndarray,
                            mass: bool, *, shift_days: int, shift_ref_days: int, shift_min: float,
                            shift_z: float) -> list[Finding]:
    """Shifts of the emission at a given load: daily medians of the residual of ln(emission) on
    ln(load) (one fit over the operating hours of the whole series), against their own past."""
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 72:
        return []
    fit = _line_fit(x, y, 1.0)
    if fit is None:
        return []
    a, b = fit
    resid = y - (a + b * x)
    dm, day = daily_medians(ht, resid, 3600)
    out = []
    for ep in daily_shifts(dm, recent_days=shift_days, ref_days=shift_ref_days, min_ref_days=min(7, shift_ref_days),
                           min_shift=shift_min, z_threshold=shift_z, min_scale=0.01):
        hs = int(np.searchsorted(day, ep["first_day"]))
        he = int(np.searchsorted(day, ep["last_day"] + 1))
        s = int(np.searchsorted(owner, hs))
        e = int(np.searchsorted(owner, he))
        if e <= s:
            continue
        band = max(shift_min, shift_z * ep["scale"])
        out.append(Finding(s, e, Status.SUSPECT,
                           f"CEMS-06 {code} emission at a given load shifted {'down' if ep['sign'] < 0 else 'up'}",
                           score01(abs(ep["shift"]), band), {
                               **iso_span(series, s, e), "station": series.station, "kind": "emission-factor shift",
                               "emission": f"{code}·{FLOW}" if mass else code,
                               "fit": {"intercept": round(a, 4), "slope_on_ln_load": round(b, 4)},
                               "daily_residual_ln": slice_values(dm, ep["first_day"], ep["last_day"] + 1, 4),
                               "shift_ln": round(ep["shift"], 4), "shift_factor": round(float(np.exp(ep["shift"])), 3),
                               "reference_scale_ln": round(ep["scale"], 4),
                               "values": slice_values(series.values, s, e),
                               "thresholds": {"shift_days": shift_days, "shift_ref_days": shift_ref_days,
                                              "shift_min": shift_min, "shift_z": shift_z},
                           }))
    return out
