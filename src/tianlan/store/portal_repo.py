"""Read-only queries the web pages need beyond the other repositories: the latest period of a kind of
official result, the results of one period, and a site's hourly observations with their flags.

Nothing here computes: results come from ``assessments`` (written by ``tianlan assess``), series
from ``observations`` as stored. Scoping (region, enterprise) is the caller's filter over the
site codes it passes or keeps.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, and_, delete, func, insert, select

from tianlan.store.assess_repo import WATERMARK
from tianlan.store.schema import assess_state, assessments, devices, observations

#: ``assess_state`` key of the time (UTC epoch ms) the assessment job last wrote results
RESULTS_STAMP = "results_written_ms"


class PortalRepo:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def results_version(self) -> tuple[int, int]:
        """(watermark, results stamp): changes whenever ``tianlan assess`` writes results (one key read)."""
        st = assess_state.c
        with self.engine.connect() as c:
            got = dict(c.execute(select(st.key, st.value).where(st.key.in_([WATERMARK, RESULTS_STAMP]))).all())
        return int(got.get(WATERMARK) or 0), int(got.get(RESULTS_STAMP) or 0)

    def stamp_results(self, at_ms: int | None = None) -> int:
        """Record that results were (re)written now; readers' caches compare :meth:`results_version`."""
        import time

        v = int(time.time() * 1000) if at_ms is None else int(at_ms)
        with self.engine.begin() as c:
            c.execute(delete(assess_state).where(assess_state.c.key == RESULTS_STAMP))
            c.execute(insert(assess_state).values(key=RESULTS_STAMP, value=v))
        return v

    def latest_period(self, kind: str, subjects: Sequence[str] | None = None) -> int | None:
        """The newest ``period_utc`` of results of ``kind`` (of ``subjects`` when given), or None."""
        a = assessments.c
        q = select(func.max(a.period_utc)).where(a.kind == kind)
        if subjects is not None:
            q = q.where(a.subject.in_(list(subjects)))
        with self.engine.connect() as c:
            v = c.execute(q).scalar()
        return None if v is None else int(v)

    def periods(self, kind: str, limit: int = 24) -> list[int]:
        """The newest distinct periods of ``kind``, newest first."""
        a = assessments.c
        q = select(a.period_utc).where(a.kind == kind).distinct().order_by(a.period_utc.desc()).limit(limit)
        with self.engine.connect() as c:
            return [int(v) for v in c.execute(q).scalars()]

    def results(self, kind: str, start_utc: int, end_utc: int, subjects: Sequence[str] | None = None) -> list[dict[str, Any]]:
        """Results of ``kind`` with period in [start, end), by period then subject; JSON columns decoded."""
        a = assessments.c
        cond = [a.kind == kind, a.period_utc >= start_utc, a.period_utc < end_utc]
        if subjects is not None:
            cond.append(a.subject.in_(list(subjects)))
        q = (select(a.kind, a.subject, a.period_utc, a.edition, a.aqi, a.level, a.primary_pollutants, a.result, a.coverage)
             .where(and_(*cond)).order_by(a.period_utc, a.subject))
        with self.engine.connect() as c:
            rows = c.execute(q).all()
        return [{"kind": r.kind, "subject": r.subject, "period_utc": int(r.period_utc), "edition": r.edition, "aqi": r.aqi,
                 "level": r.level, "primary": r.primary_pollutants, "result": json.loads(r.result),
                 "coverage": json.loads(r.coverage)} for r in rows]

    def site_series(self, site_code: str, start_utc: int, end_utc: int, *, kind: str = "hour",
                    parameters: Sequence[str] | None = None,
                    max_rows: int = 50_000) -> list[tuple[int, str, float | None, str | None]]:
        """(time_utc, parameter, value, flag) of the site's devices' ``kind`` data in [start, end), by time."""
        o = observations.c
        ids = select(devices.c.id).where(devices.c.site_code == site_code).scalar_subquery()
        cond = [o.time_utc >= start_utc, o.time_utc < end_utc, o.kind == kind, o.device_id.in_(ids)]
        if parameters:
            cond.append(o.parameter.in_(list(parameters)))
        q = select(o.time_utc, o.parameter, o.value, o.flag).where(and_(*cond)).order_by(o.time_utc, o.parameter).limit(max_rows)
        with self.engine.connect() as c:
            return [(int(t), p, None if v is None else float(v), f) for t, p, v, f in c.execute(q)]

    def site_last_time(self, site_code: str, kind: str = "hour") -> int | None:
        """The newest period start of the site's ``kind`` data."""
        o = observations.c
        ids = select(devices.c.id).where(devices.c.site_code == site_code).scalar_subquery()
        with self.engine.connect() as c:
            v = c.execute(select(func.max(o.time_utc)).where(and_(o.kind == kind, o.device_id.in_(ids)))).scalar()
        return None if v is None else int(v)

    def latest_observation_time(self) -> int | None:
        """The newest period start of any stored observation (the end of the time-leading key)."""
        with self.engine.connect() as c:
            v = c.execute(select(func.max(observations.c.time_utc))).scalar()
        return None if v is None else int(v)
