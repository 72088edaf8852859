"""The alarm service: episodes into stored alarms (dedupe against open alarms), the lifecycle with who
and why, silences and maintenance windows, auto-resolve, notifications and precision statistics.

How an episode meets the store (station, parameter and kind of alarm equal — data quality, event
or forensic, :meth:`~tianlan.alarms.policy.AlarmPolicy.alarm_kind`):

- an **open** alarm (raised, acknowledged, verified) whose period is closer than the policy's
  merge gap is **extended** — period widened, results and detectors merged, level raised if the
  episode's is higher — instead of opening a second alarm; re-scanning the same data changes nothing;
- a **disposed or closed** alarm overlapping the episode has been judged: the part of the episode
  it covers is skipped, a part after it opens a new alarm;
- otherwise a new alarm is **raised**.

Silences and maintenance windows never drop an alarm: a matching alarm is stored, marked
``silenced`` with a history line naming the silence, and not notified. Notifications (policy
``notify_min_level``, default 2) go out after the alarm is committed — on raise, on escalation to a
higher level, and when an alarm outlives its silence — and each delivery or failure is a history line.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from tianlan.alarms import lifecycle as lc
from tianlan.alarms.episodes import Episode, build_episodes, evidence_bundle, merge_bundles
from tianlan.alarms.lifecycle import Alarm, AlarmEvent, Silence
from tianlan.alarms.notify import DeliveryError, Notifier
from tianlan.alarms.policy import AlarmPolicy, level_label
from tianlan.errors import InputError
from tianlan.model.timeutil import utc_to_beijing_iso
from tianlan.qc.core import QcResult
from tianlan.store.alarms_repo import AlarmsRepo, AlarmsTx

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    """What :meth:`AlarmService.raise_episodes` did, by alarm id."""

    raised: list[int] = field(default_factory=list)
    extended: list[int] = field(default_factory=list)
    unchanged: int = 0
    silenced: list[int] = field(default_factory=list)
    notified: list[tuple[int, str, str]] = field(default_factory=list)  # (alarm id, notifier, note)
    failed: list[tuple[int, str, str]] = field(default_factory=list)  # (alarm id, notifier, error)


@dataclass(frozen=True)
class DetectorPrecision:
    """Dispositions of the alarms a detector took part in.

    ``precision``: share of disposed alarms that were real (fraud or fault); ``fraud_precision``:
    share that were fraud. Alarms closed automatically or not yet disposed do not count.
    """

    detector: str
    alarms: int
    fraud: int
    fault: int
    false_alarm: int

    @property
    def precision(self) -> float:
        return (self.fraud + self.fault) / self.alarms if self.alarms else float("nan")

    @property
    def fraud_precision(self) -> float:
        return self.fraud / self.alarms if self.alarms else float("nan")


def precision_table(dispositions: Iterable[tuple[Sequence[str], str]]) -> list[DetectorPrecision]:
    """Per-detector precision from (detectors of an alarm, its outcome); every detector of an alarm
    is credited (or blamed) with its outcome. Sorted by detector ID."""
    counts: dict[str, dict[str, int]] = {}
    for detectors, outcome in dispositions:
        if outcome not in lc.OUTCOMES:
            continue
        for d in set(detectors):
            c = counts.setdefault(d, {"fraud": 0, "fault": 0, "false-alarm": 0})
            c[outcome] += 1
    return [DetectorPrecision(d, sum(c.values()), c["fraud"], c["fault"], c["false-alarm"]) for d, c in sorted(counts.items())]


def _span(a: int, b: int) -> str:
    return f"{utc_to_beijing_iso(a)}–{utc_to_beijing_iso(b)}"


class AlarmService:
    """Alarms on a store. ``clock`` gives UTC epoch seconds (injectable for tests)."""

    def __init__(self, store: Engine | AlarmsRepo, *, policy: AlarmPolicy | None = None,
                 notifiers: Sequence[Notifier] = (), clock: Callable[[], float] = time.time) -> None:
        self.repo = store if isinstance(store, AlarmsRepo) else AlarmsRepo(store)
        self.policy = policy or AlarmPolicy()
        self.notifiers = list(notifiers)
        self.clock = clock

    @classmethod
    def from_settings(cls, engine: Engine, settings: Any = None, *, policy: AlarmPolicy | None = None) -> AlarmService:
        """A service notifying through the webhook and e-mail configured in ``settings`` / the environment."""
        from tianlan.alarms.notify import NotifySettings

        return cls(engine, policy=policy, notifiers=NotifySettings.from_settings(settings).notifiers())

    # -- raising -----------------------------------------------------------------------------------

    def raise_results(self, results: Sequence[QcResult], *, result_ids: Mapping[str, int] | None = None,
                      input_summary: Mapping[str, Any] | None = None) -> IngestReport:
        """Build episodes from detector results (:func:`build_episodes`) and store them."""
        return self.raise_episodes(build_episodes(results, policy=self.policy), result_ids=result_ids,
                                   input_summary=input_summary)

    def raise_episodes(self, episodes: Iterable[Episode], *, result_ids: Mapping[str, int] | None = None,
                       input_summary: Mapping[str, Any] | None = None) -> IngestReport:
        """Store episodes as alarms (raise, extend or skip, see the module doc), then notify."""
        report = IngestReport()
        to_notify: list[tuple[int, str]] = []
        for ep in episodes:
            with self.repo.tx() as tx:
                self._one(tx, ep, result_ids, input_summary, report, to_notify)
        for alarm_id, event in to_notify:
            self._notify(alarm_id, event, report)
        return report

    def _one(self, tx: AlarmsTx, ep: Episode, result_ids: Mapping[str, int] | None, input_summary: Mapping[str, Any] | None,
             report: IngestReport, to_notify: list[tuple[int, str]]) -> None:
        gap = self.policy.merge_gap_s
        kind = self.policy.alarm_kind(ep.detector)
        near = [a for a in tx.near(ep.station, ep.parameter, ep.start_utc - gap, ep.end_utc + gap)
                if self.policy.alarm_kind(a.detector) == kind]
        open_ = [a for a in near if a.is_open]
        if open_:
            bundle = evidence_bundle(ep, policy=self.policy, result_ids=result_ids, input_summary=input_summary)
            self._extend(tx, open_[0], ep, bundle, report, to_notify)
            return
        judged = [a for a in near if a.start_utc < ep.end_utc and a.end_utc > ep.start_utc]
        if judged:
            cut = max(a.end_utc for a in judged)
            if ep.end_utc <= cut:
                report.unchanged += 1
                return
            ep = dataclasses.replace(ep, start_utc=max(ep.start_utc, cut),
                                     results=[r for r in ep.results if r.end_utc > cut])
        bundle = evidence_bundle(ep, policy=self.policy, result_ids=result_ids, input_summary=input_summary)
        now = self.clock()
        sil = self._silence_for(tx, ep.station, ep.parameter, ep.detectors, ep.end_utc)
        alarm_id = tx.insert(station=ep.station, parameter=ep.parameter, detector=ep.detector, detectors=ep.detectors,
                             level=ep.level, score=ep.score, reason=ep.reason, start_utc=ep.start_utc, end_utc=ep.end_utc,
                             status=lc.RAISED, outcome=None, silenced=sil is not None, evidence=bundle, created_utc=now,
                             updated_utc=now)
        tx.add_event(AlarmEvent(alarm_id, now, lc.SYSTEM_USER, "raise", None, lc.RAISED,
                                f"{level_label(ep.level)}; {ep.detector} {ep.reason}; {len(ep.results)} results; "
                                f"{_span(ep.start_utc, ep.end_utc)}"))
        report.raised.append(alarm_id)
        if sil is not None:
            tx.add_event(AlarmEvent(alarm_id, now, lc.SYSTEM_USER, "silence", lc.RAISED, lc.RAISED, _silence_note(sil)))
            report.silenced.append(alarm_id)
        elif ep.level >= self.policy.notify_min_level:
            to_notify.append((alarm_id, "raised"))

    def _extend(self, tx: AlarmsTx, a: Alarm, ep: Episode, bundle: dict[str, Any], report: IngestReport,
                to_notify: list[tuple[int, str]]) -> None:
        start, end = min(a.start_utc, ep.start_utc), max(a.end_utc, ep.end_utc)
        old_keys = set(a.evidence.get("result_keys", [])) | {e.get("key") for e in a.evidence.get("results", [])}
        new_keys = set(bundle.get("result_keys", []))
        lead_new = (ep.level, ep.score) > (a.level, a.score)
        level = max(a.level, ep.level)
        detectors = sorted(set(a.detectors) | set(ep.detectors))
        if (start, end, level, detectors) == (a.start_utc, a.end_utc, a.level, a.detectors) and not lead_new \
                and new_keys <= old_keys:
            report.unchanged += 1
            return
        now = self.clock()
        silenced = a.silenced
        events: list[tuple[str, str]] = []
        if end != a.end_utc:
            sil = self._silence_for(tx, a.station, a.parameter, detectors, end)
            if sil is not None and not a.silenced:
                silenced = True
                events.append(("silence", _silence_note(sil)))
            elif sil is None and a.silenced:
                silenced = False
                events.append(("unsilence", f"静默不再覆盖 {utc_to_beijing_iso(end)} / no silence covers the alarm's "
                                            "latest data"))
        fields: dict[str, Any] = {"start_utc": start, "end_utc": end, "level": level, "detectors": detectors,
                                  "evidence": merge_bundles(a.evidence, bundle), "silenced": silenced, "updated_utc": now}
        if lead_new:
            fields.update(detector=ep.detector, score=ep.score, reason=ep.reason)
        tx.update(a.id, expect_status=a.status, **fields)
        note = f"{_span(a.start_utc, a.end_utc)} → {_span(start, end)}"
        if level != a.level:
            note += f"; level {a.level}→{level}"
        note += f"; +{len(new_keys - old_keys)} results"
        tx.add_event(AlarmEvent(a.id, now, lc.SYSTEM_USER, "extend", a.status, a.status, note))
        for action, n in events:
            tx.add_event(AlarmEvent(a.id, now, lc.SYSTEM_USER, action, a.status, a.status, n))
        report.extended.append(a.id)
        if silenced:
            if not a.silenced:
                report.silenced.append(a.id)
            return
        if level >= self.policy.notify_min_level:
            if level > a.level:
                to_notify.append((a.id, "escalated"))
            elif a.silenced:
                to_notify.append((a.id, "unsilenced"))

    def _silence_for(self, tx: AlarmsTx, station: str, parameter: str, detectors: list[str], end: int) -> Silence | None:
        for s in tx.silences_covering(station, end):
            if s.matches(station, parameter, detectors, end):
                return s
        return None

    # -- notifications -----------------------------------------------------------------------------

    def _notify(self, alarm_id: int, event: str, report: IngestReport) -> None:
        if not self.notifiers:
            return
        alarm = self.repo.get(alarm_id)
        lines: list[str] = []
        for n in self.notifiers:
            try:
                note = n.send(alarm, event)
            except DeliveryError as e:
                log.warning("alarm %s: %s delivery failed: %s", alarm_id, n.name, e)
                report.failed.append((alarm_id, n.name, str(e)))
                lines.append(f"{n.name} 失败 failed: {e}")
            else:
                report.notified.append((alarm_id, n.name, note))
                lines.append(note)
        with self.repo.tx() as tx:
            now = self.clock()
            for line in lines:
                tx.add_event(AlarmEvent(alarm_id, now, lc.SYSTEM_USER, "notify", alarm.status, alarm.status,
                                        f"{event}: {line}"))

    # -- lifecycle ---------------------------------------------------------------------------------

    def transition(self, alarm_id: int, action: str, *, user: str, note: str, outcome: str | None = None) -> Alarm:
        """Move an alarm by ``action`` (ack | verify | dispose | close), recording who, when and why.

        Raises Conflict naming the current state when the action is not allowed from it, InputError
        for a missing user, note or outcome, NotFound for an unknown alarm.
        """
        with self.repo.tx() as tx:
            a = tx.get(alarm_id, lock=True)
            to = lc.next_state(a.status, action, user=user, note=note, outcome=outcome)
            now = self.clock()
            fields: dict[str, Any] = {"status": to, "updated_utc": now}
            text = note.strip()
            if action == "dispose":
                fields["outcome"] = outcome
                text = f"[{outcome} {lc.OUTCOMES[outcome or '']}] {text}"
            tx.update(alarm_id, expect_status=a.status, **fields)
            tx.add_event(AlarmEvent(alarm_id, now, user.strip(), action, a.status, to, text))
            tx.record_decision(alarm_id, action, actor=user.strip(), payload={
                "from": a.status, "to": to, "note": note.strip(), "outcome": outcome, "station": a.station,
                "parameter": a.parameter, "level": a.level, "detectors": a.detectors, "time_utc": now})
            return tx.get(alarm_id)

    def ack(self, alarm_id: int, *, user: str, note: str) -> Alarm:
        return self.transition(alarm_id, "ack", user=user, note=note)

    def verify(self, alarm_id: int, *, user: str, note: str) -> Alarm:
        return self.transition(alarm_id, "verify", user=user, note=note)

    def dispose(self, alarm_id: int, *, user: str, note: str, outcome: str) -> Alarm:
        return self.transition(alarm_id, "dispose", user=user, note=note, outcome=outcome)

    def close(self, alarm_id: int, *, user: str, note: str) -> Alarm:
        return self.transition(alarm_id, "close", user=user, note=note)

    def auto_resolve(self, as_of_utc: int | None = None) -> list[int]:
        """Close raised, unacknowledged alarms of at most the policy's ``auto_resolve_max_level`` whose
        condition has been quiet (no result extending them) for ``resolve_quiet_s`` before
        ``as_of_utc`` — the time up to which data have been checked (default: now). Returns their ids."""
        as_of = int(self.clock() if as_of_utc is None else as_of_utc)
        done = []
        with self.repo.tx() as tx:
            now = self.clock()
            for a in tx.stale(lc.RAISED, self.policy.auto_resolve_max_level, as_of - self.policy.resolve_quiet_s):
                tx.update(a.id, expect_status=lc.RAISED, status=lc.CLOSED, updated_utc=now)
                tx.add_event(AlarmEvent(a.id, now, lc.SYSTEM_USER, lc.AUTO_RESOLVE, lc.RAISED, lc.CLOSED,
                                        f"条件已结束于 {utc_to_beijing_iso(a.end_utc)}，无人确认 / condition ended, "
                                        f"nobody acknowledged; checked up to {utc_to_beijing_iso(as_of)}"))
                tx.record_decision(a.id, lc.AUTO_RESOLVE, actor=lc.SYSTEM_USER, payload={
                    "from": lc.RAISED, "to": lc.CLOSED, "checked_to_utc": as_of, "quiet_since_utc": a.end_utc,
                    "station": a.station, "parameter": a.parameter, "level": a.level, "time_utc": now})
                done.append(a.id)
        return done

    # -- silences ----------------------------------------------------------------------------------

    def silence(self, *, station: str, until_utc: int, user: str, reason: str, parameter: str | None = None,
                detector: str | None = None, start_utc: int | None = None, kind: str = "silence") -> tuple[Silence, list[int]]:
        """Store a silence (or ``kind="maintenance"`` window) over data time [start, until) and mark the
        open alarms it matches (:meth:`Silence.matches`) as silenced. Returns it and those ids.

        ``start_utc`` defaults to now minus the policy's merge gap, so that alarms still going on
        (whose latest data are within the gap of now) are covered."""
        if not (station or "").strip():
            raise InputError("station", "required / 必填")
        if not (user or "").strip():
            raise InputError("user", "required: who silences / 必填：操作人")
        if not (reason or "").strip():
            raise InputError("reason", "required: say why / 必填：说明原因")
        if kind not in ("silence", "maintenance"):
            raise InputError("kind", f"silence | maintenance, not {kind!r}")
        now = self.clock()
        start = int(now - self.policy.merge_gap_s if start_utc is None else start_utc)
        if until_utc <= start:
            raise InputError("until", f"must be after the start {utc_to_beijing_iso(start)} / 结束时间须晚于开始时间")
        param = parameter.strip() if parameter and parameter.strip() else None
        sil = Silence(station.strip(), start, int(until_utc), user.strip(), reason.strip(), param,
                      detector.strip() if detector and detector.strip() else None, kind, now)
        marked = []
        with self.repo.tx() as tx:
            sil.id = tx.add_silence(sil)
            for a in tx.open_alarms(sil.station, sil.start_utc, sil.end_utc, sorted(lc.OPEN_STATES)):
                if a.silenced or not sil.matches(a.station, a.parameter, a.detectors, a.end_utc):
                    continue
                tx.update(a.id, expect_status=a.status, silenced=True, updated_utc=now)
                tx.add_event(AlarmEvent(a.id, now, sil.user, "silence", a.status, a.status, _silence_note(sil)))
                marked.append(a.id)
        return sil, marked

    # -- statistics --------------------------------------------------------------------------------

    def precision_by_detector(self) -> list[DetectorPrecision]:
        """Per-detector precision from the disposal outcomes in the store (:func:`precision_table`)."""
        return precision_table(self.repo.dispositions())


def _silence_note(s: Silence) -> str:
    what = "维护窗口 maintenance window" if s.kind == "maintenance" else "静默 silence"
    return f"{what} #{s.id} ({s.user}, until {utc_to_beijing_iso(s.end_utc)}): {s.reason}"
