"""Store access for alarms: the ``alarms``, ``alarm_events`` and ``silences`` tables.

SQL only; the rules (levels, dedupe, lifecycle, silences) live in :mod:`tianlan.alarms`. Writes go
through :meth:`AlarmsRepo.tx`, one transaction per logical change, so an alarm and the event that
records the change are committed together — and, for lifecycle decisions, the ledger entry
(:meth:`AlarmsTx.record_decision`). Status changes are compare-and-set on the status the
caller read, so two people acting at once cannot both move an alarm (the second gets Conflict).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Row, and_, insert, select, update

from tianlan.alarms.lifecycle import Alarm, AlarmEvent, Silence
from tianlan.errors import Conflict, NotFound
from tianlan.store.schema import alarm_events, alarms, silences


def _alarm(row: Row[Any]) -> Alarm:
    m = row._mapping
    return Alarm(int(m["id"]), m["station"], m["parameter"], m["detector"],
                 [d for d in (m["detectors"] or "").split(",") if d], int(m["level"]), float(m["score"]), m["reason"],
                 int(m["start_utc"]), int(m["end_utc"]), m["status"], m["outcome"], bool(m["silenced"]),
                 json.loads(m["evidence"] or "{}"), float(m["created_utc"]), float(m["updated_utc"]))


def _event(row: Row[Any]) -> AlarmEvent:
    m = row._mapping
    return AlarmEvent(int(m["alarm_id"]), float(m["time_utc"]), m["user"], m["action"], m["from_status"], m["to_status"],
                      m["note"], int(m["id"]))


def _silence(row: Row[Any]) -> Silence:
    m = row._mapping
    return Silence(m["station"], int(m["start_utc"]), int(m["end_utc"]), m["user"], m["reason"], m["parameter"],
                   m["detector"], m["kind"], float(m["created_utc"]), int(m["id"]))


def _columns(fields: dict[str, Any]) -> dict[str, Any]:
    out = dict(fields)
    if "detectors" in out and not isinstance(out["detectors"], str):
        out["detectors"] = ",".join(out["detectors"])
    if "evidence" in out and not isinstance(out["evidence"], str):
        out["evidence"] = json.dumps(out["evidence"], ensure_ascii=False, allow_nan=False, sort_keys=True)
    return out


class AlarmsTx:
    """The alarm tables inside one open transaction (from :meth:`AlarmsRepo.tx`)."""

    def __init__(self, conn: Connection) -> None:
        self.c = conn

    def get(self, alarm_id: int, *, lock: bool = False) -> Alarm:
        q = select(alarms).where(alarms.c.id == alarm_id)
        if lock:
            q = q.with_for_update()  # PostgreSQL row lock; SQLite's single writer serialises anyway
        row = self.c.execute(q).first()
        if row is None:
            raise NotFound("alarm 告警", str(alarm_id))
        return _alarm(row)

    def near(self, station: str, parameter: str, start_utc: int, end_utc: int) -> list[Alarm]:
        """Alarms of ``station`` and ``parameter`` whose period overlaps [start, end), oldest first."""
        a = alarms.c
        q = (select(alarms).where(and_(a.station == station, a.parameter == parameter, a.end_utc > start_utc,
                                       a.start_utc < end_utc)).order_by(a.start_utc, a.id))
        return [_alarm(r) for r in self.c.execute(q)]

    def insert(self, **fields: Any) -> int:
        res = self.c.execute(insert(alarms).values(**_columns(fields)).returning(alarms.c.id))
        return int(res.scalar_one())

    def update(self, alarm_id: int, *, expect_status: str | None = None, **fields: Any) -> None:
        """Change an alarm; with ``expect_status`` only if it is still in that state (else Conflict)."""
        cond = alarms.c.id == alarm_id
        if expect_status is not None:
            cond = and_(cond, alarms.c.status == expect_status)
        n = self.c.execute(update(alarms).where(cond).values(**_columns(fields))).rowcount
        if n != 1:
            if expect_status is not None:
                raise Conflict(f"告警 {alarm_id} 状态已被他人更改 / alarm {alarm_id} changed state meanwhile "
                               f"(expected {expect_status})")
            raise NotFound("alarm 告警", str(alarm_id))

    def add_event(self, ev: AlarmEvent) -> int:
        res = self.c.execute(insert(alarm_events).values(
            alarm_id=ev.alarm_id, time_utc=ev.time_utc, user=ev.user, action=ev.action, from_status=ev.from_status,
            to_status=ev.to_status, note=ev.note).returning(alarm_events.c.id))
        return int(res.scalar_one())

    def record_decision(self, alarm_id: int, action: str, *, actor: str, payload: dict[str, Any]) -> None:
        """A ledger entry (``alarm.<action>``, subject ``alarms``/id) in this transaction: the decision and
        its record commit or roll back together (DESIGN §1: who, when, why)."""
        from tianlan.ledger.chain import append_entry

        append_entry(self.c, kind=f"alarm.{action}", actor=actor, subject_table="alarms", subject_key=str(alarm_id),
                     payload=payload)

    def open_alarms(self, station: str, start_utc: int, end_utc: int, states: Sequence[str]) -> list[Alarm]:
        """Alarms of ``station`` in ``states`` whose period overlaps [start, end)."""
        a = alarms.c
        q = (select(alarms).where(and_(a.station == station, a.status.in_(list(states)), a.end_utc > start_utc,
                                       a.start_utc < end_utc)).order_by(a.id))
        return [_alarm(r) for r in self.c.execute(q)]

    def stale(self, status: str, max_level: int, end_before_utc: int) -> list[Alarm]:
        """Alarms in ``status`` of at most ``max_level`` whose period ended at or before ``end_before_utc``."""
        a = alarms.c
        q = select(alarms).where(and_(a.status == status, a.level <= max_level, a.end_utc <= end_before_utc)).order_by(a.id)
        return [_alarm(r) for r in self.c.execute(q)]

    def silences_covering(self, station: str, t_utc: int) -> list[Silence]:
        """Silences of ``station`` whose window (start, end] holds ``t_utc``."""
        s = silences.c
        q = select(silences).where(and_(s.station == station, s.start_utc < t_utc, s.end_utc >= t_utc)).order_by(s.id)
        return [_silence(r) for r in self.c.execute(q)]

    def add_silence(self, sil: Silence) -> int:
        res = self.c.execute(insert(silences).values(
            kind=sil.kind, station=sil.station, parameter=sil.parameter, detector=sil.detector, start_utc=sil.start_utc,
            end_utc=sil.end_utc, user=sil.user, reason=sil.reason, created_utc=sil.created_utc).returning(silences.c.id))
        return int(res.scalar_one())


class AlarmsRepo:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @contextmanager
    def tx(self) -> Iterator[AlarmsTx]:
        """One transaction over the alarm tables; committed when the block ends without error."""
        with self.engine.begin() as conn:
            yield AlarmsTx(conn)

    def get(self, alarm_id: int) -> Alarm:
        with self.engine.connect() as c:
            return AlarmsTx(c).get(alarm_id)

    def events(self, alarm_id: int) -> list[AlarmEvent]:
        """The alarm's history, oldest first."""
        e = alarm_events.c
        with self.engine.connect() as c:
            return [_event(r) for r in c.execute(select(alarm_events).where(e.alarm_id == alarm_id).order_by(e.time_utc, e.id))]

    def list_alarms(self, *, status: Sequence[str] | None = None, station: str | None = None, min_level: int | None = None,
             parameter: str | None = None, limit: int | None = None) -> list[Alarm]:
        """Alarms, newest data first, filtered by status, station, parameter and minimum level."""
        a = alarms.c
        conds: list[ColumnElement[bool]] = []
        if status:
            conds.append(a.status.in_(list(status)))
        if station:
            conds.append(a.station == station)
        if parameter:
            conds.append(a.parameter == parameter)
        if min_level:
            conds.append(a.level >= min_level)
        q = select(alarms).where(and_(True, *conds)).order_by(a.start_utc.desc(), a.id.desc())
        if limit:
            q = q.limit(limit)
        with self.engine.connect() as c:
            return [_alarm(r) for r in c.execute(q)]

    def silences(self, *, station: str | None = None, active_at_utc: int | None = None) -> list[Silence]:
        s = silences.c
        conds: list[ColumnElement[bool]] = []
        if station:
            conds.append(s.station == station)
        if active_at_utc is not None:
            conds.append(and_(s.start_utc <= active_at_utc, s.end_utc > active_at_utc))
        with self.engine.connect() as c:
            return [_silence(r) for r in c.execute(select(silences).where(and_(True, *conds)).order_by(s.id))]

    def dispositions(self) -> list[tuple[list[str], str]]:
        """(detectors, outcome) of every alarm with a disposal outcome."""
        a = alarms.c
        q = select(a.detectors, a.outcome).where(a.outcome.is_not(None))
        with self.engine.connect() as c:
            return [([d for d in (ds or "").split(",") if d], o) for ds, o in c.execute(q)]
