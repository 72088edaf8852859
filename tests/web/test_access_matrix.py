"""The access-control matrix: every endpoint × every role (and anonymous, and an API key) × own/other
region or enterprise → the expected allow or deny, on both stores.

The expectations are written out here independently of ``tianlan.web.scope`` (which roles may do
what, which sites each principal sees), and every check also looks for leaks: filters naming the
other region's sites or region, exports, paging and the ``found`` count in meta must never reveal
a row outside the principal's scope. Public results (AQI, rankings, water classes, latest air
values, the registers) are open to everyone, the other region's included.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from web_world import HOURS, OTHER_CITY, OWN_CITY, SITES

from tianlan.auth.roles import Role

API = "/api/v1"
ALL = {s.code for s in SITES}
SJZ = {s.code for s in SITES if s.city == OWN_CITY}
PUBLIC_KINDS = {"air", "water"}
KIND = {s.code: s.kind for s in SITES}
PARAMS = {s.code: len(s.params) for s in SITES}

# --- the expected policy, spelled out ----------------------------------------------------------
PROVINCE_WIDE = {Role.ADMIN, Role.PROVINCE, Role.DISCIPLINE, Role.AUDIT}
REGIONAL = {Role.CITY, Role.SIGNATORY, Role.ENFORCEMENT, Role.DEPARTMENT}
READS_DATA = {Role.ADMIN, Role.PROVINCE, Role.CITY, Role.SIGNATORY, Role.ENFORCEMENT, Role.ENTERPRISE, Role.AGENCY,
              Role.DEPARTMENT}
READS_ALARMS = {Role.ADMIN, Role.PROVINCE, Role.CITY, Role.SIGNATORY, Role.ENFORCEMENT}
ACTS_ON_ALARMS = {Role.PROVINCE, Role.CITY, Role.ENFORCEMENT}
READS_LEDGER = {Role.ADMIN, Role.PROVINCE, Role.AUDIT, Role.DISCIPLINE}


@dataclass(frozen=True)
class Who:
    label: str
    role: Role | None  # None: anonymous
    via_key: bool = False

    def visible(self) -> set[str]:
        """Sites this principal may see outside the public results."""
        if self.role is None:
            return set()
        if self.role in PROVINCE_WIDE:
            return set(ALL)
        if self.role in REGIONAL:
            return set(SJZ)
        if self.role is Role.ENTERPRISE:
            return {"OUT-SJZ"}
        return set()  # agency: not linked to sites

    def may(self, roles: set[Role]) -> bool:
        return self.role is not None and self.role in roles

    def denied_status(self) -> int:
        return 401 if self.role is None else 403


WHO = [Who("anonymous", None)] + [Who(r.value, r) for r in Role] + [Who("department-key", Role.DEPARTMENT, True),
                                                                    Who("enterprise-key", Role.ENTERPRISE, True)]


@pytest.fixture
def client_for(app_client: TestClient, client_as, api_key) -> Callable[[Who], TestClient]:  # type: ignore[no-untyped-def]
    def make(w: Who) -> TestClient:
        if w.role is None:
            return app_client
        if w.via_key:
            c = TestClient(app_client.app)
            c.headers["X-API-Key"] = api_key(w.role)
            return c
        return client_as(w.role)  # type: ignore[no-any-return]

    return make


def _sites_of(rows: list[dict], key: str) -> set[str]:
    return {r[key] for r in rows}


@pytest.mark.parametrize("who", WHO, ids=[w.label for w in WHO])
def test_access_matrix(who: Who, client_for, web_world) -> None:  # type: ignore[no-untyped-def]
    c = client_for(who)
    vis = who.visible()
    other = ALL - SJZ
    checks = 0

    def get(url: str, expect: int) -> dict:
        nonlocal checks
        r = c.get(API + url)
        assert r.status_code == expect, (who.label, url, r.status_code, r.text[:300])
        checks += 1
        return r.json() if r.headers.get("content-type", "").startswith("application/json") else {}

    # -- public registers and published results: everyone, both regions ---------------------------
    assert len(get("/regions", 200)["results"]) > 10
    assert get("/parameters", 200)["meta"]["found"] > 10
    sites = get("/sites", 200)
    expect_sites = {s for s in ALL if KIND[s] in PUBLIC_KINDS} | vis
    assert _sites_of(sites["results"], "code") == expect_sites and sites["meta"]["found"] == len(expect_sites)
    assert get("/sites?limit=1", 200)["meta"]["found"] == len(expect_sites)  # paging does not change the count
    outlets = get(f"/sites?region={OTHER_CITY}&kind=source", 200)
    assert _sites_of(outlets["results"], "code") == vis & {"OUT-TS"} and outlets["meta"]["found"] == len(vis & {"OUT-TS"})
    get("/sites/OUT-SJZ", 200 if "OUT-SJZ" in vis else 404)
    get("/sites/OUT-TS", 200 if "OUT-TS" in vis else 404)
    get("/sites/AIR-TS", 200)
    for url, key in (("/aqi/stations?period=hour", "subject"), ("/aqi/stations?period=day", "subject"),
                     ("/water/classes", "site")):
        body = get(url + "&limit=1000" if "?" in url else url + "?limit=1000", 200)
        published = {"AIR-SJZ", "AIR-TS"} if "aqi" in url else {"WAT-SJZ", "WAT-TS"}
        assert {r[key] for r in body["results"]} == published
    assert {r["subject"] for r in get("/aqi/cities", 200)["results"]} == {OWN_CITY, OTHER_CITY}
    assert [r["city"] for r in get("/rankings", 200)["results"]] == [OWN_CITY, OTHER_CITY]
    assert get(f"/cities/statistics?region={OTHER_CITY}", 200)["meta"]["found"] == 1
    assert _sites_of(get("/latest", 200)["results"], "site") == {"AIR-SJZ", "AIR-TS"}
    for kind in ("source", "water"):
        latest = get(f"/latest?kind={kind}", 200)
        want = {s for s in vis if KIND[s] == kind}
        assert _sites_of(latest["results"], "site") == want and latest["meta"]["found"] == len(want)

    # -- monitoring data: READS_DATA, own scope only -------------------------------------------------
    data_ok = who.may(READS_DATA)
    st = 200 if data_ok else who.denied_status()
    dev = get("/devices", st)
    obs = get("/observations?grain=hour&limit=1", st)
    obs_other = get("/observations?grain=hour&site=AIR-TS,OUT-TS,WAT-TS", st)
    obs_region = get(f"/observations?grain=hour&region={OTHER_CITY}", st)
    em = get("/emissions/hourly?limit=1", st)
    ex = get("/emissions/exceedances", st)
    r = c.get(API + "/observations/export?grain=hour&start=2026-05-01&end=2026-05-04")
    assert r.status_code == st
    checks += 1
    if data_ok:
        seen = vis if who.role not in PROVINCE_WIDE else ALL
        assert _sites_of(dev["results"], "site_code") == seen and dev["meta"]["found"] == len(seen)
        assert obs["meta"]["found"] == sum(HOURS * PARAMS[s] for s in seen)
        assert obs_other["meta"]["found"] == sum(HOURS * PARAMS[s] for s in seen & other)
        assert obs_region["meta"]["found"] == sum(HOURS * PARAMS[s] for s in seen & other)
        assert _sites_of(obs_other["results"], "site") == seen & other
        outlets_seen = {s for s in seen if KIND[s] == "source"}
        assert em["meta"]["found"] == HOURS * len(outlets_seen)
        assert _sites_of(ex["results"], "site") == outlets_seen
        rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
        assert {x["site"] for x in rows} == seen
        assert len(rows) == sum(HOURS * PARAMS[s] for s in seen)

    # -- alarms: READS_ALARMS in scope; other scope's alarm is 404, as if absent ---------------------
    alarms_ok = who.may(READS_ALARMS)
    st = 200 if alarms_ok else who.denied_status()
    lst = get("/alarms", st)
    lst_other = get(f"/alarms?station=AIR-TS&region={OTHER_CITY}", st)
    for code in ("AIR-SJZ", "OUT-SJZ", "AIR-TS", "OUT-TS"):
        aid = web_world.alarm_ids[code]
        want = (200 if code in vis else 404) if alarms_ok else who.denied_status()
        get(f"/alarms/{aid}", want)
        get(f"/alarms/{aid}/evidence", want)
    if alarms_ok:
        assert _sites_of(lst["results"], "station") == vis and lst["meta"]["found"] == len(vis)
        assert lst_other["meta"]["found"] == len(vis & {"AIR-TS"})

    # -- the ledger: READS_LEDGER ------------------------------------------------------------------------
    ledger = get("/ledger/head", 200 if who.may(READS_LEDGER) else who.denied_status())
    if who.may(READS_LEDGER):
        assert ledger["results"][0]["seq"] >= 0

    # -- acting on alarms: ACTS_ON_ALARMS, people only, own scope ------------------------------------
    for code in ("AIR-SJZ", "AIR-TS"):
        aid = web_world.alarm_ids[code]
        r = c.post(f"{API}/alarms/{aid}/ack", json={"note": "矩阵测试 / matrix test"})
        checks += 1
        if who.role is None:
            assert r.status_code == 401
        elif not who.may(ACTS_ON_ALARMS):
            assert r.status_code == 403, (who.label, r.text)
        elif who.via_key:
            assert r.status_code == 403
        else:
            assert r.status_code == (200 if code in vis else 404), (who.label, code, r.text)
            if r.status_code == 200:
                body = r.json()["results"][0]
                assert body["status"] == "acknowledged"
                assert body["events"][-1]["user"] == f"u-{who.role.value}-{'130000' if who.role in PROVINCE_WIDE else OWN_CITY}"
    assert checks == 37  # requests made for this principal (the matrix row)
