"""Reads behind the data API: official results (``assessments``) and alarms, scoped in SQL.

Results of sites (station, outlet and water kinds) are visible when their site is; city results
(subject = a region code) when the region is in scope — the public endpoints pass a scope widened
to the published kinds. Alarms are visible when their station (a site code) is; an alarm on a
device without a site only to the province scope.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, func, select, true

from tianlan.store.api_repo import Page
from tianlan.store.schema import alarm_events, alarms, assessments, regions, sites
from tianlan.store.scoped import Scope

#: assessment kinds whose subject is a region (the others name a site)
REGION_KINDS = frozenset({"city_hour", "city_day", "city_month", "city_year"})


def _json(text: str | None) -> Any:
    return json.loads(text) if text else {}


class ResultsRepo:
    """Scoped reads of stored official results and of alarms."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # --- official results ---------------------------------------------------------------------------

    def _result_where(self, scope: Scope, kind: str, *, subjects: Sequence[str], start_utc: int | None,
                      end_utc: int | None, region_codes: frozenset[str] | None) -> ColumnElement[bool]:
        a = assessments.c
        cond: list[ColumnElement[bool]] = [a.kind == kind]
        if kind in REGION_KINDS:
            if not (scope.everything or scope.public_kinds):
                cond.append(a.subject.in_(sorted(scope.regions)))
            if region_codes is not None:
                cond.append(a.subject.in_(sorted(region_codes)))
        else:
            if not scope.everything:
                cond.append(a.subject.in_(scope.visible_sites()))
            if region_codes is not None:
                cond.append(a.subject.in_(select(sites.c.code).where(sites.c.region_code.in_(sorted(region_codes)))))
        if subjects:
            cond.append(a.subject.in_(list(subjects)))
        if start_utc is not None:
            cond.append(a.period_utc >= start_utc)
        if end_utc is not None:
            cond.append(a.period_utc < end_utc)
        return and_(*cond)

    def results(self, scope: Scope, kind: str, *, subjects: Sequence[str] = (), start_utc: int | None = None,
                end_utc: int | None = None, region_codes: frozenset[str] | None = None, limit: int = 100,
                offset: int = 0, newest_first: bool = False) -> Page:
        """A page of results of ``kind`` ordered by period then subject, with the subject's name."""
        a = assessments.c
        where = self._result_where(scope, kind, subjects=subjects, start_utc=start_utc, end_utc=end_utc,
                                   region_codes=region_codes)
        name = func.coalesce(sites.c.name, regions.c.name).label("subject_name")
        order = (a.period_utc.desc(), a.subject) if newest_first else (a.period_utc, a.subject)
        q = (select(a.kind, a.subject, name, a.period_utc, a.edition, a.aqi, a.level, a.primary_pollutants, a.result,
                    a.coverage, a.computed_utc)
             .select_from(assessments.outerjoin(sites, sites.c.code == a.subject)
                          .outerjoin(regions, regions.c.code == a.subject))
             .where(where).order_by(*order).limit(limit).offset(offset))
        with self.engine.connect() as c:
            found = c.execute(select(func.count()).select_from(assessments).where(where)).scalar_one()
            rows = []
            for r in c.execute(q):
                m = dict(r._mapping)
                m["result"] = _json(m["result"])
                m["coverage"] = _json(m["coverage"])
                rows.append(m)
        return Page(int(found), rows)

    def latest_period(self, scope: Scope, kind: str) -> int | None:
        """The newest period of ``kind`` visible in ``scope`` (None when there is none)."""
        where = self._result_where(scope, kind, subjects=(), start_utc=None, end_utc=None, region_codes=None)
        with self.engine.connect() as c:
            v = c.execute(select(func.max(assessments.c.period_utc)).where(where)).scalar()
        return None if v is None else int(v)

    # --- alarms -------------------------------------------------------------------------------------

    def _alarm_where(self, scope: Scope, *, status: Sequence[str], stations: Sequence[str], parameter: str | None,
                     min_level: int | None, region_codes: frozenset[str] | None, start_utc: int | None,
                     end_utc: int | None, alarm_id: int | None = None) -> ColumnElement[bool]:
        a = alarms.c
        cond: list[ColumnElement[bool]] = [scope.station_condition(a.station)]
        if alarm_id is not None:
            cond.append(a.id == alarm_id)
        if status:
            cond.append(a.status.in_(list(status)))
        if stations:
            cond.append(a.station.in_(list(stations)))
        if parameter:
            cond.append(a.parameter == parameter)
        if min_level:
            cond.append(a.level >= min_level)
        if region_codes is not None:
            cond.append(a.station.in_(select(sites.c.code).where(sites.c.region_code.in_(sorted(region_codes)))))
        if start_utc is not None:
            cond.append(a.end_utc > start_utc)
        if end_utc is not None:
            cond.append(a.start_utc < end_utc)
        return and_(true(), *cond)

    def alarms(self, scope: Scope, *, status: Sequence[str] = (), stations: Sequence[str] = (),
               parameter: str | None = None, min_level: int | None = None, region_codes: frozenset[str] | None = None,
               start_utc: int | None = None, end_utc: int | None = None, limit: int = 100, offset: int = 0) -> Page:
        """A page of alarms, newest data first (without the evidence bundle, which :meth:`alarm` gives)."""
        a = alarms.c
        where = self._alarm_where(scope, status=status, stations=stations, parameter=parameter, min_level=min_level,
                                  region_codes=region_codes, start_utc=start_utc, end_utc=end_utc)
        q = (select(a.id, a.station, sites.c.name.label("station_name"), sites.c.region_code, a.parameter, a.detector,
                    a.detectors, a.level, a.score, a.reason, a.start_utc, a.end_utc, a.status, a.outcome, a.silenced,
                    a.created_utc, a.updated_utc)
             .select_from(alarms.outerjoin(sites, sites.c.code == a.station))
             .where(where).order_by(a.start_utc.desc(), a.id.desc()).limit(limit).offset(offset))
        with self.engine.connect() as c:
            found = c.execute(select(func.count()).select_from(alarms).where(where)).scalar_one()
            rows = []
            for r in c.execute(q):
                m = dict(r._mapping)
                m["detectors"] = [x for x in (m["detectors"] or "").split(",") if x]
                m["silenced"] = bool(m["silenced"])
                rows.append(m)
        return Page(int(found), rows)

    def alarm(self, scope: Scope, alarm_id: int) -> dict[str, Any] | None:
        """One alarm with its evidence bundle and history, or None when absent or out of scope."""
        a = alarms.c
        where = self._alarm_where(scope, status=(), stations=(), parameter=None, min_level=None, region_codes=None,
                                  start_utc=None, end_utc=None, alarm_id=alarm_id)
        q = (select(alarms, sites.c.name.label("station_name"), sites.c.region_code)
             .select_from(alarms.outerjoin(sites, sites.c.code == a.station)).where(where))
        e = alarm_events.c
        with self.engine.connect() as c:
            r = c.execute(q).first()
            if r is None:
                return None
            m = dict(r._mapping)
            events = [dict(x._mapping) for x in c.execute(
                select(e.id, e.time_utc, e.user, e.action, e.from_status, e.to_status, e.note)
                .where(e.alarm_id == alarm_id).order_by(e.time_utc, e.id))]
        m["detectors"] = [x for x in (m["detectors"] or "").split(",") if x]
        m["silenced"] = bool(m["silenced"])
        m["evidence"] = _json(m["evidence"])
        m["events"] = events
        return m
