"""The two-city test world of the web tests (written through the real write paths); see conftest.py."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import Engine

from tianlan.ingest.item import ACCEPTED, IngestItem
from tianlan.model.registry import Device, Enterprise, Registry, Site
from tianlan.store.assess_repo import AssessmentRow, AssessRepo, beijing_month_bounds
from tianlan.store.frame_writer import BatchStore, to_record
from tianlan.store.registry_repo import RegistryRepo

T0 = beijing_month_bounds(2026, 5)[0]  # 2026-05-01 00:00 Beijing
HOURS = 48
PASSWORD = "correct horse battery staple 天蓝"

OWN_CITY, OTHER_CITY = "130100", "130200"
OWN_ENTERPRISE, OTHER_ENTERPRISE = "E130111001", "E130209001"
AGENCY = "AG-001"


@dataclass(frozen=True)
class WorldSite:
    code: str
    kind: str
    region: str
    city: str
    mn: str
    params: tuple[str, ...]
    enterprise: str | None = None


SITES = (
    WorldSite("AIR-SJZ", "air", "130111", OWN_CITY, "MNAIRSJZ0001", ("a34004", "a21026")),
    WorldSite("WAT-SJZ", "water", "130123", OWN_CITY, "MNWATSJZ0001", ("w01018", "w21003")),
    WorldSite("OUT-SJZ", "source", "130111", OWN_CITY, "MNOUTSJZ0001", ("a21026", "a34013"), OWN_ENTERPRISE),
    WorldSite("AIR-TS", "air", "130209", OTHER_CITY, "MNAIRTS00001", ("a34004", "a21026")),
    WorldSite("WAT-TS", "water", "130209", OTHER_CITY, "MNWATTS00001", ("w01018", "w21003")),
    WorldSite("OUT-TS", "source", "130209", OTHER_CITY, "MNOUTTS00001", ("a21026", "a34013"), OTHER_ENTERPRISE),
)


def _registry() -> Registry:
    ents = [Enterprise(code=OWN_ENTERPRISE, name="栾城测试制药有限公司", region="130111"),
            Enterprise(code=OTHER_ENTERPRISE, name="曹妃甸测试钢铁有限公司", region="130209")]
    sites, devices = [], []
    for i, s in enumerate(SITES):
        extra: dict = {}
        if s.kind == "air":
            extra = {"control_level": "national"}
        elif s.kind == "water":
            extra = {"section_type": "key", "target_class": "III"}
        else:
            extra = {"enterprise": s.enterprise, "outlet_type": "gas",
                     "attrs": {"limits": {"a21026": 35, "a34013": 10}, "o2_ref": 6}}
        sites.append(Site(code=s.code, name=f"测试点位{i + 1} {s.code}", kind=s.kind, region=s.region,  # type: ignore[arg-type]
                          lon=114.5 + i / 10, lat=38.0 + i / 10, **extra))
        devices.append(Device(mn=s.mn, password="pw" + s.mn[-4:], kind=s.kind, site=s.code,  # type: ignore[arg-type]
                              parameters=list(s.params)))
    return Registry(enterprises=ents, sites=sites, devices=devices)


def _write_observations(engine: Engine) -> None:
    ids = {r.mn: r.id for r in RegistryRepo(engine).device_rows()}
    recs = []
    for si, s in enumerate(SITES):
        for h in range(HOURS):
            t = T0 + h * 3600
            obs = [(t, p, "hour", float(10 + si * 10 + h % 7 + pi), "N" if h != 5 else "M", None, None, None, None, None)
                   for pi, p in enumerate(s.params)]
            body = f"test {s.mn} {t}".encode()
            recs.append(to_record(IngestItem(data=body, received_utc=time.time(), peer="test", channel="import",
                                             status=ACCEPTED, mn=s.mn, device_id=ids[s.mn], cn="2061", obs=obs)))
        # the newest real-time values
        t = T0 + HOURS * 3600
        obs = [(t, p, "rtd", float(100 + si), "N", None, None, None, None, None) for p in s.params]
        recs.append(to_record(IngestItem(data=f"rtd {s.mn}".encode(), received_utc=time.time(), peer="test",
                                         channel="import", status=ACCEPTED, mn=s.mn, device_id=ids[s.mn], cn="2011",
                                         obs=obs)))
    bs = BatchStore(engine)
    bs.write(recs)
    bs.close()


def _write_results(engine: Engine) -> None:
    rows: list[AssessmentRow] = []
    for s in SITES:
        if s.kind == "air":
            for h in range(HOURS):
                rows.append(AssessmentRow("station_hour", s.code, T0 + h * 3600, "HJ633-2012-published", 40 + h, "I",
                                          None, {"concentrations": {"PM2.5": 20.0 + h}}, {"pollutants": 6}))
            for d in range(2):
                rows.append(AssessmentRow("station_day", s.code, T0 + d * 86400, "HJ633-2012-published", 55 + d, "II",
                                          "PM2.5", {"values": {"PM2.5": 40.0}}, {"PM2.5": {"valid": 24}}))
        elif s.kind == "water":
            rows.append(AssessmentRow("water_month", s.code, T0, "GB3838-2002", None, "III", "w01018",
                                      {"class": "III", "meets_target": True, "target_class": "III", "exceedances": []},
                                      {"samples": HOURS}))
        else:
            for h in range(HOURS):
                rows.append(AssessmentRow("outlet_hour", s.code, T0 + h * 3600, "GB 13223-2011", None, None,
                                          "a21026" if h == 7 else None,
                                          {"measured": {"a21026": 20.0}, "converted": {"a21026": 40.0 if h == 7 else 20.0},
                                           "limits": {"a21026": 35}}, {"a21026": 60}))
            rows.append(AssessmentRow("outlet_month", s.code, T0, "GB 13223-2011", None, None, "a21026",
                                      {"exceedances": [{"pollutant": "a21026", "hour_utc": T0 + 7 * 3600, "value": 40.0,
                                                        "limit": 35, "multiple": 0.14}], "exclusions": [],
                                       "limits": {"a21026": 35}}, {"hours": HOURS}))
    for rank, city in enumerate((OWN_CITY, OTHER_CITY), start=1):
        for h in range(HOURS):  # city hourly AQI: 100 + rank*10 + h, so it differs from the stations'
            rows.append(AssessmentRow("city_hour", city, T0 + h * 3600, "HJ633-2012-published", 100 + rank * 10 + h,
                                      "III", None, {"concentrations": {"PM2.5": 70.0 + h}},
                                      {"stations": {"PM2.5": 1}}))
        for d in range(2):
            rows.append(AssessmentRow("city_day", city, T0 + d * 86400, "HJ633-2012-published", 60 + rank, "II", "PM2.5",
                                      {"values": {"PM2.5": 45.0}}, {"PM2.5": {"valid": 24}}))
        rows.append(AssessmentRow("city_month", city, T0, "HJ633-2012-published", None, None, "PM2.5",
                                  {"city": city, "composite_index": 4.0 + rank, "rank": rank, "primary": "PM2.5",
                                   "PM2.5": 40.0 + rank, "good_ratio": 80.0}, {"valid_days": 2}))
    AssessRepo(engine).replace(["station_hour", "city_hour", "station_day", "water_month", "outlet_hour",
                                "outlet_month", "city_day", "city_month"], T0, T0 + 31 * 86400, rows)


def _write_alarms(engine: Engine) -> dict[str, int]:
    from tianlan.store.alarms_repo import AlarmsRepo

    ids = {}
    now = time.time()
    with AlarmsRepo(engine).tx() as tx:
        for s in SITES:
            ids[s.code] = tx.insert(station=s.code, parameter=s.params[0], detector="TMP-03", detectors=["TMP-03"],
                                    level=2, score=0.9, reason="flat", start_utc=T0 + 3600, end_utc=T0 + 7 * 3600,
                                    status="raised", evidence={"inputs": {"station": s.code}, "thresholds": {"min_hours": 6}},
                                    created_utc=now, updated_utc=now)
    return ids


def _write_qc(engine: Engine) -> None:
    from tianlan.qc.core import QcResult, Status
    from tianlan.store.qc_repo import QcRepo

    QcRepo(engine).write([QcResult("RNG-01", "1", "abc", "AIR-SJZ", "a34004", T0 + 3 * 3600, T0 + 4 * 3600,
                                   Status.SUSPECT, "spike", 0.8)])




def build_world(engine: Engine) -> dict[str, int]:
    """Write the whole world into ``engine``; returns the alarm id of each site."""
    RegistryRepo(engine).import_registry(_registry())
    _write_observations(engine)
    _write_results(engine)
    _write_qc(engine)
    return _write_alarms(engine)
