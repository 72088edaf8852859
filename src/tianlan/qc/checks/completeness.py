"""Completeness: aggregation coverage, gaps and their reasons, late data, missing factors (CMP-01..04).

Catalogue rows CMP-01..04 of ``reference/qc_fraud.md`` §F. Completeness is a *state* family: its
findings say whether enough data exist to form a value and whether an absence is explained by the
instrument (HJ 212 flags), by a mark or log event, or by the network; they never change data.

Statuses used here: ``MISSING`` (9) for an aggregate that cannot be formed or a gap whose reason is
known — a fact, not an accusation; ``SUSPECT`` (3) for what needs a person: a gap nobody explained, a
month below its capture rule, late or backfilled data, a factor the station stopped sending.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tianlan.qc.checks._common import (
    canonical,
    events_of,
    flag_in,
    flag_list,
    grid_index,
    has_state,
    index_range,
    iso,
    local_day,
    local_month,
    runs,
    sample,
    valid_mask,
)
from tianlan.qc.core import Context, Finding, Param, Series, Status, detector

# --- CMP-01 -------------------------------------------------------------------------------------


def _inside(starts: np.ndarray, length: int, t0: int, t1: int) -> np.ndarray:
    """Periods [start, start + length) wholly inside the series' span [t0, t1): the first and last
    periods of a window may be cut, and a cut period says nothing about its completeness."""
    return (starts >= t0) & (starts + length <= t1)


@detector(
    "CMP-01",
    name="aggregation completeness",
    family="cmp",
    targets=["selective recording (B5)", "aggregation manipulation (B6)"],
    params={
        "min_minutes_per_hour": Param(45, "min", "valid minutes an hourly value needs (HJ 76 App. B; GB 3095 §7)"),
        "min_hours_per_day": Param(20, "h", "valid hours a daily value needs (GB 3095 §7, HJ 76)"),
        "min_hours_per_8h": Param(6, "h", "valid hours an O3 8-h value needs (GB 3095 §7); O3 only"),
        "min_days_per_month": Param(27, "d", "valid days a month needs (GB 3095: 27; HJ 76 CEMS: 25)"),
        "min_days_february": Param(25, "d", "valid days February needs (GB 3095: 25; HJ 76 CEMS: 23)"),
        "tz_offset_h": Param(8, "h", "local time of the day and month boundaries (Beijing, UTC+8)"),
        "suspect_month_share": Param(0.5, "fraction", "a month with fewer valid days than this share of its requirement is "
                                     "SUSPECT (a station that mostly stopped reporting); between it and the requirement MISSING"),
    },
)
def aggregation_completeness(series: Series, ctx: Context, *, min_minutes_per_hour: float, min_hours_per_day: float,
                             min_hours_per_8h: float, min_days_per_month: float, min_days_february: float,
                             tz_offset_h: float, suspect_month_share: float) -> list[Finding]:
    """Periods with too few valid values to form an aggregate (catalogue CMP-01).

    Valid = a value present and not flagged invalid by the instrument (HJ 212-2017 Table 8). From
    minute data (``step_s`` < 3600) an hour needs ``min_minutes_per_hour`` valid minutes (HJ 76-2017
    App. B); a day needs ``min_hours_per_day`` valid hours, an O3 8-h value ``min_hours_per_8h`` of 8,
    a month ``min_days_per_month`` valid days (February ``min_days_february``) — GB 3095-2012 §7 and
    HJ 76-2017 App. B. Days and months are in local time (``tz_offset_h``); only periods wholly
    inside the series are judged, so a window cut mid-day says nothing about that day.

    Findings: ``hour-incomplete``, ``day-incomplete``, ``o3-8h-incomplete``, ``month-incomplete`` →
    MISSING (the aggregate cannot be formed; the gaps themselves are CMP-02's). A month with fewer
    than ``suspect_month_share`` of its required valid days is ``month-incomplete`` SUSPECT: the
    station mostly stopped reporting (Hebei 2019 H1: 7 % of station-parameter-months fall short, 78 %
    of those with 20–26 valid days; the rest report nothing at all). Score: the missing share of
    the requirement, 0–1.
    """
    n = len(series)
    if n == 0:
        return []
    off = int(round(tz_offset_h * 3600))
    t = series.times
    step = max(int(series.step_s), 1)
    valid = valid_mask(series)
    out: list[Finding] = []

    # hour validity: from minute data by count, from hourly data directly
    if step < 3600:
        hour_key = (t + off) // 3600
        need_min = int(np.ceil(min_minutes_per_hour * 60 / step))
        hk, hstart = np.unique(hour_key, return_index=True)
        hcount = np.add.reduceat(valid.astype(np.int64), hstart)
        hend = np.append(hstart[1:], n)
        inside = _inside(hk * 3600 - off, 3600, int(t[0]), int(t[-1]) + step)
        hour_ok = hcount >= need_min
        for i in np.flatnonzero(inside & ~hour_ok):
            out.append(Finding(int(hstart[i]), int(hend[i]), Status.MISSING, "hour-incomplete",
                               float(1 - hcount[i] / need_min),
                               {"valid": int(hcount[i]), "required": need_min, "hour_start_utc": int(hk[i] * 3600 - off)}))
        hour_t = hk * 3600 - off
        hour_rows = (hstart, hend)
    else:
        hour_t = t
        hour_ok = valid
        hour_rows = (np.arange(n), np.arange(1, n + 1))

    # days
    day = local_day(hour_t, off)
    dk, dstart = np.unique(day, return_index=True)
    dcount = np.add.reduceat(hour_ok.astype(np.int64), dstart)
    inside = _inside(dk * 86400 - off, 86400, int(t[0]), int(t[-1]) + step)
    # hourly (or finer) data: min_hours_per_day; coarser steps scale it (a daily series: its one value)
    need_day = min_hours_per_day if step <= 3600 else max(1.0, np.ceil(min_hours_per_day * 3600 / step))
    day_ok = dcount >= need_day
    dend_h = np.append(dstart[1:], hour_t.size)
    for i in np.flatnonzero(inside & ~day_ok) if step < 86400 else []:
        s, e = int(hour_rows[0][dstart[i]]), int(hour_rows[1][dend_h[i] - 1])
        out.append(Finding(s, e, Status.MISSING, "day-incomplete", float(1 - dcount[i] / min_hours_per_day),
                           {"valid_hours": int(dcount[i]), "required": min_hours_per_day,
                            "day_start_utc": int(dk[i] * 86400 - off),
                            "rule": "GB 3095-2012 §7 / HJ 76-2017 App. B"}))

    # O3 8-h windows (hourly values): the window ending at each hour needs min_hours_per_8h valid
    if canonical(series.parameter) == "a05024" and hour_t.size >= 8:
        pos = (hour_t - hour_t[0]) // 3600
        g = np.zeros(int(pos[-1]) + 1, dtype=np.int64)
        g[pos] = hour_ok
        c = np.convolve(g, np.ones(8, dtype=np.int64))[7:g.size]  # window ending at grid hour 7..
        bad = np.zeros(g.size, dtype=bool)
        bad[7:] = c < min_hours_per_8h
        bad_rows = bad[pos]
        for s, e in runs(bad_rows):
            rs, re_ = int(hour_rows[0][s]), int(hour_rows[1][e - 1])
            out.append(Finding(rs, re_, Status.MISSING, "o3-8h-incomplete", 1.0,
                               {"windows": e - s, "required": min_hours_per_8h, "window_h": 8, "rule": "GB 3095-2012 §7"}))

    # months: count valid days
    y, m = local_month(dk * 86400 - off, off)
    mkey = y * 12 + (m - 1)
    mk, mstart = np.unique(mkey, return_index=True)
    mvalid = np.add.reduceat((day_ok & inside).astype(np.int64), mstart)
    first_t, end_t = int(t[0]), int(t[-1]) + step
    for j, key in enumerate(mk.tolist()):
        yy, mm = divmod(key, 12)
        m0 = int(np.datetime64(f"{yy:04d}-{mm + 1:02d}", "s").astype(np.int64)) - off
        m1 = int((np.datetime64(f"{yy:04d}-{mm + 1:02d}", "M") + 1).astype("datetime64[s]").astype(np.int64)) - off
        if m0 < first_t or m1 > end_t:
            continue
        need = float(min_days_february if mm == 1 else min_days_per_month)
        if mvalid[j] >= need:
            continue
        s, e = index_range(t, m0, m1)
        if e <= s:
            continue
        status = Status.SUSPECT if mvalid[j] < suspect_month_share * need else Status.MISSING
        out.append(Finding(s, e, status, "month-incomplete", float(1 - mvalid[j] / need),
                           {"valid_days": int(mvalid[j]), "required": int(need), "month": f"{yy:04d}-{mm + 1:02d}",
                            "rule": "GB 3095-2012 §7 (27 d, Feb 25) / HJ 76-2017 (25 d, Feb 23)"}))
    return out


# --- CMP-02 -------------------------------------------------------------------------------------

#: HJ 212 flags that explain an absent value: stopped, maintenance, fault, calibration, comms (2017),
#: power failure (2005), calibration and abnormal (2005 air digits).
EXPLAINING_FLAGS = frozenset({"F", "M", "D", "C", "B", "P", "0", "2"})
#: Log-event kinds that explain a gap.
EXPLAINING_EVENTS = ("maintenance", "fault", "repair", "power", "outage", "comm", "calibration", "zero_check",
                     "span_check", "shutdown", "stop", "relocation")


def _gaps(series: Series, max_gap: int) -> list[tuple[int, int, int, int, int]]:
    """Gaps longer than ``max_gap`` intervals: (first row, end row, length in intervals, t0, t1).

    A gap is a run of grid intervals with no value: rows with NaN, absent rows, or both. ``t0``/``t1``
    bound it in time; the row range [a, b) holds the NaN rows, or the two rows around an absent span.
    """
    t, v = series.times, series.values
    step = max(int(series.step_s), 1)
    n = t.size
    idx = np.flatnonzero(np.isfinite(v))
    if idx.size == 0:
        return [(0, n, n, int(t[0]), int(t[-1]) + step)] if n > max_gap else []
    pos = grid_index(series)
    out = []
    lead = int(idx[0])
    if lead > max_gap:
        out.append((0, lead, lead, int(t[0]), int(t[lead])))
    missing = np.diff(pos[idx]) - 1  # grid intervals without a value between consecutive values
    for k in np.flatnonzero(missing > max_gap).tolist():
        a, b = int(idx[k]), int(idx[k + 1])
        lo, hi = (a + 1, b) if b > a + 1 else (a, b + 1)
        out.append((lo, hi, int(missing[k]), int(t[a]) + step, int(t[b])))
    tail = n - 1 - int(idx[-1])
    if tail > max_gap:
        a = int(idx[-1])
        out.append((a + 1, n, tail, int(t[a]) + step, int(t[-1]) + step))
    return out


def _neighbour_missing_share(ctx: Context, code: str, t0: int, t1: int, step: int) -> tuple[float, int]:
    """Share of neighbours with the same parameter that lack a value for most of [t0, t1)."""
    want = np.arange(t0, t1, step, dtype=np.int64)
    if want.size == 0:
        return 0.0, 0
    down = used = 0
    for params in ctx.neighbours.values():
        ns = next((s for k, s in params.items() if canonical(k) == code), None)
        if ns is None or len(ns) == 0 or ns.times[0] > t0 or ns.times[-1] < t1 - step:
            continue
        used += 1
        i = np.clip(np.searchsorted(ns.times, want), 0, len(ns) - 1)
        hit = (ns.times[i] == want) & np.isfinite(ns.values[i])
        if hit.mean() < 0.5:
            down += 1
    return (down / used if used else 0.0), used


@detector(
    "CMP-02",
    name="gap and reason",
    family="cmp",
    targets=["selective recording or transmission gaps (B5)", "power cut or equipment damage (B10)"],
    params={
        "max_gap_intervals": Param(2, "intervals", "longest gap (in step_s intervals) accepted without a reason"),
        "network_share": Param(0.5, "fraction", "share of neighbours also without data that makes a gap network-wide"),
        "min_neighbours": Param(3, "stations", "neighbours needed to call a gap network-wide"),
        "max_gap_without_state": Param(24, "intervals", "when the series carries no instrument flags at all, gaps up to "
                                       "this long are MISSING 'gap-reason-unknown' rather than suspect (no channel could "
                                       "explain them)"),
    },
)
def gaps(series: Series, ctx: Context, *, max_gap_intervals: int, network_share: float, min_neighbours: int,
         max_gap_without_state: int) -> list[Finding]:
    """Gaps longer than ``max_gap_intervals`` and whether anything explains them (catalogue CMP-02).

    Follows ioos_qc ``time_gap_test`` for the gap, and the AQS null-code / AirVision ``ZZ`` idea for
    the reason: an absence must carry one. A gap is explained by (1) an HJ 212-2017 flag F, M, D, C
    or B (or 2005 P) on its rows or on the rows just before and after it, (2) a mark overlapping it
    (``ctx.marks``), (3) a log event of a kind in ``EXPLAINING_EVENTS`` within one interval of it, or
    (4) the network: at least ``network_share`` of at least ``min_neighbours`` neighbours lack the same
    parameter over the gap too (a platform or release outage, not the station's).

    A series without any instrument flags (``Series.flags`` None: a CSV of published values) has no
    channel for a reason, so calling its short gaps "unexplained" would only measure the data
    source: gaps up to ``max_gap_without_state`` intervals are MISSING ``gap-reason-unknown`` there,
    longer ones SUSPECT (on the real Hebei 2019 release: 1.8 gaps > 2 h per station-month and
    parameter, a third of them network-wide; a day-long silence is rare and worth a look).

    Findings: ``gap-explained`` → MISSING, with what explains it; ``gap-reason-unknown`` → MISSING;
    ``gap-unexplained`` → SUSPECT.
    Score: gap length in days (an effect size, not capped). Evidence: the gap's UTC bounds, length in
    intervals, the explanation tried and found, the neighbour share.
    """
    if len(series) == 0:
        return []
    step = max(int(series.step_s), 1)
    code = canonical(series.parameter)
    fl = flag_list(series)
    state = has_state(series)
    out = []
    for lo, hi, length, t0, t1 in _gaps(series, int(max_gap_intervals)):
        why: str | None = None
        if fl is not None:
            around = fl[max(lo - 1, 0):min(hi + 1, len(fl))]
            hit = next((f for f in around if f in EXPLAINING_FLAGS), None)
            if hit:
                why = f"flag:{hit}"
        if why is None:
            mk = next((mk for mk in ctx.marks if mk.start_utc < t1 and mk.end_utc > t0), None)
            if mk is not None:
                why = f"mark:{mk.mark}"
        if why is None:
            ev = [e for e in events_of(ctx, EXPLAINING_EVENTS, code) if t0 - step <= int(e["time_utc"]) < t1 + step]
            if ev:
                why = f"event:{ev[0].get('kind')}"
        share, used = _neighbour_missing_share(ctx, code, t0, t1, step) if why is None else (0.0, 0)
        if why is None and used >= min_neighbours and share >= network_share:
            why = "network"
        ev_: dict[str, Any] = {"gap_start_utc": t0, "gap_end_utc": t1, "gap_start": iso(t0), "intervals": length,
                               "max_gap_intervals": max_gap_intervals, "explained_by": why,
                               "neighbours_used": used, "neighbours_missing_share": round(share, 3)}
        if why:
            status, reason = Status.MISSING, "gap-explained"
        elif not state and length <= max_gap_without_state:
            status, reason = Status.MISSING, "gap-reason-unknown"
        else:
            status, reason = Status.SUSPECT, "gap-unexplained"
        out.append(Finding(lo, hi, status, reason, length * step / 86400, ev_))
    return out


# --- CMP-03 -------------------------------------------------------------------------------------

LATE_EXCUSES = ("comm", "outage", "recall", "backfill_request")


@detector(
    "CMP-03",
    name="stale or late data",
    family="cmp",
    targets=["selective transmission (B5)", "backfilled or re-made records (B11)"],
    params={
        "max_delay_h": Param(2.0, "h", "delay from the end of a period to its reception beyond which it is late"),
        "burst_count": Param(6, "values", "late values received within burst_window_s that make a backfill burst"),
        "burst_window_s": Param(900, "s", "window of a backfill burst"),
    },
)
def late_data(series: Series, ctx: Context, *, max_delay_h: float, burst_count: int, burst_window_s: float) -> list[Finding]:
    """Values received long after their period ended, bursts of backfill, and a stale feed (CMP-03).

    Uses ``Series.received`` (UTC s; not evaluated without it). Delay = received − (time + step_s).
    ioos_qc ``data_reception_test`` for staleness; the CNEMC ``Re`` (backfill) mark for the burst.
    Late values are not suspicious when a log event of kind comm/outage/recall/backfill_request
    (``LATE_EXCUSES``) lies between a day before the period and its reception — HJ 212 allows a
    recalled backfill after a communications outage.

    Findings (SUSPECT): ``backfill-burst`` — at least ``burst_count`` late values received within
    ``burst_window_s`` (one finding per burst); ``late`` — other runs of late values; ``stale`` — the
    last value is older than ``max_delay_h`` at ``ctx.attrs['now_utc']`` (when given). Score: the
    largest delay in hours. Evidence: delays (h) of a sample, reception window, counts.
    """
    n = len(series)
    out: list[Finding] = []
    step = max(int(series.step_s), 1)
    limit = max_delay_h * 3600
    now = ctx.attrs.get("now_utc")
    if now is not None and n:
        present = np.flatnonzero(np.isfinite(series.values))
        last = int(present[-1]) if present.size else n - 1
        age = float(now) - (int(series.times[last]) + step)
        if age > limit:
            out.append(Finding(last, last + 1, Status.SUSPECT, "stale", age / 3600,
                               {"now_utc": int(now), "last_value_utc": int(series.times[last]), "age_h": round(age / 3600, 2),
                                "max_delay_h": max_delay_h}))
    if series.received is None or n == 0:
        return out
    rec = np.asarray(series.received, dtype=np.float64)
    delay = rec - (series.times + step)
    late = np.isfinite(delay) & (delay > limit)
    if not late.any():
        return out
    excuses = [int(e["time_utc"]) for e in events_of(ctx, LATE_EXCUSES)]
    if excuses:
        ex = np.asarray(excuses, dtype=np.float64)
        # an excuse logged between a day before the period and the reception of the value
        j = np.searchsorted(ex, rec, "right") - 1
        has = (j >= 0) & (ex[np.clip(j, 0, None)] >= series.times - 86400)
        late &= ~has
    idx = np.flatnonzero(late)
    if idx.size == 0:
        return out
    # bursts: late values ordered by reception; a burst is >= burst_count within burst_window_s
    order = idx[np.argsort(rec[idx], kind="stable")]
    r = rec[order]
    in_burst = np.zeros(order.size, dtype=bool)
    k = 0
    bursts: list[np.ndarray] = []
    while k < order.size:
        e = int(np.searchsorted(r, r[k] + burst_window_s, "right"))
        if e - k >= burst_count:
            # extend while the next value still arrives within the window of the previous one
            while e < order.size and r[e] - r[e - 1] <= burst_window_s:
                e = int(np.searchsorted(r, r[e] + burst_window_s, "right"))
            bursts.append(order[k:e])
            in_burst[k:e] = True
            k = e
        else:
            k += 1
    for b in bursts:
        rows = np.sort(b)
        d = delay[rows] / 3600
        out.append(Finding(int(rows[0]), int(rows[-1]) + 1, Status.SUSPECT, "backfill-burst", float(d.max()),
                           {"values": int(rows.size), "received_from": iso(rec[rows].min()), "received_to": iso(rec[rows].max()),
                            "delay_h_max": round(float(d.max()), 2), "delay_h_min": round(float(d.min()), 2),
                            "burst_count": burst_count, "burst_window_s": burst_window_s}))
    rest = np.zeros(n, dtype=bool)
    rest[order[~in_burst]] = True
    for s, e in runs(rest):
        d = delay[s:e] / 3600
        out.append(Finding(s, e, Status.SUSPECT, "late", float(np.nanmax(d)),
                           {"delay_h": sample(d, 0, e - s), "max_delay_h": max_delay_h, "values": e - s}))
    return sorted(out, key=lambda f: (f.start, f.reason))


# --- CMP-04 -------------------------------------------------------------------------------------


@detector(
    "CMP-04",
    name="missing expected factor",
    family="cmp",
    targets=["key parameters deliberately skipped (2015 measures 4(7))", "selective transmission (B5)"],
    params={
        "min_intervals": Param(3, "intervals", "consecutive intervals without the factor while others report (k)"),
        "min_intervals_without_state": Param(24, "intervals", "k when the series carries no instrument flags at all (a "
                                             "factor's own analyser outage cannot be told from leaving it out)"),
    },
)
def missing_factor(series: Series, ctx: Context, *, min_intervals: int, min_intervals_without_state: int) -> list[Finding]:
    """Expected factors that are not reported (catalogue CMP-04; HJ 212-2017; 2015 measures 4(7)).

    Two checks. (1) This parameter is absent (no value and no explaining HJ 212 flag F/M/D/C/B) for
    at least ``min_intervals`` consecutive intervals while another parameter of the station
    (``ctx.series``) has values at the same times → SUSPECT ``factor-absent``: the packets came, this
    factor was left out. Without any flags on the series, k is ``min_intervals_without_state`` (a
    day): a published CSV cannot tell a factor's analyser outage from leaving the factor out, and
    hours-long single-analyser outages are routine (Hebei 2019: 3.6 runs ≥ 3 h per station-month). (2) A factor listed in
    ``ctx.attrs['expected_parameters']`` (codes or names) has no series in ``ctx.series`` at all →
    SUSPECT ``factor-not-reported`` over the whole series; reported once per station, on the call for
    the first parameter (by code) the station does report. Score: share of the series' intervals
    affected (1) or the number of missing factors (2).
    """
    out: list[Finding] = []
    n = len(series)
    if n == 0:
        return out
    code = canonical(series.parameter)
    others = [s for k, s in ctx.series.items() if canonical(k) != code and len(s)]
    mine = np.isfinite(series.values)
    explained = flag_in(series, frozenset(EXPLAINING_FLAGS))
    if explained is not None:  # reported with a status that explains the absent value: not left out
        mine |= explained
    k = int(min_intervals if has_state(series) else min_intervals_without_state)
    if others:
        any_other = np.zeros(n, dtype=bool)
        t = series.times
        for s in others:
            i = np.clip(np.searchsorted(s.times, t), 0, len(s) - 1)
            any_other |= (s.times[i] == t) & np.isfinite(s.values[i])
        for a, b in runs(~mine & any_other, k):
            out.append(Finding(a, b, Status.SUSPECT, "factor-absent", (b - a) / n,
                               {"intervals": b - a, "min_intervals": k, "flags_known": has_state(series), "from_utc": int(t[a]),
                                "others_reporting": sorted(canonical(k) for k, s in ctx.series.items() if canonical(k) != code)}))
    expected = ctx.attrs.get("expected_parameters")
    if expected:
        have = {canonical(k) for k in ctx.series} | {code}
        missing = sorted({canonical(x) for x in expected} - have)
        first = min(have) if have else code
        if missing and code == first:
            out.append(Finding(0, n, Status.SUSPECT, "factor-not-reported", float(len(missing)),
                               {"missing": missing, "expected": sorted(canonical(x) for x in expected),
                                "reported": sorted(have)}))
    return out
