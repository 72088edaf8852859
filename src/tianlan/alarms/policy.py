"""The alarm policy: which detector results make alarms, at which level, and how alarms behave.

Levels (告警级别) — what each means to the people who receive it:

====  ==========  =========================================================================
1     提示 notice  a data-quality hint (plain QC suspects and fails); listed, not notified
2     关注 warning a pattern worth a look (fraud-family evidence, fraud-targeting QC fails)
3     严重 serious strong evidence of falsification (fraud-family fail with a high score)
4     紧急 critical level ≥ 2 evidence corroborated by a second independent detector family
====  ==========  =========================================================================

The default level table (:data:`DEFAULT_RULES`; first matching rule wins, ``score`` is the
detector's evidence score, expected in [0, 1]):

==========================================================  ========  =========  =====
detectors                                                   status    score      level
==========================================================  ========  =========  =====
TMP-03..07, PRV-03, TIM-01 (QC checks that target fraud)    fail      any        2
TMP-03..07, PRV-03, TIM-01                                  suspect   any        1
fraud families (xv spa mark meta cems wat for agg)          fail      ≥ 0.8      3
fraud families                                              fail      < 0.8      2
fraud families                                              suspect   ≥ 0.8      2
fraud families                                              suspect   < 0.8      1
any other detector (cmp rng tmp eqp prv tim …)              fail      any        1
any other detector                                          suspect   any        1
any detector                                                missing   any        1
==========================================================  ========  =========  =====

``pass`` and ``not evaluated`` never make an alarm. Results of the first six rows are *evidence*:
when an episode of level ≥ 2 overlaps evidence from at least two independent detector families at
the same station (any parameter, the episode's own results included), its level rises by one, up
to 4. A second family is independent evidence; a second detector of the same family is not.

The policy decides alarms, never validity (DESIGN §3): it grades evidence for people.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from tianlan.errors import InputError
from tianlan.qc.core import QcResult, Status

#: Detector families whose results are evidence of falsification (qc_fraud.md §F).
FRAUD_FAMILIES: frozenset[str] = frozenset({"xv", "spa", "mark", "meta", "cems", "wat", "for", "agg"})
#: Families whose findings are statistics of a month or more (bunching, digits, missingness,
#: copies): their alarms are kept apart from event alarms (:meth:`AlarmPolicy.alarm_kind`).
FORENSIC_FAMILIES: frozenset[str] = frozenset({"for"})
#: QC checks that target fraud behaviours (flat, attenuated, suppressed, stable-low and shifted
#: series; packet integrity; clock manipulation), so their fails are more than data quality.
FRAUD_TARGETING_CHECKS: frozenset[str] = frozenset({"TMP-03", "TMP-04", "TMP-05", "TMP-06", "TMP-07", "PRV-03", "TIM-01"})

LEVEL_NAMES: dict[int, tuple[str, str]] = {1: ("提示", "notice"), 2: ("关注", "warning"), 3: ("严重", "serious"),
                                           4: ("紧急", "critical")}
#: The parameter of a station-wide alarm (packet integrity, clock, marks …).
STATION_WIDE = "*"

_STATUS_NAMES = {s.name.lower().replace("_", "-"): s for s in Status}


def family_of(result: QcResult) -> str:
    """The detector family of a result: its own ``family``, else the catalogue ID's prefix (``XV-03`` → ``xv``)."""
    if result.family:
        return result.family.lower()
    return result.detector.split("-", 1)[0].lower()


@dataclass(frozen=True)
class LevelRule:
    """One row of the level table: results it matches get ``level``.

    ``detectors``/``families`` empty means any; ``status`` None means any non-pass status.
    ``evidence`` marks results that count towards corroboration.
    """

    level: int
    detectors: frozenset[str] = frozenset()
    families: frozenset[str] = frozenset()
    status: Status | None = None
    min_score: float = 0.0
    evidence: bool = False

    def matches(self, r: QcResult) -> bool:
        if self.detectors and r.detector not in self.detectors:
            return False
        if self.families and family_of(r) not in self.families:
            return False
        if self.status is not None and Status(r.status) != self.status:
            return False
        return float(r.score) >= self.min_score


