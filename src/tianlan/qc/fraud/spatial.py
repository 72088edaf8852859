"""Spatial consistency: a station against its neighbours (catalogue SPA-01, qc_fraud.md §F).

Also home of the small evidence helpers the other falsification families share (daily shifts,
scores, evidence slices, neighbour residuals); the array helpers (alignment, runs, robust rolling
baselines) are in :mod:`tianlan.qc.checks._common` and re-exported here.

Residual convention: ``r = ln(x + c) − median_k ln(y_k + c)`` where ``x`` is the station's value,
``y_k`` the neighbours' values at the same hour and ``c`` a per-parameter offset that keeps values
near the detection limit from producing huge log ratios (D.2(d) uses the same log-ratio residual).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from tianlan.qc.checks._common import (  # noqa: F401 - re-exported for cems, water and cross
    aligned,
    binned_robust_z,
    flank_median,
    grid_positions,
    nanmedian_rows,
    rolling_robust,
    runs,
    trailing_median,
    windows,
)
from tianlan.qc.core import Context, Finding, Param, Series, Status, detector
from tianlan.qc.fraud.pairs import PAIR_WEIGHT, sole_neighbour
from tianlan.qc.fraud.spatial_notices import (
    FLOOR_WEIGHT,
    UPSHIFT_ABOVE_SHARE,
    UPSHIFT_WEIGHT,
    ZERO_DRIFT,
    at_zero,
    upshift_factor,
)
from tianlan.qc.fraud.spatial_ox import OX_WEIGHT, OX_Z, ox_factor

#: Evidence weight of a SPA-01 finding above the neighbours (not the direction falsification takes).
UPWARD_WEIGHT = 0.5

#: The grid position helper under its former name (tianlan.qc.fraud.cems imports it from here).
grid_index = grid_positions

#: Offsets ``c`` of the log residual, in the unit of each parameter (µg/m³, CO mg/m³): about the
#: resolution of the analyser at the low end, so that 2 → 4 µg/m³ is not read as a doubling.
LOG_OFFSETS: dict[str, float] = {
    "a34004": 5.0,  # PM2.5
    "a34002": 10.0,  # PM10
    "a21026": 10.0,  # SO2: 1 µg/m³ resolution at summer levels of 5–10 µg/m³
    "a21004": 10.0,  # NO2
    "a05024": 40.0,  # O3: night-time titration to a few µg/m³ at one site is chemistry, not an anomaly
    "a21005": 0.4,  # CO, mg/m³: 0.1 mg/m³ resolution at the usual 0.4–1.0 mg/m³
}

_EVIDENCE_MAX = 72  # at most this many values of a slice go into an evidence payload


# --- shared helpers ----------------------------------------------------------------------------
# The array helpers (alignment, runs, row medians, robust rolling baselines) live in
# tianlan.qc.checks._common; they are re-exported here for the modules that import them from spatial.

def daily_medians(times: np.ndarray, x: np.ndarray, step_s: int, *, min_fraction: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Median of ``x`` per 24-h day counted from the first time, and each element's day index.

    A day with fewer than ``min_fraction`` of its expected values finite has no median (NaN).
    """
    if x.size == 0:
        return np.empty(0), np.empty(0, dtype=np.int64)
    idx, size = grid_index(times, step_s)
    per_day = max(1, int(round(86400 / max(step_s, 1))))
    nd = (size + per_day - 1) // per_day
    g = np.full(nd * per_day, np.nan)
    g[idx] = x
    m = g.reshape(nd, per_day)
    out = nanmedian_rows(m)
    out[np.isfinite(m).sum(axis=1) < max(1, int(min_fraction * per_day))] = np.nan
    return out, idx // per_day


