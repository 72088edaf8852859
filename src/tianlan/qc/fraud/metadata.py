"""Metadata detectors (qc_fraud.md §F, META family): analyser parameters against what was filed.

The 2012 on-site inspection measures (环境保护部令第19号, qc_fraud.md §A.2) make inspectors check
that the analyser's parameter settings match the filed (备案) values; the 2015 measures 4(8)–(9)
name changing parameters as tampering, and the Tianjin 2017 case was exactly that (back-end CEMS
parameters changed; §A.7). So META-02 is exact bookkeeping, not statistics.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tianlan.qc.core import Context, Finding, Mark, Param, Series, Status, detector
from tianlan.qc.fraud.marks import reports_here

#: HJ 212 codes of analyser parameters (slope, intercept) and the other keys the events use.
PARAMETER_KEYS = {"i13007": "slope", "i13008": "intercept", "range": "measuring range", "o2_ref": "reference O2"}


def _same(a: Any, b: Any, rel_tol: float) -> bool:
    """Equal as numbers (within ``rel_tol``) when both are numbers, else as text."""
    try:
        x, y = float(a), float(b)
    except (TypeError, ValueError):
        return str(a).strip() == str(b).strip()
    if math.isnan(x) or math.isnan(y):
        return math.isnan(x) and math.isnan(y)
    return math.isclose(x, y, rel_tol=rel_tol, abs_tol=0.0) or x == y


def _iso(t: float | int) -> str:
    return str(np.datetime64(int(t), "s")) + "Z"


def _settings(ctx: Context, name: str, parameter: str, site_wide: bool) -> Mapping[str, Any]:
    """Settings ``attrs[name]`` for the series' analyser: ``attrs[name][parameter]`` if that is a
    mapping; else ``attrs[name]`` itself when it is site-wide (one set of settings for the site,
    reported on the lead parameter) and nothing otherwise."""
    got = ctx.attrs.get(name) or {}
    sub = got.get(parameter)
    if isinstance(sub, Mapping):
        return sub
    if any(isinstance(v, Mapping) for v in got.values()):
        return {}
    return got if site_wide else {}


def _calibration(t: float, marks: Sequence[Mark], kinds: set[str], slack_s: float) -> Mark | None:
    for m in marks:
        if m.mark.strip().lower() in kinds and m.start_utc - slack_s <= t < m.end_utc + slack_s:
            return m
    return None


@detector(
    "META-02",
    name="Analyser parameter diff against filed values",
    family="meta",
    targets=["changed slope, intercept, range or O2 reference (B3)", "2015 measures 4(8)-(9)", "2012 inspection measures"],
    params={
        "calibration_marks": Param(["calibration", "校准"], "", "mark kinds that are calibration windows"),
        "slack_min": Param(30.0, "min", "a change this close to a calibration window still counts as inside it"),
        "rel_tol": Param(1e-9, "relative", "numbers closer than this are equal (rounding in transmission)"),
        "kind": Param("parameter", "", "event kind of parameter changes in ctx.events"),
    },
)
def parameter_diff(series: Series, ctx: Context, *, calibration_marks: Sequence[str], slack_min: float, rel_tol: float,
                   kind: str) -> list[Finding]:
    """Analyser parameter changes that were not approved or not made in a calibration, and settings that
    differ from the filed values (catalogue META-02).

    Inputs: ``ctx.events`` of kind ``kind`` — ``{"time_utc", "key", "old", "new", "approved"}``,
    optionally ``"parameter"`` (the analyser's factor; events without it are site-wide and are
    reported once, on :func:`~tianlan.qc.fraud.marks.lead_parameter`) — and the filed values
    ``ctx.attrs["filed"]`` (``{key: value}`` for the site or ``{parameter: {key: value}}`` per
    analyser); optional ``ctx.attrs["current"]`` (same shapes) holds settings read back from the
    device. Keys: i13007 slope, i13008 intercept, range, o2_ref, or any other. Per key, the
    events are replayed from the filed value:

    * not approved, outside a calibration window → FAIL ``unapproved_parameter_change`` (score 1);
    * not approved, inside a calibration window → SUSPECT ``unapproved_parameter_change`` (0.8):
      calibration adjusts slope and intercept, but the filing must follow;
    * approved, outside a calibration window → SUSPECT ``change_outside_calibration`` (0.8);
    * an event whose ``old`` differs from the value the log says was in force → FAIL
      ``unlogged_parameter_change`` (someone changed it without a record);
    * a setting read back from the device (``attrs["current"]``) that differs from the value in
      force → FAIL ``differs_from_filed``.

    Each finding spans from the change to the next change of that key (clipped to the series) and
    carries the key, before/after values, the filed value, the approval and the calibration window.
    """
    t = series.times
    if t.size == 0:
        return []
    step = int(series.step_s)
    end_t = int(t[-1]) + step
    site_wide = reports_here(series, ctx)
    filed = _settings(ctx, "filed", series.parameter, True)
    current_all = _settings(ctx, "current", series.parameter, site_wide)
    cal_kinds = {k.strip().lower() for k in calibration_marks}
    slack = slack_min * 60.0
    events = [e for e in ctx.events if e.get("kind") == kind
              and (e.get("parameter") == series.parameter or (e.get("parameter") is None and site_wide))]
    events.sort(key=lambda e: float(e["time_utc"]))
    by_key: dict[str, list[Mapping[str, Any]]] = {}
    for e in events:
        by_key.setdefault(str(e["key"]), []).append(e)
    keys = set(by_key) | set(current_all)
    out: list[Finding] = []

    def place(t0: float, t1: float) -> tuple[int, int] | None:
        if t1 <= t[0] or t0 >= end_t:
            return None
        s = int(np.searchsorted(t, t0, "right")) - 1
        s = max(s, 0)
        if t[s] + step <= t0:
            s += 1
        e = int(np.searchsorted(t, t1, "left"))
        return (s, e) if e > s else None

    for key in sorted(keys):
        evs = by_key.get(key, [])
        in_force: Any = filed.get(key)
        for i, e in enumerate(evs):
            te = float(e["time_utc"])
            t_next = float(evs[i + 1]["time_utc"]) if i + 1 < len(evs) else float("inf")
            rng = place(te, t_next)
            base = {"key": key, "meaning": PARAMETER_KEYS.get(key, key), "time": _iso(te), "time_utc": te,
                    "old": e.get("old"), "new": e.get("new"), "filed": filed.get(key), "approved": bool(e.get("approved")),
                    "event": {k: v for k, v in e.items()}}
            if in_force is not None and e.get("old") is not None and not _same(e.get("old"), in_force, rel_tol) and rng:
                out.append(Finding(rng[0], rng[1], Status.FAIL, "unlogged_parameter_change", 1.0,
                                   {**base, "value_in_force_by_log": in_force}))
            if not _same(e.get("old"), e.get("new"), rel_tol) and rng:
                cal = _calibration(te, ctx.marks, cal_kinds, slack)
                cal_ev = None if cal is None else {"mark": cal.mark, "start": _iso(cal.start_utc), "end": _iso(cal.end_utc)}
                if not e.get("approved"):
                    st = Status.FAIL if cal is None else Status.SUSPECT
                    out.append(Finding(rng[0], rng[1], st, "unapproved_parameter_change", 1.0 if cal is None else 0.8,
                                       {**base, "calibration_window": cal_ev}))
                elif cal is None:
                    out.append(Finding(rng[0], rng[1], Status.SUSPECT, "change_outside_calibration", 0.8,
                                       {**base, "calibration_window": None}))
            in_force = e.get("new")
        current = current_all.get(key)
        if current is not None and in_force is not None and not _same(current, in_force, rel_tol):
            out.append(Finding(0, t.size, Status.FAIL, "differs_from_filed", 1.0, {
                "key": key, "meaning": PARAMETER_KEYS.get(key, key), "current": current, "filed": filed.get(key),
                "value_in_force_by_log": in_force}))
    return out
