"""Mark detectors (qc_fraud.md §F, MARK family): enterprise data marks checked against the process and
the data they hide.

Under the 2022 marking rule (《污染物排放自动监测设备标记规则》, MEE announcement 2022 No. 21;
qc_fraud.md §A.3) data the plant marks as abnormal operation — monitoring equipment under fault,
maintenance or commissioning; production or treatment start-up, shut-down or failure — are not
used to judge exceedance. A false mark therefore hides an exceedance (behaviour B8):

* MARK-01 — a mark that the process signals contradict (marked shut-down while load, flow,
  temperature and O2 show normal operation; marked maintenance while the analyser kept measuring),
  and the reverse, a shut-down nobody marked;
* MARK-02 — marks that fall on would-be exceedances far more often than chance;
* MARK-03 — marks created long after the period they cover, beyond the allowed window.

Marks are station-wide, so the same mark finding can appear on every parameter checked; alarm
episodes merge them. Scores are in [0, 1] (the alarm policy's scale): a finding that just passes
its gates scores 0.8, stronger evidence up to 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tianlan.qc.checks._common import flag_in
from tianlan.qc.checks._common import runs as true_runs
from tianlan.qc.core import Context, Finding, Mark, Param, Series, Status, detector

#: Process signals of a flue-gas outlet (HJ 212 codes; ``load`` = unit load as the plant reports it).
LOAD, FLOW, TEMPERATURE, O2 = "load", "a00000", "a01012", "a19001"

#: Mark kinds meaning "the process was stopped" (production/treatment shut-down) and "the monitoring
#: equipment was out of service" (2022 marking rule §A.3), English and Chinese.
STOP_MARKS = ("shutdown", "stop", "停运", "停产", "停炉", "停机")
EQUIPMENT_MARKS = ("maintenance", "fault", "维护", "维修", "故障")

#: Process and flue-gas state signals: never the parameter station-wide findings are reported on.
PROCESS_SIGNALS = frozenset({LOAD, FLOW, TEMPERATURE, O2, "a01011", "a01013", "a01014", "w00000"})

DAY_S = 86400

#: Flue-gas pollutants whose limits apply to the O2-converted (折算) concentration (HJ 75-2017).
FLUE_POLLUTANTS = frozenset({"a21026", "a21002", "a21003", "a21004", "a34013", "a21005"})
#: O2 above this is near ambient air (a stopped unit): the conversion factor is capped there.
O2_CONVERSION_CAP = 19.0


def compared_values(series: Series, ctx: Context, *, convert: bool = True) -> tuple[np.ndarray, bool]:
    """(values as compared with the limit, converted?) — a flue-gas pollutant with ``attrs["o2_ref"]``
    and an O2 series (a19001) is converted to the reference O2, c·(21 − O2ref)/(21 − O2) (HJ 75),
    O2 capped at :data:`O2_CONVERSION_CAP`; anything else is compared as reported."""
    ref = ctx.attrs.get("o2_ref")
    o2 = ctx.series.get(O2)
    if not convert or series.parameter not in FLUE_POLLUTANTS or o2 is None or not isinstance(ref, int | float):
        return series.values, False
    x = np.minimum(_aligned(series.times, o2), O2_CONVERSION_CAP)
    return series.values * (21.0 - float(ref)) / (21.0 - x), True


def lead_parameter(ctx: Context) -> str | None:
    """The one parameter of a site that station-wide findings (a mark, a site-wide parameter event)
    are reported on, so that one mark makes one alarm, not one per analyser: the first code (sorted)
    of ``ctx.series`` that has a limit in ``ctx.limits``, else the first that is not a process
    signal; None when ``ctx.series`` is empty."""
    codes = sorted(c for c in ctx.series if c not in PROCESS_SIGNALS)
    with_limit = [c for c in codes if c in ctx.limits]
    pick = with_limit or codes
    return pick[0] if pick else None


def reports_here(series: Series, ctx: Context) -> bool:
    """Whether station-wide findings go on ``series``: it is the lead parameter, or the context does
    not list the site's series (a detector called on one series alone)."""
    lead = lead_parameter(ctx)
    return lead is None or series.parameter not in ctx.series or series.parameter == lead


def _norm(kind: str) -> str:
    return kind.strip().lower()