def daily_shifts(dm: np.ndarray, *, recent_days: int, ref_days: int, min_ref_days: int, min_shift: float,
                 z_threshold: float, min_scale: float) -> list[dict[str, Any]]:
    """Persistent level shifts of a daily series against its own trailing reference.

    At each day ``j`` the median of the last ``recent_days`` daily values is compared with the
    median of the ``ref_days`` before them (the station's own recent season — only the past, so a
    change that persists does not hide in its own baseline). A day qualifies when the shift is at
    least ``min_shift`` and at least ``z_threshold`` robust scales. The scale is the day-to-day
    one, 1.4826·MAD of the reference's successive differences / √2 (floored at ``min_scale``):
    unlike the MAD of the levels it does not swell when the reference window itself straddles an
    earlier change. Consecutive qualifying days of one sign are merged; each episode is returned
    with its day range [first, last] (the recent window of the first qualifying day to the last
    qualifying day), the largest shift and the reference statistics.
    """
    nd = dm.size
    if nd == 0:
        return []
    span = recent_days + ref_days
    rows = windows(dm, np.arange(nd) + 1 - span, span)  # row j: days [j + 1 − span, j + 1)
    ref, cur = rows[:, :ref_days], rows[:, ref_days:]
    enough = (np.isfinite(cur).sum(axis=1) >= max(2, int(np.ceil(0.7 * recent_days)))) & \
             (np.isfinite(ref).sum(axis=1) >= min_ref_days)
    # the medians only of the days with enough data (the others never qualify; each row's median is
    # its own, so the values are those of all rows): in streaming, most of a 45-day window's days
    # lack a full reference
    m_ref = np.full(nd, np.nan)
    m_cur = np.full(nd, np.nan)
    sd = np.full(nd, np.nan)
    if enough.any():
        m_ref[enough] = nanmedian_rows(ref[enough])
        m_cur[enough] = nanmedian_rows(cur[enough])
    shift = m_cur - m_ref
    # the scale only where the shift reaches min_shift (no other day can qualify, and the scale is
    # reported only for qualifying days): most days of a window do not
    with np.errstate(invalid="ignore"):
        big = enough & (np.abs(shift) >= min_shift)
    if big.any():
        dref = np.diff(ref[big], axis=1)
        sd[big] = np.maximum(1.4826 * nanmedian_rows(np.abs(dref - nanmedian_rows(dref)[:, None])) / np.sqrt(2.0),
                             min_scale)
    with np.errstate(invalid="ignore"):
        hit = enough & (np.abs(shift) >= min_shift) & (np.abs(shift) >= z_threshold * sd)
    flags = np.where(hit, np.sign(shift), 0).astype(np.int8)
    out: list[dict[str, Any]] = []
    j = 0
    while j < nd:
        if flags[j] == 0:
            j += 1
            continue
        sign = flags[j]
        k = j
        while k + 1 < nd and flags[k + 1] == sign:
            k += 1
        best = j + int(np.argmax(np.abs(shift[j:k + 1])))
        out.append({"first_day": max(0, j - recent_days + 1), "last_day": k, "shift": float(shift[best]),
                    "scale": float(sd[best]), "reference_median": float(m_ref[best]),
                    "recent_median": float(m_cur[best]), "sign": int(sign)})
        j = k + 1
    return out


def score01(effect: float, threshold: float) -> float:
    """Evidence score on the alarm policy's [0, 1] scale: 0.8 when ``effect`` just reaches its
    ``threshold`` (a level-2 alarm by the default policy), rising linearly to 1 at 1.25 × it."""
    if not threshold > 0 or not np.isfinite(effect):
        return 1.0 if np.isfinite(effect) else 0.0
    return round(float(min(1.0, max(0.0, 0.8 * effect / threshold))), 4)


def per_parameter(value: float | Mapping[str, float] | None, code: str) -> float | None:
    """A setting given as one number or per parameter (``{"a34004": 0.25, "*": 0.4}``; ``*`` = others)."""
    if isinstance(value, Mapping):
        got = value.get(code, value.get(code.split(":")[0], value.get("*")))
        return None if got is None else float(got)
    return None if value is None else float(value)


def slice_values(values: np.ndarray, start: int, end: int, digits: int = 4) -> list[float | None]:
    """``values[start:end]`` (at most the first 72) as JSON-ready floats, None for missing."""
    v = values[start:min(end, start + _EVIDENCE_MAX)]
    return [None if not np.isfinite(x) else round(float(x), digits) for x in v]


