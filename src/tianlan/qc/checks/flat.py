"""Flat line: runs of a value that does not change, judged against the station's own persistence
in its context (catalogue TMP-03, ``reference/qc_fraud.md`` §F; issue 4's ``flat`` scenario).

Moved out of :mod:`tianlan.qc.checks.temporal`, which re-exports its names; the detector ID, its
parameters and its registration are unchanged. Works on the series laid on its regular grid
(``step_s``), with missing or instrument-invalid values as gaps; the context (neighbours' median,
companion parameter, drift) on the log scale ``ln(x + c)`` of ``checks._common``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tianlan.qc.checks._common import (
    aligned,
    canonical,
    info,
    log_values,
    nanmedian_rows,
    on_grid,
    reporting_resolution,
    runs,
    sample,
    valid_mask,
)
from tianlan.qc.core import Context, Finding, Param, Series, Status, detector


def _valid_grid(series: Series) -> tuple[np.ndarray, np.ndarray]:
    """(values on the grid with invalid → NaN, grid position of each row)."""
    return on_grid(series, np.where(valid_mask(series), series.values, np.nan))


def _rows(pos: np.ndarray, a: int, b: int) -> tuple[int, int]:
    """Row range of the series covering grid positions [a, b) (as ``temporal._rows``)."""
    s = int(np.searchsorted(pos, a, "left"))
    e = int(np.searchsorted(pos, b, "left"))
    if e <= s:  # the grid span has no row of its own: take the rows around it
        s, e = max(s - 1, 0), min(s + 1, pos.size)
    return s, e


def _aligned(times: np.ndarray, other: Series) -> np.ndarray:
    """Valid values of ``other`` at exactly ``times`` (NaN where it has none)."""
    return aligned(times, other, values=np.where(valid_mask(other), other.values, np.nan))


# --- TMP-03 flat line ---------------------------------------------------------------------------


def _flat_runs(g: np.ndarray, tol: float, min_len: int) -> list[tuple[int, int]]:
    """Grid ranges of at least ``min_len`` values whose range (max − min) stays below ``tol``."""
    tol = round(tol, 9)  # reported values are decimal: 3.0 − 2.9 must count as one full step of 0.1
    with np.errstate(invalid="ignore"):
        close = np.round(np.abs(np.diff(g)), 9) < tol
    out = []
    for a, b in runs(close, max(min_len - 1, 1)):
        s, e = a, b + 1  # values a..b
        seg = g[s:e]
        if round(float(seg.max() - seg.min()), 9) < tol:
            out.append((s, e))
            continue
        # slow creep inside a run of small steps: split greedily where the range reaches tol
        i = s
        while i < e:
            lo = hi = g[i]
            j = i + 1
            while j < e and round(float(max(hi, g[j]) - min(lo, g[j])), 9) < tol:
                lo, hi = min(lo, g[j]), max(hi, g[j])
                j += 1
            if j - i >= min_len:
                out.append((i, j))
            i = j
    return out


def _reported_step(g: np.ndarray, row: Any) -> float:
    """TMP-03's default tolerance: the reporting resolution, so that only identical reported values
    count as equal. That is the parameter table's step (1 µg/m³, CO 0.1 mg/m³, CODMn 0.1 mg/L), or the
    series' own step where it reports finer (a CODMn analyser transmitting 2.53, 2.57, 2.62 mg/L has not
    held its value, although the three agree to the table's 0.1)."""
    table = row.resolution if row is not None and row.resolution > 0 else 0.0
    if table > 0:  # the usual case, in one pass: every value a multiple of the table's step
        v = g[np.isfinite(g)] / table
        if np.all(np.abs(v - np.round(v)) < 1e-6):
            return table
    own = reporting_resolution(g)
    if own > 0 and (table == 0 or own < table):
        return own
    return table if table > 0 else 1e-9


