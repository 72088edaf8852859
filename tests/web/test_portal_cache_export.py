"""Issue 6's performance paths and loose ends on both stores: the public pages' cache (invalidated by
time and by the assessment job's results version), the SQLite hour/day export read by period start
(same rows as the range read), city hourly AQI in the API, and ``/frames/stats`` for province-wide
callers only."""

from __future__ import annotations

import re
from html import unescape

import pytest
from fastapi.testclient import TestClient
from web_world import HOURS, OTHER_CITY, OWN_CITY, T0

from tianlan.auth.roles import Role
from tianlan.store.assess_repo import AssessmentRow, AssessRepo
from tianlan.store.portal_repo import PortalRepo

API = "/api/v1"
LAST = T0 + (HOURS - 1) * 3600


def _station_aqi(html: str, code: str) -> str:
    row = re.search(rf'<tr data-station="{code}">(.*?)</tr>', unescape(html), re.S)
    assert row
    m = re.search(r'<span class="aqi"[^>]*>([^<]+)</span>', row.group(1))
    assert m
    return m.group(1)


def _new_hour_result(engine, aqi: int) -> None:  # type: ignore[no-untyped-def]
    AssessRepo(engine).replace(["station_hour"], LAST, LAST + 1, [
        AssessmentRow("station_hour", code, LAST, "HJ633-2012-published", aqi, "IV", None,
                      {"concentrations": {"PM2.5": 160.0}}, {"pollutants": 6}) for code in ("AIR-SJZ", "AIR-TS")])


def test_public_pages_are_cached_until_the_results_change_or_the_ttl_ends(app_client: TestClient, web_world) -> None:  # type: ignore[no-untyped-def]
    engine = web_world.engine
    assert _station_aqi(app_client.get("/").text, "AIR-SJZ") == str(40 + HOURS - 1)
    cache = app_client.app.state.page_cache
    builds = cache.builds
    # results rewritten behind the cache's back (no new version): the page stays as it was
    _new_hour_result(engine, 170)
    for _ in range(3):
        assert _station_aqi(app_client.get("/").text, "AIR-SJZ") == str(40 + HOURS - 1)
    assert cache.builds == builds and cache.hits >= 3
    # the assessment job stamps the results version: the next read (after the version check) rebuilds
    cache.version_check_s = 0.0
    PortalRepo(engine).stamp_results()
    html = app_client.get("/").text
    assert _station_aqi(html, "AIR-SJZ") == "170" and cache.builds == builds + 1
    # each language is its own entry; ?lang= still sets the cookie on a cached answer
    en = app_client.get("/?lang=en")
    assert 'lang="en"' in en.text and (en.cookies.get("lang") == "en" or app_client.cookies.get("lang") == "en")
    assert 'lang="en"' in app_client.get("/").text
    app_client.get("/?lang=zh")
    # the time limit alone also refreshes an entry
    _new_hour_result(engine, 180)
    assert _station_aqi(app_client.get("/").text, "AIR-SJZ") == "170"
    cache.ttl_s = 0.0
    assert _station_aqi(app_client.get("/").text, "AIR-SJZ") == "180"
    # pages with parameters are keyed by them; a bad one is still a 400 naming the field
    assert app_client.get("/ranking?month=2026-05").status_code == 200
    bad = app_client.get("/ranking?month=May")
    assert bad.status_code == 422 and "month" in bad.text  # InputError, as before the cache
    assert app_client.get(f"/city/{OTHER_CITY}").status_code == 200 and app_client.get("/city/999999").status_code == 404


def test_run_assessment_stamps_the_results_version(web_world) -> None:  # type: ignore[no-untyped-def]
    from tianlan.assess_job import run_assessment

    repo = PortalRepo(web_world.engine)
    before = repo.results_version()
    run_assessment(web_world.engine, months=[(2026, 5)])
    after = repo.results_version()
    assert after[1] > before[1]


