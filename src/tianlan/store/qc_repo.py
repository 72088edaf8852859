"""Store access for quality control: the slices QC reads and the results it writes (``qc_results``).

``tianlan.qc`` stays pure (DESIGN: QC checks are functions over arrays); this repository selects
what it needs by index — observations by their time-leading key, sites with their region chain —
and appends results. Raw data and observations are never changed here (DESIGN principle 1):
results are a layer on top, one row per detector call and value range.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import polars as pl
from sqlalchemy import Engine, and_, delete, insert, select

from tianlan.qc.core import QcResult, Status
from tianlan.store.schema import devices, observations, qc_results, raw_frames, regions, sites

_ROWS_PER_INSERT = 5000


@dataclass(frozen=True)
class SiteRow:
    """A site as QC sees it: where it is, what it is, which devices report for it.

    ``regions``: the codes and names of its region and of every region above it (what configuration
    scopes name); ``city``: the name of the region directly under the province (a prefecture city,
    or a county-level unit the province administers directly).
    """

    code: str
    name: str
    kind: str
    region: str
    city: str
    regions: tuple[str, ...]
    lon: float | None
    lat: float | None
    background: bool
    attrs: dict[str, Any]
    device_ids: tuple[int, ...]
    expected_parameters: tuple[str, ...] = ()  # what its devices are registered to report (HJ 212 codes)


@dataclass(frozen=True)
class DeviceSite:
    """Where a device's observations belong: its site (or, without one, its MN) and the site kind."""

    station: str
    kind: str
    mn: str


def evidence_json(evidence: dict[str, Any]) -> str:
    """Evidence as JSON text: NumPy arrays and scalars as numbers, NaN as null, other objects as text."""
    return orjson.dumps(evidence, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS, default=str).decode()