@detector(
    "TMP-03",
    name="flat line",
    family="tmp",
    targets=["stuck sensor", "signal substitution or simulation (B4)", "edited series"],
    params={
        "suspect_hours": Param(None, "h", "run length that is suspect; None: 6 h for particulates, 12 h for gas analysers"),
        "fail_factor": Param(2.0, "×", "a run of fail_factor × suspect_hours is FAIL"),
        "tolerance": Param(None, "unit of the value", "values closer than this count as equal; None: the reporting "
                           "resolution (1 µg/m³, CO 0.1 mg/m³, or the series' own finer step), i.e. identical "
                           "reported values"),
        "exempt_below_detection": Param(True, "", "runs at or below the parameter's detection level are not reported"),
        "min_resolutions": Param(20.0, "× resolution", "runs at a level below this many reporting steps are exempt unless "
                                 "improbable for the station (see alpha): there one step is ≥ 5 % of the value, and real "
                                 "air reads flat (CO < 2.0 mg/m³, others < 20 µg/m³)"),
        "alpha": Param(0.03, "expected runs", "FAIL when the station's own persistence at that level makes a run this long "
                       "expected fewer than alpha times in the series (None: off); about alpha false FAILs per series"),
        "min_fail_hours": Param(12.0, "h", "… and the run lasts at least this long (half a day; the gas period T)"),
        "context": Param(True, "", "condition the station's persistence on what moved around it at each hour: the "
                         "neighbours' median of the same parameter and a companion parameter of the station"),
        "min_band_pairs": Param(72, "hour pairs", "a run at or below the detection level is reported (when improbable) "
                                "only where the station's own history holds this many hour pairs near its value (3 days):"
                                " a station seldom at its floor says nothing about how long it stays there"),
        "max_km": Param(30.0, "km", "neighbours within this distance form the context median"),
        "companion_ln": Param(0.15, "ln units", "a companion's hourly change of at least this (×1.16) counts as moving"),
        "drift_ln": Param(0.3, "ln units", "context: the neighbours' median has drifted by at least this (×1.35) on the "
                          "log scale, and by two reporting steps, since the station's value last changed — a slow "
                          "drift moves the air under a station that does not (None: off)"),
        "calm_air": Param(True, "", "a run whose neighbours' median stays within two reporting steps of the held value and moves "
                          "by at most two steps over it is SUSPECT, not FAIL: the air around held too, to the "
                          "analyser's resolution"),
    },
)
def flat_line(series: Series, ctx: Context, *, suspect_hours: float | None, fail_factor: float, tolerance: float | None,
              exempt_below_detection: bool, min_resolutions: float, alpha: float | None,
              min_fail_hours: float, context: bool, min_band_pairs: int, max_km: float,
              companion_ln: float, drift_ln: float | None = 0.3, calm_air: bool = True) -> list[Finding]:
    """Runs of values that do not change for ``suspect_hours`` or longer (catalogue TMP-03).

    ioos_qc ``flat_line_test`` (rolling range below tolerance for longer than a period) and SaQC
    ``flagConstants``; the catalogue's periods: particulates T = 6 h, gases 12 h, tolerance = the
    reporting resolution; ≥ T → SUSPECT, ≥ ``fail_factor`` × T → FAIL. A run cannot span a gap (ioos
    design). Gas runs at or below the detection level (SO2 ≤ 3, NO2/O3 ≤ 2 µg/m³, CO ≤ 0.2 mg/m³) and
    particulate runs at or below 2–3 µg/m³ are exempt: clean air reads flat at the floor of the
    analyser (qc_fraud.md §D.2: runs of ≥ 6 identical PM2.5 hours cover 0.46 % of real station-hours).

    How long a genuine series stays on one reported value depends on the analyser and the level,
    not on the pollutant alone: on clean Hebei 2019 data NO2 never repeats a value for more than
    15 h (and never 9 h above 10 µg/m³), while SO2 at 5–10 µg/m³ repeats for up to 34 h and some
    stations' CO at 0.5–1.0 mg/m³ for 51 h. So besides the catalogue's fixed periods a run is
    judged against the **station's own persistence** at its level: over the rest of the series,
    among consecutive hours both within ±max(2 steps, 25 %) of the run's value, p = P(no change)
    and p₁ = P(no change | no change the hour before) (a Markov chain, so the station's
    persistence of quantised low values is allowed for; Laplace-smoothed), and
    E = pairs · p · p₁^(L − 2) is the number of runs of L values the series would show by chance.
    A run of ≥ ``min_fail_hours`` with E < ``alpha`` is FAIL, whatever its level (above the
    detection level) — a stuck or simulated value at a level where the analyser normally moves;
    the catalogue's rule stays too (≥ ``fail_factor`` × T at levels of ≥ ``min_resolutions``
    steps is FAIL: the reference excludes only the run judged, so a station's other stuck runs
    could otherwise make a new one look ordinary). Runs below ``min_resolutions`` steps that are
    not improbable stay exempt. Measured on clean Hebei 2019 (53 stations × 6 months, the whole
    benchmark): TMP-03 level-2 alarms 36 against 31 with the fixed rule alone, while 19 of the
    injector's 20 ``flat`` windows (12–48 h, gases at 6–21 µg/m³ included) fail, against 16 before;
    the one left is SO2 at 6 µg/m³ for 13 h at a station whose SO2 repeats for up to 40 h.

    **Context** (``context``): whether a reading stays on its value for another hour depends on
    what the air does around it. Each hour is put in a class by how far the median of the
    neighbours (within ``max_km``) moved in the same parameter — under one reporting step, one to
    three, three or more — and whether the station's companion parameter
    (:data:`FLAT_COMPANIONS`: CO with NO2, the others with CO, same sources) changed by at least
    ``companion_ln`` on the log scale; p₁ is then estimated per class from the station's own
    transitions, and the run's probability is the product of p₁ of its hours' classes. A genuine
    flat run at the analyser's floor comes with quiet neighbours and companions, where the station
    repeats itself; a stuck or simulated value holds while the neighbours and the companion move,
    hours at which the station's own history says it rarely stays. Measured on clean Hebei 2019:
    of its 572 genuine runs of ≥ 12 h at under 20 steps, and 300 random windows of 12–48 h held at
    their last value at such levels, E < 0.001 flags 8 genuine and 188 held without the context,
    8 and 212 with it; E < 0.03 (the default ``alpha``: about 0.03 chance FAILs per series, the
    model being the station's own) 13 and 231 without, 17 and 256 with. With the context, an
    improbable run is reported at or below the detection level too, where the station's own
    history holds ``min_band_pairs`` hour pairs near that value (a station seldom at its floor
    says nothing about how long it stays there). On the whole benchmark (clean data): TMP-03
    level-2 alarms 36 → 47; ``flat`` windows found, 20 and 50 per seed: seed 2019 19 → 19 and
    48 → 49, seed 7 15 → 18 and 44 → 47, seed 31 18 → 19 and 46 → 48 (runs at CO 0.1–0.3 mg/m³
    or SO2 5–6 µg/m³ through quiet hours stay out: the station repeats itself there).

    **Drift** (``drift_ln``): the hourly classes miss an air mass that drifts by under one step an
    hour — the neighbours' CO climbing from 0.3 to 1.0 mg/m³ over a morning while a held 0.3 stays
    put reads as mostly quiet hours. So an hour also counts as *drifted* (its class + 6) when the
    neighbours' median stands ``drift_ln`` or more (on the log scale) and two reporting steps or
    more from where it was when the station's current value began; p₁ of the drifted classes comes
    from the station's own history like the others (a genuine low run seldom survives such a
    drift: the station follows its neighbours). The two steps keep the floor out, where one step
    (CO 0.1 → 0.2 mg/m³) is already ln 0.4. Measured on clean Hebei 2019 (the whole benchmark,
    ``flat`` 50 injections): level-≥ 2 alarms 263 → 262 (TMP-03 47 → 46); ``flat`` recall seed
    2019 0.98 → 0.98, seed 7 0.94 → 0.98, seed 31 0.96 → 0.96, precision held or up (0.172 →
    0.172, 0.166 → 0.171, 0.170 → 0.174). The runs left (SO2 6 µg/m³ for 13 h where the station's
    own genuine runs at 4–5 µg/m³ last 20–27 h, E ≈ 6; CO 0.1 mg/m³, the floor, where the
    injection changed 3 hours of a genuine 10-hour run, E ≈ 20; SO2 5 µg/m³ and CO 0.3 mg/m³ at
    E ≈ 0.05–0.09) are ordinary for their stations by every signal measured (neighbours, companion,
    drift, run length at that value).

    **Calm air** (``calm_air``): a FAIL run is SUSPECT instead when the neighbours' median (of at
    least two neighbours within ``max_km``, so that it speaks for the air and not for one other,
    itself quantised, analyser; known for at least half the run's hours) stays within two reporting
    steps of the held value and moves by no more than two steps over the whole run. The air around
    held too, to the resolution of an analyser (a concentration between two reporting steps reads
    ±1 step): the hourly classes can call such hours "moving" (the median steps by one step and
    back), but nothing happened that the station could have been expected to follow, so a held
    reading there is a notice, not evidence of a stuck or simulated value. A value held while the
    air moves by three steps or more (CO 0.3–0.6 around a held 0.4, PM2.5 around 40 µg/m³, CO
    climbing from 0.3 to 1.0) still fails. Measured on clean Hebei 2019 (the whole benchmark):
    TMP-03 level-≥ 2 alarms 46 → 45 (3131A CO 0.7 mg/m³ for 51 h, neighbours at 0.7–0.9);
    ``flat`` (50 injections) recall unchanged at 0.98/0.98/0.96 (seeds 2019/7/31), alarm precision
    0.197 → 0.198, 0.202 → 0.203, 0.203 → 0.204. A looser rule (the neighbours only within two
    steps of the held value, moving up to four) also made notices of O3 5 µg/m³ on a winter night,
    SO2 6 and CO 0.6 (46 → 42) without losing an injection, but it would call 0.3–0.6 around a held
    CO 0.4 calm — three steps, +50 % — which is air that moved; not kept.

    Findings: ``flat-line``. Score: run length / T. Evidence: the value, the run length in hours, T,
    tolerance, the persistence statistics (p, p₁ per context class, pairs in the band, E), and for a
    run judged improbable the neighbours' range over it (``calm_air``).
    """
    g, pos = _valid_grid(series)
    row = info(series, ctx)
    step_h = max(int(series.step_s), 1) / 3600
    T = float(suspect_hours) if suspect_hours is not None else (12.0 if (row and row.gas) else 6.0)
    tol = float(tolerance) if tolerance is not None else _reported_step(g, row)
    min_len = max(int(np.ceil(T / step_h)), 2)
    found = _flat_runs(g, tol, min_len)
    if not found:
        return []
    with np.errstate(invalid="ignore"):
        same = np.round(np.abs(np.diff(g)), 9) < tol  # NaN pairs: False
    out = []
    classes: np.ndarray | None = None
    nmed: np.ndarray | None = None
    for a, b in found:
        level = float(np.nanmedian(g[a:b]))
        below = exempt_below_detection and row is not None and level <= row.detection
        if below and not context:
            continue
        hours = (b - a) * step_h
        if context and alpha is not None and classes is None:
            classes = _flat_context(series, ctx, g, tol, max_km, companion_ln, drift_ln)
        stats = _persistence(g, same, a, b, level, tol, classes) if alpha is not None else None
        improbable = stats is not None and alpha is not None and stats["expected_runs"] < alpha and hours >= min_fail_hours
        if below and not (improbable and stats is not None and stats["pairs_in_band"] >= min_band_pairs):
            continue
        low = row is not None and row.log_offset > 0 and level < min_resolutions * tol
        if low and not improbable:
            continue  # a concentration quantised near zero (not a temperature or a pH)
        status = Status.FAIL if improbable or (hours >= fail_factor * T and not low) else Status.SUSPECT
        calm = None
        if status is Status.FAIL and calm_air and context:
            if nmed is None:
                nmed = _neighbour_median(series, ctx, g.size, max_km, min_count=2)
            calm = _calm_air(nmed, a, b, level, tol) if nmed is not None else None
            if calm is not None and calm["calm"]:
                status = Status.SUSPECT
        s, e = _rows(pos, a, b)
        out.append(Finding(s, e, status, "flat-line", hours / T,
                           {"value": level, "hours": hours, "suspect_hours": T, "fail_hours": fail_factor * T, "tolerance": tol,
                            "from_utc": int(series.times[s]), "persistence": stats, "alpha": alpha,
                            "min_fail_hours": min_fail_hours, "calm_air": calm,
                            "values_around": sample(g, max(a - 6, 0), min(b + 6, g.size), 48)}))
    return out