def _in_marks(times: np.ndarray, step: int, marks: Sequence[Mark]) -> np.ndarray:
    """Per slot [t, t+step): index of the first mark overlapping it, −1 where none."""
    out = np.full(times.size, -1, dtype=np.int64)
    for k, m in enumerate(marks):
        hit = (times < m.end_utc) & (times + step > m.start_utc) & (out < 0)
        out[hit] = k
    return out


def _aligned(times: np.ndarray, other: Series) -> np.ndarray:
    out = np.full(times.size, np.nan)
    if len(other) == 0:
        return out
    i = np.minimum(np.searchsorted(other.times, times), other.times.size - 1)
    hit = other.times[i] == times
    out[hit] = other.values[i[hit]]
    return out


def _iso(t: float | int | None) -> str | None:
    return None if t is None else str(np.datetime64(int(t), "s")) + "Z"


def _mark_ev(m: Mark) -> dict[str, Any]:
    return {"mark": m.mark, "start": _iso(m.start_utc), "end": _iso(m.end_utc), "created": _iso(m.created_utc),
            "start_utc": int(m.start_utc), "end_utc": int(m.end_utc), "created_utc": m.created_utc}


def _score(effect: float, threshold: float) -> float:
    """0.8 at the threshold, rising linearly to 1 at 1.25 × the threshold."""
    if threshold <= 0:
        return 1.0
    return round(min(1.0, 0.8 * effect / threshold), 4)


# ----------------------------------------------------------------------------------------------- MARK-01

def process_state(times: np.ndarray, ctx: Context, *, on_frac: float, off_frac: float, temp_on_frac: float,
                  temp_off_frac: float, o2_on_max: float, o2_off_min: float,
                  unmarked: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, dict[str, float]]]:
    """(operating, stopped, signals used) per slot from the process signals in ``ctx.series``.

    Load and flow rise when the process runs: operating at ≥ ``on_frac`` of their normal level,
    stopped at ≤ ``off_frac`` of it; flue temperature likewise with ``temp_on_frac`` and
    ``temp_off_frac`` (a stopped stack cools towards ambient, not to zero). The normal level is the
    90th percentile over unmarked slots (over all slots if fewer than 10). Flue O2 falls when it
    runs: operating at ≤ ``o2_on_max`` %, stopped at ≥ ``o2_off_min`` % (ambient air is 20.9 %).
    Each reporting signal votes on, off or neither; a slot is operating (stopped) when at least two
    thirds of the reporting signals vote so and none votes the other way.
    """
    n = times.size
    votes_on = np.zeros(n, dtype=np.int64)
    votes_off = np.zeros(n, dtype=np.int64)
    present = np.zeros(n, dtype=np.int64)
    used: dict[str, dict[str, float]] = {}
    for code in (LOAD, FLOW, TEMPERATURE, O2):
        s = ctx.series.get(code)
        if s is None or len(s) == 0:
            continue
        x = _aligned(times, s)
        ok = np.isfinite(x)
        if not ok.any():
            continue
        if code == O2:
            on, off = x <= o2_on_max, x >= o2_off_min
            used[code] = {"on_at_most": o2_on_max, "off_at_least": o2_off_min}
        else:
            base = x[ok & unmarked] if (ok & unmarked).sum() >= 10 else x[ok]
            ref = float(np.quantile(base, 0.9))
            f_on, f_off = (temp_on_frac, temp_off_frac) if code == TEMPERATURE else (on_frac, off_frac)
            on, off = x >= f_on * ref, x <= f_off * ref
            used[code] = {"normal_level_p90": ref, "on_at_least": f_on * ref, "off_at_most": f_off * ref}
        present += ok
        votes_on += ok & on
        votes_off += ok & off
    need = np.maximum(1, np.ceil(present * 2 / 3))
    operating = (present > 0) & (votes_on >= need) & (votes_off == 0)
    stopped = (present > 0) & (votes_off >= need) & (votes_on == 0)
    return operating, stopped, used


def _silent(times: np.ndarray, s: Series) -> np.ndarray | None:
    """Slots where the analyser sent nothing at all — no value and no HJ 212 flag — or None when the
    series carries no flags (then absence cannot be told from a flagged gap)."""
    no_flag = flag_in(s, frozenset({""}))  # None, "" or blank
    if no_flag is None:
        return None
    i = np.minimum(np.searchsorted(s.times, times), s.times.size - 1)
    hit = s.times[i] == times
    v = _aligned(times, s)
    return ~np.isfinite(v) & (~hit | no_flag[i])


