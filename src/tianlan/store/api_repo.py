"""Reads behind the data API: registry, observations, latest values, bulk export — all scoped.

Every method takes a :class:`~tianlan.store.scoped.Scope` and applies it in SQL (DESIGN principle
6), so the count in a page's meta, the page itself and an export see exactly the same rows. Device
passwords are never selected here. Times are UTC epoch seconds; the web edge converts them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Engine, and_, func, select, true

from tianlan.store.schema import devices, enterprises, observations, parameters, qc_results, raw_frames, regions, sites
from tianlan.store.scoped import Scope

#: observation kinds by the API's grain names ("raw" = what devices send at sub-hour grain)
GRAINS: dict[str, tuple[str, ...]] = {
    "raw": ("rtd", "min"), "rtd": ("rtd",), "min": ("min",), "hour": ("hour",), "day": ("day",),
}
#: the period length of each kind (s), for coverage; rtd has no fixed period
PERIOD_S = {"min": 60, "hour": 3600, "day": 86400}
#: how far back "latest" looks from the newest stored datum (s)
LATEST_WINDOW_S = 3 * 3600


@dataclass(frozen=True)
class Page:
    """One page of rows and the number of rows the query matches in scope."""

    found: int
    rows: list[dict[str, Any]]


@dataclass(frozen=True)
class ObsFilter:
    """What an observation query selects (all optional except kinds)."""

    kinds: tuple[str, ...]
    start_utc: int | None = None
    end_utc: int | None = None
    parameters: tuple[str, ...] = ()
    sites: tuple[str, ...] = ()
    mns: tuple[str, ...] = ()
    regions: frozenset[str] | None = None  # a region filter already expanded to its descendants


#: SQLite export by period start: period starts × devices per statement
GRID_CHUNK = 2000
#: ... for at most this many devices (a wider export returns most of what a range read scans)
GRID_MAX_DEVICES = 20


def _period_grid(f: ObsFilter) -> tuple[int, range] | None:
    """(3600, the hour starts in [start, end)) when every kind of ``f`` is hour or day data, else
    None. Day values start at Beijing midnight (16:00 UTC), on the hour grid."""
    if f.start_utc is None or f.end_utc is None or not f.kinds or any(k not in PERIOD_S for k in f.kinds):
        return None
    step = min(PERIOD_S[k] for k in f.kinds)
    if step < 3600:
        return None  # minute data: most of what a range read scans is the device's own rows already
    step = 3600  # Beijing midnights are whole UTC hours
    first = -(-f.start_utc // step) * step
    return step, range(first, f.end_utc, step)


def _site_filters(f_sites: Sequence[str], f_regions: frozenset[str] | None, kind: str | None = None) -> list[ColumnElement[bool]]:
    c = sites.c
    out: list[ColumnElement[bool]] = []
    if f_sites:
        out.append(c.code.in_(list(f_sites)))
    if f_regions is not None:
        out.append(c.region_code.in_(sorted(f_regions)))
    if kind:
        out.append(c.kind == kind)
    return out


class ApiRepo:
    """Scoped reads of the registry and the observations for ``tianlan.web.api``."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # --- reference data (not scoped: regions and parameters are public) -------------------------

    def regions(self, *, level: str | None = None, parent: str | None = None) -> list[dict[str, Any]]:
        r = regions.c
        q = select(r.code, r.name, r.name_en, r.level, r.parent_code).order_by(r.code)
        if level:
            q = q.where(r.level == level)
        if parent:
            q = q.where(r.parent_code == parent)
        with self.engine.connect() as c:
            return [dict(x._mapping) for x in c.execute(q)]

    def parameters(self, *, system: str | None = None) -> list[dict[str, Any]]:
        p = parameters.c
        q = select(p.code, p.name, p.name_en, p.unit, p.system, p.code_2005).order_by(p.code)
        if system:
            q = q.where(p.system == system)
        with self.engine.connect() as c:
            return [dict(x._mapping) for x in c.execute(q)]

    # --- sites, enterprises and devices -----------------------------------------------------------

    def sites(self, scope: Scope, *, kind: str | None = None, region_codes: frozenset[str] | None = None,
              codes: Sequence[str] = (), enterprise: str | None = None, limit: int = 100, offset: int = 0) -> Page:
        c = sites.c
        cond = and_(scope.site_condition(), *_site_filters(codes, region_codes, kind))
        if enterprise:
            cond = and_(cond, c.enterprise_code == enterprise)
        q = (select(c.code, c.name, c.kind, c.region_code, regions.c.name.label("region_name"), c.lon, c.lat,
                    c.control_level, c.background, c.section_type, c.target_class, c.enterprise_code,
                    enterprises.c.name.label("enterprise_name"), c.outlet_type, c.attrs)
             .select_from(sites.join(regions, regions.c.code == c.region_code)
                          .outerjoin(enterprises, enterprises.c.code == c.enterprise_code))
             .where(cond).order_by(c.code).limit(limit).offset(offset))
        with self.engine.connect() as conn:
            found = conn.execute(select(func.count()).select_from(sites).where(cond)).scalar_one()
            rows = []
            for r in conn.execute(q):
                d = dict(r._mapping)
                d["background"] = bool(d["background"])
                d["attrs"] = json.loads(d["attrs"] or "{}")
                rows.append(d)
        return Page(int(found), rows)

    def site(self, scope: Scope, code: str) -> dict[str, Any] | None:
        page = self.sites(scope, codes=(code,), limit=1)
        return page.rows[0] if page.rows else None

    def devices(self, scope: Scope, *, site: str | None = None, kind: str | None = None,
                region_codes: frozenset[str] | None = None, limit: int = 100, offset: int = 0) -> Page:
        """Devices of visible sites (province scope: also devices without a site); never the password."""
        d = devices.c
        cond: list[ColumnElement[bool]] = [] if scope.everything else [d.id.in_(scope.visible_devices())]
        if site:
            cond.append(d.site_code == site)
        if kind:
            cond.append(d.kind == kind)
        if region_codes is not None:
            cond.append(d.site_code.in_(select(sites.c.code).where(sites.c.region_code.in_(sorted(region_codes)))))
        where = and_(true(), *cond)
        q = (select(d.id, d.mn, d.st, d.kind, d.protocol, d.crc_variant, d.site_code, d.parameters, d.active,
                    d.created_utc).where(where).order_by(d.mn).limit(limit).offset(offset))
        with self.engine.connect() as conn:
            found = conn.execute(select(func.count()).select_from(devices).where(where)).scalar_one()
            rows = []
            for r in conn.execute(q):
                m = dict(r._mapping)
                m["parameters"] = [p for p in (m["parameters"] or "").split(",") if p]
                m["active"] = bool(m["active"])
                rows.append(m)
        return Page(int(found), rows)

    # --- observations -----------------------------------------------------------------------------

    def _device_condition(self, scope: Scope, f: ObsFilter):  # type: ignore[no-untyped-def]
        """``SELECT id FROM devices`` in scope and matching the site/MN/region filters; None: every device."""
        d = devices.c
        dev_cond: list[ColumnElement[bool]] = [] if scope.everything else [scope.site_condition()]
        dev_cond += _site_filters(f.sites, f.regions)
        if f.mns:
            dev_cond.append(d.mn.in_(list(f.mns)))
        if not dev_cond:
            return None
        return select(d.id).select_from(devices.outerjoin(sites, sites.c.code == d.site_code)).where(and_(*dev_cond))

    def _obs_where(self, scope: Scope, f: ObsFilter, device_ids: Sequence[int] | None = None) -> ColumnElement[bool]:
        o = observations.c
        cond: list[ColumnElement[bool]] = [o.kind.in_(list(f.kinds))]
        if f.start_utc is not None:
            cond.append(o.time_utc >= f.start_utc)
        if f.end_utc is not None:
            cond.append(o.time_utc < f.end_utc)
        if f.parameters:
            cond.append(o.parameter.in_(list(f.parameters)))
        if device_ids is not None:
            cond.append(o.device_id.in_(list(device_ids)))
        else:
            dev = self._device_condition(scope, f)
            if dev is not None:
                cond.append(o.device_id.in_(dev))
        return and_(*cond)

    def _obs_select(self, where: ColumnElement[bool]):  # type: ignore[no-untyped-def]
        o, d = observations.c, devices.c
        return (select(o.time_utc, d.site_code, d.mn, o.parameter, o.kind, o.value, o.flag, o.vmin, o.vmax, o.cou,
                       o.zs, o.extra)
                .select_from(observations.join(devices, d.id == o.device_id)).where(where)
                .order_by(o.time_utc, o.device_id, o.parameter, o.kind))

    def observations(self, scope: Scope, f: ObsFilter, *, limit: int = 100, offset: int = 0) -> Page:
        """A page of observations in time order, with the QC status of each value (worst result covering it)."""
        where = self._obs_where(scope, f)
        with self.engine.connect() as conn:
            found = conn.execute(select(func.count()).select_from(observations).where(where)).scalar_one()
            rows = [dict(r._mapping) for r in conn.execute(self._obs_select(where).limit(limit).offset(offset))]
            self._attach_qc(conn, rows)
        for r in rows:
            r["extra"] = json.loads(r["extra"]) if r["extra"] else None
        return Page(int(found), rows)

    def coverage(self, scope: Scope, f: ObsFilter) -> dict[str, Any] | None:
        """Expected and observed periods per parameter (OpenAQ-style coverage) when the window and grain fix them."""
        if f.start_utc is None or f.end_utc is None or len(f.kinds) != 1 or f.kinds[0] not in PERIOD_S:
            return None
        o = observations.c
        where = self._obs_where(scope, f)
        periods = max(0, (f.end_utc - f.start_utc) // PERIOD_S[f.kinds[0]])
        q = (select(o.parameter, func.count(func.distinct(o.device_id)), func.count(), func.count(o.value))
             .where(where).group_by(o.parameter).order_by(o.parameter))
        out: dict[str, Any] = {}
        with self.engine.connect() as conn:
            for p, n_dev, n, n_val in conn.execute(q):
                expected = periods * int(n_dev)
                out[p] = {"expected": expected, "observed": int(n), "with_value": int(n_val),
                          "percent_complete": round(100.0 * int(n) / expected, 1) if expected else None}
        return out

    def device_labels(self) -> dict[int, tuple[str | None, str]]:
        """device id → (site code, MN), for exports (no password)."""
        d = devices.c
        with self.engine.connect() as conn:
            return {int(i): (site, mn) for i, site, mn in conn.execute(select(d.id, d.site_code, d.mn))}

    def export(self, scope: Scope, f: ObsFilter, *, batch: int = 20_000) -> Iterator[list[tuple[Any, ...]]]:
        """Every observation in scope matching ``f``, in time order, in batches of raw tuples
        (time_utc, device_id, parameter, kind, value, flag, vmin, vmax, cou, zs); see :meth:`device_labels`.

        The bulk path of the API: the visible devices are resolved first, the statement is compiled
        once and read through the DBAPI cursor (a server-side cursor on PostgreSQL), with no join —
        so that a year of a station streams at over 100,000 rows/s.
        """
        o = observations.c
        dev = self._device_condition(scope, f)
        with self.engine.connect() as conn:
            ids = None if dev is None else [int(i) for i in conn.execute(dev).scalars()]
            if ids is not None and not ids:
                return
            grid = (_period_grid(f) if self.engine.dialect.name == "sqlite" and ids is not None
                    and len(ids) <= GRID_MAX_DEVICES else None)
            if grid is not None:
                yield from self._export_grid(conn, f, ids or [], *grid)
                return
            q = (select(o.time_utc, o.device_id, o.parameter, o.kind, o.value, o.flag, o.vmin, o.vmax, o.cou, o.zs)
                 .where(self._obs_where(scope, f, ids)).order_by(o.time_utc, o.device_id, o.parameter, o.kind))
            comp = q.compile(dialect=self.engine.dialect, compile_kwargs={"render_postcompile": True})
            params: Any = [comp.params[k] for k in comp.positiontup or ()] if comp.positional else comp.params
            raw = conn.connection.dbapi_connection
            assert raw is not None
            pg = self.engine.dialect.name == "postgresql"
            cur = raw.cursor(name="tianlan_export") if pg else raw.cursor()  # type: ignore[call-arg]
            try:
                cur.execute(str(comp), params)
                while True:
                    rows = cur.fetchmany(batch)
                    if not rows:
                        break
                    yield list(rows)
            finally:
                cur.close()
                if pg:
                    raw.rollback()  # end the read transaction of the named cursor

    def _export_grid(self, conn: Any, f: ObsFilter, ids: list[int], step: int, times: range
                     ) -> Iterator[list[tuple[Any, ...]]]:
        """The SQLite export of fixed-period data of a few devices, read by period start.

        SQLite's observations key is time-leading and has no device index (a second index would
        halve ingestion), so a range read of one device scans every device's rows of the year.
        Hour and day values are stored at their period start (HJ 212 DataTime of CN 2061/2031:
        hh:00:00, 00:00:00 Beijing), so each chunk of period starts is
        looked up as ``time_utc IN (…) AND device_id IN (…)`` — one key seek per period and
        device — instead. Same rows and order as the range read for values at period starts.
        """
        o = observations.c
        cols = (o.time_utc, o.device_id, o.parameter, o.kind, o.value, o.flag, o.vmin, o.vmax, o.cou, o.zs)
        per = max(1, GRID_CHUNK // max(1, len(ids)))
        tail = [*ids, *f.kinds, *f.parameters]
        compiled: dict[int, str] = {}  # chunk length -> SQL (compiling 2,000 parameters costs more than the read)
        raw = conn.connection.dbapi_connection
        for i in range(0, len(times), per):
            chunk = list(times[i:i + per])
            sql = compiled.get(len(chunk))
            if sql is None:
                cond: list[ColumnElement[bool]] = [o.time_utc.in_(chunk), o.device_id.in_(ids), o.kind.in_(list(f.kinds))]
                if f.parameters:
                    cond.append(o.parameter.in_(list(f.parameters)))
                q = select(*cols).where(and_(*cond)).order_by(o.time_utc, o.device_id, o.parameter, o.kind)
                comp = q.compile(dialect=self.engine.dialect, compile_kwargs={"render_postcompile": True})
                # positional parameters in statement order: the period starts, devices, kinds, parameters
                bound = comp.params  # a property that builds the dict: read it once
                assert [bound[k] for k in comp.positiontup or ()] == [*chunk, *tail]
                sql = compiled[len(chunk)] = str(comp)
            cur = raw.cursor()
            try:
                rows = cur.execute(sql, [*chunk, *tail]).fetchall()
            finally:
                cur.close()
            if rows:
                yield rows

    def latest(self, scope: Scope, *, kinds: tuple[str, ...] = ("rtd", "min", "hour"), site_kind: str | None = None,
               region_codes: frozenset[str] | None = None, parameters_: Sequence[str] = ()) -> list[dict[str, Any]]:
        """The newest value of each visible site and parameter within LATEST_WINDOW_S of the newest datum.

        The window keeps this a range read on the time-leading key; a site silent for longer is
        simply absent (it has no current value). Data stamped more than an hour in the future are
        not "latest".
        """
        o, d, s = observations.c, devices.c, sites.c
        with self.engine.connect() as conn:
            # a device whose clock runs ahead must not push the window past everyone else's data
            horizon = int(time.time()) + 3600
            newest = conn.execute(select(func.max(o.time_utc)).where(o.time_utc <= horizon)).scalar()
            if newest is None:
                return []
            site_cond = and_(scope.site_condition(), *_site_filters((), region_codes, site_kind))
            cond: list[ColumnElement[bool]] = [o.time_utc >= int(newest) - LATEST_WINDOW_S, o.kind.in_(list(kinds)),
                                               o.device_id.in_(select(d.id).join(sites, s.code == d.site_code)
                                                               .where(site_cond))]
            if parameters_:
                cond.append(o.parameter.in_(list(parameters_)))
            # the newest time of each device and parameter, in SQL (minute data make the window large)
            m = (select(o.device_id, o.parameter, func.max(o.time_utc).label("t")).where(and_(*cond))
                 .group_by(o.device_id, o.parameter).subquery())
            q = (select(s.code, s.name, s.kind, s.region_code, s.lon, s.lat, o.parameter, o.kind.label("grain"),
                        o.time_utc, o.value, o.flag)
                 .select_from(m.join(observations, and_(o.time_utc == m.c.t, o.device_id == m.c.device_id,
                                                        o.parameter == m.c.parameter))
                              .join(devices, d.id == o.device_id).join(sites, s.code == d.site_code))
                 .where(o.kind.in_(list(kinds))).order_by(s.code, o.parameter, o.time_utc))
            rows = conn.execute(q).all()
        by_site: dict[str, dict[str, Any]] = {}
        for r in rows:
            site = by_site.get(r.code)
            if site is None:
                site = by_site[r.code] = {"site": r.code, "name": r.name, "kind": r.kind, "region": r.region_code,
                                          "lon": r.lon, "lat": r.lat, "time_utc": r.time_utc, "values": {}}
            # rows come in time order: the last one seen for a parameter is its newest
            site["values"][r.parameter] = {"value": r.value, "flag": r.flag, "grain": r.grain, "time_utc": r.time_utc}
            site["time_utc"] = max(site["time_utc"], r.time_utc)
        return list(by_site.values())

    def frame_visible(self, scope: Scope, frame_id: int) -> bool:
        """Whether raw frame ``frame_id`` exists and its device is in scope (province: any frame)."""
        rf = raw_frames.c
        cond: list[ColumnElement[bool]] = [rf.id == frame_id]
        if not scope.everything:
            cond.append(rf.device_id.in_(scope.visible_devices()))
        with self.engine.connect() as conn:
            return conn.execute(select(rf.id).where(and_(*cond))).first() is not None

    # --- internals --------------------------------------------------------------------------------

    def _attach_qc(self, conn: Any, rows: list[dict[str, Any]]) -> None:
        """Set ``qc`` on each row: the worst QARTOD status of results covering it, with their detectors."""
        for r in rows:
            r["qc"] = None
        keyed = [r for r in rows if r["site_code"]]
        if not keyed:
            return
        q = qc_results.c
        t0 = min(r["time_utc"] for r in keyed)
        t1 = max(r["time_utc"] for r in keyed)
        stations = sorted({r["site_code"] for r in keyed})
        res = conn.execute(select(q.station, q.parameter, q.start_utc, q.end_utc, q.status, q.detector)
                           .where(and_(q.station.in_(stations), q.start_utc <= t1, q.end_utc > t0))).all()
        if not res:
            return
        by_key: dict[tuple[str, str], list[Any]] = {}
        for x in res:
            by_key.setdefault((x.station, x.parameter), []).append(x)
        for r in keyed:
            hits = [x for x in by_key.get((r["site_code"], r["parameter"]), ()) if x.start_utc <= r["time_utc"] < x.end_utc]
            hits += [x for x in by_key.get((r["site_code"], "*"), ()) if x.start_utc <= r["time_utc"] < x.end_utc]
            if hits:
                worst = max(int(x.status) for x in hits if int(x.status) != 9) if any(int(x.status) != 9 for x in hits) else 9
                r["qc"] = {"status": worst, "detectors": sorted({x.detector for x in hits if int(x.status) == worst})}