#: TMP-03's context companion of each parameter: a co-located parameter from the same sources
#: (traffic and combustion give CO and NO2; CO follows the particulates' and SO2's burning sources).
FLAT_COMPANIONS: dict[str, str] = {"a21005": "a21004", "a21004": "a21005", "a21026": "a21005", "a34004": "a21005",
                                   "a34002": "a21005", "a05024": "a21004"}


def _calm_air(med: np.ndarray, a: int, b: int, level: float, tol: float) -> dict[str, Any]:
    """Whether the air around held with the run [a, b) (TMP-03 ``calm_air``): the neighbours' median
    (``med``: of at least two neighbours, so that it speaks for the air and not for one other
    analyser, itself quantised) is known for at least half of the run's hours, every known hour lies
    within two reporting steps of the held value (level ± 2·tol), and its range over the run is at
    most two steps: the neighbourhood itself moved by no more than the quantisation of one analyser
    (a reading ±1 step around a value between two steps)."""
    w = 2 * tol
    seg = med[a:b]
    known = np.isfinite(seg)
    lo = float(np.nanmin(seg)) if known.any() else None
    hi = float(np.nanmax(seg)) if known.any() else None
    inside = bool(known.sum() * 2 >= seg.size and np.all(np.abs(seg[known] - level) <= w + 1e-9)
                  and hi is not None and lo is not None and round(hi - lo, 9) <= w)
    return {"calm": inside, "band": [round(level - w, 6), round(level + w, 6)], "neighbours_min": lo,
            "neighbours_max": hi, "hours_known": int(known.sum())}