def _readings(times: np.ndarray, s: Series) -> tuple[np.ndarray, np.ndarray]:
    """(values, measuring) of an analyser at ``times``: measuring = a value with flag N or no flag."""
    v = _aligned(times, s)
    ok = np.isfinite(v)
    normal = flag_in(s, frozenset({"N", "n", ""}))  # N, or no flag (None, "" or blank); None: no flags
    if normal is not None:
        i = np.minimum(np.searchsorted(s.times, times), s.times.size - 1)
        hit = s.times[i] == times
        ok &= hit & normal[i]
    return v, ok


@detector(
    "MARK-01",
    name="Mark contradicted by the process",
    family="mark",
    targets=["false shut-down or maintenance marks (B8)", "unmarked shut-downs", "2022 marking rule"],
    params={
        "stop_marks": Param(list(STOP_MARKS), "", "mark kinds claiming the process was stopped"),
        "equipment_marks": Param(list(EQUIPMENT_MARKS), "", "mark kinds claiming the monitoring equipment was out of service"),
        "on_frac": Param(0.5, "× normal level", "load/flow at or above this share of normal = operating"),
        "off_frac": Param(0.2, "× normal level", "load/flow at or below this share of normal = stopped"),
        "temp_on_frac": Param(0.7, "× normal level", "flue temperature at or above this share of normal = operating"),
        "temp_off_frac": Param(0.5, "× normal level", "flue temperature at or below this share of normal = stopped"),
        "o2_on_max": Param(19.0, "%", "flue O2 at or below this = operating"),
        "o2_off_min": Param(20.0, "%", "flue O2 at or above this = stopped (ambient 20.9 %)"),
        "min_share": Param(0.8, "share", "share of the marked slots (with signals) that must contradict the mark"),
        "min_hours": Param(2.0, "h", "contradicting time needed for a finding"),
        "check_unmarked": Param(True, "", "also report shut-downs (every signal says stopped) that no mark covers"),
        "unmarked_min_hours": Param(6.0, "h", "shortest unmarked shut-down reported"),
        "check_dropped": Param(True, "", "report equipment marks under which an analyser sent nothing (no value, no "
                               "flag) while the others sent normal values"),
    },
    systems=("source",),
)
def mark_vs_process(series: Series, ctx: Context, *, stop_marks: Sequence[str], equipment_marks: Sequence[str],
                    on_frac: float, off_frac: float, temp_on_frac: float, temp_off_frac: float, o2_on_max: float,
                    o2_off_min: float, min_share: float,
                    min_hours: float, check_unmarked: bool, unmarked_min_hours: float,
                    check_dropped: bool = True) -> list[Finding]:
    """Marks the process signals contradict, and shut-downs nobody marked (catalogue MARK-01).

    Process state per slot from load (``load``), flow (a00000), flue temperature (a01012) and O2
    (a19001) in ``ctx.series`` (:func:`process_state`). Per mark overlapping the series:

    * a *stop* mark (``stop_marks``) whose slots show operation for ≥ ``min_share`` of the slots
      with signals and ≥ ``min_hours`` →
      ``stop_mark_while_operating``;
    * an *equipment* mark (``equipment_marks``) during which the process operated and every
      analyser of the site kept measuring — a value in each such slot, flag ``N`` (or no flags),
      not flat — for the same share and time → ``maintenance_mark_while_measuring``: during real
      maintenance some analyser is off, flagged M/D, or reads calibration gas; when one analyser's
      values are flagged M/C/D under the mark, the mark is consistent (and MARK-02 judges the pattern);
    * an *equipment* mark under which an analyser sent **nothing** — no value and no HJ 212 flag
      (series with flags only) — while the process operated and the DAS kept sending the site's
      other analysers as normal, for the same share and time → ``maintenance_mark_channel_dropped``:
      HJ 212 equipment under maintenance, calibration or fault still reports its factors flagged
      M, C or D; a factor left out of records that carry its siblings was skipped, not maintained
      (2015 measures 4(7); the false-mark case of the 2022 marking rule where the hidden values are
      also deleted).

    With ``check_unmarked``, a run of ≥ ``unmarked_min_hours`` in which the signals say stopped and
    no mark covers it → ``unmarked_stop`` (the data then count as normal operation).
    All SUSPECT; score 0.8 at ``min_share`` rising to 1 when every slot contradicts the mark.
    Evidence: the mark, slots, contradicting share, the signals' medians in the mark vs their normal
    levels and the thresholds. Without process signals nothing is evaluated.
    """
    t = series.times
    if t.size == 0 or not reports_here(series, ctx):
        return []
    step = int(series.step_s)
    stop_k = {_norm(k) for k in stop_marks}
    eq_k = {_norm(k) for k in equipment_marks}
    marks = [m for m in ctx.marks if m.end_utc > int(t[0]) and m.start_utc < int(t[-1]) + step]
    which = _in_marks(t, step, list(ctx.marks))
    operating, stopped, used = process_state(t, ctx, on_frac=on_frac, off_frac=off_frac, temp_on_frac=temp_on_frac,
                                             temp_off_frac=temp_off_frac, o2_on_max=o2_on_max, o2_off_min=o2_off_min,
                                             unmarked=which < 0)
    if not used:
        return []
    has_signal = operating | stopped
    for code in used:
        has_signal |= np.isfinite(_aligned(t, ctx.series[code]))
    analysers = {c: a for c, a in ctx.series.items() if c not in PROCESS_SIGNALS and len(a)}
    analysers.setdefault(series.parameter, series)
    readings = {c: _readings(t, a) for c, a in analysers.items()}
    silent = {c: _silent(t, a) for c, a in analysers.items()}
    compared = {c: _aligned(t, Series(a.station, c, a.times, compared_values(a, ctx)[0])) for c, a in analysers.items()
                if c in ctx.limits}
    out: list[Finding] = []
    thresholds = {"on_frac": on_frac, "off_frac": off_frac, "temp_on_frac": temp_on_frac, "temp_off_frac": temp_off_frac,
                  "o2_on_max": o2_on_max, "o2_off_min": o2_off_min,
                  "min_share": min_share, "min_hours": min_hours}
    for m in marks:
        kind = _norm(m.mark)
        if kind not in stop_k and kind not in eq_k:
            continue
        inside = (t < m.end_utc) & (t + step > m.start_utc)
        idx = np.flatnonzero(inside)
        if idx.size == 0:
            continue
        known = int(has_signal[idx].sum())
        if known == 0:
            continue
        if kind in stop_k:
            contra = operating[idx]
            reason = "stop_mark_while_operating"
        else:
            contra = operating[idx].copy()
            for vals, ok in readings.values():  # every analyser kept measuring: nothing was under maintenance
                v = vals[idx]
                contra &= ok[idx] & (np.unique(v[np.isfinite(v)]).size >= 3)
            reason = "maintenance_mark_while_measuring"
        n_contra = int(contra.sum())
        share = n_contra / known
        dropped: list[str] = []
        if kind in eq_k and (share < min_share or n_contra * step < min_hours * 3600) and check_dropped:
            # HJ 212: equipment under maintenance, calibration or fault still reports each of its
            # factors, flagged M, C or D. A factor that vanishes from the records while the DAS
            # goes on sending the site's other analysers as normal (N) did not go into maintenance:
            # it was left out (2015 measures 4(7), key parameters skipped).
            sending = np.zeros(idx.size, dtype=bool)
            for _vals, ok in readings.values():
                sending |= ok[idx]
            gone = np.zeros(idx.size, dtype=bool)
            for c in analysers:
                sil = silent.get(c)
                if sil is None:
                    continue
                g = sil[idx] & sending & operating[idx]
                if g.sum() >= 1:
                    dropped.append(c)
                gone |= g
            n_gone = int(gone.sum())
            if dropped and n_gone / known >= min_share and n_gone * step >= min_hours * 3600:
                contra, n_contra, share = gone, n_gone, n_gone / known
                reason = "maintenance_mark_channel_dropped"
        if share < min_share or n_contra * step < min_hours * 3600:
            continue
        medians = {}
        for code in used:
            x = _aligned(t[idx], ctx.series[code])
            medians[code] = float(np.nanmedian(x)) if np.isfinite(x).any() else None
        over = {c: {"limit": float(ctx.limits[c]), "values_over_limit": int(np.sum(cv[idx] > ctx.limits[c]))}
                for c, cv in compared.items()}
        out.append(Finding(int(idx[0]), int(idx[-1]) + 1, Status.SUSPECT, reason, _score(share, min_share), {
            **_mark_ev(m), "slots": int(idx.size), "slots_with_signals": known, "contradicting_slots": n_contra,
            "contradicting_share": round(share, 4), "signal_medians_in_mark": medians, "signals": used,
            "analysers_measuring": sorted(readings) if kind in eq_k else None, "over_limit_in_mark": over,
            "channels_dropped": dropped or None,
            "thresholds": thresholds,
        }))
    if check_unmarked:
        for r0, r1 in true_runs(stopped & (which < 0)):
            if (r1 - r0) * step < unmarked_min_hours * 3600:
                continue
            medians = {}
            for code in used:
                x = _aligned(t[r0:r1], ctx.series[code])
                medians[code] = float(np.nanmedian(x)) if np.isfinite(x).any() else None
            hours = (r1 - r0) * step / 3600
            out.append(Finding(r0, r1, Status.SUSPECT, "unmarked_stop", _score(hours, unmarked_min_hours), {
                "start": _iso(int(t[r0])), "end": _iso(int(t[r1 - 1]) + step), "hours": hours,
                "signal_medians": medians, "signals": used,
                "checked_values": int(np.isfinite(series.values[r0:r1]).sum()),
                "thresholds": {**thresholds, "unmarked_min_hours": unmarked_min_hours},
            }))
    return out