class QcRepo:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- inputs ------------------------------------------------------------------------------------

    def sites(self, kinds: Sequence[str] | None = None) -> list[SiteRow]:
        """Sites that have devices, with their region chain; only ``kinds`` when given. By code."""
        with self.engine.connect() as c:
            reg = {r.code: (r.name, r.level, r.parent_code) for r in c.execute(
                select(regions.c.code, regions.c.name, regions.c.level, regions.c.parent_code))}
            q = select(sites.c.code, sites.c.name, sites.c.kind, sites.c.region_code, sites.c.lon, sites.c.lat,
                       sites.c.background, sites.c.attrs).order_by(sites.c.code)
            if kinds:
                q = q.where(sites.c.kind.in_(list(kinds)))
            rows = c.execute(q).all()
            devs = c.execute(select(devices.c.site_code, devices.c.id, devices.c.parameters)
                             .where(devices.c.site_code.is_not(None))).all()
        by_site: dict[str, list[int]] = {}
        expected: dict[str, set[str]] = {}
        for s, i, params in devs:
            by_site.setdefault(s, []).append(i)
            expected.setdefault(s, set()).update(p.strip() for p in (params or "").split(",") if p.strip())
        out = []
        for code, name, kind, region, lon, lat, bg, attrs in rows:
            if not by_site.get(code):
                continue
            chain: list[str] = []
            city = ""
            r: str | None = region
            for _ in range(10):
                if r is None or r not in reg:
                    break
                rname, level, parent = reg[r]
                chain += [r, rname]
                if parent is not None and reg.get(parent, ("", "", None))[1] == "province" and not city:
                    city = rname
                if level == "province":
                    break
                r = parent
            out.append(SiteRow(code, name, kind, region, city or (reg.get(region, (region,))[0]), tuple(chain),
                               lon, lat, bool(bg), json.loads(attrs or "{}"), tuple(sorted(by_site[code])),
                               tuple(sorted(expected.get(code, ())))))
        return out

    def device_sites(self) -> dict[int, DeviceSite]:
        """Every device id → its site code and kind (a device without a site stands for itself, by MN)."""
        with self.engine.connect() as c:
            rows = c.execute(select(devices.c.id, devices.c.mn, devices.c.kind, devices.c.site_code, sites.c.kind)
                             .select_from(devices.outerjoin(sites, sites.c.code == devices.c.site_code))).all()
        return {int(i): DeviceSite(site or mn, skind or dkind, mn) for i, mn, dkind, site, skind in rows}

    def observations(self, device_ids: Sequence[int], start_utc: int, end_utc: int,
                     kinds: Sequence[str] = ("hour", "min")) -> pl.DataFrame:
        """Observations of the devices with period start in [start, end) and kind in ``kinds``.

        Columns: device_id, time_utc, parameter, kind, value (null = missing), flag, received_utc
        (when the frame that carried the value arrived, from raw_frames). Ordered by time.
        """
        o = observations.c
        q = (select(o.device_id, o.time_utc, o.parameter, o.kind, o.value, o.flag, raw_frames.c.received_utc)
             .select_from(observations.outerjoin(raw_frames, raw_frames.c.id == o.frame_id))
             .where(and_(o.time_utc >= start_utc, o.time_utc < end_utc, o.kind.in_(list(kinds)),
                         o.device_id.in_(list(device_ids))))
             .order_by(o.time_utc))
        schema = {"device_id": pl.Int64, "time_utc": pl.Int64, "parameter": pl.Utf8, "kind": pl.Utf8,
                  "value": pl.Float64, "flag": pl.Utf8, "received_utc": pl.Float64}
        if not device_ids:
            return pl.DataFrame(schema=schema)
        with self.engine.connect() as c:
            rows = c.execute(q).all()
        return pl.DataFrame(rows, schema=schema, orient="row")

    # -- results -----------------------------------------------------------------------------------

    @staticmethod
    def _row(r: QcResult, now: float) -> dict[str, Any]:
        return {"detector": r.detector, "version": r.version, "config_hash": r.config_hash, "station": r.station,
                "parameter": r.parameter, "start_utc": int(r.start_utc), "end_utc": int(r.end_utc),
                "status": int(r.status), "reason": r.reason or "", "score": float(r.score) if r.score == r.score else 0.0,
                "evidence": evidence_json(r.evidence), "created_utc": now}

    def write(self, results: Iterable[QcResult], *, created_utc: float | None = None) -> int:
        """Append results (one transaction); returns the number of rows written."""
        now = time.time() if created_utc is None else created_utc
        rows = [self._row(r, now) for r in results]
        if rows:
            with self.engine.begin() as c:
                for i in range(0, len(rows), _ROWS_PER_INSERT):
                    c.execute(insert(qc_results), rows[i : i + _ROWS_PER_INSERT])
        return len(rows)

    def replace(self, results: Sequence[QcResult], *, config_hash: str, stations: Iterable[str], start_utc: int,
                end_utc: int) -> int:
        """Write the results of a re-scan: rows of the same configuration hash for these stations that
        start in [start, end) are replaced (a scan with the same configuration over the same data gives
        the same results); rows of other configurations stay as history. One transaction."""
        now = time.time()
        st = sorted(set(stations))
        rows = [self._row(r, now) for r in results]
        q = qc_results.c
        with self.engine.begin() as c:
            for i in range(0, len(st), 500):
                c.execute(delete(qc_results).where(and_(q.config_hash == config_hash, q.station.in_(st[i : i + 500]),
                                                        q.start_utc >= start_utc, q.start_utc < end_utc)))
            for i in range(0, len(rows), _ROWS_PER_INSERT):
                c.execute(insert(qc_results), rows[i : i + _ROWS_PER_INSERT])
        return len(rows)

    def results(self, *, station: str | None = None, parameter: str | None = None, detector: str | None = None,
                start_utc: int | None = None, end_utc: int | None = None, config_hash: str | None = None,
                min_status: int | None = None, limit: int | None = None) -> list[QcResult]:
        """Stored results whose range overlaps [start, end), by station, start time and id."""
        q = qc_results.c
        cond = []
        if station is not None:
            cond.append(q.station == station)
        if parameter is not None:
            cond.append(q.parameter == parameter)
        if detector is not None:
            cond.append(q.detector == detector)
        if start_utc is not None:
            cond.append(q.end_utc > start_utc)
        if end_utc is not None:
            cond.append(q.start_utc < end_utc)
        if config_hash is not None:
            cond.append(q.config_hash == config_hash)
        if min_status is not None:
            cond.append(q.status >= min_status)
        stmt = select(qc_results).order_by(q.station, q.start_utc, q.id)
        if cond:
            stmt = stmt.where(and_(*cond))
        if limit is not None:
            stmt = stmt.limit(limit)
        with self.engine.connect() as c:
            rows = c.execute(stmt).all()
        return [QcResult(r.detector, r.version, r.config_hash, r.station, r.parameter, int(r.start_utc), int(r.end_utc),
                         Status(int(r.status)), r.reason, float(r.score), json.loads(r.evidence or "{}"))
                for r in rows]

    def count(self) -> int:
        from sqlalchemy import func

        with self.engine.connect() as c:
            return int(c.execute(select(func.count()).select_from(qc_results)).scalar_one())
