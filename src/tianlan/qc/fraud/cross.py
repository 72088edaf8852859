"""Cross-variable consistency at one station (catalogue XV-01..04, qc_fraud.md §F).

The checked series is one parameter; the station's other parameters come from ``ctx.series`` and
its neighbours from ``ctx.neighbours`` (HJ 212 codes: a34004 PM2.5, a34002 PM10, a21026 SO2,
a21004 NO2, a21005 CO, a05024 O3, a01002 RH). Where a rule concerns a pair of parameters the
finding is reported once, on one of them (see each detector), so that one episode is one finding.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tianlan.qc.core import Context, Finding, Param, Series, Status, detector
from tianlan.qc.fraud.clean_air import CLEAN_AIR_WEIGHT, EXCELLENT_PM, in_clean_air
from tianlan.qc.fraud.copy_side import station_copy_side
from tianlan.qc.fraud.front_lag import LAG_WEIGHT, explaining_lag
from tianlan.qc.fraud.local_fall import abrupt_onset, drop_start, onset_drops, own_log_pm
from tianlan.qc.fraud.restart_hour import RESTART_WEIGHT, next_to_outage
from tianlan.qc.fraud.spatial import (
    aligned,
    binned_robust_z,
    daily_medians,
    daily_shifts,
    flank_median,
    iso_span,
    log_offset,
    nanmedian_rows,
    neighbour_residual,
    per_parameter,
    runs,
    score01,
    select_neighbours,
    slice_values,
    steps,
)
from tianlan.qc.fraud.xv01_context import INVERSION_WEIGHT, after_restart, frozen, recovering
from tianlan.qc.fraud.xv02_rise import FALL_TOLERANCE_LN, RISE_SHARE, RISE_WEIGHT, above_usual, rose_not_fell
from tianlan.qc.fraud.xv03_context import (
    CONTEXT_WEIGHT,
    at_usual_level,
    blank_hour,
    blank_mask,
    other_air,
    settling,
)

PM25, PM10, SO2, NO2, CO, O3, RH = "a34004", "a34002", "a21026", "a21004", "a21005", "a05024", "a01002"

#: XV-02 ratio partners: the first of each pair is where a finding goes when the culprit is unknown.
RATIO_PAIRS: tuple[tuple[str, str], ...] = ((PM25, PM10), (NO2, CO))

#: Ambient pollutants with a shared primary source (coal combustion, traffic) that one inversion
#: accumulates together: a near lockstep of two of them is a notice (XV-04 ``shared_source_weight``).
COMBUSTION_TRACERS: frozenset[str] = frozenset({CO, SO2, NO2, PM25, PM10})
#: Evidence weight of such a near lockstep.
SHARED_SOURCE_WEIGHT = 0.5

#: XV-04: pairs that are physically related and may legitimately move together (never flagged).
#: PM2.5 is part of PM10; O3 and NO2 trade places by titration; a01011 flue velocity and a00000
#: flow are one measurement; the unit's load sets flow, velocity and the excess air (O2 falls as
#: load rises); flue gas after wet desulphurisation is saturated, so its humidity follows its
#: temperature; a converted (":zs") value is its measured value times the O2 factor (same base code).
RELATED: tuple[frozenset[str], ...] = (
    frozenset({PM25, PM10}),
    frozenset({O3, NO2}),
    frozenset({"a01011", "a00000"}),
    frozenset({"load", "a00000"}),
    frozenset({"load", "a01011"}),
    frozenset({"load", "a19001"}),
    frozenset({"a19001", "a00000"}),
    frozenset({"a19001", "a01011"}),
    frozenset({"a01012", "a01014"}),
)


def _other(ctx: Context, code: str) -> Series | None:
    s = ctx.series.get(code)
    return s if s is not None and len(s) else None


# --- XV-01 ------------------------------------------------------------------------------------


@detector(
    "XV-01",
    name="PM2.5 above PM10",
    family="xv",
    targets=["analyser fault", "B1 sampling interference on the PM10 inlet", "B3 PM parameter tampering"],
    params={
        "ratio": Param(1.1, "", "PM2.5 > ratio·PM10 is an inverted hour"),
        "min_excess": Param(10.0, "µg/m³", "and PM2.5 − PM10 must reach this (inversions of a few µg/m³ are noise)"),
        "min_hours": Param(3.0, "h", "inverted hours in a row before a finding (single hours are common: 3–9 %)"),
        "frozen_share": Param(0.5, "", "a run whose PM10 repeats one value at this share of its hours (a frozen"
                              " channel, TMP-03's fault on PM10; xv01_context) is a notice; 0: off"),
        "restart_hours": Param(2.0, "h", "a run beginning within this many hours after missing PM10 or PM2.5 (an"
                               " analyser settling after an outage; xv01_context) is a notice; 0: off"),
        "restart_max_hours": Param(6.0, "h", "… when it lasts at most this long"),
        "restart_recovery_ln": Param(0.3, "ln units", "… and PM10's share of PM2.5, ln(PM10/PM2.5), climbs back by at"
                                     " least this from its first hour to its last (the monitor settles)"),
        "context_weight": Param(INVERSION_WEIGHT, "", "score factor of those notices; 1: off"),
    },
    systems=("air",),
    parameters=(PM25,),
    history_s=86400,
)
def pm_inversion(series: Series, ctx: Context, *, ratio: float, min_excess: float, min_hours: float,
                 frozen_share: float = 0.5, restart_hours: float = 2.0, restart_max_hours: float = 6.0,
                 restart_recovery_ln: float = 0.3, context_weight: float = INVERSION_WEIGHT) -> list[Finding]:
    """Runs of hours with PM2.5 > ``ratio``·PM10 (catalogue XV-01; Wu et al. 2018 type 4).

    Evaluated on the PM2.5 series (with PM10 from the context); checked as any other parameter it
    returns nothing, so one inversion is one finding. SUSPECT, never FAIL: CNEMC audit practice (§0.9) does
    not invalidate on an inversion alone. Score 0.8 at ``min_hours``, 1 from 1.25 × it.

    Kept as notices (score × ``context_weight``; :mod:`tianlan.qc.fraud.xv01_context`): a run whose
    PM10 repeats one value at ``frozen_share`` of its hours while PM2.5 does not (a frozen PM10
    channel), and a run of at most ``restart_max_hours`` beginning within ``restart_hours`` after
    missing PM10 or PM2.5 in which ln(PM10/PM2.5) climbs back by ``restart_recovery_ln`` (an
    analyser settling after an outage). Measured: docs/qc-benchmark-log.md, "XV-01, XV-02 and FOR-01 background".
    """
    other = _other(ctx, PM10) if series.parameter == PM25 else None
    if other is None:
        return []
    pm25 = series.values
    pm10 = aligned(series.times, other)
    with np.errstate(invalid="ignore"):
        inverted = (pm25 > ratio * pm10) & (pm25 - pm10 >= min_excess)
    out = []
    n_min = steps(min_hours, series.step_s)
    for s, e in runs(inverted, n_min):
        q = pm25[s:e] / pm10[s:e]
        notice = None
        if context_weight < 1:
            if frozen(pm10, s, e, frozen_share) and not frozen(pm25, s, e, frozen_share):
                notice = "xv01_frozen_pm10"
            elif after_restart([pm10, pm25], s, e, steps(restart_hours, series.step_s) if restart_hours > 0 else 0,
                               steps(restart_max_hours, series.step_s)) \
                    and recovering(pm10, pm25, s, e, restart_recovery_ln):
                notice = "xv01_restart"
        score = score01(e - s, n_min) * (context_weight if notice else 1.0)
        out.append(Finding(s, e, Status.SUSPECT, "XV-01 PM2.5 above PM10", score, {
            **iso_span(series, s, e), "station": series.station, **({"notice": notice} if notice else {}),
            "inputs": {PM25: slice_values(pm25, s, e), PM10: slice_values(pm10, s, e)},
            "ratio_pm25_pm10": slice_values(q, 0, e - s, 3), "hours": e - s,
            "thresholds": {"ratio": ratio, "min_excess": min_excess, "min_hours": min_hours,
                           "frozen_share": frozen_share, "restart_hours": restart_hours,
                           "restart_recovery_ln": restart_recovery_ln},
        }))
    return out


# --- XV-02 ------------------------------------------------------------------------------------


def _partner(code: str, pairs: Sequence[Sequence[str]]) -> tuple[str, bool] | None:
    """(partner code, whether ``code`` is the primary of its pair) or None."""
    for a, b in pairs:
        if code == a:
            return b, True
        if code == b:
            return a, False
    return None


def _log(values: np.ndarray, c: float) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.log(np.where(values > -c, values, np.nan) + c)


@detector(
    "XV-02",
    name="ratio stability",
    family="xv",
    targets=["B3 parameter tampering (one channel scaled)", "B1 sampling interference on one inlet", "analyser drift"],
    params={
        "pairs": Param([list(p) for p in RATIO_PAIRS], "", "ratio pairs [primary, partner] (HJ 212 codes)"),
        "recent_days": Param(7, "d", "median daily ratio of the last this many days …"),
        "ref_days": Param(30, "d", "… against the station's own band from this many days before them (its season)"),
        "min_ref_days": Param(14, "d", "days of reference needed to evaluate"),
        "min_shift": Param({PM25: 0.3, PM10: 0.3, "*": 0.45}, "ln units",
                           "half-width of the band at least this, per checked parameter ('*': the others): 0.3 ≈"
                           " ×0.74 … ×1.35 for PM2.5/PM10; NO2/CO ratios move more with local traffic"),
        "z_threshold": Param(3.0, "robust scales", "and at least this many robust scales of the reference days"),
        "use_neighbours": Param(True, "", "remove the neighbours' median ratio first (dust and fog move every station)"),
        "max_km": Param(30.0, "km", "neighbour radius"),
        "min_neighbours": Param(2, "stations", "neighbours needed for the neighbour-adjusted ratio"),
        "rise_weight": Param(RISE_WEIGHT, "", "a finding where no channel fell against its neighbours and the one"
                             " that rose lies above its usual level (a new local source or an upward drift;"
                             " falsification lowers a reading; xv02_rise) is a notice: score × this; 1: off"),
        "rise_fall_ln": Param(FALL_TOLERANCE_LN, "ln units", "… a channel that fell by less than this against its"
                              " reference days and sits less than this below its usual level did not fall (a"
                              " scaling lowers by ≥ 0.22); the risen one was not this far below usual before"),
        "rise_share": Param(RISE_SHARE, "", "… and the risen channel's level lies at least this share of its shift"
                            " above its usual level (median daily residual before the reference days: a return"
                            " from a lowered period lies near it)"),
        "rise_min_days": Param(5, "d", "… days with data before the reference needed for the usual level"),
    },
    systems=("air",),
    parameters=(PM25, PM10, NO2, CO),
    history_s=45 * 86400,
)
def ratio_stability(series: Series, ctx: Context, *, pairs: Sequence[Sequence[str]], recent_days: int, ref_days: int,
                    min_ref_days: int, min_shift: float | Mapping[str, float], z_threshold: float,
                    use_neighbours: bool, max_km: float, min_neighbours: int, rise_weight: float = RISE_WEIGHT,
                    rise_fall_ln: float = FALL_TOLERANCE_LN, rise_share: float = RISE_SHARE,
                    rise_min_days: int = 5) -> list[Finding]:
    """Days when a ratio such as PM2.5/PM10 or NO2/CO leaves the station's own seasonal band (XV-02).

    Hourly ``ln((x+c)/(y+c))``, less the same ratio's median over neighbours when
    ``use_neighbours`` and at least ``min_neighbours`` report both (a regional dust or fog event
    moves every station's ratio; a tampered channel moves one), reduced to daily medians. The band
    is the median of the ``ref_days`` before ± max(``min_shift``, ``z_threshold`` robust day-to-day
    scales — see :func:`~tianlan.qc.fraud.spatial.daily_shifts`); the
    median of the last ``recent_days`` outside it is SUSPECT — a persistent change, such as one
    channel's slope or span changed. The finding goes to the channel that moved against its
    neighbours (the larger neighbour-residual shift), or to the primary of the pair without
    neighbours, so one episode gives one finding. Score 0.8 at the band edge, 1 at 1.25 × its half-width.
    A finding in which no channel fell and the risen one lies above its usual level is a notice
    (score × ``rise_weight``; :mod:`tianlan.qc.fraud.xv02_rise`).
    """
    pp = _partner(series.parameter, pairs)
    half_min = per_parameter(min_shift, series.parameter)
    if pp is None or half_min is None:
        return []
    partner_code, primary = pp
    partner = _other(ctx, partner_code)
    if partner is None:
        return []
    x = series.values
    y = aligned(series.times, partner)
    cx = log_offset(series.parameter, None, x)
    cy = log_offset(partner_code, None, y)
    rho = _log(x, cx) - _log(y, cy)
    nb_ids: list[str] = []
    adjusted = False
    if use_neighbours:
        ratios = []
        for st, _d, nb_series in select_neighbours(ctx, series.parameter, max_km, 16):
            other = ctx.neighbours[st].get(partner_code)
            if other is None:
                continue
            ratios.append(_log(aligned(series.times, nb_series), cx) - _log(aligned(series.times, other), cy))
            nb_ids.append(st)
        if len(ratios) >= min_neighbours:
            mat = np.vstack(ratios)
            nb = np.full(x.shape, np.nan)
            ok = np.isfinite(mat).sum(axis=0) >= min_neighbours
            if ok.any():
                nb[ok] = nanmedian_rows(mat[:, ok].T)
            rho = rho - nb
            adjusted = True
        else:
            nb_ids = []
    dm, day = daily_medians(series.times, rho, series.step_s)
    out: list[Finding] = []
    for ep in daily_shifts(dm, recent_days=int(recent_days), ref_days=int(ref_days), min_ref_days=int(min_ref_days),
                           min_shift=half_min, z_threshold=z_threshold, min_scale=0.03):
        s = int(np.searchsorted(day, ep["first_day"]))
        e = int(np.searchsorted(day, ep["last_day"] + 1))
        if e <= s:
            continue
        shifts: dict[str, float] = {}
        above: dict[str, float | None] = {}
        before: dict[str, float | None] = {}
        culprit = series.parameter if (primary or not adjusted) else partner_code
        if adjusted:
            shifts, above, before = _residual_shifts(series, partner, ctx, s, e, ref_days, max_km, min_neighbours,
                                                     int(rise_min_days), recent_days)
            if len(shifts) == 2:
                culprit = max(shifts, key=lambda k: abs(shifts[k]))
        if culprit != series.parameter:
            continue
        half = max(half_min, z_threshold * ep["scale"])
        score = score01(abs(ep["shift"]), half)
        notice: dict[str, Any] = {}
        risen = None if rise_weight >= 1 else rose_not_fell(shifts, above, fall_tolerance=rise_fall_ln,
                                                             share=rise_share, before=before)
        if risen is not None:
            score *= float(rise_weight)
            notice = {"notice": "xv02_rise_above_usual", "risen": risen}
        out.append(Finding(s, e, Status.SUSPECT, f"XV-02 {series.parameter}/{partner_code} ratio "
                           + ("above" if ep["sign"] > 0 else "below") + " its seasonal band"
                           + (f"; notice: no channel fell, {risen} above its usual level" if risen else ""),
                           score, {
                               **iso_span(series, s, e), "station": series.station,
                               "pair": [series.parameter, partner_code],
                               "inputs": {series.parameter: slice_values(x, s, e), partner_code: slice_values(y, s, e)},
                               "daily_ratio_ln": slice_values(dm, ep["first_day"], ep["last_day"] + 1, 3),
                               "band_ln": [round(ep["reference_median"] - half, 3), round(ep["reference_median"] + half, 3)],
                               "reference_median_ln": round(ep["reference_median"], 3),
                               "recent_median_ln": round(ep["recent_median"], 3),
                               "shift_factor": round(float(np.exp(ep["shift"])), 3),
                               "neighbour_adjusted": adjusted, "neighbours": nb_ids,
                               "residual_shift_ln": {k: round(v, 3) for k, v in shifts.items()},
                               "above_usual_ln": {k: None if v is None else round(v, 3) for k, v in above.items()},
                               "before_above_usual_ln": {k: None if v is None else round(v, 3)
                                                         for k, v in before.items()},
                               **notice,
                               "thresholds": {"recent_days": recent_days, "ref_days": ref_days, "min_shift": half_min,
                                              "z_threshold": z_threshold, "rise_weight": rise_weight,
                                              "rise_fall_ln": rise_fall_ln, "rise_share": rise_share},
                           }))
    return out


def _residual_shifts(series: Series, partner: Series, ctx: Context, s: int, e: int, ref_days: float,
                     max_km: float, min_neighbours: int, min_days: int = 5, recent_days: float = 7,
                     ) -> tuple[dict[str, float], dict[str, float | None], dict[str, float | None]]:
    """Median neighbour residual of each channel over [s, e) less its median over the reference days;
    how far it lies above its usual level, and how far the ``recent_days`` before ``s`` did
    (:func:`tianlan.qc.fraud.xv02_rise.above_usual`)."""
    out: dict[str, float] = {}
    above: dict[str, float | None] = {}
    before: dict[str, float | None] = {}
    t0 = series.times[s] - ref_days * 86400
    t1 = series.times[s]
    ref = (series.times >= t0) & (series.times < t1)
    ref_start = int(np.searchsorted(series.times, t0))
    pre_start = int(np.searchsorted(series.times, t1 - recent_days * 86400))
    for ch in (series, Series(series.station, partner.parameter, series.times, aligned(series.times, partner),
                              step_s=series.step_s)):
        res = neighbour_residual(ch, ctx, max_km=max_km, max_neighbours=16, min_neighbours=min_neighbours)
        if res is None:
            continue
        r = res["r"]
        if np.isfinite(r[ref]).sum() < 24 or np.isfinite(r[s:e]).sum() == 0:
            continue
        out[ch.parameter] = float(np.nanmedian(r[s:e]) - np.nanmedian(r[ref]))
        above[ch.parameter], before[ch.parameter] = above_usual(series.times, r, series.step_s, s, e, ref_start,
                                                                min_days, pre_start)
    return out, above, before


# --- XV-03 ------------------------------------------------------------------------------------


@detector(
    "XV-03",
    name="mist signature",
    family="xv",
    targets=["B1 sprayed, misted, covered or blocked PM inlet"],
    params={
        "z_threshold": Param(4.5, "robust z", "PM must drop below its neighbours by this many robust scales …"),
        "sustained_z": Param(3.5, "robust z", "… or by this many for sustained_hours in a row"),
        "sustained_hours": Param(2.0, "h", "hours a shallower drop must last"),
        "combined_z": Param(4.5, "robust z", "… or a run of hours each below −shallow_z whose combined z (Σz/√n, "
                            "Stouffer) is below −combined_z; 0: off"),
        "shallow_z": Param(1.5, "robust z", "per-hour depth of a run judged by its combined z"),
        "combined_drop_ln": Param(0.5, "ln units", "… whose PM fell by at least this against its flanks (×0.61) …"),
        "ratio_tolerance": Param(2.0, "robust scales", "every finding: PM2.5 and PM10 fall alike — the station's own"
                                 " ln(PM2.5/PM10) over the run within this many robust scales of its flank median"
                                 " (the ratio holds); 0: off"),
        "gas_z_min": Param(-1.5, "robust z", "each gas must stay above this (gases normal)"),
        "gas_relative": Param(1 / 3, "", "… or above this share of the (weaker) PM drop's z, when lower; 0: off"),
        "gases": Param([CO, NO2], "", "gases that must stay normal (SO2 is left out: mist scrubs it, §D.2(d))"),
        "flank_hours": Param(6, "h", "the drop is measured against the median of this many hours each side"),
        "guard_hours": Param(6, "h", "… and against the flanks beyond this guard (long sprays), the higher of the two"),
        "require_both_pm": Param(True, "", "PM2.5 and PM10 must both drop where both are measured"),
        "min_level": Param(0.0, "unit of the value", "ignore hours when the neighbours' PM is below this"),
        "abrupt_ln": Param(0.3, "ln units", "every finding: at one of its hours the station's own log PM lies this far"
                           " below its highest of the onset_hours before (an inlet acts at once; §D.2(d) rule E); 0: off"),
        "onset_hours": Param(4.0, "h", "look-back of the abrupt-onset test"),
        "rh_jump": Param(15.0, "% RH", "a rise of station RH against its neighbours (or its own flanks) by this corroborates"),
        "max_km": Param(30.0, "km", "neighbour radius"),
        "min_neighbours": Param(1, "stations", "neighbours with a value needed at an hour (the scale adapts to how"
                                " noisy the comparison is; cities such as Hengshui have two stations)"),
        "primary": Param(PM25, "", "with both PM measured, findings go on this one only"),
        "front_lag_hours": Param(2.0, "h", "a drop that the neighbours' median reaches within this many hours"
                                 " (a front at another hour; front_lag) is a notice (half score); 0: off"),
        "front_tolerance_ln": Param(0.3, "ln units", "… when every PM channel's drop against the shifted median"
                                    " is shallower than this"),
        "restart_hours": Param(2.0, "h", "a finding this short next to missing own PM (an analyser's start-up or"
                               " shut-down hour; restart_hour) is a notice (half score); 0: off"),
        "clean_air_pm": Param(dict(EXCELLENT_PM), "µg/m³", "a drop where the station's PM without it (its flank offset"
                              " from the neighbours × their level) is below this — GB 3095 Grade I 24-h, AQI"
                              " excellent: nothing to hide (clean_air) — is a notice (half score); {}: off"),
        "blank_share": Param(0.1, "", "a finding of at most blank_hours with an hour where its PM reads at most this"
                             " share of the air's (particle-free: a zero or leak check) at a station with"
                             " blank_repeats other such hours is a notice (half score; xv03_context); 0: off"),
        "blank_hours": Param(2.0, "h", "… the longest such finding"),
        "blank_repeats": Param(1, "hours", "… the other blank hours the station's series must have"),
        "air_gas_ln": Param(0.5, "ln units", "a finding where some gas fell this far below its usual relation to the"
                            " neighbours (median residual over the series) … (other air, e.g. a hill site above"
                            " the night's inversion; xv03_context) is a notice (half score); 0: off"),
        "air_excess_ln": Param(0.5, "ln units", "… and PM fell at most this much further (a spray: ≥ 0.55)"),
        "usual_ln": Param(0.3, "ln units", "a finding where PM is within this of its usual relation to the neighbours"
                          " (what fell was a local excess in the flank hours; xv03_context) is a notice (half"
                          " score); 0: off"),
        "settle_rise_ln": Param(0.7, "ln units", "a finding of at most settle_max_hours starting within"
                                " settle_gap_hours after missing own PM, in which the station's PM residual"
                                " climbs by this from its first hour to its last (a monitor settling after an"
                                " outage; a spray holds one share ±15 %; xv03_context) is a notice (half score);"
                                " 0: off"),
        "settle_gap_hours": Param(2.0, "h", "… the latest start after the outage"),
        "settle_max_hours": Param(8.0, "h", "… the longest such finding"),
    },
    systems=("air",),
    parameters=(PM25, PM10),
    history_s=30 * 86400,
)
def mist_signature(series: Series, ctx: Context, *, z_threshold: float, sustained_z: float, sustained_hours: float,
                   combined_z: float, shallow_z: float, combined_drop_ln: float, ratio_tolerance: float,
                   gas_z_min: float, gas_relative: float, gases: Sequence[str], flank_hours: int, guard_hours: int,
                   require_both_pm: bool, min_level: float, rh_jump: float, max_km: float, min_neighbours: int,
                   primary: str, abrupt_ln: float = 0.3, onset_hours: float = 4.0, front_lag_hours: float = 2.0,
                   front_tolerance_ln: float = 0.3, restart_hours: float = 2.0,
                   clean_air_pm: Mapping[str, float] | None = None, blank_share: float = 0.1, blank_hours: float = 2.0,
                   blank_repeats: int = 1, air_gas_ln: float = 0.5,
                   air_excess_ln: float = 0.5, usual_ln: float = 0.3, settle_rise_ln: float = 0.7,
                   settle_gap_hours: float = 2.0, settle_max_hours: float = 8.0) -> list[Finding]:
    """Hours when PM drops against the neighbours while the gases do not (catalogue XV-03).

    For each channel the neighbour residual ``r = ln(x+c) − median ln(y_k+c)`` is compared with
    its median over the ``flank_hours`` before and after (for PM also over the flanks beyond a
    ``guard_hours`` gap, the higher of the two, so a long spray does not hide in its own reference):
    ``s = r − reference`` catches the abrupt onset and recovery of a spray and removes the station's
    usual offset from its neighbours. ``s`` is standardised per quantile bin of the neighbours'
    level (log residuals are noisier in clean air than in haze). An hour is flagged when PM2.5 and
    PM10 both have ``z < −z_threshold`` — or ``z < −sustained_z`` for ``sustained_hours`` in a row
    (analyser glitches are single hours; sprays last) — and every available gas of ``gases`` has
    ``z`` above ``gas_z_min`` (or above ``gas_relative`` × the PM z when that is lower: a gust
    dilutes everything a little, a spray only PM). This is the D.2(d) rule: single-signal
    neighbour tests are swamped by local effects, corroboration across pollutants gives about 8×
    precision. A rise of RH (when measured) by ``rh_jump`` corroborates. At least one gas is needed;
    with both PM measured the finding goes on ``primary`` only. SUSPECT; score 0.8 when the run's
    median PM z just reaches its threshold, 1 at 1.25 × it; an RH jump counts ×1.25.

    A spray of several hours at a station whose comparison with its neighbours is noisy gives hours
    of z −2 … −4, none deep enough alone: a run of hours each below −``shallow_z`` (gases normal)
    is also flagged when its combined z ``Σz/√n`` (Stouffer) is below −``combined_z`` and PM fell
    by at least ``combined_drop_ln`` against its flanks; its score is 0.8 × combined / threshold.
    Every finding must keep the **PM2.5/PM10 ratio**: mist, a cover or a blocked inlet takes both
    alike (the same factor), while a local dust source that stops, a shower or a fog moves PM10
    and PM2.5 differently — the station's own ``ln(PM2.5/PM10)`` over the run's hours may depart
    from its median over the ``flank_hours`` either side by at most ``ratio_tolerance`` robust
    scales of that departure over the whole series (1.4826·MAD; rounding makes low values'
    ratios noisy, so the band is the station's own). On clean Hebei 2019 (53 stations × 6 months)
    and 150 injected sprays (seeds 2019, 7, 31 × 50), XV-03's level-2 results: 103 clean and 137
    sprays found before, 97 and 143 with both rules (tolerance 1.5: 87 and 137; 2.5: 107 and 145;
    a tolerance relative to the drop instead, 0.3 × the drop of PM2.5 less PM10's: 90 and 139).

    Every finding must also have an **abrupt onset** (:mod:`tianlan.qc.fraud.local_fall`; §D.2(d)
    rule E): at one of its hours the station's own log PM (mean of PM2.5 and PM10) lies at least
    ``abrupt_ln`` below its highest value of the ``onset_hours`` before — an inlet acts at once,
    while a residual that fell because the neighbours rose around a station that drifted or held
    (a plume or front reaching them first) has no such step. A run whose hours all follow missing
    data is not vetoed. Measured numbers: docs/qc-benchmark-log.md, "XV-03/SPA-01 background (clean alarms)".

    Three findings are kept as notices (score × 0.5, level 1 by the default policy) rather than
    warnings: a drop that the neighbours' median reaches within ``front_lag_hours`` (a front or a
    clean air mass at another hour, :mod:`tianlan.qc.fraud.front_lag`); a finding of at most
    ``restart_hours`` next to missing own PM (an analyser's partial start-up or shut-down cycle,
    :mod:`tianlan.qc.fraud.restart_hour`); and a drop where the station's PM without it (the
    neighbours' level times the station's flank offset) is below ``clean_air_pm`` (excellent air,
    nothing to hide: :mod:`tianlan.qc.fraud.clean_air`). Measured: docs/qc-benchmark-log.md, "Clean incidents
    (second round)". Three more (:mod:`tianlan.qc.fraud.xv03_context`): a finding of at most
    ``blank_hours`` with a particle-free hour (PM at most ``blank_share`` of the air's: a zero or leak
    check) at a station with ``blank_repeats`` other such hours; a finding where a gas fell
    ``air_gas_ln`` below its usual relation to the neighbours and PM at most ``air_excess_ln``
    further (other air); and a finding where PM stays within ``usual_ln`` of its usual relation to
    the neighbours (the flanks held a local excess). Measured:
    docs/qc-benchmark-log.md, "XV-03: blank hours and other air".
    """
    clean_air = dict(EXCELLENT_PM) if clean_air_pm is None else dict(clean_air_pm)
    pm_codes = (PM25, PM10)
    if series.parameter not in pm_codes:
        return []
    other_code = PM10 if series.parameter == PM25 else PM25
    other = _other(ctx, other_code)
    if series.parameter != primary and other is not None and other_code == primary:
        return []
    gas_series = [(g, gs) for g in gases if (gs := _other(ctx, g)) is not None]
    if not gas_series:
        return []
    flank = steps(flank_hours, series.step_s)

    guard = steps(guard_hours, series.step_s) if guard_hours > 0 else 0

    def channel(s: Series, pm: bool = True) -> dict[str, Any] | None:
        res = neighbour_residual(s, ctx, max_km=max_km, max_neighbours=8, min_neighbours=min_neighbours)
        if res is None:
            return None
        level = np.exp(res["nb_log_median"]) - res["offset"]
        ref = flank_median(res["r"], flank)
        if pm and guard:
            # a spray longer than the flanks pulls the near reference down with it; the far flanks
            # (beyond the guard) still see the normal level: for a drop, the higher reference is the clean one
            ref = np.fmax(ref, flank_median(res["r"], flank, guard=guard))
        step = res["r"] - ref
        res["z"], res["zscale"] = binned_robust_z(step, level)
        res["step"], res["level"], res["values"] = step, level, s.values
        return res

    own = channel(series)
    if own is None:
        return []
    used: dict[str, dict[str, Any]] = {series.parameter: own}
    if other is not None:
        o = channel(Series(series.station, other_code, series.times, aligned(series.times, other), step_s=series.step_s))
        if o is not None:
            used[other_code] = o
        elif require_both_pm:
            return []
    # the weaker of the two PM drops (z < 0): a gas may fall a little with it (a local gust dilutes
    # everything a bit) but much less than PM — by at most gas_relative of the PM drop
    pm_z = np.maximum(own["z"], used[other_code]["z"]) if other_code in used else own["z"]  # NaN if either is
    if not _pm_drop_possible(pm_z, z_threshold, sustained_z, steps(sustained_hours, series.step_s), shallow_z,
                             combined_z):
        return []  # no hour could be flagged whatever the gases do: their channels are not needed
    gas_floor = np.fmin(gas_z_min, gas_relative * pm_z) if gas_relative > 0 else np.full(pm_z.shape, gas_z_min)
    gas_ok = np.ones(pm_z.shape, dtype=bool)
    n_gas = 0
    for g, gs in gas_series:
        res = channel(Series(series.station, g, series.times, aligned(series.times, gs), step_s=series.step_s), pm=False)
        if res is None:
            continue
        n_gas += 1
        used[g] = res
        with np.errstate(invalid="ignore"):
            gas_ok &= ~(res["z"] <= gas_floor)  # a missing gas hour does not veto
    if n_gas == 0:
        return []
    with np.errstate(invalid="ignore"):
        mask = (pm_z < -z_threshold) & gas_ok
        # a drop held for hours is rarer in clean data than a single deep hour (analyser glitches are
        # single hours), so a sustained one may be shallower
        held = (pm_z < -sustained_z) & gas_ok
    n_held = steps(sustained_hours, series.step_s)
    for a, b in runs(held, n_held):
        mask[a:b] |= held[a:b]
    combined: list[tuple[int, int, float]] = []  # runs flagged by their combined z (s, e, Σz/√n)
    if combined_z > 0:
        with np.errstate(invalid="ignore"):
            shallow = (pm_z < -shallow_z) & gas_ok
        for a, b in runs(shallow, 2):
            zc = float(np.sum(pm_z[a:b]) / np.sqrt(b - a))
            if zc >= -combined_z or other_code not in used:
                continue
            drop = _pm_drop(used, a, b)
            if drop <= -combined_drop_ln:
                mask[a:b] = True
                combined.append((a, b, zc))
    if min_level > 0:
        with np.errstate(invalid="ignore"):
            mask &= own["level"] >= min_level
    rh = _rh_step(series, ctx, flank, max_km)
    pm_used = {c: used[c] for c in pm_codes if c in used}
    onset_own = own_log_pm(pm_used)
    onset = onset_drops(onset_own, steps(onset_hours, series.step_s))
    with np.errstate(invalid="ignore"):
        low = pm_z < -shallow_z  # the hours of a drop (also those not deep enough to flag)
    with np.errstate(invalid="ignore", over="ignore"):  # the station's PM with the drop undone (clean_air)
        expected = np.exp(own["r"] + own["nb_log_median"] - own["step"]) - own["offset"]
        blank = blank_mask({c: ch["values"] for c, ch in pm_used.items()},
                           {c: np.exp(ch["r"] + ch["nb_log_median"] - ch["step"]) - ch["offset"]
                            for c, ch in pm_used.items()}, blank_share)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an hour with no PM residual stays NaN
        pm_r = np.nanmean(np.vstack([ch["r"] for ch in pm_used.values()]), axis=0)
    settle_gap, settle_max = steps(settle_gap_hours, series.step_s), steps(settle_max_hours, series.step_s)
    out = []
    cache: dict[str, Any] = {}
    for s, e in runs(mask, 1, steps(1, series.step_s), ~np.isfinite(own["z"])):
        zs = pm_z[s:e][mask[s:e]]
        drop = _pm_drop(used, s, e, mask)
        skew, rscale = _ratio_shift(used, s, e, mask, flank, cache)
        if ratio_tolerance > 0 and np.isfinite(skew) and abs(skew) > ratio_tolerance * rscale:
            continue  # the PM2.5/PM10 ratio moved: not an inlet that takes both alike
        abrupt, deepest = abrupt_onset(onset, low, s, e, abrupt_ln)
        if abrupt_ln > 0 and not abrupt:
            continue  # no abrupt fall of the station's own PM: the neighbours rose, or it drifted down
        depth = float(-np.median(zs))
        effect = max(depth / z_threshold, depth / sustained_z if zs.size >= n_held else 0.0)
        zc = min((c for a, b, c in combined if a < e and b > s), default=0.0)
        if zc < 0:
            effect = max(effect, -zc / combined_z)
        rh_rise = float(np.nanmax(rh[s:e])) if rh is not None and np.isfinite(rh[s:e]).any() else None
        if rh_rise is not None and rh_rise >= rh_jump:
            effect *= 1.25
        score = score01(effect, 1.0)
        lag = explaining_lag(pm_used, s, e, mask, steps(front_lag_hours, series.step_s), front_tolerance_ln) \
            if front_lag_hours > 0 else None
        restart = restart_hours > 0 and next_to_outage(onset_own, s, e, steps(restart_hours, series.step_s))
        clean = in_clean_air(expected, drop_start(low, s), e, per_parameter(clean_air, series.parameter))
        is_blank = blank_hour(blank, s, e, steps(blank_hours, series.step_s), int(blank_repeats), flank)
        air, pm_dep, gas_dep = other_air(used, pm_codes, [g for g, _ in gas_series], s, e, mask,
                                            air_gas_ln, air_excess_ln)
        usual = at_usual_level(pm_dep, usual_ln)
        climb = settling(pm_r, s, e, settle_rise_ln) if after_restart(
            [ch["values"] for ch in pm_used.values()], s, e, settle_gap, settle_max) else None
        notice = "xv03_blank_hour" if is_blank else "xv03_other_air" if air else "xv03_usual_level" if usual else \
            "xv03_settling" if climb is not None else None
        if lag is not None:
            score *= LAG_WEIGHT
        elif restart:
            score *= RESTART_WEIGHT
        elif clean:
            score *= CLEAN_AIR_WEIGHT
        elif notice:
            score *= CONTEXT_WEIGHT
        a, b = max(0, s - flank), min(len(series), e + flank)
        out.append(Finding(s, e, Status.SUSPECT, "XV-03 PM suppressed against neighbours while gases normal", score, {
            **iso_span(series, s, e), "station": series.station,
            "context_window": iso_span(series, a, b),
            "inputs": {code: slice_values(np.exp(res["r"] + res["nb_log_median"]) - res["offset"], a, b)
                       for code, res in used.items()},
            "neighbour_median": {code: slice_values(np.exp(res["nb_log_median"]) - res["offset"], a, b)
                                 for code, res in used.items()},
            "neighbours": {code: [{"station": st, "distance_km": d, "values": slice_values(res["matrix"][k], a, b)}
                                  for k, (st, d) in enumerate(zip(res["ids"], res["distances"], strict=True))]
                           for code, res in used.items() if code in pm_codes},
            "drop_ln": {code: slice_values(res["step"], s, e, 3) for code, res in used.items()},
            "z": {code: slice_values(res["z"], s, e, 2) for code, res in used.items()},
            "rh_rise": None if rh_rise is None else round(rh_rise, 1),
            "combined_z": round(zc, 2) if zc < 0 else None,
            "pm_drop_ln": None if not np.isfinite(drop) else round(drop, 3),
            "pm_ratio_shift_ln": None if not np.isfinite(skew) else round(skew, 3),
            "pm_ratio_scale_ln": None if not np.isfinite(rscale) else round(rscale, 3),
            "onset_drop_ln": None if not np.isfinite(deepest) else round(deepest, 3),
            "front_lag_h": None if lag is None else lag * series.step_s / 3600,
            "next_to_outage": bool(restart),
            "clean_air": bool(clean),
            "blank_hour": bool(is_blank),
            "other_air": bool(air),
            "at_usual_level": bool(usual),
            "settling_rise_ln": None if climb is None else round(climb, 3),
            **({"notice": notice} if notice and lag is None and not restart and not clean else {}),
            "pm_departure_ln": None if not np.isfinite(pm_dep) else round(pm_dep, 3),
            "gas_departure_ln": {g: None if not np.isfinite(v) else round(v, 3) for g, v in gas_dep.items()},
            "thresholds": {"z_threshold": z_threshold, "sustained_z": sustained_z, "sustained_hours": sustained_hours,
                           "combined_z": combined_z, "shallow_z": shallow_z, "combined_drop_ln": combined_drop_ln,
                           "ratio_tolerance": ratio_tolerance,
                           "gas_z_min": gas_z_min, "gas_relative": gas_relative, "flank_hours": flank_hours,
                           "rh_jump": rh_jump, "min_level": min_level, "gases": list(gases),
                           "abrupt_ln": abrupt_ln, "onset_hours": onset_hours, "front_lag_hours": front_lag_hours,
                           "front_tolerance_ln": front_tolerance_ln, "restart_hours": restart_hours,
                           "clean_air_pm": dict(clean_air), "blank_share": blank_share,
                           "blank_hours": blank_hours, "blank_repeats": blank_repeats, "air_gas_ln": air_gas_ln,
                           "air_excess_ln": air_excess_ln, "usual_ln": usual_ln, "settle_rise_ln": settle_rise_ln,
                           "settle_gap_hours": settle_gap_hours, "settle_max_hours": settle_max_hours},
        }))
    return out


def _pm_drop_possible(pm_z: np.ndarray, z_threshold: float, sustained_z: float, n_held: int, shallow_z: float,
                      combined_z: float) -> bool:
    """Whether XV-03 could flag any hour of PM z ``pm_z`` with every gas normal: an hour below
    −``z_threshold``, a run of ``n_held`` below −``sustained_z``, or (``combined_z`` > 0) a stretch
    of two hours or more below −``shallow_z`` whose combined z Σz/√n is below −``combined_z`` (with a
    margin far above rounding: the test only rules out). The gases only remove hours from these."""
    with np.errstate(invalid="ignore"):
        if (pm_z < -z_threshold).any() or runs(pm_z < -sustained_z, n_held):
            return True
        if not combined_z > 0:
            return False
        for a, b in runs(pm_z < -shallow_z, 2):
            if b - a > 200:
                return True
            c = np.concatenate(([0.0], np.cumsum(pm_z[a:b])))
            i, j = np.triu_indices(b - a + 1, 2)  # every stretch [i, j) of the run with j − i ≥ 2
            if float(((c[j] - c[i]) / np.sqrt(j - i)).min()) < -combined_z + 1e-6:
                return True
    return False


def _pm_drop(used: Mapping[str, Mapping[str, Any]], s: int, e: int, mask: np.ndarray | None = None) -> float:
    """Median log drop of PM2.5 and PM10 (mean of the two) against their flanks over [s, e) (its
    ``mask`` hours only); NaN where PM10 or PM2.5 is not in ``used``."""
    if PM25 not in used or PM10 not in used:
        return float("nan")
    d25, d10 = used[PM25]["step"][s:e], used[PM10]["step"][s:e]
    if mask is not None:
        d25, d10 = d25[mask[s:e]], d10[mask[s:e]]
    ok = np.isfinite(d25) & np.isfinite(d10)
    return float(np.median(0.5 * (d25[ok] + d10[ok]))) if ok.any() else float("nan")


def _ratio_shift(used: Mapping[str, Mapping[str, Any]], s: int, e: int, mask: np.ndarray, flank: int,
                 cache: dict[str, Any]) -> tuple[float, float]:
    """How far the station's own ln(PM2.5/PM10) over the ``mask`` hours of [s, e) lies from its
    median over the ``flank`` hours either side, and the robust scale (1.4826·MAD) of that
    departure over the whole series; NaN without both PM or without values. ``cache`` keeps the
    series-wide arrays between the runs of one call."""
    if PM25 not in used or PM10 not in used:
        return float("nan"), float("nan")
    if "rho" not in cache:
        x25 = np.exp(used[PM25]["r"] + used[PM25]["nb_log_median"]) - used[PM25]["offset"]
        x10 = np.exp(used[PM10]["r"] + used[PM10]["nb_log_median"]) - used[PM10]["offset"]
        with np.errstate(invalid="ignore", divide="ignore"):
            rho = np.log(np.where((x25 > 0) & (x10 > 0), x25 / x10, np.nan))
        dev = rho - flank_median(rho, flank)
        dev = dev[np.isfinite(dev)]
        cache["rho"] = rho
        cache["scale"] = max(float(1.4826 * np.median(np.abs(dev - np.median(dev)))), 0.02) if dev.size >= 24 else float("nan")
    rho = cache["rho"]
    inside = rho[s:e][mask[s:e]]
    around = np.concatenate([rho[max(0, s - flank):s], rho[e:e + flank]])
    inside, around = inside[np.isfinite(inside)], around[np.isfinite(around)]
    if inside.size == 0 or around.size == 0:
        return float("nan"), cache["scale"]
    return float(np.median(inside) - np.median(around)), cache["scale"]


def _rh_step(series: Series, ctx: Context, flank: int, max_km: float) -> np.ndarray | None:
    """RH rise (points) at the station against its neighbours' median, relative to the flank hours."""
    own = _other(ctx, RH)
    if own is None:
        return None
    rh = aligned(series.times, own)
    nbs = [aligned(series.times, by[RH]) for st, by in ctx.neighbours.items()
           if RH in by and (ctx.distances_km.get(st) is None or ctx.distances_km[st] <= max_km)]
    if nbs:
        mat = np.vstack(nbs)
        med = np.full(rh.shape, np.nan)
        ok = np.isfinite(mat).any(axis=0)
        if ok.any():
            med[ok] = nanmedian_rows(mat[:, ok].T)
        rh = rh - med
    return rh - flank_median(rh, flank)


# --- XV-04 ------------------------------------------------------------------------------------


def _lockstep_score(r: float, min_corr: float) -> float:
    return round(float(min(1.0, 0.8 + 0.2 * (r - min_corr) / max(1.0 - min_corr, 1e-9))), 4)


def _quantum(v: np.ndarray) -> float:
    """Resolution of a transmitted series: the smallest step between distinct values (≥ 1e-6)."""
    # the sorted values' steps, ties included (np.unique's sort without its bookkeeping): a tie's
    # step 0 is dropped below with every other step under 1e-9
    u = np.sort(v[np.isfinite(v)])
    if u.size < 2:
        return 0.0
    dif = np.diff(u)
    dif = dif[dif > 1e-9]
    return float(max(dif.min(), 1e-6)) if dif.size else 0.0


def _copy_windows(x: np.ndarray, qx: float, ys: Sequence[np.ndarray], w: int,
                  min_points: int) -> tuple[list[bool], list[float]]:
    """For each of ``ys`` (aligned with ``x``): whether some window of ``w`` elements holds at least
    ``min_points`` values equal to ``x`` within half a transmission step and none that differ, and
    its resolution (:func:`_quantum`, the same values) — all rows at once."""
    y = np.vstack(ys)
    fin = np.isfinite(y)
    with np.errstate(invalid="ignore"):
        # _quantum per row: the sorted finite values' smallest step above 1e-9 (NaN sorts last)
        dif = np.diff(np.sort(np.where(fin, y, np.nan), axis=1), axis=1)
        dif = np.where(dif > 1e-9, dif, np.inf)
        dmin = dif.min(axis=1) if dif.shape[1] else np.full(y.shape[0], np.inf)
        q = np.where(np.isfinite(dmin), np.maximum(dmin, 1e-6), 0.0)
        tol = np.maximum(qx, q) / 2.0 + 1e-9
        both = np.isfinite(x) & fin
        eq = both & (np.abs(x - y) <= tol[:, None])
    lo = np.maximum(np.arange(1, x.size + 1) - w, 0)

    def rolling(mask: np.ndarray) -> np.ndarray:
        c = np.zeros((mask.shape[0], mask.shape[1] + 1), dtype=np.int64)
        np.cumsum(mask, axis=1, out=c[:, 1:])
        return c[:, 1:] - c[:, lo]

    ok = ((rolling(eq) >= min_points) & (rolling(both & ~eq) == 0)).any(axis=1)
    return ok.tolist(), [float(v) for v in q]


def _block_means(v: np.ndarray, per: int) -> np.ndarray:
    """Means of consecutive blocks of ``per`` elements (NaN-aware; the tail block may be short)."""
    n = (v.size + per - 1) // per
    g = np.full(n * per, np.nan)
    g[:v.size] = v
    m = g.reshape(n, per)
    cnt = np.isfinite(m).sum(axis=1)
    with np.errstate(invalid="ignore"):
        return np.where(cnt > 0, np.nansum(m, axis=1) / np.maximum(cnt, 1), np.nan)


def _rolling_count(mask: np.ndarray, w: int) -> np.ndarray:
    """How many of the ``w`` elements ending at each element are true."""
    c = np.concatenate([[0], np.cumsum(mask.astype(np.int64))])
    i = np.arange(1, mask.size + 1)
    return c[i] - c[np.maximum(i - w, 0)]


def _rolling_corr(x: np.ndarray, y: np.ndarray, w: int, min_points: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pearson r, least-squares slope of y on x and RMS residual of that fit, over the ``w``
    elements ending at each element (NaN with fewer than ``min_points`` pairs or no variance)."""
    r, slope, rms = _rolling_corr_rows(x, y[None, :], w, min_points)
    return r[0], slope[0], rms[0]


def _rolling_corr_rows(x: np.ndarray, y: np.ndarray, w: int, min_points: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_rolling_corr` of ``x`` with each row of ``y`` (rows × elements) at once, row for row
    the same values: every step is elementwise or runs along a row (the centring means per row,
    the running sums as cumulative sums along the rows — an accumulation adds element by element,
    so each row's sums are those of its own ``np.cumsum``)."""
    k, m = y.shape
    ok = np.isfinite(x) & np.isfinite(y)
    xs = np.where(ok, x, 0.0)
    ys = np.where(ok, y, 0.0)
    # centre by the overall mean for numerical stability of the cumulative sums
    for i in range(k):
        oki = ok[i]
        if oki.any():
            xs[i] = np.where(oki, xs[i] - xs[i][oki].mean(), 0.0)
            ys[i] = np.where(oki, ys[i] - ys[i][oki].mean(), 0.0)
    a = np.empty((6, k, m))
    a[0] = ok
    a[1], a[2] = xs, ys
    np.multiply(xs, xs, out=a[3])
    np.multiply(ys, ys, out=a[4])
    np.multiply(xs, ys, out=a[5])
    c = np.zeros((6, k, m + 1))
    np.cumsum(a, axis=2, out=c[:, :, 1:])
    n, sx, sy, sxx, syy, sxy = c[:, :, 1:] - c[:, :, np.maximum(np.arange(1, m + 1) - w, 0)]
    with np.errstate(invalid="ignore", divide="ignore"):
        cov = sxy - sx * sy / n
        vx = sxx - sx * sx / n
        vy = syy - sy * sy / n
        r = cov / np.sqrt(vx * vy)
        slope = cov / vx
        rms = np.sqrt(np.maximum(vy - cov * slope, 0.0) / n)
    bad = (n < min_points) | ~(vx > 0) | ~(vy > 0)
    r[bad] = slope[bad] = rms[bad] = np.nan
    return r, slope, rms


@detector(
    "XV-04",
    name="unrelated-channel lockstep",
    family="xv",
    targets=["B4 signal substitution (one signal wired into several channels)", "B4 simulated data",
             "B4 series copied from another station"],
    history_s=3 * 86400,
    params={
        "window_hours": Param(24.0, "h", "rolling window"),
        "min_coverage": Param(0.75, "fraction", "share of the window with both values present"),
        "min_corr": Param(0.995, "Pearson r", "|r| of the values at least this …"),
        "min_agreement": Param(0.9, "fraction", "… and of the steps where both change, this share change the same way"
                               " (one shared front or start-up makes |r| high; the noise around it agrees half the time) …"),
        "max_shape_diff": Param(0.2, "z units", "… and the z-normalised shapes differ nowhere by more than this"),
        "min_moves": Param(0.5, "fraction", "both series must change (by a resolution step) in this share of the"
                           " window: a shared front followed by two flat tails is not lockstep"),
        "affine_tolerance": Param(1.0, "resolution steps", "an affine fit within this many transmission steps is exact"),
        "min_levels": Param(5.0, "resolution steps", "exactness needs each series to spread (std) over this many steps"),
        "related": Param([sorted(p) for p in RELATED], "", "pairs that may legitimately move together"),
        "neighbours": Param(True, "", "also compare with the same parameter at neighbouring stations (exact copies)"),
        "max_km": Param(50.0, "km", "neighbour radius for copies"),
        "copy_edge_hours": Param(6, "h", "a copy between stations is reported at the station whose series jumps "
                                 "at the copy's edges (medians of this many hours each side), not at its source — "
                                 "decided over every parameter the two stations share verbatim "
                                 "(copy_side.station_copy_side); 0: both"),
        "shared_source_weight": Param(SHARED_SOURCE_WEIGHT, "", "score factor of a near (not exact) lockstep of two"
                                      " combustion pollutants (CO, SO2, NO2, PM) at an ambient-air station: one haze"
                                      " accumulates them together — a notice by the default policy; 1: off"),
    },
)
def lockstep(series: Series, ctx: Context, *, window_hours: float, min_coverage: float, min_corr: float,
             min_agreement: float, max_shape_diff: float, min_moves: float, affine_tolerance: float, min_levels: float,
             related: Sequence[Sequence[str]], neighbours: bool, max_km: float,
             copy_edge_hours: float = 6, shared_source_weight: float = SHARED_SOURCE_WEIGHT) -> list[Finding]:
    """Windows in which the series moves in lockstep with a channel it should be independent of (XV-04).

    Compared with every other parameter of the station (except ``related`` pairs and the series'
    own converted value). A window is SUSPECT when the values correlate with ``|r| ≥ min_corr``,
    both series change (by a transmission step) together in at least ``min_moves`` of the steps and
    in the same direction (opposite for r < 0) in ``min_agreement`` of those, and the
    z-normalised shapes agree within ``max_shape_diff``
    everywhere — the manganese-plant case (§A.7): PM, flow and flue temperature identical because
    one signal fed all three. It is FAIL when an affine fit ``y = a + b·x``
    holds to within ``affine_tolerance`` transmission steps while both series spread over at least
    ``min_levels`` steps: two real analysers never agree to the last digit for a day. With
    ``neighbours`` the same parameter at nearby stations is compared too, but only a verbatim copy
    counts (equal within half a transmission step, for a day): neighbours share the weather — a
    city's O3 curves correlate at r > 0.995 and coarse CO steps line up by chance.
    Flat windows are skipped (TMP-03's finding). A pair of channels of one station is reported
    once, on the code that sorts first. Score 1 for an exact relation; otherwise 0.8 at ``min_corr``
    rising to 1 at r = 1.

    At an ambient-air station a near (SUSPECT, not exact) lockstep of two pollutants of
    :data:`COMBUSTION_TRACERS` — CO, SO2, NO2, PM2.5, PM10 — has its score multiplied by
    ``shared_source_weight`` (a notice by the default policy): in a Hebei winter they share their
    source (coal for heating, traffic) and one inversion accumulates them together, so a stagnant
    haze day gives r ≥ 0.995 between CO and PM (clean Hebei 2019: all 5 XV-04 level-2 alarms, CO
    with SO2, PM2.5 or PM10, r 0.995–0.998, residuals of 2–30 µg/m³). A signal wired into two
    channels is an exact relation (FAIL) and keeps its score; so do copies and CEMS channels.
    """
    rel = {frozenset(p) for p in related}
    code = series.parameter
    base = code.split(":")[0]
    w = steps(window_hours, series.step_s)
    min_points = max(3, int(np.ceil(min_coverage * w)))
    stride = max(1, w // 24)  # minute data: test one window per hour
    x = series.values
    dx = np.concatenate([[np.nan], np.diff(x)])
    qx = _quantum(x)
    cands: list[tuple[str, str | None, np.ndarray]] = []
    for other_code, other in ctx.series.items():
        ob = other_code.split(":")[0]
        if other_code == code or ob == base or frozenset({base, ob}) in rel or len(other) == 0:
            continue
        if other_code < code:  # the pair is reported once, on the code that sorts first
            continue
        cands.append((other_code, None, aligned(series.times, other)))
    if neighbours:
        for st, _d, nb_series in select_neighbours(ctx, code, max_km, 8):
            cands.append((code, st, aligned(series.times, nb_series)))
    thresholds = {"window_hours": window_hours, "min_corr": min_corr, "min_agreement": min_agreement, "min_moves": min_moves,
                  "max_shape_diff": max_shape_diff, "affine_tolerance": affine_tolerance, "min_levels": min_levels}
    out: list[Finding] = []
    per = 3600 // max(series.step_s, 1)
    coarse = per > 1 and w // per >= 6
    if coarse:  # minute data: a pair not near-lockstep in hourly means cannot be in minute values
        xh = _block_means(x, per)
        wh = w // per
    # a neighbour counts only as a verbatim copy (below): a window needs min_points values equal
    # within half a step and none that differ — cheap to rule out before any correlation, and for
    # all neighbours at once
    nb_y = [y for _c, st, y in cands if st is not None]
    copy_ok, nb_q = _copy_windows(x, qx, nb_y, w, min_points) if nb_y else ([], [])
    j_nb = 0
    corr: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    if not coarse:  # every candidate left is correlated below: all in one pass
        keep = [j for j, (_c, st, _y) in enumerate(cands) if st is None]
        keep += [j for j, ok in zip([j for j, c in enumerate(cands) if c[1] is not None], copy_ok, strict=True) if ok]
        if keep:
            r_rows, slope_rows, rms_rows = _rolling_corr_rows(x, np.vstack([cands[j][2] for j in keep]), w, min_points)
            corr = {j: (r_rows[i], slope_rows[i], rms_rows[i]) for i, j in enumerate(keep)}
    for j_cand, (other_code, station, y) in enumerate(cands):
        if station is not None:
            j_nb += 1
            if not copy_ok[j_nb - 1]:
                continue
            qy = nb_q[j_nb - 1]
        if coarse:
            rh, _, _ = _rolling_corr(xh, _block_means(y, per), wh, max(3, int(np.ceil(min_coverage * wh))))
            with np.errstate(invalid="ignore"):
                if not (np.abs(rh) >= min_corr - 0.01).any():
                    continue
        r, slope, rms = corr[j_cand] if j_cand in corr else _rolling_corr(x, y, w, min_points)
        with np.errstate(invalid="ignore"):
            if not (np.abs(r) >= min_corr).any():
                continue
        if station is None:  # a neighbour's was taken above
            qy = _quantum(y)
        dy = np.concatenate([[np.nan], np.diff(y)])
        with np.errstate(invalid="ignore"):
            moved = (np.abs(dx) >= max(qx, 1e-9)) & (np.abs(dy) >= max(qy, 1e-9))
            same = moved & (dx * dy > 0)
            n_moves = _rolling_count(moved, w)
            # agreement with the window's own direction: changes the same way for r > 0, opposite for r < 0
            n_agree = np.where(np.nan_to_num(r) >= 0, _rolling_count(same, w), n_moves - _rolling_count(same, w))
            hot = (np.abs(r) >= min_corr) & (n_moves >= min_moves * w) & (n_agree >= min_agreement * n_moves)
            if station is not None:  # only an exact relation counts: its RMS residual is within the tolerance too
                hot &= rms <= affine_tolerance * (qy + np.abs(slope) * qx) / 2.0 + 1e-9
        hot[np.arange(hot.size) % stride != (hot.size - 1) % stride] = False
        if not hot.any():
            continue
        cover = np.zeros(x.size, dtype=bool)
        exact_cover = np.zeros(x.size, dtype=bool)
        for k in np.flatnonzero(hot):  # the window ending at k is [k − w + 1, k + 1)
            a0 = max(0, k - w + 1)
            xx, yy = x[a0:k + 1], y[a0:k + 1]
            ok = np.isfinite(xx) & np.isfinite(yy)
            xx, yy = xx[ok], yy[ok]
            sx, sy = float(xx.std()), float(yy.std())
            if sx <= max(qx, 1e-9) or sy <= max(qy, 1e-9):
                continue
            b, a = np.polyfit(xx, yy, 1)
            resid = float(np.max(np.abs(yy - (a + b * xx))))
            exact = (resid <= affine_tolerance * (qy + abs(b) * qx) / 2.0 + 1e-9
                     and sx >= min_levels * qx and sy >= min_levels * qy)
            if station is not None:
                # a copy from another station is verbatim (slope 1, no offset); coarse neighbours that
                # share the weather (CO in 0.1 mg/m³ steps) can be affine within a step by chance
                exact = exact and float(np.max(np.abs(yy - xx))) <= max(qx, qy) / 2.0 + 1e-9
            zx, zy = (xx - xx.mean()) / sx, (yy - yy.mean()) / sy
            same_shape = float(np.max(np.abs(zx - np.sign(r[k]) * zy))) <= max_shape_diff
            if exact or (station is None and same_shape):
                cover[a0:k + 1] = True
                exact_cover[a0:k + 1] |= exact
        what = f"{station}/{other_code}" if station else other_code
        for s, e in runs(cover, min(w, min_points)):
            side = 0
            if station is not None and copy_edge_hours > 0:
                # decided from every parameter the copy took (a copy replaces the whole record):
                side = station_copy_side(code, {**ctx.series, code: series}, ctx.neighbours.get(station, {}),
                                         series.times, s, e, edge_hours=int(copy_edge_hours),
                                         step_s=series.step_s)["side"]
                if side < 0:  # the neighbour's series jumps onto this one's: it copied, this is the source
                    continue
            ok = np.isfinite(x[s:e]) & np.isfinite(y[s:e])
            xx, yy = x[s:e][ok], y[s:e][ok]
            rr = float(np.corrcoef(xx, yy)[0, 1])
            b, a = np.polyfit(xx, yy, 1)
            resid = float(np.max(np.abs(yy - (a + b * xx))))
            exact = bool(exact_cover[s:e].any())
            shared = (not exact and station is None and ctx.attrs.get("kind") == "air"
                      and {base, other_code.split(":")[0]} <= COMBUSTION_TRACERS)
            score = 1.0 if exact else _lockstep_score(abs(rr), min_corr) * (shared_source_weight if shared else 1.0)
            out.append(Finding(s, e, Status.FAIL if exact else Status.SUSPECT,
                               f"XV-04 {code} {'copies' if station else 'moves in lockstep with'} {what}"
                               + (" (exact affine relation)" if exact else ""),
                               score, {
                                   **iso_span(series, s, e), "station": series.station,
                                   "channels": [code, other_code], "other_station": station,
                                   "shared_source": shared,
                                   "inputs": {code: slice_values(x, s, e), what: slice_values(y, s, e)},
                                   "corr": round(rr, 6),
                                   "affine": {"intercept": round(float(a), 6), "slope": round(float(b), 6),
                                              "max_residual": round(resid, 6)},
                                   "resolution": {code: qx, what: qy}, "exact": exact, "thresholds": thresholds,
                                   **({"copier": "this station" if side > 0 else "undetermined"}
                                      if station is not None else {}),
                               }))
    out.sort(key=lambda f: f.start)
    return out