# ----------------------------------------------------------------------------------------------- MARK-02

def binom_sf(k: int, n: int, p: float) -> float:
    """P(X ≥ k) for X ~ Binomial(n, p), exact."""
    if k <= 0:
        return 1.0
    if k > n or p <= 0:
        return 0.0 if k > 0 else 1.0
    if p >= 1:
        return 1.0
    lp, lq = math.log(p), math.log1p(-p)
    total = 0.0
    for j in range(k, n + 1):
        term = math.exp(math.lgamma(n + 1) - math.lgamma(j + 1) - math.lgamma(n - j + 1) + j * lp + (n - j) * lq)
        total += term
        if term < total * 1e-17:
            break
    return min(1.0, total)


def hourly(series: Series) -> tuple[np.ndarray, np.ndarray]:
    """(hour starts, hourly means) of a series; hourly series pass through (HJ 75: exceedance is
    judged on the hourly value)."""
    if series.step_s >= 3600:
        return series.times, series.values
    h = series.times - series.times % 3600
    hours, inv = np.unique(h, return_inverse=True)
    ok = np.isfinite(series.values)
    s = np.bincount(inv[ok], weights=series.values[ok], minlength=hours.size)
    c = np.bincount(inv[ok], minlength=hours.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        return hours, np.where(c > 0, s / np.maximum(c, 1), np.nan)


@detector(
    "MARK-02",
    name="Marks targeting would-be exceedances",
    family="mark",
    targets=["marks placed on exceedances to hide them (B8, B7)", "2022 marking rule"],
    params={
        "marks": Param([], "", "mark kinds considered (empty: every kind except those in 'exclude')"),
        "exclude": Param(["calibration", "校准"], "", "kinds never considered (span gas makes high readings legitimately)"),
        "alpha": Param(0.01, "", "one-sided binomial p-value of the marked exceedance episodes"),
        "min_ratio": Param(3.0, "ratio", "effect size floor: marked share of exceedance episodes ÷ chance share"),
        "min_marked_episodes": Param(3, "episodes", "fewest exceedance episodes that a mark covers"),
        "min_marks": Param(2, "marks", "fewest distinct marks holding an exceedance (one coincidence is not a pattern)"),
        "o2_conversion": Param(True, "", "compare flue-gas pollutants converted to the site's reference O2 (HJ 75)"),
    },
    systems=("source",),
)
def mark_targeting(series: Series, ctx: Context, *, marks: Sequence[str], exclude: Sequence[str], alpha: float,
                   min_ratio: float, min_marked_episodes: int, min_marks: int, o2_conversion: bool) -> list[Finding]:
    """Marks that cover would-be exceedances far more often than chance (catalogue MARK-02).

    On hourly values (minute data averaged; HJ 75 judges exceedance on the hourly value), a
    *would-be exceedance* is an hour whose reported value exceeds ``ctx.limits[series.parameter]``:
    inside a mark it would have counted had the mark not excluded it. Flue-gas pollutants are
    compared converted to the site's reference O2 (``attrs["o2_ref"]``, O2 from a19001; HJ 75),
    as the limits are. The unit of the test is the
    exceedance **episode** (a run of consecutive exceedance hours), not the hour: hours of one
    episode are not independent, and counting them separately made random marks "significant" in
    6 % of simulated two-month records. Of n episodes, k touch a mark. Under chance an episode of
    length L touches a mark with probability p_L = the share of start hours from which L hours
    would touch a marked hour; p0 = mean p_L over the episodes, and k ~ Binomial(n, p0) (a
    conservative stand-in for the Poisson-binomial). Finding (SUSPECT, ``marks_on_exceedances``)
    when p < ``alpha``, (k/n)/p0 ≥ ``min_ratio``, k ≥ ``min_marked_episodes`` and ≥ ``min_marks``
    distinct marks hold an exceedance; it spans the first to the last such mark. Score 0.8 at
    ``min_ratio`` rising to 1. Evidence: episodes and hours (marked and all), p0, the hour-level
    marked share as well, ratio, p-value, the limit and each targeted mark with its hours over the
    limit. Hours whose values are missing inside marks cannot be judged and are left out.
    """
    limit = ctx.limits.get(series.parameter)
    if limit is None or len(series) == 0:
        return []
    inc = {_norm(k) for k in marks}
    exc = {_norm(k) for k in exclude}
    ms = [m for m in ctx.marks if (not inc or _norm(m.mark) in inc) and _norm(m.mark) not in exc]
    if not ms:
        return []
    vals, converted = compared_values(series, ctx, convert=o2_conversion)
    ht, hv = hourly(Series(series.station, series.parameter, series.times, vals, step_s=series.step_s))
    grid = np.arange(int(ht[0]), int(ht[-1]) + 3600, 3600, dtype=np.int64)
    v = np.full(grid.size, np.nan)
    v[(ht - ht[0]) // 3600] = hv
    which = _in_marks(grid, 3600, ms)
    ok = np.isfinite(v)
    marked = ok & (which >= 0)
    exceed = ok & (v > limit)
    episodes = true_runs(exceed)
    n = len(episodes)
    hit = [(r0, r1) for r0, r1 in episodes if marked[r0:r1].any()]
    k = len(hit)
    if n == 0 or k < min_marked_episodes:
        return []
    cm = np.concatenate(([0], np.cumsum(marked)))
    starts_ok = np.flatnonzero(ok)
    p_l: dict[int, float] = {}
    for r0, r1 in episodes:
        ln = r1 - r0
        if ln not in p_l:
            s0 = starts_ok[starts_ok + ln <= grid.size]
            p_l[ln] = float(np.mean(cm[s0 + ln] - cm[s0] > 0)) if s0.size else 0.0
    p0 = float(np.mean([p_l[r1 - r0] for r0, r1 in episodes]))
    if p0 <= 0:
        return []
    ratio = (k / n) / p0
    targeted = sorted({int(j) for r0, r1 in hit for j in which[r0:r1] if j >= 0})
    if ratio < min_ratio or len(targeted) < min_marks:
        return []
    p = binom_sf(k, n, p0)
    if p >= alpha:
        return []
    t0 = min(ms[j].start_utc for j in targeted)
    t1 = max(ms[j].end_utc for j in targeted)
    s = int(np.searchsorted(series.times, t0 - series.step_s + 1, "left"))
    e = int(np.searchsorted(series.times, t1, "left"))
    if e <= s:
        return []
    per_mark = []
    for j in targeted:
        sel = which == j
        per_mark.append({**_mark_ev(ms[j]), "hours": int((sel & ok).sum()), "hours_over_limit": int((sel & exceed).sum()),
                         "max_value": float(np.nanmax(v[sel])) if (sel & ok).any() else None})
    n_ok, n_marked = int(ok.sum()), int(marked.sum())
    return [Finding(s, e, Status.SUSPECT, "marks_on_exceedances", _score(ratio, min_ratio), {
        "limit": float(limit), "o2_converted": converted, "exceedance_episodes": n, "marked_exceedance_episodes": k,
        "chance_share": round(p0, 5),
        "marked_share_of_episodes": round(k / n, 5), "ratio": round(ratio, 3), "p_value": p,
        "hours_with_value": n_ok, "marked_hours": n_marked, "exceedance_hours": int(exceed.sum()),
        "marked_exceedance_hours": int((exceed & marked).sum()), "marked_share_of_hours": round(n_marked / max(n_ok, 1), 5),
        "marks": per_mark,
        "thresholds": {"alpha": alpha, "min_ratio": min_ratio, "min_marked_episodes": min_marked_episodes,
                       "min_marks": min_marks},
    })]


# ----------------------------------------------------------------------------------------------- MARK-03

@detector(
    "MARK-03",
    name="Late or retroactive marks",
    family="mark",
    targets=["marks added after the data were seen (B8)", "2022 marking rule", "10-day repair window"],
    params={
        "window_days": Param(10.0, "days", "allowed time from the end of the marked period to the mark's creation"),
        "kinds": Param([], "", "mark kinds checked (empty: all)"),
    },
    systems=("source",),
)
def late_marks(series: Series, ctx: Context, *, window_days: float, kinds: Sequence[str]) -> list[Finding]:
    """Marks created more than ``window_days`` after the end of the period they cover (catalogue MARK-03).

    The window. Plants must mark abnormal periods as they happen (2022 marking rule, §A.3). The
    10 days come from the national platform's data-transmission-efficiency rules (qc_fraud.md §A.5),
    as quoted in a training deck on them (数据传输有效率考核及数据修约方法,
    renrendoc.com/p-62656122.html): invalid or missing data are repaired or annotated in the
    platform software "在自动监控数据生成10日内"; after 10 days the automatic flags stand
    ("10日内不进行人工修补的…默认自动监控数据标识"), and an annotation whose supporting document is
    not uploaded "下月10日前" is reverted ("自动恢复原数据标识"). The window there runs from each
    datum's generation, so 10 days from the end of the marked period is the same limit for its last
    datum and a looser one for earlier data. Not found: the clause of the official notice behind
    the deck, and any time limit in the 2022 rule itself (公告2022年第21号; its text was not
    obtained) or in Hebei's rules [verify before enforcement; the window is a parameter]. A mark
    beyond the window is a rule breach, not a statistic: FAIL,
    ``late_mark``, score 0.8 at the window rising to 1 at 1.25 × the window. Evidence: the mark,
    how late it was, whether the covered data had been received before the mark was made
    (``series.received``) and, per pollutant of the site with a limit, how many covered values
    exceeded it — a late mark hiding an exceedance already seen is the retroactive pattern. Marks
    without a creation time and marks not overlapping the series are not evaluated; findings are
    reported once per site, on :func:`lead_parameter`.
    """
    t = series.times
    if t.size == 0 or not reports_here(series, ctx):
        return []
    step = int(series.step_s)
    want = {_norm(k) for k in kinds}
    window = window_days * DAY_S
    pollutants = {c: s for c, s in ctx.series.items() if c in ctx.limits and len(s)} or (
        {series.parameter: series} if series.parameter in ctx.limits else {})
    out: list[Finding] = []
    for m in ctx.marks:
        if m.created_utc is None or (want and _norm(m.mark) not in want):
            continue
        late = float(m.created_utc) - float(m.end_utc)
        if late <= window:
            continue
        idx = np.flatnonzero((t < m.end_utc) & (t + step > m.start_utc))
        if idx.size == 0:
            continue
        v = series.values[idx]
        ev: dict[str, Any] = {**_mark_ev(m), "late_days": round(late / DAY_S, 3), "window_days": window_days,
                              "values_covered": int(np.isfinite(v).sum())}
        if series.received is not None:
            rec = np.asarray(series.received, dtype=np.float64)[idx]
            seen = np.isfinite(rec) & (rec < float(m.created_utc))
            ev["values_received_before_mark"] = int(seen.sum())
        over = {}
        for code, ps in pollutants.items():
            pv = compared_values(ps, ctx)[0][(ps.times < m.end_utc) & (ps.times + ps.step_s > m.start_utc)]
            pv = pv[np.isfinite(pv)]
            over[code] = {"limit": float(ctx.limits[code]), "values_over_limit": int(np.sum(pv > ctx.limits[code])),
                          "max_value": float(pv.max()) if pv.size else None}
        if over:
            ev["over_limit"] = over
        out.append(Finding(int(idx[0]), int(idx[-1]) + 1, Status.FAIL, "late_mark", _score(late, window), ev))
    return out