DEFAULT_RULES: tuple[LevelRule, ...] = (
    LevelRule(2, detectors=FRAUD_TARGETING_CHECKS, status=Status.FAIL, evidence=True),
    LevelRule(1, detectors=FRAUD_TARGETING_CHECKS, status=Status.SUSPECT, evidence=True),
    LevelRule(3, families=FRAUD_FAMILIES, status=Status.FAIL, min_score=0.8, evidence=True),
    LevelRule(2, families=FRAUD_FAMILIES, status=Status.FAIL, evidence=True),
    LevelRule(2, families=FRAUD_FAMILIES, status=Status.SUSPECT, min_score=0.8, evidence=True),
    LevelRule(1, families=FRAUD_FAMILIES, status=Status.SUSPECT, evidence=True),
    LevelRule(1, status=Status.FAIL),
    LevelRule(1, status=Status.SUSPECT),
    LevelRule(1, status=Status.MISSING),
)


@dataclass(frozen=True)
class AlarmPolicy:
    """How results become alarms and how alarms behave; every field has a default that runs.

    - ``rules``: the level table (first match wins).
    - ``merge_gap_s``: results of one station and parameter closer than this (s) are one episode
      (default 6 h).
    - ``min_level``: results below this level make no alarm (default 1: every suspect is listed).
    - ``corroborate_from_level`` / ``corroborate_families``: an episode of at least this level with
      evidence from at least this many independent families at its station gets +1 (max 4).
    - ``notify_min_level``: alarms from this level on are notified (default 2; level 1 is listed only).
    - ``auto_resolve_max_level``: a raised alarm of at most this level that nobody acknowledged is
      closed automatically once its condition has been quiet for ``resolve_quiet_s`` (default 2 and
      6 h); higher levels always wait for a person.
    """

    rules: tuple[LevelRule, ...] = DEFAULT_RULES
    merge_gap_s: int = 6 * 3600
    min_level: int = 1
    corroborate_from_level: int = 2
    corroborate_families: int = 2
    notify_min_level: int = 2
    auto_resolve_max_level: int = 2
    resolve_quiet_s: int = 6 * 3600
    name: str = "default"
    # rules that can match a (detector, family, status), found once: scans classify many results
    _candidates: dict[tuple[str, str, int], tuple[LevelRule, ...]] = field(default_factory=dict, init=False,
                                                                             compare=False, repr=False)

    def rule_for(self, r: QcResult) -> LevelRule | None:
        """The first rule matching ``r``; None for pass / not evaluated or when nothing matches."""
        status = int(r.status)
        if status in (Status.PASS, Status.NOT_EVALUATED):
            return None
        fam = family_of(r)
        key = (r.detector, fam, status)
        cands = self._candidates.get(key)
        if cands is None:
            cands = tuple(rule for rule in self.rules
                          if (not rule.detectors or r.detector in rule.detectors)
                          and (not rule.families or fam in rule.families)
                          and (rule.status is None or rule.status == status))
            self._candidates[key] = cands
        score = float(r.score)
        for rule in cands:
            if score >= rule.min_score:
                return rule
        return None

    def level_of(self, r: QcResult) -> int:
        """The level (0–3) of one result before corroboration; 0 means no alarm."""
        rule = self.rule_for(r)
        return rule.level if rule else 0

    def is_evidence(self, r: QcResult) -> bool:
        rule = self.rule_for(r)
        return bool(rule and rule.evidence)

    def is_evidence_detector(self, detector: str) -> bool:
        """Whether ``detector`` (a catalogue ID; its family is the prefix, ``XV-03`` → ``xv``) is one
        an evidence rule names — a fraud-family detector or a fraud-targeting check — as opposed to
        plain data quality (completeness, range …)."""
        fam = detector.split("-", 1)[0].lower()
        return any(rule.evidence and (not rule.detectors or detector in rule.detectors)
                   and (not rule.families or fam in rule.families) for rule in self.rules)

    def alarm_kind(self, detector: str) -> str:
        """The kind of alarm a detector's results make: ``quality`` (data quality: completeness,
        range …), ``event`` (evidence of something that happened over hours: a flat run, a sprayed
        inlet, a spatial outlier …) or ``forensic`` (a statistic of a month or more: bunching below
        a limit, digits, selective missingness, copied sequences — :data:`FORENSIC_FAMILIES`).

        Episodes and stored alarms never mix kinds. Merged, a month-long alarm would swallow a
        two-hour finding inside it: no new alarm, no notification, and once the long alarm were
        closed the finding would be skipped as already judged."""
        if not self.is_evidence_detector(detector):
            return "quality"
        return "forensic" if detector.split("-", 1)[0].lower() in FORENSIC_FAMILIES else "event"

    def hash(self) -> str:
        """SHA-256 (hex, first 16) of the policy, recorded in every evidence bundle."""
        d = asdict(self)
        d.pop("_candidates", None)
        text = json.dumps(d, sort_keys=True, default=lambda o: sorted(o) if isinstance(o, frozenset) else str(o))
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any], *, where: str = "alarm policy") -> AlarmPolicy:
        """A policy from a mapping (e.g. the ``alarms:`` section of the QC YAML).

        ``rules`` is a list of ``{level, detectors?, families?, status?, min_score?, evidence?}``
        (status: pass | suspect | fail | missing); other keys are the fields above. Unknown keys
        are errors naming the key.
        """
        known = {f for f in cls.__dataclass_fields__ if not f.startswith("_")}
        out: dict[str, Any] = {}
        for k, v in m.items():
            if k not in known:
                raise InputError(f"alarms.{k}", f"unknown setting; known: {', '.join(sorted(known))}", where=where)
            if k == "rules":
                out[k] = tuple(_rule(i, r, where) for i, r in enumerate(_as_list(v, "alarms.rules", where)))
            elif k == "name":
                out[k] = str(v)
            else:
                try:
                    out[k] = int(v)
                except (TypeError, ValueError):
                    raise InputError(f"alarms.{k}", f"expected an integer, got {v!r}", where=where) from None
        p = cls(**out)
        for lv in (p.min_level, p.notify_min_level, p.corroborate_from_level):
            if not 1 <= lv <= 4:
                raise InputError("alarms", f"levels are 1..4, got {lv}", where=where)
        return p