def iso_span(series: Series, start: int, end: int) -> dict[str, int]:
    """The UTC epoch-second span [start, end) of an index range, for evidence payloads."""
    return {"start_utc": int(series.times[start]), "end_utc": int(series.times[end - 1]) + int(series.step_s)}


def steps(hours: float, step_s: int) -> int:
    """Number of records of a series with step ``step_s`` covering ``hours`` (at least 1)."""
    return max(1, int(round(hours * 3600.0 / max(step_s, 1))))


def select_neighbours(ctx: Context, code: str, max_km: float, max_neighbours: int) -> list[tuple[str, float | None, Series]]:
    """Neighbours that report ``code``, nearest first, within ``max_km`` where the distance is known.

    A neighbour whose distance the context does not give is kept (the runner chose it) and sorted
    last; evidence shows its distance as None.
    """
    out: list[tuple[str, float | None, Series]] = []
    for st, by_code in ctx.neighbours.items():
        if st == ctx.station or code not in by_code:
            continue
        d = ctx.distances_km.get(st)
        if d is not None and float(d) > max_km:
            continue
        out.append((st, None if d is None else float(d), by_code[code]))
    out.sort(key=lambda x: (x[1] is None, x[1] or 0.0, x[0]))
    return out[:max_neighbours]


def log_offset(code: str, offsets: Mapping[str, float] | None, values: np.ndarray) -> float:
    """The log offset ``c`` of ``code``: configured, else :data:`LOG_OFFSETS`, else 5 % of the median."""
    if offsets and code in offsets:
        return float(offsets[code])
    if code in LOG_OFFSETS:
        return LOG_OFFSETS[code]
    fin = values[np.isfinite(values)]
    return max(float(np.median(np.abs(fin))) * 0.05, 1e-6) if fin.size else 1.0


def neighbour_residual(series: Series, ctx: Context, *, max_km: float, max_neighbours: int, min_neighbours: int,
                       offsets: Mapping[str, float] | None = None) -> dict[str, Any] | None:
    """Log residual of the station against the median of its neighbours, hour by hour.

    Returns None when fewer than ``min_neighbours`` neighbours report the parameter; else a dict
    with ``r`` (residual, NaN where the station or too few neighbours have a value), ``nb_log_median``,
    ``matrix`` (neighbour values aligned on the series' times), ``ids``, ``distances`` and ``offset``.
    """
    # SPA-01, XV-02 and XV-03 all want the residuals of the station's parameters: computed once per
    # station (Context.cache), keyed by the values themselves and the settings
    key = ("neighbour_residual", series.parameter, series.times.size, int(series.times[0]) if len(series) else 0,
           hash(np.ascontiguousarray(series.values).tobytes()), float(max_km), int(max_neighbours), int(min_neighbours),
           None if offsets is None else tuple(sorted((str(k), float(v)) for k, v in offsets.items())))
    hit = ctx.cache.get(key)
    if hit is not None:
        return dict(hit[2])  # a new dict: callers add their own keys (z, baseline …); the arrays are shared, read-only
    n = len(series)
    res = None
    if n and ((offsets and series.parameter in offsets) or series.parameter in LOG_OFFSETS):
        longer = [v for k, v in ctx.cache.items() if isinstance(k, tuple) and len(k) == len(key)
                  and k[0] == key[0] and k[1] == key[1] and k[2] > n and k[5:] == key[5:]]
        res = _tail_of_longer(series, ctx, longer, max_km=max_km, max_neighbours=max_neighbours)
    if res is None:
        res = _neighbour_residual(series, ctx, max_km=max_km, max_neighbours=max_neighbours,
                                  min_neighbours=min_neighbours, offsets=offsets)
    if res is not None:
        # with the times and values it was computed on, so a shorter window can be cut from it
        ctx.cache[key] = (series.times.copy(), series.values.copy(), res)
        return dict(res)
    return None


