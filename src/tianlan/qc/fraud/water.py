"""Water-station consistency (catalogue WAT-03, WAT-04; qc_fraud.md §A.6, §A.7, §F).

Channels (HJ 212 codes): w01018 COD / w01019 CODMn, w21003 NH3-N, w21011 TP, w21001 TN,
w01014 conductivity, w01003 turbidity, w01010 water temperature, w01009 DO, w01001 pH.

Network attributes (``ctx.attrs``): ``upstream`` and ``downstream`` — the adjacent stations on the
river, a station code or a list of codes (their series in ``ctx.neighbours``); ``travel_hours`` — the
flow time between adjacent stations, one number or a mapping station → hours (positive; water
reaches this station from an upstream one, or a downstream one from this, that many hours later).
Without ``travel_hours`` the lag is estimated from the data (the lag in 0–``max_lag_hours`` that best
correlates the two series' hour-to-hour changes) and the evidence says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tianlan.qc.core import Context, Finding, Param, Series, Status, detector
from tianlan.qc.fraud.spatial import (
    aligned,
    daily_medians,
    daily_shifts,
    iso_span,
    per_parameter,
    rolling_robust,
    runs,
    score01,
    slice_values,
    steps,
    trailing_median,
)
from tianlan.qc.fraud.spatial_notices import UPSHIFT_ABOVE_SHARE, UPSHIFT_WEIGHT, upshift_factor
from tianlan.qc.fraud.water_level import own_level_moved
from tianlan.qc.fraud.water_own import OWN_WEIGHT, own_verdict
from tianlan.qc.fraud.water_own import own_z as own_range_z
from tianlan.qc.fraud.water_steps import river_steps
from tianlan.qc.fraud.water_witness import middle_witness

COD, CODMN, NH3N, TP, TN = "w01018", "w01019", "w21003", "w21011", "w21001"
COND, TURB, TEMP, DO, PH = "w01014", "w01003", "w01010", "w01009", "w01001"
#: Channels that clean water lowers (dilution), in the order WAT-03 picks the one it reports on.
CHEMISTRY = (COND, CODMN, COD, NH3N, TP, TN, TURB)
#: Quantities compared by difference rather than ratio (not concentrations).
LINEAR = frozenset({TEMP, PH})


def network(ctx: Context, key: str) -> list[str]:
    """Stations named by ``ctx.attrs[key]`` (a code, a list of codes, or nothing)."""
    v = ctx.attrs.get(key)
    if v is None:
        return []
    if isinstance(v, str):
        return [p.strip() for p in v.split(",") if p.strip()]
    if isinstance(v, Sequence):
        return [str(p) for p in v if p]
    return [str(v)]


def _transform(code: str, x: np.ndarray) -> np.ndarray:
    if code in LINEAR:
        return x
    fin = x[np.isfinite(x) & (x > 0)]
    c = 0.01 * float(np.median(fin)) if fin.size else 1e-3
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.log(np.where(x > -c, x, np.nan) + c)


def estimate_lag(pairs: Sequence[tuple[np.ndarray, np.ndarray]], step_s: int, max_lag_hours: float) -> tuple[int, float]:
    """Lag (elements) in [0, max] that best correlates, averaged over the ``pairs`` of channels,
    the changes of ``x`` with those of ``y`` shifted later by it (x(t) ~ y(t − lag)); and that mean
    correlation. Slow channels (conductivity) say little alone; pooled with the fast ones
    (temperature's daily cycle, DO) the travel time stands out."""
    diffs = [(np.diff(x), np.diff(y)) for x, y in pairs]
    best, best_r = 0, -np.inf
    for lag in range(0, steps(max_lag_hours, step_s) + 1):
        rs = []
        for dx, dy in diffs:
            a = dx[lag:]
            b = dy[: dy.size - lag] if lag else dy
            ok = np.isfinite(a) & np.isfinite(b)
            if ok.sum() < 48:
                continue
            aa, bb = a[ok] - a[ok].mean(), b[ok] - b[ok].mean()
            den = float(np.sqrt((aa * aa).sum() * (bb * bb).sum()))
            if den > 0:
                rs.append(float((aa * bb).sum() / den))
        if rs and float(np.mean(rs)) > best_r:
            best, best_r = lag, float(np.mean(rs))
    return best, best_r


def travel_lag(series: Series, ctx: Context, station: str, direction: int, max_lag_hours: float, *,
               adjacent: bool = True) -> tuple[int, str, float]:
    """Travel time (s) between the station and an adjacent one: ``attrs["travel_hours"]`` or
    estimated from every parameter both measure; with its source and (estimated) mean correlation.
    ``adjacent`` False (a station further along the river): a single ``travel_hours`` number is the
    adjacent stations' and does not apply; only a mapping that names the station does."""
    hours = _travel(ctx, station) if adjacent or isinstance(ctx.attrs.get("travel_hours"), Mapping) else None
    if hours is not None:
        return int(round(hours * 3600 / series.step_s)) * series.step_s, "attrs.travel_hours", float("nan")
    nb = ctx.neighbours.get(station, {})
    common = [(code, own, nb[code]) for code, own in sorted(ctx.series.items())
              if code in nb and len(own) and len(nb[code])]
    if not common:
        return 0, "none", float("nan")
    # the estimate depends only on the two stations' data: computed once per pair of data sets
    key = (series.station, station, direction, series.step_s, max_lag_hours, int(series.times[0]), len(series),
           tuple((c, hash(o.values.tobytes()), hash(n.values.tobytes())) for c, o, n in common))
    got = _LAG_CACHE.get(key)
    if got is None:
        pairs = []
        for code, own, other in common:
            x = _transform(code, aligned(series.times, own))
            y = _transform(code, aligned(series.times, other))
            pairs.append((x, y) if direction < 0 else (y, x))
        lag, r = estimate_lag(pairs, series.step_s, max_lag_hours)
        if len(_LAG_CACHE) > 1024:
            _LAG_CACHE.clear()
        got = _LAG_CACHE[key] = (lag * series.step_s, r)
    return got[0], "estimated", got[1]


_LAG_CACHE: dict[tuple[Any, ...], tuple[int, float]] = {}


def _travel(ctx: Context, station: str) -> float | None:
    v = ctx.attrs.get("travel_hours")
    if isinstance(v, Mapping):
        got = v.get(station)
        return None if got is None else float(got)
    return None if v is None else float(v)


def reference(series: Series, ctx: Context, station: str, direction: int, *, max_lag_hours: float,
              adjacent: bool = True) -> dict[str, Any] | None:
    """A neighbour's series of the same parameter aligned on the checked series by travel time.

    ``direction`` −1 for an upstream station (its water arrives ``lag`` later: compare x(t) with
    u(t − lag)), +1 for a downstream one (compare x(t) with d(t + lag)).
    """
    nb = ctx.neighbours.get(station, {}).get(series.parameter)
    if nb is None or len(nb) == 0:
        return None
    lag_s, source, r = travel_lag(series, ctx, station, direction, max_lag_hours, adjacent=adjacent)
    raw = aligned(series.times, nb, shift_s=lag_s if direction < 0 else -lag_s)
    return {"station": station, "direction": "upstream" if direction < 0 else "downstream", "lag_h": lag_s / 3600,
            "lag_source": source, "lag_corr": None if not np.isfinite(r) else round(r, 3), "values": raw,
            "transformed": _transform(series.parameter, raw), "witness": not adjacent}


def witness(series: Series, ctx: Context, refs: Sequence[dict[str, Any]], *, max_lag_hours: float) -> dict[str, Any] | None:
    """A second reference for a station with one adjacent neighbour (the end of its river): the
    nearest other station among ``ctx.neighbours`` (``ctx.distances_km``) beyond that neighbour,
    aligned by its own travel time. A departure from the one neighbour cannot say which of the two
    moved; the station's agreement with the next one along the river can — a neighbour that was
    diluted, scaled or replaced departs from both, this station from neither."""
    if len(refs) != 1:
        return None
    ref = refs[0]
    d0 = ctx.distances_km.get(ref["station"])
    taken = {series.station, ref["station"]}
    cands = sorted((float(d), st) for st, d in ctx.distances_km.items()
                   if st not in taken and d is not None and (d0 is None or float(d) > float(d0))
                   and len(ctx.neighbours.get(st, {}).get(series.parameter, ())))
    if not cands:
        return None
    direction = -1 if ref["direction"] == "upstream" else 1
    return reference(series, ctx, cands[0][1], direction, max_lag_hours=max_lag_hours, adjacent=False)


# --- WAT-03 -----------------------------------------------------------------------------------


@detector(
    "WAT-03",
    name="clean-water signature",
    family="wat",
    targets=["B2 sample diluted with tap or tank water (4(6)); Shanghai 2022 case"],
    params={
        "min_drop": Param(0.3, "fraction", "a channel falls when it is this far below its baseline"),
        "min_channels": Param(3, "channels", "at least this many chemistry channels fall together …"),
        "min_share": Param(0.75, "fraction", "… and this share of those measured at the hour"),
        "baseline_days": Param(7.0, "d", "baseline: trailing median of each channel over these days"),
        "max_turbidity_rise": Param(0.2, "ln units", "turbidity may not rise more than this (rain dilutes and muddies)"),
        "temp_shift": Param(1.5, "°C", "water temperature off its baseline (or its upstream) by this: decoupled"),
        "min_hours": Param(3.0, "h", "hours in a row before a finding"),
        "max_lag_hours": Param(48.0, "h", "travel-time search range when attrs give none"),
    },
    systems=("water",),
    parameters=(COND, CODMN, COD, NH3N),
    history_s=10 * 86400,
)
def clean_water(series: Series, ctx: Context, *, min_drop: float, min_channels: int, min_share: float,
                baseline_days: float, max_turbidity_rise: float, temp_shift: float, min_hours: float,
                max_lag_hours: float) -> list[Finding]:
    """Hours when the chemistry falls together toward clean water (catalogue WAT-03).

    Each chemistry channel (COD/CODMn, NH3-N, TP, TN, conductivity, turbidity) is compared with its
    trailing median over ``baseline_days``; an hour qualifies when at least ``min_channels`` of
    them, ``min_share`` of those measured and COD or NH3-N among them, are ``min_drop`` or more
    below baseline and turbidity has not risen (rain dilutes too, but muddies the water); when
    conductivity is measured but did not fall (water of the river's own conductivity), the
    temperature must corroborate (organics and nutrients alone fall together naturally). When an
    upstream station measures the same channels and fell as much at the travel-time-lagged hour
    (and so did the downstream one, when there is one), the river changed, not the sample: no
    finding. Water temperature moving ``temp_shift`` off its baseline (or away from the upstream
    temperature) — tank water that no longer follows the river — corroborates (score ×1.25).
    Reported once, on the first measured of conductivity, CODMn, COD, NH3-N. SUSPECT; score 0.8
    when the pooled drop just reaches ``min_drop``, 1 at 1.25 × it.
    """
    t = series.times
    present = {c: (series.values if c == series.parameter else aligned(t, ctx.series[c]))
               for c in CHEMISTRY if c == series.parameter or (c in ctx.series and len(ctx.series[c]))}
    primary = next((c for c in (COND, CODMN, COD, NH3N) if c in present), None)
    if primary != series.parameter or len(present) < min_channels or not ({COD, CODMN, NH3N} & set(present)):
        return []
    width = steps(baseline_days * 24, series.step_s)
    drop = np.log(1.0 - min_drop)
    d: dict[str, np.ndarray] = {}
    for c, v in present.items():
        base = trailing_median(v, width, min_count=width // 4)
        with np.errstate(invalid="ignore", divide="ignore"):
            d[c] = np.log(np.where(v > 0, v, np.nan) / np.where(base > 0, base, np.nan))
    chem = [c for c in d if c != TURB]
    mat = np.vstack([d[c] for c in chem])
    with np.errstate(invalid="ignore"):
        falls = mat <= drop
    n_meas = np.isfinite(mat).sum(axis=0)
    n_fall = falls.sum(axis=0)
    key = np.zeros(t.size, dtype=bool)
    for c in (COD, CODMN, NH3N):
        if c in chem:
            key |= falls[chem.index(c)]
    with np.errstate(invalid="ignore", divide="ignore"):
        cand = (n_fall >= min_channels) & (n_fall >= min_share * n_meas) & key
        if TURB in d:
            cand &= ~(d[TURB] > max_turbidity_rise)
    up = network(ctx, "upstream")
    out: list[Finding] = []
    temp = aligned(t, ctx.series[TEMP]) if TEMP in ctx.series and len(ctx.series[TEMP]) else None
    for s, e in runs(cand, steps(min_hours, series.step_s), steps(1, series.step_s), n_meas == 0):
        sel = cand[s:e]
        pooled = float(np.nanmedian(np.where(falls[:, s:e][:, sel], mat[:, s:e][:, sel], np.nan)))
        keys = [c for c in chem if c in (COND, COD, CODMN, NH3N)]
        river = _neighbour_drop(series, ctx, up, -1, keys, s, e, width, max_lag_hours)
        below = _neighbour_drop(series, ctx, network(ctx, "downstream"), +1, keys, s, e, width, max_lag_hours)
        if river is not None and river["pooled_ln"] <= drop and (below is None or below["pooled_ln"] <= drop):
            continue  # the river fell above (and below) as well: a river event, not the sample
        decoupled, temp_ev = _temperature(series, ctx, temp, up, s, e, width, temp_shift, max_lag_hours)
        cond_fell = None
        if COND in d:
            cond_fell = bool(np.nanmedian(d[COND][s:e][sel]) <= drop) if np.isfinite(d[COND][s:e][sel]).any() else None
            if cond_fell is False and not decoupled:
                # organics and nutrients can fall together in the river; water of the river's own
                # conductivity is possible but then the temperature must betray the tank
                continue
        effect = -pooled * (1.25 if decoupled else 1.0)
        a, b = max(0, s - 24), min(t.size, e + 24)
        out.append(Finding(s, e, Status.SUSPECT, "WAT-03 chemistry fell together toward clean water"
                           + (" and the water temperature left the river's" if decoupled else ""),
                           score01(effect, -drop), {
                               **iso_span(series, s, e), "station": series.station,
                               "context_window": iso_span(series, a, b),
                               "inputs": {c: slice_values(v, a, b) for c, v in present.items()},
                               "drop_ln": {c: slice_values(v, s, e, 3) for c, v in d.items()},
                               "pooled_drop_ln": round(pooled, 3), "dilution_share_estimate": round(1 - float(np.exp(pooled)), 3),
                               "channels_falling_median": int(np.median(n_fall[s:e][sel])),
                               "upstream": river, "downstream": below, "temperature": temp_ev,
                               "conductivity_fell": cond_fell,
                               "thresholds": {"min_drop": min_drop, "min_channels": min_channels, "min_share": min_share,
                                              "baseline_days": baseline_days, "max_turbidity_rise": max_turbidity_rise,
                                              "temp_shift": temp_shift, "min_hours": min_hours},
                           }))
    return out


def _neighbour_drop(series: Series, ctx: Context, stations: list[str], direction: int, codes: list[str], s: int, e: int,
                    width: int, max_lag_hours: float) -> dict[str, Any] | None:
    """How far adjacent stations' same channels fell at the travel-time-lagged hours (median over
    channels); ``direction`` −1 upstream, +1 downstream."""
    drops, used = [], []
    for st in stations:
        for c in codes:
            proxy = Series(series.station, c, series.times,
                           series.values if c == series.parameter else aligned(series.times, ctx.series[c]),
                           step_s=series.step_s)
            ref = reference(proxy, ctx, st, direction, max_lag_hours=max_lag_hours)
            if ref is None:
                continue
            v = ref["values"]
            base = trailing_median(v, width, min_count=width // 4)
            with np.errstate(invalid="ignore", divide="ignore"):
                dd = np.log(np.where(v > 0, v, np.nan) / np.where(base > 0, base, np.nan))[s:e]
            if np.isfinite(dd).any():
                drops.append(float(np.nanmedian(dd)))
                used.append({"station": st, "parameter": c, "lag_h": ref["lag_h"], "lag_source": ref["lag_source"],
                             "drop_ln": round(drops[-1], 3), "values": slice_values(v, s, e)})
    if not drops:
        return None
    return {"pooled_ln": round(float(np.median(drops)), 3), "channels": used}


def _temperature(series: Series, ctx: Context, temp: np.ndarray | None, up: list[str], s: int, e: int, width: int,
                 temp_shift: float, max_lag_hours: float) -> tuple[bool, dict[str, Any] | None]:
    if temp is None or not np.isfinite(temp[s:e]).any():
        return False, None
    ts = Series(series.station, TEMP, series.times, temp, step_s=series.step_s)
    ev: dict[str, Any] = {"values": slice_values(temp, s, e)}
    for st in up:
        ref = reference(ts, ctx, st, -1, max_lag_hours=max_lag_hours)
        if ref is None:
            continue
        diff = temp - ref["values"]
        base = trailing_median(diff, width, min_count=width // 4)
        shift = float(np.nanmedian((diff - base)[s:e])) if np.isfinite((diff - base)[s:e]).any() else float("nan")
        ev.update({"against": st, "upstream_values": slice_values(ref["values"], s, e),
                   "shift_c": round(shift, 2) if np.isfinite(shift) else None})
        return bool(abs(shift) >= temp_shift), ev
    base = trailing_median(temp, width, min_count=width // 4)
    dev = (temp - base)[s:e]
    shift = float(np.nanmedian(dev)) if np.isfinite(dev).any() else float("nan")
    ev.update({"against": "own baseline", "shift_c": round(shift, 2) if np.isfinite(shift) else None})
    return bool(abs(shift) >= temp_shift), ev


# --- WAT-04 -----------------------------------------------------------------------------------


@detector(
    "WAT-04",
    name="upstream/downstream coherence",
    family="wat",
    targets=["B1 interference at a water station (intake, sample, analyser)", "B2 dilution of the sample",
             "B3 parameter tampering (scaling)", "B4 copied or substituted data"],
    params={
        "z_threshold": Param(5.0, "robust z", "departure from every available neighbour beyond this …"),
        "min_departure": Param({TEMP: 1.0, PH: 0.3, "*": 0.2}, "ln units; °C, pH units",
                               "… and by at least this much, per parameter ('*': the others)"),
        "stable_z": Param(3.0, "robust z", "a neighbour whose own change exceeds this is not a stable reference"),
        "window_days": Param(7.0, "d", "trailing window of the residual's baseline (median, MAD)"),
        "guard_hours": Param(12.0, "h", "the baseline window ends this long before the hour"),
        "min_scale": Param(0.03, "ln units", "floor of the robust scale"),
        "min_hours": Param(3.0, "h", "hours in a row before a finding"),
        "max_lag_hours": Param(48.0, "h", "travel-time search range when attrs give none"),
        "shift_days": Param(3, "d", "level-shift test: median daily residual of the last this many days …"),
        "shift_ref_days": Param(14, "d", "… against the median of this many days before them"),
        "shift_min": Param({TEMP: 1.0, PH: 0.3, "*": 0.12}, "ln units; °C, pH units",
                           "… moved by at least this (0.12 ≈ ×0.89) …"),
        "shift_z": Param(5.0, "robust scales", "… and this many robust day-to-day scales, against every neighbour; 0: off"),
        "witness_share": Param(0.5, "share", "the station must also depart from the next station beyond an adjacent "
                               "one (river ends; between two neighbours, the nearest other station) by this share "
                               "of the thresholds (which side moved); 0: no witness"),
        "own_share": Param(0.5, "share", "an episode or level shift needs the station's own level to have moved the "
                           "same way by this share of its departure (shift) from the adjacent station (both "
                           "neighbours moving leave it level); 0: off"),
        "step_hours": Param(24.0, "h", "step test: the station's level over this many hours after an hour against "
                            "before it …; 0: off"),
        "step_min": Param(0.2, "ln units", "… its residual against every reference stepped by at least this "
                          "(concentrations; not temperature or pH, which weather moves in steps) …"),
        "step_spread": Param(0.4, "share", "… the residual steps against the references agree within this share "
                             "of their median …"),
        "step_own": Param(0.25, "share", "… and the station's own level stepped the same way by this share of it "
                          "(one reference: 1 − step_spread) …"),
        "step_z": Param(5.0, "standard errors", "… and this many standard errors of the residual's step"),
        "own_z": Param(2.0, "robust z", "an episode whose station's own deviation from its trailing median stays "
                       "under this many of its own robust scales (the references moved, not the station) is a "
                       "notice (score × own_weight); 0: off"),
        "own_weight": Param(OWN_WEIGHT, "", "score factor of such an episode (0.5: level 1 by the default policy)"),
        "upshift_weight": Param(UPSHIFT_WEIGHT, "", "score factor of an upward level shift of a concentration that "
                                "dilution lowers, which takes the station above its usual level against the adjacent "
                                "station (as SPA-01's): falsification lowers these readings, and the station's "
                                "references more often fell (diluted, rescaled) than it rose; 1: off"),
        "upshift_share": Param(UPSHIFT_ABOVE_SHARE, "", "an upward shift is a rise above the usual level when its "
                               "recent level lies this share of the shift or more above the median daily residual "
                               "before the reference days"),
    },
    systems=("water",),
    history_s=21 * 86400,
)
def river_coherence(series: Series, ctx: Context, *, z_threshold: float, min_departure: float | Mapping[str, float],
                    stable_z: float, window_days: float, guard_hours: float, min_scale: float, min_hours: float,
                    max_lag_hours: float, shift_days: int, shift_ref_days: int, shift_min: float | Mapping[str, float],
                    shift_z: float, witness_share: float = 0.5, own_share: float = 0.5, step_hours: float = 24.0,
                    step_min: float | Mapping[str, float] = 0.2, step_spread: float = 0.4, step_own: float = 0.25,
                    step_z: float = 5.0, own_z: float = 2.0, own_weight: float = OWN_WEIGHT,
                    upshift_weight: float = UPSHIFT_WEIGHT, upshift_share: float = UPSHIFT_ABOVE_SHARE) -> list[Finding]:
    """Hours when the station departs from its upstream and downstream stations (catalogue WAT-04).

    For each adjacent station in ``attrs["upstream"]``/``["downstream"]`` that measures the
    parameter, the residual ``g(x(t)) − g(u(t − lag))`` (or ``− g(d(t + lag))`` downstream; g = ln
    for concentrations, identity for temperature and pH) is standardised by its own trailing
    baseline (median and MAD over ``window_days``, ending ``guard_hours`` before). An hour
    qualifies when the station departs from **every** available neighbour in the same direction
    by ``z_threshold`` and ``min_departure``, and each neighbour was itself stable (its own change
    against its trailing median within ``stable_z``): a change at the station that the river above
    and below does not show —
    interference at the intake, a diluted sample, a changed slope. A persistent change is also
    found as a level shift: the daily residuals' median over the last ``shift_days`` moved from the
    ``shift_ref_days`` before by ``shift_min`` and ``shift_z`` robust day-to-day scales against
    every neighbour. A station at the end of its river has one adjacent neighbour: a departure from
    it cannot say which of the two moved. The next station beyond that neighbour (nearest in
    ``ctx.distances_km``, travel time estimated unless ``attrs["travel_hours"]`` maps it) is then a
    **witness**: the station must depart from it too — by ``witness_share`` of the thresholds and
    of its departure (or shift) from the adjacent one — so a diluted, scaled or replaced neighbour
    is not blamed on the end station (it departs from the neighbour only). A station between two
    neighbours gets one too, the nearest other station of the river
    (:func:`~tianlan.qc.fraud.water_witness.middle_witness`): when both neighbours moved in the
    same days, it departs from both but not from the station beyond them. References carry
    ``witness``; without a witness the evidence says ``single_reference``. Its own series must
    also have moved (``own_share``, :mod:`tianlan.qc.fraud.water_level`): an episode hour departs
    from its own trailing median by that share of its departure from the adjacent station, a
    level shift moved its own daily level by that share of the residual's shift. A **step**
    (:func:`~tianlan.qc.fraud.water_steps.river_steps`; ``step_*``, concentrations): the residual
    against every reference steps by ``step_min`` within an hour or two and stays a day, the steps
    agree and the station's own level went the same way: a setting changed while a neighbour had
    been rescaled for days (the level-shift test's two-week reference then holds the neighbour's
    change). An episode whose station's own series stayed within its usual range — its deviation
    from its trailing median under ``own_z`` of its own robust scales over the hours
    (:mod:`tianlan.qc.fraud.water_own`) — is a notice (score × ``own_weight``, evidence
    ``own_range`` with the rule): the references moved (an adjacent station and the witness diluted
    in the same days) while the station only swung as it does of its own accord.
    Evidence ``kind``: episode, level shift or step.
    SUSPECT; score 0.8 at ``z_threshold`` (median of the smaller |z|; with a witness, of the
    adjacent stations' |z|), 1 at 1.25 × it.
    """
    refs = [r for st in network(ctx, "upstream") if (r := reference(series, ctx, st, -1, max_lag_hours=max_lag_hours))]
    refs += [r for st in network(ctx, "downstream")
             if (r := reference(series, ctx, st, +1, max_lag_hours=max_lag_hours))]
    if not refs:
        return []
    if witness_share > 0 and ((w := witness(series, ctx, refs, max_lag_hours=max_lag_hours)) is not None
                              or (w := middle_witness(series, ctx, refs, max_lag_hours=max_lag_hours)) is not None):
        refs.append(w)
    min_dep = per_parameter(min_departure, series.parameter) or 0.0
    x = _transform(series.parameter, series.values)
    window_s = window_days * 86400.0
    knot_s = 6 * 3600.0
    min_count = max(24, int(window_s / max(series.step_s, 1) / 4))
    width = steps(window_days * 24, series.step_s)
    zs, ok_all = [], np.ones(x.size, dtype=bool)
    for ref in refs:
        r = x - ref["transformed"]
        base, scale = rolling_robust(series.times, r, window_s, step_s=series.step_s, knot_s=knot_s,
                                     min_count=min_count, min_scale=min_scale, trailing_guard_s=guard_hours * 3600.0)
        z = (r - base) / scale
        dep = r - base
        # the neighbour's own change against its trailing median: a neighbour in upheaval is no reference
        own = ref["transformed"] - trailing_median(ref["transformed"], width, min_count=width // 4)
        _, own_scale = rolling_robust(series.times, own, window_s, step_s=series.step_s, knot_s=knot_s,
                                      min_count=min_count, min_scale=min_scale, trailing_guard_s=guard_hours * 3600.0)
        with np.errstate(invalid="ignore"):
            stable = np.abs(own / own_scale) <= stable_z
        ref.update({"z": z, "departure": dep, "stable": stable})
        zs.append(z)
        ok_all &= np.isfinite(z)
    zmat = np.vstack(zs)
    own_dev: np.ndarray | None = None  # the station against its own past (computed when needed)
    own_zs: np.ndarray | None = None  # … in its own robust scales (computed when needed)
    own_z_thr = float(own_z)
    out: list[Finding] = []
    for sign in (-1.0, 1.0):
        with np.errstate(invalid="ignore"):
            m = ok_all.copy()
            for ref in refs:
                if ref["witness"]:  # which side moved: the station departs from the witness too, by a
                    # share of the thresholds and of its departure from the adjacent station (a
                    # moved neighbour: a departure from it alone)
                    m &= ((sign * ref["z"] > witness_share * z_threshold) & ref["stable"]
                          & (sign * ref["departure"] >= witness_share * np.maximum(min_dep, sign * refs[0]["departure"])))
                else:
                    m &= (sign * ref["z"] > z_threshold) & (sign * ref["departure"] >= min_dep) & ref["stable"]
            if own_share > 0:  # the station left its own level too: both neighbours moving leave it level
                if m.any():
                    if own_dev is None:
                        own_dev = x - trailing_median(x, width, min_count=width // 4)
                    m &= sign * own_dev >= own_share * sign * refs[0]["departure"]
        for s, e in runs(m, steps(min_hours, series.step_s), steps(1, series.step_s), ~ok_all):
            sel = m[s:e]
            # with a witness (held to a share of the thresholds) the adjacent station's |z| scores
            zk = zmat[:-1] if refs[-1]["witness"] else zmat
            zmin = float(np.median(np.min(np.abs(zk[:, s:e][:, sel]), axis=0)))
            score = score01(zmin, z_threshold)
            own_ev: dict[str, Any] | None = None
            if own_z_thr > 0:  # the station's own series within its usual range: the references moved
                if own_zs is None:
                    own_zs = own_range_z(series.times, x, series.step_s, window_days=window_days, guard_hours=guard_hours,
                                         min_scale=min_scale)
                own_ev = own_verdict(own_zs, s, e, sel, sign, own_z_thr)
                if not own_ev["moved"]:
                    score = round(score * own_weight, 4)
                    own_ev["rule"] = "own series within its usual range: a notice (the references moved)"
            out.append(Finding(s, e, Status.SUSPECT,
                               f"WAT-04 {series.parameter} {'below' if sign < 0 else 'above'} the river up- and downstream",
                               score, {
                                   **iso_span(series, s, e), "station": series.station,
                                   "values": slice_values(series.values, s, e),
                                   "references": [{"station": ref["station"], "direction": ref["direction"],
                                                   "witness": ref["witness"], "lag_h": ref["lag_h"],
                                                   "lag_source": ref["lag_source"],
                                                   "lag_corr": ref["lag_corr"], "values": slice_values(ref["values"], s, e),
                                                   "z": slice_values(ref["z"], s, e, 2),
                                                   "departure": round(float(np.nanmedian(ref["departure"][s:e][sel])), 4)}
                                                  for ref in refs],
                                   "scale": "difference" if series.parameter in LINEAR else "ln ratio",
                                   "kind": "episode", "single_reference": len(refs) == 1, "own_range": own_ev,
                                   "thresholds": {"z_threshold": z_threshold, "min_departure": min_dep,
                                                  "stable_z": stable_z, "window_days": window_days,
                                                  "guard_hours": guard_hours, "min_hours": min_hours},
                               }))
    smin = per_parameter(shift_min, series.parameter)
    if shift_z > 0 and shift_days > 0 and smin is not None:
        out += _river_shifts(series, refs, x, shift_days=int(shift_days), shift_ref_days=int(shift_ref_days),
                             shift_min=smin, shift_z=shift_z, witness_share=witness_share, own_share=own_share,
                             upshift_weight=upshift_weight, upshift_share=upshift_share)
    stmin = per_parameter(step_min, series.parameter)
    if step_hours > 0 and stmin is not None and series.parameter not in LINEAR:
        out += river_steps(series, refs, x, step_hours=step_hours, step_min=stmin, step_spread=step_spread,
                           step_own=step_own, step_z=step_z, min_scale=min_scale)
    out.sort(key=lambda f: f.start)
    return out


def _river_shifts(series: Series, refs: list[dict[str, Any]], x: np.ndarray, *, shift_days: int, shift_ref_days: int,
                  shift_min: float, shift_z: float, witness_share: float = 0.5, own_share: float = 0.5,
                  upshift_weight: float = UPSHIFT_WEIGHT, upshift_share: float = UPSHIFT_ABOVE_SHARE) -> list[Finding]:
    """Persistent shifts of the station against every neighbour (daily medians of the residuals),
    where the station's own level moved the same way by ``own_share`` of the shift against the
    adjacent station (:func:`~tianlan.qc.fraud.water_level.own_level_moved`). An upward shift of a
    concentration that dilution lowers (:data:`CHEMISTRY`) whose recent level against the adjacent
    station lies ``upshift_share`` of the shift above its usual level there (the median daily
    residual before the reference days) is a notice, score × ``upshift_weight``
    (:func:`~tianlan.qc.fraud.spatial_notices.upshift_factor`, SPA-01's rule): the falsification a
    water station suffers lowers these channels, so a rise above the usual relation says the
    references fell (an adjacent station and the witness diluted or rescaled in the same days) or
    the water itself changed; a return from a lowered period keeps its weight."""
    per_ref = []
    for ref in refs:
        dm, day = daily_medians(series.times, x - ref["transformed"], series.step_s)
        eps = daily_shifts(dm, recent_days=shift_days, ref_days=shift_ref_days, min_ref_days=min(7, shift_ref_days),
                           min_shift=shift_min * (witness_share if ref["witness"] else 1.0),
                           z_threshold=shift_z * (witness_share if ref["witness"] else 1.0), min_scale=0.01)
        flags = np.zeros(dm.size, dtype=np.int8)
        for episode in eps:
            flags[episode["first_day"]:episode["last_day"] + 1] = episode["sign"]
        per_ref.append((ref, dm, eps, flags))
    both = per_ref[0][3].copy()
    for _, _, _, f in per_ref[1:]:
        both = np.where(both == f, both, 0)
    out: list[Finding] = []
    own_dm, day = daily_medians(series.times, x, series.step_s)
    for sign in (-1, 1):
        for d0, d1 in runs(both == sign, 1):
            s = int(np.searchsorted(day, d0))
            e = int(np.searchsorted(day, d1))
            if e <= s:
                continue
            shifts = []
            adjacent_ep: dict[str, Any] | None = None
            for ref, dm, eps, _ in per_ref:
                ep: dict[str, Any] | None = next((p for p in eps if p["first_day"] <= d1 - 1 and p["last_day"] >= d0
                                                   and p["sign"] == sign), None)
                if ep is not None:
                    if adjacent_ep is None and ref is per_ref[0][0]:
                        adjacent_ep = ep
                    shifts.append({"station": ref["station"], "direction": ref["direction"],
                                   "witness": ref["witness"], "lag_h": ref["lag_h"],
                                   "lag_source": ref["lag_source"], "shift": round(ep["shift"], 4),
                                   "scale": round(ep["scale"], 4), "daily_residual": slice_values(dm, d0, d1, 4),
                                   "values": slice_values(ref["values"], s, e)})
            if len(shifts) < len(per_ref):
                continue
            effects = [abs(p["shift"]) / max(shift_min, shift_z * p["scale"]) for p in shifts]
            effect = min(effects)
            if per_ref[-1][0]["witness"]:  # the adjacent station at the full thresholds, the witness
                # shifted by a share of that (a moved neighbour: a shift against it alone)
                if effects[0] < 1.0 or abs(shifts[-1]["shift"]) < witness_share * abs(shifts[0]["shift"]):
                    continue
                effect = effects[0]
            own_ev = None
            if own_share > 0:  # the station's own level moved too (both neighbours moving leave it level)
                own_ev = own_level_moved(own_dm, per_ref[0][1], d0, d1, sign, shift_days=shift_days,
                                         shift_ref_days=shift_ref_days, shift_min=shift_min, own_share=own_share)
                if not own_ev["moved"]:
                    continue
            usual: dict[str, Any] = {}
            factor = 1.0
            if sign > 0 and adjacent_ep is not None and series.parameter in CHEMISTRY:
                factor = upshift_factor(per_ref[0][1], adjacent_ep, ref_days=shift_ref_days,
                                        min_days=int(np.ceil(0.7 * shift_days)), weight=upshift_weight,
                                        share=upshift_share, ev=usual, notice="wat04_upshift_above_usual")
                if factor < 1.0:
                    usual["rule"] = ("a rise above the usual level against the river: a notice (falsification lowers "
                                     "this channel; the references fell or the water changed)")
            out.append(Finding(s, e, Status.SUSPECT,
                               f"WAT-04 {series.parameter} level shifted {'down' if sign < 0 else 'up'} against the river",
                               round(score01(effect, 1.0) * factor, 4), {
                                   **iso_span(series, s, e), "station": series.station, "kind": "level shift",
                                   "single_reference": len(per_ref) == 1,
                                   "values": slice_values(series.values, s, e), "references": shifts,
                                   "own_level": own_ev, "usual_level": usual or None,
                                   "thresholds": {"shift_days": shift_days, "shift_ref_days": shift_ref_days,
                                                  "shift_min": shift_min, "shift_z": shift_z, "own_share": own_share},
                               }))
    return out