def _run_start(g: np.ndarray, tol: float) -> np.ndarray:
    """For each consecutive pair (t, t + 1) of ``g``, the grid position where the run of equal values
    (within ``tol``) holding ``g[t]`` began (a gap starts a new run)."""
    with np.errstate(invalid="ignore"):
        same = np.round(np.abs(np.diff(g)), 9) < tol  # NaN pairs: False
    idx = np.arange(1, same.size + 1)
    return np.concatenate(([0], np.maximum.accumulate(np.where(same, 0, idx))))[:same.size]


def _neighbour_median(series: Series, ctx: Context, n: int, max_km: float,
                      min_count: int = 1) -> np.ndarray | None:
    """Median of the neighbours (within ``max_km``) of the same parameter at each of the ``n`` grid
    positions of ``series`` (NaN where fewer than ``min_count`` reported); None when the station has
    no such neighbour."""
    code = canonical(series.parameter)
    gt = series.times[0] + np.arange(n, dtype=np.int64) * max(int(series.step_s), 1)
    nbs = []
    for st, by_code in ctx.neighbours.items():
        km = ctx.distances_km.get(st)
        if st == ctx.station or (km is not None and float(km) > max_km):
            continue
        other = next((s for k, s in by_code.items() if canonical(k) == code and len(s)), None)
        if other is not None:
            nbs.append(_aligned(gt, other))
    if not nbs:
        return None
    mat = np.vstack(nbs)
    med = np.full(n, np.nan)
    ok = np.isfinite(mat).sum(axis=0) >= max(min_count, 1)
    if ok.any():
        med[ok] = nanmedian_rows(mat[:, ok].T)
    return med


