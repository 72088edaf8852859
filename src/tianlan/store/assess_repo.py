"""Store access for official results: the slices assessments read, and the results they write.

``tianlan.assess`` stays pure (DESIGN: it must not read the database); this repository selects
what it needs by index — observations by their time-leading key, one Beijing-time month at a
time — and writes results in the ``assessments`` table.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import polars as pl
from sqlalchemy import Engine, and_, delete, func, insert, select

from tianlan.model.timeutil import BEIJING_OFFSET_S
from tianlan.store.schema import assess_state, assessments, devices, observations, raw_frames, sites

#: HJ 212 codes of the six criteria pollutants (reference hj212.md §4.7) → assessment column names.
AIR_CODES = {"a21026": "SO2", "a21004": "NO2", "a21005": "CO", "a05024": "O3", "a34002": "PM10", "a34004": "PM2.5"}
WATERMARK = "frames_done"


@dataclass(frozen=True)
class AirStation:
    code: str
    city: str  # region code of the station's city
    background: bool
    device_ids: tuple[int, ...]


@dataclass(frozen=True)
class AssessmentRow:
    kind: str
    subject: str
    period_utc: int
    edition: str
    aqi: int | None
    level: str | None
    primary: str | None
    result: dict
    coverage: dict


def beijing_month_bounds(year: int, month: int) -> tuple[int, int]:
    """[start, end) in UTC epoch s of a calendar month in Beijing time."""
    a = dt.datetime(year, month, 1, tzinfo=dt.UTC)
    b = dt.datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=dt.UTC)
    return int(a.timestamp()) - BEIJING_OFFSET_S, int(b.timestamp()) - BEIJING_OFFSET_S


class AssessRepo:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- inputs ------------------------------------------------------------------------------------

    def air_stations(self) -> list[AirStation]:
        """Air sites with their city (the nearest ancestor region of level city) and devices."""
        from tianlan.store.schema import regions

        with self.engine.connect() as c:
            parent = dict(c.execute(select(regions.c.code, regions.c.parent_code)).all())
            level = dict(c.execute(select(regions.c.code, regions.c.level)).all())
            rows = c.execute(select(sites.c.code, sites.c.region_code, sites.c.background).where(sites.c.kind == "air")).all()
            devs = c.execute(select(devices.c.site_code, devices.c.id).where(devices.c.site_code.is_not(None))).all()
        by_site: dict[str, list[int]] = {}
        for s, i in devs:
            by_site.setdefault(s, []).append(i)

        def city_of(code: str) -> str:
            """The region directly under the province: a prefecture city, or a county-level unit the
            province administers directly and ranks on its own (Hebei: Dingzhou, Xinji)."""
            for _ in range(10):
                up = parent.get(code)
                if up is None or level.get(up) == "province" or level.get(code) == "province":
                    return code
                code = up
            return code

        return [AirStation(code, city_of(region), bool(bg), tuple(sorted(by_site.get(code, ()))))
                for code, region, bg in rows if by_site.get(code)]

    def hourly_frame(self, stations: Sequence[AirStation], start_utc: int, end_utc: int) -> pl.DataFrame:
        """Hour data of the stations' devices in [start, end): one row per station-hour, columns
        ``station, time`` (naive Beijing time, period start), the six pollutants and ``<p>_flag``.

        Stations that send minute data (CN 2051) but no hour data get hourly means computed from
        their minutes under the GB 3095 rule (≥ 45 valid minutes); sent hour data take precedence.
        """
        from tianlan.assess.aggregate import hourly_from_minutes

        site_of = {d: s.code for s in stations for d in s.device_ids}
        o = observations.c
        q = (select(o.time_utc, o.device_id, o.parameter, o.kind, o.value, o.flag)
             .where(and_(o.time_utc >= start_utc, o.time_utc < end_utc, o.kind.in_(("hour", "min")),
                         o.parameter.in_(list(AIR_CODES)), o.device_id.in_(list(site_of)))))
        with self.engine.connect() as c:
            rows = c.execute(q).all()
        schema = {"time_utc": pl.Int64, "device_id": pl.Int64, "parameter": pl.Utf8, "kind": pl.Utf8,
                  "value": pl.Float64, "flag": pl.Utf8}
        df = pl.DataFrame(rows, schema=schema, orient="row")
        pols = list(AIR_CODES.values())
        cols = ["station", "time", *pols, *(f"{p}_flag" for p in pols)]
        empty = pl.DataFrame(schema={c: (pl.Datetime("us") if c == "time" else pl.Float64 if c in pols else pl.Utf8)
                                     for c in cols})
        if df.height == 0:
            return empty
        df = df.with_columns(
            pl.col("device_id").replace_strict(site_of, return_dtype=pl.Utf8).alias("station"),
            pl.col("parameter").replace_strict(AIR_CODES, return_dtype=pl.Utf8),
            ((pl.col("time_utc") + BEIJING_OFFSET_S) * 1_000_000).cast(pl.Datetime("us")).alias("time"),
        )

        def wide(part: pl.DataFrame) -> pl.DataFrame:
            # one value per station-time-pollutant: with several devices at a site, the first wins
            part = part.unique(["station", "time", "parameter"], keep="first", maintain_order=True)
            vals = part.pivot(on="parameter", index=["station", "time"], values="value")
            flags = part.pivot(on="parameter", index=["station", "time"], values="flag")
            flags = flags.rename({p: f"{p}_flag" for p in pols if p in flags.columns})
            out = vals.join(flags, on=["station", "time"], how="left")
            for p in pols:
                if p not in out.columns:
                    out = out.with_columns(pl.lit(None, dtype=pl.Float64).alias(p))
                if f"{p}_flag" not in out.columns:
                    out = out.with_columns(pl.lit(None, dtype=pl.Utf8).alias(f"{p}_flag"))
            return out.select(cols)

        hours = df.filter(pl.col("kind") == "hour")
        out = wide(hours) if hours.height else empty
        minutes = df.filter(pl.col("kind") == "min")
        if minutes.height:
            t = minutes["time_utc"].unique().sort()
            step = int(t.diff().drop_nulls().min() or 60) if t.len() > 1 else 60
            interval = max(1, min(30, step // 60))  # HJ 212 MinInterval of these devices
            derived = hourly_from_minutes(wide(minutes), pollutants=pols, interval_min=interval)
            derived = derived.select("station", "time", *[pl.col(p).cast(pl.Float64) for p in pols],
                                     *[pl.lit(None, dtype=pl.Utf8).alias(f"{p}_flag") for p in pols])
            derived = derived.with_columns(pl.col("time").cast(pl.Datetime("us")))
            derived = derived.join(out.select("station", "time"), on=["station", "time"], how="anti")
            out = pl.concat([out, derived.select(cols)], how="vertical_relaxed")
        return out.sort("station", "time")

    def touched_months(self, after_frame_id: int) -> tuple[set[tuple[int, int]], int]:
        """Beijing-time months of accepted data frames stored after ``after_frame_id``; the last id."""
        rf = raw_frames.c
        with self.engine.connect() as c:
            last = c.execute(select(func.max(rf.id))).scalar() or 0
            times = c.execute(select(rf.data_utc).distinct().where(
                and_(rf.id > after_frame_id, rf.id <= last, rf.status == "accepted", rf.data_utc.is_not(None)))).scalars().all()
        months = set()
        for t in times:
            d = dt.datetime.fromtimestamp(int(t) + BEIJING_OFFSET_S, dt.UTC)
            months.add((d.year, d.month))
        return months, int(last)

    def watermark(self) -> int:
        with self.engine.connect() as c:
            v = c.execute(select(assess_state.c.value).where(assess_state.c.key == WATERMARK)).scalar()
        return int(v or 0)

    # -- outputs -----------------------------------------------------------------------------------

    def replace(self, kinds: Iterable[str], start_utc: int, end_utc: int, rows: Sequence[AssessmentRow],
                watermark: int | None = None) -> int:
        """Replace the results of ``kinds`` with period start in [start, end) by ``rows``, atomically."""
        now = time.time()
        with self.engine.begin() as c:
            c.execute(delete(assessments).where(and_(assessments.c.kind.in_(list(kinds)),
                                                     assessments.c.period_utc >= start_utc,
                                                     assessments.c.period_utc < end_utc)))
            for i in range(0, len(rows), 5000):
                c.execute(insert(assessments), [
                    {"kind": r.kind, "subject": r.subject, "period_utc": r.period_utc, "edition": r.edition,
                     "aqi": r.aqi, "level": r.level, "primary_pollutants": r.primary,
                     "result": json.dumps(r.result, ensure_ascii=False, separators=(",", ":")),
                     "coverage": json.dumps(r.coverage, separators=(",", ":")), "computed_utc": now}
                    for r in rows[i : i + 5000]
                ])
            if watermark is not None:
                self._set_watermark(c, watermark)
        return len(rows)

    def set_watermark(self, value: int) -> None:
        with self.engine.begin() as c:
            self._set_watermark(c, value)

    def _set_watermark(self, c, value: int) -> None:  # type: ignore[no-untyped-def]
        c.execute(delete(assess_state).where(assess_state.c.key == WATERMARK))
        c.execute(insert(assess_state).values(key=WATERMARK, value=value))

    def results(self, kind: str, *, start_utc: int | None = None, end_utc: int | None = None,
                subject: str | None = None) -> list[dict]:
        a = assessments.c
        cond = [a.kind == kind]
        if start_utc is not None:
            cond.append(a.period_utc >= start_utc)
        if end_utc is not None:
            cond.append(a.period_utc < end_utc)
        if subject:
            cond.append(a.subject == subject)
        with self.engine.connect() as c:
            rows = c.execute(select(assessments).where(and_(*cond)).order_by(a.period_utc, a.subject)).all()
        out = []
        for r in rows:
            d = dict(r._mapping)
            d["result"] = json.loads(d["result"])
            d["coverage"] = json.loads(d["coverage"])
            out.append(d)
        return out


@dataclass(frozen=True)
class SourceOrSection:
    """A gas outlet or a water section with its registry attributes and devices."""

    code: str
    kind: str  # source | water
    attrs: dict
    section_type: str | None
    target_class: str | None
    outlet_type: str | None
    device_ids: tuple[int, ...]


def _series_frame(rows: list) -> pl.DataFrame:  # type: ignore[type-arg]
    return pl.DataFrame(rows, schema={"time_utc": pl.Int64, "parameter": pl.Utf8, "kind": pl.Utf8,
                                      "value": pl.Float64, "flag": pl.Utf8}, orient="row")


def _sites_of_kind(engine: Engine, kind: str) -> list[SourceOrSection]:
    with engine.connect() as c:
        rows = c.execute(select(sites.c.code, sites.c.kind, sites.c.attrs, sites.c.section_type, sites.c.target_class,
                                sites.c.outlet_type).where(sites.c.kind == kind)).all()
        devs = c.execute(select(devices.c.site_code, devices.c.id).where(devices.c.site_code.is_not(None))).all()
    by_site: dict[str, list[int]] = {}
    for s, i in devs:
        by_site.setdefault(s, []).append(i)
    return [SourceOrSection(code, k, json.loads(attrs or "{}"), st, tc, ot, tuple(sorted(by_site[code])))
            for code, k, attrs, st, tc, ot in rows if by_site.get(code)]


def outlets(engine: Engine) -> list[SourceOrSection]:
    """Enterprise gas outlets (sites of kind source, outlet_type gas) that have devices."""
    return [s for s in _sites_of_kind(engine, "source") if s.outlet_type == "gas"]


def water_sections(engine: Engine) -> list[SourceOrSection]:
    return _sites_of_kind(engine, "water")


def device_series(engine: Engine, device_ids: Sequence[int], start_utc: int, end_utc: int,
                  kinds: Sequence[str] = ("min", "hour")) -> pl.DataFrame:
    """Observations of devices in [start, end) of the given kinds: time_utc, parameter, kind, value, flag."""
    o = observations.c
    q = (select(o.time_utc, o.parameter, o.kind, o.value, o.flag)
         .where(and_(o.time_utc >= start_utc, o.time_utc < end_utc, o.kind.in_(list(kinds)),
                     o.device_id.in_(list(device_ids))))
         .order_by(o.time_utc))
    with engine.connect() as c:
        return _series_frame(c.execute(q).all())