def _tail_of_longer(series: Series, ctx: Context, longer: list[tuple[np.ndarray, np.ndarray, dict[str, Any]]],
                    *, max_km: float, max_neighbours: int) -> dict[str, Any] | None:
    """The residual of ``series`` cut from one computed over a longer window ending at the same
    time (same settings, same neighbours), or None.

    Streaming QC gives the contexts of one check a shared cache, and SPA-01 (45 days) computes the
    residuals that XV-03 (30 days) needs over its last 30: every quantity is per time step (the
    station's value and the neighbours' at that hour), so the tail is what a new computation gives
    — provided the station's values over the tail are those of the longer window (checked here),
    the neighbours are the same (checked) and the log offset does not depend on the window (the
    caller's condition: configured, or :data:`LOG_OFFSETS`)."""
    if not longer:
        return None
    n = len(series)
    nbs: list[str] | None = None
    for times, values, res in longer:
        if times.size < n or not np.array_equal(times[times.size - n:], series.times) or \
                not np.array_equal(values[values.size - n:], series.values, equal_nan=True):
            continue
        if nbs is None:
            nbs = [st for st, _d, _s in select_neighbours(ctx, series.parameter, max_km, max_neighbours)]
        if nbs != res["ids"]:
            continue
        k = times.size - n
        return {"r": res["r"][k:], "nb_log_median": res["nb_log_median"][k:], "matrix": res["matrix"][:, k:],
                "ids": res["ids"], "distances": res["distances"], "offset": res["offset"], "count": res["count"][k:]}
    return None


def _neighbour_residual(series: Series, ctx: Context, *, max_km: float, max_neighbours: int, min_neighbours: int,
                        offsets: Mapping[str, float] | None) -> dict[str, Any] | None:
    nbs = select_neighbours(ctx, series.parameter, max_km, max_neighbours)
    if len(nbs) < min_neighbours:
        return None
    c = log_offset(series.parameter, offsets, series.values)
    mat = np.vstack([aligned(series.times, s) for _, _, s in nbs])

    def median_and_count(m: np.ndarray) -> np.ndarray:
        """Per hour (column of ``m``): the neighbours' median log and how many have a value."""
        with np.errstate(invalid="ignore"):
            logs = np.log(np.where(m > -c, m, np.nan) + c)
        count = np.isfinite(logs).sum(axis=0)
        med = np.full(m.shape[1], np.nan)
        enough = count >= min_neighbours
        med[enough] = nanmedian_rows(logs[:, enough].T)
        return np.vstack([med, count])  # the counts are small integers: exact as floats

    both = median_and_count(mat)
    med = both[0].copy()
    count = both[1].astype(np.int64)
    with np.errstate(invalid="ignore"):
        own = np.log(np.where(series.values > -c, series.values, np.nan) + c)
    return {"r": own - med, "nb_log_median": med, "matrix": mat, "ids": [n[0] for n in nbs],
            "distances": [n[1] for n in nbs], "offset": c, "count": count}


def neighbour_z(series: Series, ctx: Context, *, max_km: float, max_neighbours: int, min_neighbours: int,
                window_days: float, min_scale: float, offsets: Mapping[str, float] | None = None) -> dict[str, Any] | None:
    """:func:`neighbour_residual` plus its robust rolling z (30-day median and MAD by default)."""
    res = neighbour_residual(series, ctx, max_km=max_km, max_neighbours=max_neighbours,
                             min_neighbours=min_neighbours, offsets=offsets)
    if res is None:
        return None
    window_s = window_days * 86400.0
    # knots every 2 days for the 30-day window (window / 15): neighbouring windows share 28 of their
    # 30 days, so the baseline moves by a fraction of its scale between knots and linear
    # interpolation loses nothing; daily knots doubled SPA-01's cost (two sorts of a window per knot)
    knot_s = max(float(series.step_s), min(2 * 86400.0, window_s / 15.0))
    min_count = max(24, int(window_s / max(series.step_s, 1) / 4))
    base, scale = rolling_robust(series.times, res["r"], window_s, step_s=series.step_s, knot_s=knot_s,
                                 min_count=min_count, min_scale=min_scale)
    res["baseline"] = base
    res["scale"] = scale
    res["z"] = (res["r"] - base) / scale
    return res


# --- SPA-01 -----------------------------------------------------------------------------------


