"""Enterprise data marks in the store (2022 marking rule): add, list, and the read QC uses.

Only an enterprise user marks, and only the outlets (sites of kind ``source``) of its own enterprise
(its scope). A mark is kept with its timeliness (:func:`tianlan.ledger.marks.timeliness`), never
refused for being late; each is a ledger entry. :meth:`MarksRepo.marks_for` is the system read the
QC engine uses (MARK-01..03) and returns :class:`tianlan.qc.core.Mark` objects.
"""

from __future__ import annotations

import builtins
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, select

from tianlan.auth.roles import Role
from tianlan.errors import InputError
from tianlan.ledger import marks as mk
from tianlan.qc.core import Mark
from tianlan.store.records_repo import Access, Actor, active, ledger, load_station
from tianlan.store.schema_records import enterprise_marks as em


@dataclass(frozen=True)
class MarkRecord:
    id: int
    station: str
    enterprise_code: str
    kind: str
    start_utc: int
    end_utc: int
    reason: str
    document: str
    created_by: str
    created_utc: float
    timeliness: str
    delay_s: float


def _rec(r) -> MarkRecord:  # type: ignore[no-untyped-def]
    return MarkRecord(int(r.id), r.station, r.enterprise_code, r.kind, int(r.start_utc), int(r.end_utc), r.reason,
                      r.document, r.created_by, float(r.created_utc), r.timeliness, float(r.delay_s))


class MarksRepo:
    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.time,
                 rules: mk.MarkRules | None = None) -> None:
        self.engine = engine
        self.access = Access(engine)
        self.clock = clock
        self.rules = rules or mk.MarkRules()

    def add(self, user: Actor, *, station: str, kind: str, start_utc: int, end_utc: int, reason: str,
            document: str = "") -> MarkRecord:
        """Mark [start, end) of an outlet of the user's own enterprise; returns the stored mark."""
        active(user)
        if user.role is not Role.ENTERPRISE:
            raise InputError("user", f"{user.username} ({user.role.value}) may not mark data; enterprises mark their own "
                                     "outlets / 仅排污单位可标记")
        now = self.clock()
        mk.validate(kind, start_utc, end_utc, reason, now_utc=now, rules=self.rules)
        with self.engine.begin() as conn:
            st = load_station(conn, station)
            if st.kind != "source" or st.enterprise is None:
                raise InputError("--station", f"{station} is not an enterprise outlet / 非排污单位排放口")
            if st.enterprise != user.scope:
                raise InputError("--station", f"{station} belongs to enterprise {st.enterprise}, not {user.scope} "
                                              "/ 只能标记本单位排放口")
            row = {"station": st.code, "enterprise_code": st.enterprise, "kind": kind, "start_utc": start_utc,
                   "end_utc": end_utc, "reason": reason.strip(), "document": document.strip(),
                   "created_by": user.username, "created_utc": now,
                   "timeliness": mk.timeliness(start_utc, end_utc, now, self.rules),
                   "delay_s": max(0.0, now - start_utc)}
            mid = int(conn.execute(em.insert().values(**row).returning(em.c.id)).scalar_one())
            ledger(conn, kind="mark.add", user=user.username, table="enterprise_marks", row_id=mid, payload=row)
            return _rec(conn.execute(select(em).where(em.c.id == mid)).one())

    def list(self, user: Actor, *, station: str | None = None, start_utc: int | None = None,
             end_utc: int | None = None, timeliness: str | None = None, limit: int | None = 500) -> builtins.list[MarkRecord]:
        """Marks overlapping [start, end) of the stations in the user's scope, newest period first."""
        active(user)
        if timeliness is not None and timeliness not in mk.TIMELINESS:
            raise InputError("--timeliness", f"must be one of {', '.join(mk.TIMELINESS)}, got {timeliness!r}")
        q = select(em)
        with self.engine.connect() as conn:
            if station:
                self.access.require(user, load_station(conn, station), what="read marks")
                q = q.where(em.c.station == station)
            if start_utc is not None:
                q = q.where(em.c.end_utc > start_utc)
            if end_utc is not None:
                q = q.where(em.c.start_utc < end_utc)
            if timeliness:
                q = q.where(em.c.timeliness == timeliness)
            out: builtins.list[MarkRecord] = []
            seen: dict[str, bool] = {}
            for r in conn.execute(q.order_by(em.c.start_utc.desc(), em.c.id.desc())):
                if r.station not in seen:
                    seen[r.station] = self.access.covers(user, load_station(conn, r.station))
                if seen[r.station]:
                    out.append(_rec(r))
                    if limit and len(out) >= limit:
                        break
            return out

    def marks_for(self, station: str, start_utc: int, end_utc: int) -> builtins.list[Mark]:
        """System read for QC: the marks of ``station`` overlapping [start, end), as QC ``Mark`` objects
        (start, end, kind, creation time), oldest first. No user: QC runs as the platform."""
        q = (select(em.c.start_utc, em.c.end_utc, em.c.kind, em.c.created_utc)
             .where(em.c.station == station, em.c.end_utc > start_utc, em.c.start_utc < end_utc)
             .order_by(em.c.start_utc, em.c.id))
        with self.engine.connect() as conn:
            return [Mark(int(r.start_utc), int(r.end_utc), r.kind, float(r.created_utc)) for r in conn.execute(q)]
