"""Equipment state: instrument status flags, drift and out-of-control windows, calibration schedule
(catalogue EQP-01, EQP-03, EQP-04 of ``reference/qc_fraud.md`` §F).

This family decides *validity* from instrument state (DESIGN §3): a value the instrument flagged, or
taken while the analyser was out of control, is FAIL (not valid for compliance) — a statement of
state, not of suspicion. What needs a person is SUSPECT: a status nobody explains, a calibration
outside the schedule or without a log entry.

Log events (``ctx.events``) used here, all times UTC epoch s:

- zero/span checks: ``{"time_utc", "kind": "zero_check" | "span_check", "key": factor code,
  "new": drift in % of full scale (or "drift"), optional "limit" (% F.S.), optional "passed": bool}``;
- calibrations: kind ``calibration`` | ``multipoint`` | ``zero_check`` | ``span_check``, with
  optional ``"approved": bool``;
- maintenance, faults, stops, comms and power: kinds ``maintenance``, ``repair``, ``fault``,
  ``shutdown``/``stop``, ``comm``/``outage``, ``power``, ``manual_value``.

The calibration schedule is ``ctx.attrs["calibration_schedule"]``: ``{"hours": [local hours 0–23
when the automatic checks run], "weekdays": [0–6, Monday = 0] (optional, default every day),
"max_interval_h": hours after which a calibration is overdue (optional)}``, or a mapping of factor
code → such a dict (key ``default`` for the rest).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from tianlan.hj212.codes import data_flag
from tianlan.qc.checks._common import (
    BEIJING_OFFSET_S,
    canonical,
    events_of,
    flag_in,
    flag_state,
    index_range,
    iso,
    local_hour,
    runs,
)
from tianlan.qc.core import Context, Finding, Param, Series, Status, detector

VALID_FLAGS = frozenset({"", "N", "T", "1", "3"})  # normal, above range (kept valid), 2005 air: met, normal

#: What may explain each status: mark texts and event kinds (case-insensitive).
EXPLAINS: dict[str, frozenset[str]] = {
    "F": frozenset({"shutdown", "stop", "stopped", "停运", "停机", "f", "start_stop", "启停"}),
    "M": frozenset({"maintenance", "维护", "m", "repair", "检修"}),
    "D": frozenset({"fault", "故障", "d", "repair", "检修"}),
    "C": frozenset({"calibration", "zero_check", "span_check", "multipoint", "校准", "c"}),
    "B": frozenset({"comm", "outage", "通讯", "b"}),
    "S": frozenset({"manual_value", "set_value", "s"}),
    "P": frozenset({"power", "outage", "停电", "p"}),
    "0": frozenset({"calibration", "zero_check", "span_check", "multipoint", "校准"}),
    "2": frozenset({"fault", "故障", "repair", "maintenance"}),
}

CALIBRATION_EVENTS = ("calibration", "zero_check", "span_check", "multipoint")
CALIBRATION_FLAGS = frozenset({"C", "0"})


def _schedule(ctx: Context, code: str) -> Mapping[str, Any] | None:
    sch = ctx.attrs.get("calibration_schedule")
    if not isinstance(sch, Mapping):
        return None
    if "hours" in sch or "max_interval_h" in sch:
        return sch
    for k, v in sch.items():
        if k != "default" and canonical(k) == code:
            return v if isinstance(v, Mapping) else None
    d = sch.get("default")
    return d if isinstance(d, Mapping) else None


def _in_schedule(times: np.ndarray, sch: Mapping[str, Any] | None) -> np.ndarray:
    if not sch or "hours" not in sch:
        return np.zeros(times.size, dtype=bool)
    ok = np.isin(local_hour(times), np.asarray(list(sch["hours"]), dtype=np.int64))
    if sch.get("weekdays") is not None:
        wd = ((np.asarray(times, dtype=np.int64) + BEIJING_OFFSET_S) // 86400 + 3) % 7  # 1970-01-01 was a Thursday
        ok &= np.isin(wd, np.asarray(list(sch["weekdays"]), dtype=np.int64))
    return ok


def _explained(flag: str, t0: int, t1: int, ctx: Context, code: str, window_s: float, in_schedule: bool) -> str | None:
    kinds = EXPLAINS.get(flag, frozenset())
    if flag in CALIBRATION_FLAGS and in_schedule:
        return "schedule"
    for mk in ctx.marks:
        if mk.start_utc < t1 and mk.end_utc > t0 and str(mk.mark).strip().lower() in kinds:
            return f"mark:{mk.mark}"
    for e in events_of(ctx, kinds, code):
        te = int(e["time_utc"])
        if t0 - window_s <= te < t1 + window_s:
            return f"event:{e.get('kind')}"
    return None


@detector(
    "EQP-01",
    name="instrument status",
    family="eqp",
    targets=["equipment damage or power cut (B10)", "false status (B8)"],
    params={
        "event_window_h": Param(2.0, "h", "how far from a flagged run a log event may lie and still explain it"),
    },
)
def instrument_status(series: Series, ctx: Context, *, event_window_h: float) -> list[Finding]:
    """Values whose instrument status is not "normal", and whether anything explains the status (EQP-01).

    HJ 212-2017 Table 8 flags (and HJ/T 212-2005 letters and air-station digits) as read by
    ``tianlan.hj212.codes.data_flag``: F, M, S, D, C, B, P, 0, 2 make a value not valid for
    compliance (AQS null-code logic); N, T and the 2005 digits 1, 3 are valid and not reported.
    Explanations: a mark over the run or a log event within ``event_window_h`` of it whose kind fits
    the status (``EXPLAINS``: M ← maintenance/repair, D ← fault, F ← shutdown/stop, C ← calibration,
    zero/span check, or the calibration schedule, B ← comm/outage, P ← power, S ← manual_value).

    Findings per run of one status: ``status-<flag>`` → FAIL (not valid; evidence says what explains
    it), plus ``status-unexplained`` → SUSPECT over the same run when nothing does; an unknown flag →
    ``status-unknown`` SUSPECT. Score: run length in hours. Without flags nothing is evaluated.
    """
    fs = flag_state(series)
    if fs is None or len(series) == 0:
        return []
    code = canonical(series.parameter)
    step = max(int(series.step_s), 1)
    sched = _in_schedule(series.times, _schedule(ctx, code))
    out = []
    for flag in sorted(set(fs.uniq) - VALID_FLAGS):
        meaning = data_flag(flag)
        for s, e in runs(fs.isin(frozenset({flag}))):
            t0, t1 = int(series.times[s]), int(series.times[e - 1]) + step
            hours = (t1 - t0) / 3600
            if meaning is None:
                out.append(Finding(s, e, Status.SUSPECT, "status-unknown", hours,
                                   {"flag": flag, "count": e - s, "from": iso(t0)}))
                continue
            if not meaning.invalid:
                continue
            why = _explained(flag, t0, t1, ctx, code, event_window_h * 3600, bool(sched[s:e].all()))
            ev = {"flag": flag, "meaning": meaning.en, "meaning_zh": meaning.zh, "count": e - s, "from": iso(t0),
                  "explained_by": why, "rule": "HJ 212-2017 Table 8"}
            out.append(Finding(s, e, Status.FAIL, f"status-{flag}", hours, ev))
            if why is None:
                out.append(Finding(s, e, Status.SUSPECT, "status-unexplained", hours, dict(ev)))
    return sorted(out, key=lambda f: (f.start, f.reason))


# --- EQP-03 -------------------------------------------------------------------------------------


def _drift(e: Mapping[str, Any]) -> float | None:
    for k in ("drift", "new"):
        v = e.get(k)
        if v is None:
            continue
        try:
            return float(v)
        except (TypeError, ValueError):
            return None
    return None


@detector(
    "EQP-03",
    name="drift and out of control",
    family="eqp",
    targets=["analyser faults", "parameter tampering (B3)"],
    params={
        # [verify] HJ 75-2017's drift / out-of-control table was not obtained (only its table of contents,
        # chinesestandard.net/PDF.aspx/HJ75-2017; standards/cems.md §5 has it as not compiled either). 2.5 % F.S.
        # is the drift acceptance vendors quote for gas CEMS (qc_fraud.md §A.4). HJ 75 is recalled, not read, to
        # separate a drift that calls for recalibration from a larger drift that makes the data out of control;
        # if 2.5 % is the former, these defaults open out-of-control windows too early. An event's own ``limit``
        # overrides them.
        "zero_limit": Param(2.5, "% F.S.", "zero drift beyond which the analyser is out of control "
                           "(gas CEMS; HJ 75-2017 value unverified)"),
        "span_limit": Param(2.5, "% F.S.", "span drift beyond which the analyser is out of control "
                           "(gas CEMS; HJ 75-2017 value unverified)"),
    },
)
def drift(series: Series, ctx: Context, *, zero_limit: float, span_limit: float) -> list[Finding]:
    """Out-of-control windows from failed zero or span checks (catalogue EQP-03).

    40 CFR 75.24 and HJ 75-2017 §11–12 logic: a check whose |drift| (event ``drift`` or ``new``, % of
    full scale) exceeds its limit (the event's ``limit``, else ``zero_limit`` / ``span_limit``; an
    explicit ``passed`` wins) puts the analyser out of control from the last passing check of the
    same parameter before it until the next passing check after it (the end of the series while
    none has passed). Checks are ``ctx.events`` of kind ``zero_check``/``span_check`` whose ``key`` is
    this parameter (or absent: every parameter).

    Findings: ``out-of-control`` → FAIL (values not valid) over each window. Score: the largest
    |drift| / limit of the failing checks. Evidence: the checks (time, kind, drift, limit, passed).
    """
    if len(series) == 0:
        return []
    code = canonical(series.parameter)
    checks = []
    for ev in events_of(ctx, ("zero_check", "span_check"), code):
        d = _drift(ev)
        lim = float(ev.get("limit") or (zero_limit if str(ev["kind"]).lower() == "zero_check" else span_limit))
        passed = ev.get("passed")
        if passed is None:
            if d is None:
                continue
            passed = abs(d) <= lim
        checks.append((int(ev["time_utc"]), str(ev["kind"]), d, lim, bool(passed)))
    if not checks:
        return []
    end_t = int(series.times[-1]) + max(int(series.step_s), 1)
    windows: list[list[Any]] = []
    for i, (t, _k, _d, _l, ok) in enumerate(checks):
        if ok:
            continue
        prev = next((c[0] for c in reversed(checks[:i]) if c[4]), t)
        nxt = next((c[0] for c in checks[i + 1:] if c[4]), end_t)
        if windows and prev <= windows[-1][1]:
            windows[-1][1] = max(windows[-1][1], nxt)
            windows[-1][2].append(checks[i])
        else:
            windows.append([prev, nxt, [checks[i]]])
    out = []
    for t0, t1, failed in windows:
        s, e = index_range(series.times, t0, t1)
        if e <= s:
            continue
        score = max((abs(d) / lim if d is not None and lim else 1.0) for _, _, d, lim, _ in failed)
        out.append(Finding(s, e, Status.FAIL, "out-of-control", float(score),
                           {"from": iso(t0), "to": iso(t1),
                            "failed_checks": [{"time": iso(t), "kind": k, "drift_pct_fs": d, "limit": lim}
                                              for t, k, d, lim, _ in failed],
                            "passing_checks_used": sum(1 for c in checks if c[4]), "rule": "HJ 75-2017 §11; 40 CFR 75.24"}))
    return out


# --- EQP-04 -------------------------------------------------------------------------------------


@detector(
    "EQP-04",
    name="calibration schedule",
    family="eqp",
    targets=["parameter tampering (B3)", "standards injected out of schedule (2015 measures 4(8))", "false status (B8)"],
    params={
        "event_window_h": Param(2.0, "h", "how far from a C-flagged run a calibration log entry may lie"),
    },
)
def calibration_schedule(series: Series, ctx: Context, *, event_window_h: float) -> list[Finding]:
    """Calibrations outside the schedule or without a log entry, and overdue calibrations (EQP-04).

    Catalogue EQP-04 (AQS QA transactions, Part 75 daily calibration). A run of C-flagged values
    (HJ 212-2017 ``C``; 2005 air digit ``0``) is fine when it falls in the schedule's hours (and
    weekdays), or when a calibration event (``calibration``/``zero_check``/``span_check``/
    ``multipoint``) lies within ``event_window_h`` of it and is not ``approved: false``. Otherwise:
    ``calibration-unscheduled`` (a schedule exists, the run is outside it, no log entry),
    ``calibration-unlogged`` (no schedule configured and no log entry), ``calibration-unapproved``
    (logged but rejected) → SUSPECT. When the schedule gives ``max_interval_h``, the time after a
    calibration (C run or event) plus ``max_interval_h`` until the next is ``calibration-overdue`` →
    FAIL (HJ 75: data while calibration is overdue are not valid); counting starts at the series start.

    Score: run length in hours (overdue: hours overdue). Evidence: run bounds, schedule, the event
    found.
    """
    n = len(series)
    if n == 0:
        return []
    code = canonical(series.parameter)
    step = max(int(series.step_s), 1)
    sch = _schedule(ctx, code)
    in_sch = _in_schedule(series.times, sch)
    evs = events_of(ctx, CALIBRATION_EVENTS, code)
    et = np.array([int(e["time_utc"]) for e in evs], dtype=np.int64)
    is_c = flag_in(series, frozenset(CALIBRATION_FLAGS))
    out = []
    cal_times: list[int] = et.tolist()
    if is_c is not None:
        w = event_window_h * 3600
        for s, e in runs(is_c):
            t0, t1 = int(series.times[s]), int(series.times[e - 1]) + step
            cal_times.append(t0)
            if sch is not None and in_sch[s:e].all():
                continue
            near = [evs[i] for i in np.flatnonzero((et >= t0 - w) & (et < t1 + w))]
            ev: dict[str, Any] = {"from": iso(t0), "to": iso(t1), "count": e - s, "schedule": dict(sch) if sch else None}
            if near:
                ok = [x for x in near if x.get("approved") is not False]
                if ok:
                    continue
                ev["event"] = {k: near[0].get(k) for k in ("time_utc", "kind", "key", "approved")}
                reason = "calibration-unapproved"
            else:
                reason = "calibration-unscheduled" if sch is not None else "calibration-unlogged"
            out.append(Finding(s, e, Status.SUSPECT, reason, (t1 - t0) / 3600, ev))
    if sch is not None and sch.get("max_interval_h"):
        maxi = float(sch["max_interval_h"]) * 3600
        ts = sorted(set(cal_times))
        t_start, t_end = int(series.times[0]), int(series.times[-1]) + step
        anchors = [t_start, *[t for t in ts if t_start <= t < t_end], t_end]
        last = max([t for t in ts if t <= t_start], default=t_start)
        anchors[0] = last
        for a, b in zip(anchors[:-1], anchors[1:], strict=True):
            due = a + maxi
            if b <= due:
                continue
            s, e = index_range(series.times, max(int(due), t_start), b)
            if e <= s:
                continue
            out.append(Finding(s, e, Status.FAIL, "calibration-overdue", (b - due) / 3600,
                               {"last_calibration": iso(a) if a != t_start or a in ts else None, "due": iso(due), "until": iso(b),
                                "max_interval_h": sch["max_interval_h"],
                                "rule": "HJ 75-2017 §11 (calibration overdue → invalid)"}))
    return sorted(out, key=lambda f: f.start)