@detector(
    "SPA-01",
    name="neighbour consistency",
    family="spa",
    targets=["B1 sampling interference (blocked, covered, sprayed inlet)", "B3 parameter tampering (scaling)",
             "B12 relocation or unapproved change"],
    params={
        "max_km": Param(30.0, "km", "neighbours farther than this are not used"),
        "max_neighbours": Param(8, "stations", "nearest neighbours used at most"),
        "min_neighbours": Param(1, "stations", "fewer neighbours with a value at an hour: no residual that hour (the"
                                " robust scale adapts to how noisy one neighbour is)"),
        "window_days": Param(30.0, "d", "centred window of the robust baseline (median and MAD) of the residual"),
        "z_threshold": Param(5.0, "robust z", "|z| beyond this is a deviating hour"),
        "min_hours": Param(6.0, "h", "deviating hours in a row (same sign) before an episode finding"),
        "max_gap_hours": Param(1.0, "h", "missing hours allowed inside a run"),
        "min_scale": Param(0.1, "ln units", "floor of the robust scale, so a very quiet residual cannot blow up z"),
        "min_log_ratio": Param(0.5, "ln units", "an episode's median departure must reach this too (×0.61 or ×1.65)"),
        "shift_days": Param(7, "d", "level-shift test: median residual of the last this many days …"),
        "shift_ref_days": Param(30, "d", "… against the median of this many days before them"),
        "shift_min_ln": Param({"a34004": 0.25, "a34002": 0.25, "*": 0.4}, "ln units",
                              "a shift must reach this, per parameter ('*': the others) — PM residuals are regional"
                              " and smooth (0.25 ≈ ×0.78), gas residuals move with local sources (0.4 ≈ ×0.67) …"),
        "shift_z": Param(3.0, "robust scales", "… and this many robust scales of the reference days; 0 disables the test"),
        "offsets": Param(None, "unit of the value", "per-parameter log offsets c; None = LOG_OFFSETS"),
        "titration": Param(True, "", "an O3 episode below the neighbours is dropped when at least half of the O3 lost"
                           " reappears as NO2 (NO from local traffic titrates O3 into NO2: chemistry, not the analyser)"),
        "pair_weight": Param(PAIR_WEIGHT, "", "score factor of an episode that rests on one neighbour (a pair: both"
                             " stations see the same disagreement mirrored; either may be the one); 1: off"),
        "upward_weight": Param(UPWARD_WEIGHT, "", "score factor of an episode above the neighbours: falsification lowers"
                               " an ambient reading, so a station above its neighbours for hours is a local source or a"
                               " fault — a notice by the default policy, not a warning; 1: off"),
        "floor_weight": Param(FLOOR_WEIGHT, "", "score factor of a gas episode below the neighbours in which the station"
                              " reads within its analyser's zero drift (floors): an analyser reporting its zero (an"
                              " unmarked zero check, a lost sample flow) is a fault, not a lowered reading; 1: off"),
        "floors": Param(dict(ZERO_DRIFT), "unit of the value", "per gas, the band above zero a reading cannot be told"
                        " from zero in (HJ 654-2013 24-h zero drift at 25 °C); parameters not named are not covered"),
        "upshift_weight": Param(UPSHIFT_WEIGHT, "", "score factor of an upward level shift that takes the station above"
                                " its usual level against the neighbours (before the reference days): a new local source,"
                                " an upward drift or a siting change, not the end of a lowered period"
                                " (tianlan.qc.fraud.spatial_notices); 1: off"),
        "ox_weight": Param(OX_WEIGHT, "", "score factor of an O3 or NO2 episode below the neighbours in which the"
                           " station's total oxidant Ox = O3 + NO2 (ppb) stays at its usual offset from the neighbours':"
                           " NO titrating O3 into NO2, or less local NO — chemistry, not a lowered reading"
                           " (tianlan.qc.fraud.spatial_ox); 1: off"),
        "ox_z": Param(OX_Z, "robust scales", "Ox counts as conserved when the episode's Ox residual lies at most this"
                      " many robust scales (and at most 0.25 ln) below the station's usual Ox offset"),
        "upshift_share": Param(UPSHIFT_ABOVE_SHARE, "", "an upward shift is a rise above the usual level when its recent"
                               " level lies this share of the shift or more above it"),
    },
    systems=("air",),
    history_s=45 * 86400,
)
def neighbour_consistency(series: Series, ctx: Context, *, max_km: float, max_neighbours: int, min_neighbours: int,
                          window_days: float, z_threshold: float, min_hours: float, max_gap_hours: float,
                          min_scale: float, min_log_ratio: float, shift_days: int, shift_ref_days: int,
                          shift_min_ln: float | Mapping[str, float], shift_z: float,
                          offsets: Mapping[str, float] | None, titration: bool,
                          pair_weight: float = PAIR_WEIGHT, upward_weight: float = UPWARD_WEIGHT,
                          upshift_weight: float = UPSHIFT_WEIGHT, upshift_share: float = UPSHIFT_ABOVE_SHARE,
                          floor_weight: float = FLOOR_WEIGHT, floors: Mapping[str, float] | None = ZERO_DRIFT,
                          ox_weight: float = OX_WEIGHT, ox_z: float = OX_Z) -> list[Finding]:
    """Episodes and persistent shifts of the station against the median of its neighbours (SPA-01).

    Residual ``r = ln(x+c) − median ln(y_k+c)`` over neighbours within ``max_km`` (at least
    ``min_neighbours`` with a value at the hour). Two findings, both SUSPECT:

    * **episode** — ``z = (r − median_30d(r)) / (1.4826·MAD_30d(r))`` beyond ±``z_threshold`` for
      ``min_hours`` hours in a row, with a median departure of at least ``min_log_ratio``. Single
      hours never alarm (D.2(a): 3.5–7.2 % of genuine hours have |z| > 3). Negative: blocked or
      sprayed inlet, neutralised gas; positive: a local source or up-scaling. Score = median |z|.
      An O3 episode below the neighbours is dropped (``titration``) when at least half of the O3
      the station lost against its expected level (neighbours' median × its usual offset) is
      there as surplus NO2: local NO turns O3 into NO2 at night and next to roads — chemistry,
      not the analyser (on clean Hebei 2019 a third of SPA-01's level-2 O3 episodes).

    An episode that rests on **one neighbour** (at most one reports at half its hours or more: a
    two-station city, or a third station without the parameter) is a pair's disagreement, raised
    mirrored at both stations; its score is multiplied by ``pair_weight`` (:mod:`tianlan.qc.fraud.pairs`),
    and its evidence says ``"pair_with"``. Level shifts keep their score: a persistent scaling at
    a two-station city is found by SPA-01's shift test alone (measured: 2 of 50 injected scalings).

    **Episodes above** the neighbours have their score multiplied by ``upward_weight``: every
    falsification of an ambient station lowers its reading (spraying, covering, a lowered slope,
    clipping, relocation to cleaner air: qc_fraud.md §A.1, §A.7), so a station above its
    neighbours for some hours is a local source (a boiler, a road, a building site) or an analyser
    fault — worth listing as a data-quality notice, not a fraud warning. Upward level shifts keep
    their weight unless they rise above the station's usual level: the end of a lowered period is
    one, and where the lowering began within the reference days it is the only trace of it
    (measured: weighting all of them cost 3 of 50 injected scalings).
    * **level shift** — the median daily residual of the last ``shift_days`` moved by at least
      ``shift_min_ln`` and ``shift_z`` robust scales from the ``shift_ref_days`` before (a changed
      slope or span — persistent scaling — or an unapproved relocation). Score: 0.8 when the shift
      just reaches its threshold, 1 at 1.25 × it.

    **Two more notices** (:mod:`tianlan.qc.fraud.spatial_notices`): an upward level shift whose
    recent level lies ``upshift_share`` of the shift or more above the station's usual level (the
    days before the reference days) — a new local source, an upward drift, a siting change — has
    its score multiplied by ``upshift_weight``; an episode below the neighbours in which a gas reads
    within its analyser's zero drift (``floors``, HJ 654) — an analyser reporting its zero — by
    ``floor_weight``. Both name their rule in the evidence (``"notice"``). A third
    (:mod:`tianlan.qc.fraud.spatial_ox`): an O3 or NO2 episode below the neighbours in which the
    station's total oxidant Ox = O3 + NO2 stays at its usual offset from the neighbours' (NO
    titrating O3, or less local NO: the deficit of one gas reappears in the other) has its score
    multiplied by ``ox_weight`` (notice ``spa01_ox_conserved``).
    """
    res = neighbour_z(series, ctx, max_km=max_km, max_neighbours=int(max_neighbours), min_neighbours=int(min_neighbours),
                      window_days=window_days, min_scale=min_scale, offsets=offsets)
    if res is None:
        return []
    thresholds = {"max_km": max_km, "min_neighbours": min_neighbours, "window_days": window_days,
                  "z_threshold": z_threshold, "min_hours": min_hours, "min_scale": min_scale,
                  "min_log_ratio": min_log_ratio, "shift_days": shift_days, "shift_ref_days": shift_ref_days,
                  "shift_min_ln": shift_min_ln, "shift_z": shift_z}
    z, r, base = res["z"], res["r"], res["baseline"]
    n_min = steps(min_hours, series.step_s)
    gap = steps(max_gap_hours, series.step_s) if max_gap_hours > 0 else 0
    missing = ~np.isfinite(z)
    out: list[Finding] = []
    for sign in (-1.0, 1.0):
        with np.errstate(invalid="ignore"):
            mask = sign * z > z_threshold
        for s, e in runs(mask, n_min, gap, missing):
            zz = z[s:e][mask[s:e]]
            dev = float(np.median((r[s:e] - base[s:e])[mask[s:e]]))
            if abs(dev) < min_log_ratio:
                continue
            share = None
            if titration and sign < 0 and series.parameter == O3_CODE:
                share = _titration_share(series, ctx, res, s, e, mask, max_km=max_km, max_neighbours=int(max_neighbours),
                                         min_neighbours=int(min_neighbours), window_days=window_days,
                                         min_scale=min_scale, offsets=offsets)
                if share is not None and share >= 0.5:
                    continue  # O3 turned into NO2 by local NO: at least half the O3 lost is there as NO2
            ev = _spa_evidence(series, res, s, e, thresholds)
            ev.update({"kind": "episode", "departure_ln": round(dev, 4), "departure_factor": round(float(np.exp(dev)), 3)})
            if share is not None:
                ev["no2_surplus_share_of_o3_shortfall"] = round(share, 3)
            weight = _pair_weight(res, s, e, mask, pair_weight, ev) * (upward_weight if sign > 0 else 1.0)
            zero = at_zero(series.values, s, e, mask, per_parameter(floors, series.parameter)) \
                if sign < 0 and floor_weight < 1 and floors else None
            if zero is not None:
                ev.update({"notice": "spa01_gas_at_zero", "station_median": round(zero, 3)})
                weight *= floor_weight
            elif sign < 0:
                weight *= ox_factor(series, ctx, res, s, e, mask, min_neighbours=int(min_neighbours), weight=ox_weight,
                                    z=ox_z, ev=ev)
            out.append(Finding(s, e, Status.SUSPECT,
                               "SPA-01 station below its neighbours" if sign < 0 else "SPA-01 station above its neighbours",
                               round(weight * score01(float(np.median(np.abs(zz))), z_threshold), 4), ev))
    min_shift = per_parameter(shift_min_ln, series.parameter)
    if shift_z > 0 and shift_days > 0 and min_shift is not None:
        dm, day = daily_medians(series.times, r, series.step_s)
        for ep in daily_shifts(dm, recent_days=int(shift_days), ref_days=int(shift_ref_days), min_ref_days=14,
                               min_shift=min_shift, z_threshold=shift_z, min_scale=0.03):
            s = int(np.searchsorted(day, ep["first_day"]))
            e = int(np.searchsorted(day, ep["last_day"] + 1))
            if e <= s:
                continue
            ev = _spa_evidence(series, res, s, e, thresholds)
            ev.update({"kind": "level shift", "shift_ln": round(ep["shift"], 4),
                       "shift_factor": round(float(np.exp(ep["shift"])), 3),
                       "reference_median_ln": round(ep["reference_median"], 4), "recent_median_ln": round(ep["recent_median"], 4),
                       "reference_scale_ln": round(ep["scale"], 4),
                       "daily_residual_ln": slice_values(dm, ep["first_day"], ep["last_day"] + 1, 3)})
            weight = upshift_factor(dm, ep, ref_days=int(shift_ref_days), min_days=int(np.ceil(0.7 * shift_days)),
                                    weight=upshift_weight, share=upshift_share, ev=ev)
            out.append(Finding(s, e, Status.SUSPECT,
                               "SPA-01 level shifted down against neighbours" if ep["sign"] < 0
                               else "SPA-01 level shifted up against neighbours",
                               round(weight * score01(abs(ep["shift"]), max(min_shift, shift_z * ep["scale"])), 4), ev))
    out.sort(key=lambda f: (f.start, f.end))
    return out