def _flat_context(series: Series, ctx: Context, g: np.ndarray, tol: float, max_km: float,
                  companion_ln: float, drift_ln: float | None = None) -> np.ndarray:
    """Context class of each consecutive pair (t, t + 1) of the grid ``g`` (TMP-03): 0, 1 or 2 when
    the neighbours' median of the same parameter moved by under 1, 1 to 3, or 3 or more ``tol``
    steps, plus 3 when the companion (:data:`FLAT_COMPANIONS`) moved by ``companion_ln`` or more on
    the log scale, plus 6 (with ``drift_ln``) when the neighbours' median at t + 1 is ``drift_ln``
    or more away, on the log scale, from where it stood when the station's current value began
    (:func:`_run_start`): a drift of under one step an hour leaves the hourly classes quiet but,
    summed over a run, moves the air under the station; −1 where the neighbours' median is
    unknown (no neighbour, or a gap)."""
    n = g.size
    cls = np.full(max(n - 1, 0), -1, dtype=np.int8)
    if n < 2:
        return cls
    code = canonical(series.parameter)
    gt = series.times[0] + np.arange(n, dtype=np.int64) * max(int(series.step_s), 1)
    drifted: np.ndarray | None = None
    med = _neighbour_median(series, ctx, n, max_km)
    if med is not None:
        with np.errstate(invalid="ignore"):
            d = np.round(np.abs(np.diff(med)), 9)
            known = np.isfinite(d)
            cls[known] = (d[known] >= tol).astype(np.int8) + (d[known] >= 3 * tol).astype(np.int8)
        if drift_ln is not None:
            row = info(series, ctx)
            lm = log_values(med, row.log_offset if row and row.log_offset > 0 else 1.0)
            start = _run_start(g, tol)
            with np.errstate(invalid="ignore"):  # NaN (unknown): not drifted
                drifted = ((np.abs(lm[1:] - lm[start]) >= drift_ln)
                           & (np.round(np.abs(med[1:] - med[start]), 9) >= 2 * tol))
    comp = FLAT_COMPANIONS.get(code)
    other = next((s for k, s in ctx.series.items() if canonical(k) == comp and len(s)), None) if comp else None
    if other is not None:
        oc = info(other, ctx)
        x = log_values(_aligned(gt, other), oc.log_offset if oc and oc.log_offset > 0 else 1.0)
        with np.errstate(invalid="ignore"):
            moved = np.abs(np.diff(x)) >= companion_ln
        cls[(cls >= 0) & moved] += 3
    if drifted is not None:
        cls[(cls >= 0) & drifted] += 6
    return cls


