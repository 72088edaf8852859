"""The data of an alarm's evidence chart: the station's series of the alarm's parameter, the series of
the neighbours its detectors compared it with, the stretches each detector flagged, and the
thresholds the detectors used — all read from the store and the evidence bundle, nothing computed.

Neighbours are the stations the bundle names (``input.neighbours`` and each result's
``evidence.neighbours``). Their series are shown only when the viewer's scope, widened by the
published site kinds (air stations and water sections are public), includes them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine

from tianlan.store.api_repo import ApiRepo
from tianlan.store.portal_repo import PortalRepo
from tianlan.store.scoped import Scope

#: evidence keys whose numbers are levels on the series' own scale (drawn as horizontal lines)
LEVEL_KEYS = ("limit", "value", "threshold", "upper", "lower", "detection_limit", "floor", "ceiling", "level")
MAX_WINDOW_S = 31 * 86400  # at most a month of hour data around the alarm's end
MAX_NEIGHBOURS = 6


def _neighbours(evidence: dict[str, Any]) -> list[str]:
    out: list[str] = list((evidence.get("input") or {}).get("neighbours") or [])

    def walk(v: Any) -> Iterable[str]:
        if isinstance(v, list):
            for x in v:
                if isinstance(x, dict) and isinstance(x.get("station"), str):
                    yield x["station"]
        elif isinstance(v, dict):
            for x in v.values():
                yield from walk(x)

    for r in evidence.get("results") or []:
        out.extend(walk((r.get("evidence") or {}).get("neighbours")))
    seen: list[str] = []
    for s in out:
        if s not in seen:
            seen.append(s)
    return seen


def _levels(evidence: dict[str, Any]) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for r in evidence.get("results") or []:
        ev = r.get("evidence") or {}
        for k in LEVEL_KEYS:
            v = ev.get(k)
            if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
                label = f"{r.get('detector')} {k}"
                if all(x["name"] != label for x in lines):
                    lines.append({"name": label, "value": float(v)})
                tol = ev.get("tolerance")
                if k == "value" and isinstance(tol, int | float) and math.isfinite(tol) and tol > 0:
                    lines.append({"name": f"{r.get('detector')} value±tolerance", "value": float(v) + float(tol)})
                    lines.append({"name": f"{r.get('detector')} value±tolerance", "value": float(v) - float(tol)})
    return lines[:12]


def _params(evidence: dict[str, Any]) -> list[dict[str, Any]]:
    """The detectors' parameters (thresholds) as listed in the bundle."""
    rows = []
    for d in evidence.get("detectors") or []:
        for k, v in sorted((d.get("params") or {}).items()):
            rows.append({"detector": d.get("id"), "name": k, "value": v})
    return rows


def evidence_chart(engine: Engine, scope: Scope, alarm: dict[str, Any]) -> dict[str, Any]:
    """Chart data for an alarm (a dict from ``ResultsRepo.alarm``): times in UTC epoch s."""
    ev = alarm.get("evidence") or {}
    parameter = alarm["parameter"]
    end = int(alarm["end_utc"])
    start = max(int(alarm["start_utc"]), end - MAX_WINDOW_S)
    pad = 12 * 3600
    repo = PortalRepo(engine)
    out: dict[str, Any] = {"parameter": parameter, "series": [], "areas": [], "levels": _levels(ev), "params": _params(ev),
                           "neighbours": [], "hidden_neighbours": 0}
    for r in (ev.get("results") or [])[:50]:
        out["areas"].append({"name": f"{r.get('detector')} {r.get('reason', '')}".strip(),
                             "start": max(int(r.get("start_utc", start)), start - pad), "end": int(r.get("end_utc", end)),
                             "status": r.get("status")})
    if parameter == "*":
        return out
    rows = repo.site_series(alarm["station"], start - pad, end + pad, parameters=[parameter])
    out["series"].append({"name": alarm["station"], "own": True, "data": [[t, v] for t, _p, v, _f in rows]})
    visible = scope.with_public()
    api = ApiRepo(engine)
    for code in _neighbours(ev)[:MAX_NEIGHBOURS]:
        if code == alarm["station"]:
            continue
        if api.site(visible, code) is None:
            out["hidden_neighbours"] += 1
            continue
        nrows = repo.site_series(code, start - pad, end + pad, parameters=[parameter])
        out["neighbours"].append(code)
        out["series"].append({"name": code, "own": False, "data": [[t, v] for t, _p, v, _f in nrows]})
    return out