def _as_list(v: Any, fld: str, where: str) -> list[Any]:
    if not isinstance(v, list):
        raise InputError(fld, "expected a list", where=where)
    return v


def _strings(v: Any) -> frozenset[str]:
    if v is None:
        return frozenset()
    if isinstance(v, str):
        return frozenset(s.strip() for s in v.split(",") if s.strip())
    if isinstance(v, Iterable):
        return frozenset(str(s) for s in v)
    return frozenset({str(v)})


def _rule(i: int, r: Any, where: str) -> LevelRule:
    fld = f"alarms.rules[{i}]"
    if not isinstance(r, Mapping):
        raise InputError(fld, "expected a mapping with at least 'level'", where=where)
    allowed = {"level", "detectors", "families", "status", "min_score", "evidence"}
    for k in r:
        if k not in allowed:
            raise InputError(f"{fld}.{k}", f"unknown key; known: {', '.join(sorted(allowed))}", where=where)
    try:
        level = int(r["level"])
    except (KeyError, TypeError, ValueError):
        raise InputError(f"{fld}.level", "required, an integer 1..4", where=where) from None
    if not 1 <= level <= 4:
        raise InputError(f"{fld}.level", f"levels are 1..4, got {level}", where=where)
    status = None
    if r.get("status") is not None:
        s = str(r["status"]).lower()
        if s not in _STATUS_NAMES:
            raise InputError(f"{fld}.status", f"unknown status {s!r}; known: {', '.join(_STATUS_NAMES)}", where=where)
        status = _STATUS_NAMES[s]
    return LevelRule(level, _strings(r.get("detectors")), frozenset(f.lower() for f in _strings(r.get("families"))),
                     status, float(r.get("min_score", 0.0)), bool(r.get("evidence", False)))


def policy_for(config: Any) -> AlarmPolicy | None:
    """The alarm policy of a QC configuration's ``alarms:`` section (``QcConfig.alarms``); None when
    it has none (the default policy applies)."""
    section = getattr(config, "alarms", None)
    return AlarmPolicy.from_mapping(section, where=getattr(config, "origin", "") or "config") if section else None


def level_label(level: int) -> str:
    """``3级 严重 / L3 serious``."""
    zh, en = LEVEL_NAMES.get(level, ("?", "?"))
    return f"{level}级 {zh} / L{level} {en}"


__all__ = ["AlarmPolicy", "LevelRule", "DEFAULT_RULES", "FRAUD_FAMILIES", "FRAUD_TARGETING_CHECKS", "LEVEL_NAMES",
           "STATION_WIDE", "family_of", "level_label"]