def _persistence(g: np.ndarray, same: np.ndarray, a: int, b: int, level: float, tol: float,
                 classes: np.ndarray | None = None) -> dict[str, Any]:
    """The series' own persistence near ``level``, leaving out the run [a, b): consecutive pairs with
    both values within ±max(2·tol, 25 %) of the level, p = P(no change), p₁ = P(no change | no change
    the step before) (Laplace-smoothed), and the expected number of chance runs of b − a values.

    With ``classes`` (one context class per consecutive pair, :func:`_flat_context`) p₁ is estimated
    per class and the run's pairs after its first take the p₁ of their own class."""
    w = max(2 * tol, 0.25 * abs(level))
    with np.errstate(invalid="ignore"):
        near = np.abs(g - level) <= w  # NaN: False
    band = near[:-1] & near[1:]
    band[a:max(b - 1, a)] = False
    n_pairs = int(band.sum())
    n_same = int((band & same).sum())
    prev = np.concatenate(([False], same[:-1]))
    band2 = band & np.concatenate(([False], band[:-1]))
    n0 = int((band2 & prev).sum())
    n00 = int((band2 & prev & same).sum())
    p = (n_same + 1) / (n_pairs + 2)
    p1 = (n00 + 1) / (n0 + 2)
    out: dict[str, Any] = {"band": [round(level - w, 6), round(level + w, 6)], "pairs_in_band": n_pairs,
                           "p_same": round(p, 4), "p_same_after_same": round(p1, 4)}
    if classes is None or classes.size != same.size:
        expected = n_pairs * p * p1 ** max(b - a - 2, 0)
    else:
        run = classes[a + 1:max(b - 1, a + 1)]  # the run's pairs after its first
        log_p = 0.0
        per_class: dict[str, dict[str, float]] = {}
        base = band2 & prev
        for c in np.unique(run).tolist():
            sel = base & (classes == c)
            k = int((run == c).sum())
            pc = (int((sel & same).sum()) + 1) / (int(sel.sum()) + 2)
            log_p += k * float(np.log(pc))
            per_class[str(c)] = {"hours": k, "p_same_after_same": round(pc, 4), "transitions": int(sel.sum())}
        expected = n_pairs * p * float(np.exp(log_p))
        out["context_classes"] = per_class
    out["expected_runs"] = float(f"{expected:.3g}")
    return out
