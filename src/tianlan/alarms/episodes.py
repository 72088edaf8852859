"""Detector results → alarm episodes: levels, merging, dedupe, corroboration and the evidence bundle.

Pure (no I/O): ``tianlan qc scan`` uses it on files (A.csv) and the alarm service on the store.

One episode per station, parameter (or :data:`~tianlan.alarms.policy.STATION_WIDE` ``*`` for
results with no parameter), kind and stretch of time: results of that station and parameter whose
gap is shorter than the policy's ``merge_gap_s`` (default 6 h) are one episode, whatever detectors
produced them — except that the three kinds of alarm (data quality, events, forensic statistics;
:meth:`~tianlan.alarms.policy.AlarmPolicy.alarm_kind`) make separate episodes, so a month-long
completeness or forensic alarm never absorbs a two-hour fraud finding inside it. Identical results (same detector, version,
config hash, station, parameter, range, status and reason) count once. The level is the highest
level of the episode's results (policy table), plus one when independent evidence corroborates it
(see :mod:`tianlan.alarms.policy`).

Times are UTC epoch seconds, ranges [start, end).
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import IO, Any

import numpy as np

from tianlan.alarms.policy import STATION_WIDE, AlarmPolicy, family_of
from tianlan.model.timeutil import utc_to_beijing_iso
from tianlan.qc.core import QcResult, Status

BUNDLE_VERSION = 1
#: Columns of the alarm file of ``tianlan qc scan`` (times in Beijing time, ISO 8601).
CSV_COLUMNS = ("station", "parameter", "start", "end", "detector", "level", "score", "reason")


@dataclass
class Episode:
    """One alarm-to-be: a station, a parameter (``*`` station-wide) and [start_utc, end_utc).

    ``detector``/``score``/``reason`` are those of the lead result (highest level, then score);
    ``results`` every result merged into it. ``base_level`` is the level before corroboration and
    ``corroborated_by`` the evidence detectors (any parameter of the station) that raised it.
    """

    station: str
    parameter: str
    start_utc: int
    end_utc: int
    detector: str
    level: int
    score: float
    reason: str
    results: list[QcResult]
    base_level: int = 0
    corroborated_by: list[str] = field(default_factory=list)

    @property
    def detectors(self) -> list[str]:
        """Every detector with a result in the episode, sorted (precision statistics count each)."""
        return sorted({r.detector for r in self.results})

    @property
    def families(self) -> list[str]:
        return sorted({family_of(r) for r in self.results})


def parameter_key(parameter: str) -> str:
    """The alarm parameter of a result: its own, or ``*`` when it has none (station-wide)."""
    p = (parameter or "").strip()
    return p if p and p != STATION_WIDE else STATION_WIDE


def result_key(r: QcResult) -> str:
    """A stable identity of a result (SHA-256 hex, first 16) — ties an alarm to ``qc_results`` rows."""
    ident = [r.detector, r.version, r.config_hash, r.station, parameter_key(r.parameter), int(r.start_utc),
             int(r.end_utc), int(r.status), r.reason]
    return hashlib.sha256(json.dumps(ident, ensure_ascii=False).encode()).hexdigest()[:16]


def dedupe(results: Iterable[QcResult]) -> list[QcResult]:
    """Identical results once (the highest score kept), in input order."""
    best: dict[tuple[Any, ...], QcResult] = {}
    for r in results:
        k = (r.detector, r.version, r.config_hash, r.station, parameter_key(r.parameter), int(r.start_utc),
             int(r.end_utc), int(r.status), r.reason)
        if k not in best or float(r.score) > float(best[k].score):
            best[k] = r
    return list(best.values())


def build_episodes(results: Sequence[QcResult], *, policy: AlarmPolicy | None = None) -> list[Episode]:
    """Alarm episodes from detector results, sorted by station, parameter and start.

    Results below ``policy.min_level`` (pass, not evaluated, or no matching rule) make no episode
    but still count as corroborating evidence when their rule says so.
    """
    pol = policy or AlarmPolicy()
    rs = dedupe(results)
    levels: dict[int, int] = {}
    evidence_by_station: dict[str, list[QcResult]] = defaultdict(list)
    groups: dict[tuple[str, str, str], list[QcResult]] = defaultdict(list)
    floor = max(1, pol.min_level)
    for r in rs:
        rule = pol.rule_for(r)
        levels[id(r)] = rule.level if rule else 0
        if rule is not None and rule.evidence:
            evidence_by_station[r.station].append(r)
        if levels[id(r)] >= floor:
            groups[(r.station, parameter_key(r.parameter), pol.alarm_kind(r.detector))].append(r)

    ev_arrays = {}
    for st, ev in evidence_by_station.items():
        ev_arrays[st] = (np.array([e.start_utc for e in ev], dtype=np.int64), np.array([e.end_utc for e in ev], dtype=np.int64),
                         [family_of(e) for e in ev])

    out: list[Episode] = []
    for (station, parameter, _kind), members in groups.items():
        members.sort(key=lambda r: (r.start_utc, r.end_utc, r.detector))
        run: list[QcResult] = [members[0]]
        run_end = members[0].end_utc
        for r in members[1:]:
            if r.start_utc - run_end < pol.merge_gap_s:
                run.append(r)
                run_end = max(run_end, r.end_utc)
            else:
                out.append(_episode(station, parameter, run, levels, pol, evidence_by_station.get(station, []),
                                    ev_arrays.get(station)))
                run, run_end = [r], r.end_utc
        out.append(_episode(station, parameter, run, levels, pol, evidence_by_station.get(station, []),
                            ev_arrays.get(station)))
    out.sort(key=lambda e: (e.station, e.parameter, e.start_utc))
    return out


def _episode(station: str, parameter: str, run: list[QcResult], levels: Mapping[int, int], pol: AlarmPolicy,
             evidence: list[QcResult], ev: tuple[np.ndarray, np.ndarray, list[str]] | None) -> Episode:
    start = min(r.start_utc for r in run)
    end = max(r.end_utc for r in run)
    lead = max(run, key=lambda r: (levels[id(r)], float(r.score), -r.start_utc))
    base = levels[id(lead)]
    level, corroborators = base, []
    if ev is not None and base >= pol.corroborate_from_level:
        hit = np.nonzero((ev[0] < end) & (ev[1] > start))[0]
        if len({ev[2][i] for i in hit}) >= pol.corroborate_families:
            level = min(4, base + 1)
            corroborators = sorted({evidence[i].detector for i in hit})
    reason = lead.reason
    others = [d for d in corroborators if d != lead.detector]
    if level > base and others:
        reason = f"{lead.reason}; corroborated by {','.join(others)}"
    return Episode(station, parameter, int(start), int(end), lead.detector, level, float(lead.score), reason, list(run),
                   base, corroborators)


# --- files ----------------------------------------------------------------------------------------


def csv_row(ep: Episode) -> dict[str, str]:
    """One A.csv row: times in Beijing time (ISO 8601 with offset), score to 4 decimals."""
    return {"station": ep.station, "parameter": ep.parameter, "start": utc_to_beijing_iso(ep.start_utc),
            "end": utc_to_beijing_iso(ep.end_utc), "detector": ep.detector, "level": str(ep.level),
            "score": f"{ep.score:.4f}".rstrip("0").rstrip(".") if math.isfinite(ep.score) else "",
            "reason": ep.reason}


def write_csv(episodes: Iterable[Episode], out: IO[str]) -> int:
    """Write the alarm file (header ``station,parameter,start,end,detector,level,score,reason``); rows written."""
    w = csv.DictWriter(out, fieldnames=list(CSV_COLUMNS), lineterminator="\n")
    w.writeheader()
    n = 0
    for ep in episodes:
        w.writerow(csv_row(ep))
        n += 1
    return n


# --- the evidence bundle (qc_fraud.md §G) -----------------------------------------------------------


def jsonable(obj: Any) -> Any:
    """``obj`` made JSON-safe: NumPy arrays and scalars to lists and numbers, NaN/inf to None."""
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (set, frozenset)):
        return sorted(jsonable(v) for v in obj)
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, Enum):
        return obj.name
    if isinstance(obj, np.generic):
        return jsonable(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    return str(obj)


def _neighbours(evidence: Mapping[str, Any]) -> set[str]:
    nb = evidence.get("neighbours")
    if isinstance(nb, Mapping):
        return {str(k) for k in nb}
    if isinstance(nb, (list, tuple)):
        out = set()
        for x in nb:
            if isinstance(x, Mapping):
                s = x.get("station") or x.get("code")
                if s:
                    out.add(str(s))
            else:
                out.add(str(x))
        return out
    return set()


def result_entry(r: QcResult, *, level: int, result_id: int | None = None) -> dict[str, Any]:
    return {"key": result_key(r), "id": result_id, "detector": r.detector, "version": r.version, "family": family_of(r),
            "config_hash": r.config_hash, "parameter": parameter_key(r.parameter), "start_utc": int(r.start_utc),
            "end_utc": int(r.end_utc), "status": Status(r.status).name, "reason": r.reason, "score": jsonable(float(r.score)),
            "level": level, "evidence": jsonable(r.evidence)}


def evidence_bundle(ep: Episode, *, policy: AlarmPolicy | None = None, result_ids: Mapping[str, int] | None = None,
                    input_summary: Mapping[str, Any] | None = None, max_results: int = 500) -> dict[str, Any]:
    """The evidence bundle of an alarm (qc_fraud.md §G), JSON-safe.

    Holds the detectors (ID, version, family, config hashes, parameters where the evidence states
    them), every result (key, ``qc_results`` id when ``result_ids`` maps its key, range, status,
    reason, score, level, the detector's evidence payload: inputs, neighbours, statistics,
    thresholds), how the level was reached (policy name and hash, base level, corroborators) and a
    summary of the input slice (station, parameters, window, neighbours used, plus
    ``input_summary`` from the caller: source file, rows, data hash …). At most ``max_results``
    results are kept in full; ``result_keys`` lists every result's key and ``results_total``
    counts them.
    """
    pol = policy or AlarmPolicy()
    ids = result_ids or {}
    dets: dict[str, dict[str, Any]] = {}
    neighbours: set[str] = set()
    for r in ep.results:
        d = dets.setdefault(r.detector, {"id": r.detector, "version": r.version, "family": family_of(r),
                                         "config_hashes": set(), "n_results": 0, "max_score": None, "params": None})
        d["config_hashes"].add(r.config_hash)
        d["n_results"] += 1
        if math.isfinite(float(r.score)):
            d["max_score"] = max(float(r.score), d["max_score"] if d["max_score"] is not None else -math.inf)
        if d["params"] is None and isinstance(r.evidence.get("params"), Mapping):
            d["params"] = r.evidence["params"]
        neighbours |= _neighbours(r.evidence)
    ordered = sorted(ep.results, key=lambda r: (-pol.level_of(r), -float(r.score), r.start_utc))
    entries = [result_entry(r, level=pol.level_of(r), result_id=ids.get(result_key(r), getattr(r, "id", None)))
               for r in ordered[:max_results]]
    summary: dict[str, Any] = {"station": ep.station, "parameters": sorted({parameter_key(r.parameter) for r in ep.results}),
                               "window_utc": [ep.start_utc, ep.end_utc], "neighbours": sorted(neighbours),
                               "by_detector": {k: v["n_results"] for k, v in sorted(dets.items())}}
    if input_summary:
        summary.update(jsonable(dict(input_summary)))
    return {
        "bundle_version": BUNDLE_VERSION,
        "station": ep.station, "parameter": ep.parameter, "start_utc": ep.start_utc, "end_utc": ep.end_utc,
        "level": {"level": ep.level, "base": ep.base_level, "corroborated_by": list(ep.corroborated_by),
                  "policy": pol.name, "policy_hash": pol.hash()},
        "lead": {"detector": ep.detector, "score": jsonable(ep.score), "reason": ep.reason},
        "detectors": jsonable(sorted(dets.values(), key=lambda d: d["id"])),
        "results": entries,
        "results_total": len(ep.results),
        "result_keys": sorted({result_key(r) for r in ep.results}),
        "input": summary,
    }


def merge_bundles(old: Mapping[str, Any], new: Mapping[str, Any], *, max_results: int = 500) -> dict[str, Any]:
    """The bundle of an alarm extended by a new episode: results united by key, window widened,
    detectors merged, the level part of the higher level kept."""
    out = dict(new)
    seen = {e["key"] for e in new.get("results", [])}
    results = list(new.get("results", [])) + [e for e in old.get("results", []) if e["key"] not in seen]
    results.sort(key=lambda e: (-(e.get("level") or 0), -(e.get("score") or 0.0), e.get("start_utc", 0)))
    out["results"] = results[:max_results]
    keys = set(old.get("result_keys", [])) | set(new.get("result_keys", [])) | {e["key"] for e in results}
    out["result_keys"] = sorted(keys)
    out["results_total"] = len(keys)
    out["start_utc"] = min(int(old.get("start_utc", new["start_utc"])), int(new["start_utc"]))
    out["end_utc"] = max(int(old.get("end_utc", new["end_utc"])), int(new["end_utc"]))
    if int(old.get("level", {}).get("level", 0)) > int(new.get("level", {}).get("level", 0)):
        out["level"], out["lead"] = old["level"], old["lead"]
    dets: dict[str, dict[str, Any]] = {}
    for d in list(old.get("detectors", [])) + list(new.get("detectors", [])):
        cur = dets.get(d["id"])
        if cur is None:
            dets[d["id"]] = dict(d)
        else:
            cur["config_hashes"] = sorted(set(cur.get("config_hashes", [])) | set(d.get("config_hashes", [])))
            cur["n_results"] = max(len([e for e in results if e["detector"] == d["id"]]),
                                   int(cur.get("n_results", 0)), int(d.get("n_results", 0)))
            scores = [s for s in (cur.get("max_score"), d.get("max_score")) if s is not None]
            cur["max_score"] = max(scores) if scores else None
            cur["params"] = cur.get("params") or d.get("params")
    out["detectors"] = sorted(dets.values(), key=lambda d: d["id"])
    inp = dict(new.get("input", {}))
    oinp = old.get("input", {})
    inp["window_utc"] = [out["start_utc"], out["end_utc"]]
    inp["parameters"] = sorted(set(inp.get("parameters", [])) | set(oinp.get("parameters", [])))
    inp["neighbours"] = sorted(set(inp.get("neighbours", [])) | set(oinp.get("neighbours", [])))
    inp["by_detector"] = {d["id"]: d.get("n_results", 0) for d in out["detectors"]}
    out["input"] = inp
    return out