@pytest.mark.parametrize("grid", [True, False])
def test_hour_export_by_period_start_equals_the_range_read(client_as, web_world, monkeypatch, grid: bool) -> None:  # type: ignore[no-untyped-def]
    import tianlan.store.api_repo as api_repo
    from tianlan.store.api_repo import ApiRepo, ObsFilter
    from tianlan.store.scoped import Scope

    repo = ApiRepo(web_world.engine)
    f = ObsFilter(kinds=("hour",), start_utc=T0 - 1800, end_utc=T0 + HOURS * 3600, sites=("AIR-SJZ",))
    ranged = []
    monkeypatch.setattr(api_repo, "GRID_MAX_DEVICES", 0)
    for b in repo.export(Scope.province(), f):
        ranged += [tuple(r) for r in b]
    assert len(ranged) == HOURS * 2  # two parameters an hour
    monkeypatch.setattr(api_repo, "GRID_MAX_DEVICES", 20 if grid else 0)
    monkeypatch.setattr(api_repo, "GRID_CHUNK", 7)  # many chunks, a short last one
    got = []
    for b in repo.export(Scope.province(), f):
        got += [tuple(r) for r in b]
    assert got == ranged
    if grid and web_world.engine.dialect.name == "sqlite":
        assert api_repo._period_grid(f) is not None
    # through the API, CSV: one line per row, time order
    c = client_as(Role.PROVINCE)
    r = c.get(f"{API}/observations/export?grain=hour&site=AIR-SJZ&start=2026-05-01&end=2026-05-03")
    lines = r.text.lstrip("\ufeff").splitlines()
    assert r.status_code == 200 and len(lines) == 1 + HOURS * 2
    assert lines[1].startswith("2026-05-01T00:00:00+08:00,AIR-SJZ,MNAIRSJZ0001,")
    # minute and raw grains keep the range read; a mixed hour+day export uses the hour grid
    assert api_repo._period_grid(ObsFilter(kinds=("min",), start_utc=0, end_utc=3600)) is None
    assert api_repo._period_grid(ObsFilter(kinds=("hour", "day"), start_utc=1, end_utc=7201)) == (3600, range(3600, 7201, 3600))


def test_city_hourly_aqi_in_the_api(app_client: TestClient) -> None:
    hourly = app_client.get(f"{API}/aqi/cities?grain=hour&city={OWN_CITY}&start=2026-05-02&end=2026-05-03").json()
    assert hourly["meta"]["found"] == 24
    rows = hourly["results"]
    assert [r["aqi"] for r in rows] == [110 + h for h in range(24, 48)]
    assert rows[0]["period"] == "2026-05-02T00:00:00+08:00"  # period_utc presented in Beijing time
    assert rows[0]["edition"] == "HJ633-2012-published" and rows[0]["coverage"] == {"stations": {"PM2.5": 1}}
    assert rows[0]["concentrations"] == {"PM2.5": 94.0}
    latest = app_client.get(f"{API}/aqi/cities?grain=hour&latest=true").json()["results"]
    assert {(r["subject"], r["aqi"]) for r in latest} == {(OWN_CITY, 110 + HOURS - 1), (OTHER_CITY, 120 + HOURS - 1)}
    daily = app_client.get(f"{API}/aqi/cities").json()  # the default stays daily
    assert daily["meta"]["found"] == 4 and {r["aqi"] for r in daily["results"]} == {61, 62}
    bad = app_client.get(f"{API}/aqi/cities?grain=minute")
    assert bad.status_code in (400, 422) and "grain" in bad.text


def test_frames_stats_is_for_province_wide_callers_only(app_client: TestClient, client_as, api_key) -> None:  # type: ignore[no-untyped-def]
    anonymous = app_client.get(f"{API}/frames/stats")
    assert anonymous.status_code == 401 and "X-API-Key" in anonymous.text
    for role in (Role.CITY, Role.ENTERPRISE, Role.ENFORCEMENT, Role.DISCIPLINE):
        assert client_as(role).get(f"{API}/frames/stats").status_code == 403, role
    city_key = api_key(Role.CITY)
    assert app_client.get(f"{API}/frames/stats", headers={"X-API-Key": city_key}).status_code == 403
    for role in (Role.ADMIN, Role.PROVINCE, Role.AUDIT):
        st = client_as(role).get(f"{API}/frames/stats")
        assert st.status_code == 200, (role, st.text)
        assert "MNAIRTS00001" in str(st.json()["by_device"])  # every device, across regions
    key = api_key(Role.PROVINCE)
    assert app_client.get(f"{API}/frames/stats", headers={"X-API-Key": key}).status_code == 200