O3_CODE, NO2_CODE = "a05024", "a21004"


def _pair_weight(res: Mapping[str, Any], s: int, e: int, mask: np.ndarray, weight: float, ev: dict[str, Any]) -> float:
    """``weight`` when the finding over the ``mask`` hours of [s, e) rests on one neighbour (noted in
    ``ev`` as ``pair_with``), else 1."""
    if weight >= 1:
        return 1.0
    j = sole_neighbour(res["count"], res["matrix"], s, e, mask)
    if j is None:
        return 1.0
    ev["pair_with"] = res["ids"][j]
    return float(weight)


def _titration_share(series: Series, ctx: Context, res: Mapping[str, Any], s: int, e: int, mask: np.ndarray,
                     **nz: Any) -> float | None:
    """How much of the station's O3 shortfall over the ``mask`` hours of [s, e) reappears as NO2
    (O3 + NO → NO2 + O2: µg/m³ for µg/m³, the molar masses being 48 and 46): the median NO2 surplus
    over the median O3 shortfall, each against what the neighbours and the station's usual offset
    from them (SPA-01's baseline) predict. None without the station's NO2 or its residual."""
    own_no2 = ctx.series.get(NO2_CODE)
    if own_no2 is None or not len(own_no2):
        return None
    no2 = aligned(series.times, own_no2)
    nres = neighbour_z(Series(series.station, NO2_CODE, series.times, no2, step_s=series.step_s), ctx, **nz)
    if nres is None:
        return None
    with np.errstate(invalid="ignore", over="ignore"):
        short = np.exp(res["baseline"] + res["nb_log_median"]) - res["offset"] - series.values
        surplus = no2 - (np.exp(nres["baseline"] + nres["nb_log_median"]) - nres["offset"])
    m = mask[s:e]
    sh, su = short[s:e][m], surplus[s:e][m]
    ok = np.isfinite(sh) & np.isfinite(su)
    if not ok.any():
        return None
    lost = float(np.median(sh[ok]))
    return float(np.median(su[ok])) / lost if lost > 0 else None


def _spa_evidence(series: Series, res: Mapping[str, Any], s: int, e: int, thresholds: Mapping[str, Any]) -> dict[str, Any]:
    nb_med = np.exp(res["nb_log_median"]) - res["offset"]
    return {
        **iso_span(series, s, e),
        "station": series.station, "parameter": series.parameter, "unit": series.unit,
        "values": slice_values(series.values, s, e),
        "neighbours": [{"station": st, "distance_km": d, "values": slice_values(res["matrix"][k], s, e)}
                       for k, (st, d) in enumerate(zip(res["ids"], res["distances"], strict=True))],
        "neighbour_median": slice_values(nb_med, s, e),
        "z": slice_values(res["z"], s, e, 2),
        "residual_ln": slice_values(res["r"], s, e, 3),
        "baseline_ln": round(float(np.nanmedian(res["baseline"][s:e])), 4) if np.isfinite(res["baseline"][s:e]).any() else None,
        "scale_ln": round(float(np.nanmedian(res["scale"][s:e])), 4) if np.isfinite(res["scale"][s:e]).any() else None,
        "offset": res["offset"],
        "thresholds": dict(thresholds),
    }
