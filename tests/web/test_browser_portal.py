"""The portal and the console in headless Chromium (Debian's, through Playwright), against a live
platform fed by the simulator (``browser_world``): assertions read the DOM and the ECharts
instances, and compare them with the store. Every page visited is saved as a screenshot under
``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_world import PASSWORD, Live, populate
from sqlalchemy import select

from tianlan.assess.levels import level_table
from tianlan.store.engine import open_store
from tianlan.store.portal_repo import PortalRepo

CHROMIUM = Path("/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
pytestmark = [pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed (/usr/bin/chromium)"),
              pytest.mark.timeout(600)]
COLOURS = {lv.level: lv.hex for lv in level_table()}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    from tianlan.auth.users import UsersRepo
    from tianlan.store.alarms_repo import AlarmsRepo
    from tianlan.store.schema import sites
    from tianlan.web.pages.portal import network

    tmp = tmp_path_factory.mktemp("browser")
    engine = open_store(f"sqlite:///{tmp / 'tianlan.db'}", sqlite_synchronous="NORMAL")
    platform, thread = populate(engine, tmp)
    net = network(engine)
    # the alarm the operator disposes: a neighbour-comparison alarm of an air station
    alarms = [a for a in AlarmsRepo(engine).list_alarms(min_level=2) if a.detector in ("SPA-01", "XV-03", "XV-04")
              and a.station.startswith("HB-AIR")]
    assert alarms, "the QC scan of the simulated month raised no neighbour alarm"
    site_region = {s.code: s.region for s in net.sites}
    city = net.city_of(site_region[alarms[0].station])
    with engine.connect() as c:
        enterprise = c.execute(select(sites.c.enterprise_code).where(sites.c.kind == "source")
                               .order_by(sites.c.code)).scalars().first()
    users = UsersRepo(engine)
    users.add("op-city", PASSWORD, "city", city, display_name="市站值班员", actor="test")
    users.add("ent-user", PASSWORD, "enterprise", enterprise, display_name="企业环保专员", actor="test")
    users.add("op-prov", PASSWORD, "province", "130000", display_name="省中心审核员", actor="test")
    users.add("op-admin", PASSWORD, "admin", "130000", display_name="系统管理员", actor="test")
    from tianlan.store.releases_repo import ReleasesRepo

    ReleasesRepo(engine).publish("city-ranking-monthly", title="2019年2月设区市环境空气质量排名", period="2019-02",
                                 user="op-prov", body="按综合指数排名，见附件。", content=b"%PDF-1.4 sample",
                                 filename="ranking-2019-02.pdf", content_type="application/pdf")
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield Live(engine, platform, f"http://127.0.0.1:{platform.http_port}",
               {"city": "op-city", "enterprise": "ent-user", "province": "op-prov", "admin": "op-admin"}, city, enterprise)
    platform.stop()
    thread.join(30)  # type: ignore[attr-defined]
    engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    yield pg
    ctx.close()
    assert not errors, f"JavaScript errors: {errors}"


def shot(page, name: str) -> None:  # type: ignore[no-untyped-def]
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def login(page, live: Live, role: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(live.base + "/console/login")
    page.fill("input[name=username]", live.users[role])
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_selector("#who")


# --- portal ----------------------------------------------------------------------------------------------

def test_portal_map_and_tables_show_every_station_with_its_stored_aqi(live: Live, page) -> None:  # type: ignore[no-untyped-def]
    repo = PortalRepo(live.engine)
    latest = repo.latest_period("station_hour")
    stored = {r["subject"]: r for r in repo.results("station_hour", latest, latest + 1)}
    assert len(stored) == 30
    page.goto(live.base + "/")
    page.wait_for_selector("#aqi-map[data-ready]")
    assert page.evaluate("!!echarts.getMap('hebei')"), "the vendored Hebei outline was not registered"
    opt = page.evaluate("""() => { const o = tianlanCharts.map.getOption();
        return {geo: o.geo && o.geo[0].map, pts: o.series[0].data.map(d => [d.code, d.value, d.itemStyle.color])}; }""")
    assert opt["geo"] == "hebei"
    assert len(opt["pts"]) == 30
    for code, (lon, lat, aqi), colour in opt["pts"]:
        assert aqi == stored[code]["aqi"]
        assert colour.upper() == COLOURS[stored[code]["level"]]
        assert 113 < lon < 120 and 36 < lat < 43
    rows = page.locator("#station-table tbody tr")
    assert rows.count() == 30
    code = rows.first.get_attribute("data-station")
    assert rows.first.locator(".aqi").inner_text() == str(stored[code]["aqi"])
    day = repo.latest_period("city_day")
    assert page.locator("#city-table tbody tr").count() == len(repo.results("city_day", day, day + 1)) == 14
    shot(page, "portal-home")


def test_ranking_chart_and_table_follow_the_stored_month(live: Live, page) -> None:  # type: ignore[no-untyped-def]
    repo = PortalRepo(live.engine)
    p = repo.latest_period("city_month")
    month = sorted(repo.results("city_month", p, p + 1), key=lambda r: r["result"]["rank"])
    assert [r["result"]["rank"] for r in month] == list(range(1, 15))
    page.goto(live.base + "/ranking")
    page.wait_for_selector("#ranking-chart[data-ready]")
    bars = page.evaluate("tianlanCharts.ranking.getOption().series[0].data")
    assert bars == [r["result"]["composite_index"] for r in month]
    first = page.locator("#ranking-table tbody tr").first
    assert first.get_attribute("data-city") == month[0]["subject"]
    assert first.locator(".rank").inner_text() == "1"
    shot(page, "portal-ranking")


def test_city_trend_shows_24_hours_of_each_station(live: Live, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(live.base + "/city/130100")
    page.wait_for_selector("#trend-chart[data-ready]")
    series = page.evaluate("tianlanCharts.trend.getOption().series.map(s => s.data)")
    hours = page.evaluate("tianlanCharts.trend.getOption().xAxis[0].data")
    assert len(hours) == 24 and hours[-1].endswith("23:00")  # the last hour of 28 Feb, Beijing time
    assert series and all(len(s) == 24 for s in series)
    assert sum(v is not None for s in series for v in s) > 0
    shot(page, "portal-city-trend")


def test_water_releases_and_the_english_switch(live: Live, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(live.base + "/water")
    rows = page.locator("#water-table tbody tr")
    assert rows.count() == 6
    assert page.locator("#water-table .wclass").first.inner_text() in ("I", "II", "III", "IV", "V", "劣V")
    shot(page, "portal-water")
    page.goto(live.base + "/releases")
    assert page.locator("#release-items tbody tr[data-item=city-ranking-monthly]").count() == 1
    shot(page, "portal-releases")
    page.click("#lang-switch")
    page.wait_for_function("document.documentElement.lang === 'en'")
    assert "Information release list" in page.inner_text("h1")
    page.goto(live.base + "/ranking")  # the choice is remembered (cookie)
    assert "City air quality ranking" in page.inner_text("h1")
    page.goto(live.base + "/")
    page.wait_for_selector("#aqi-map[data-ready]")
    shot(page, "portal-home-en")


def test_a_fraud_report_round_trips(live: Live, page) -> None:  # type: ignore[no-untyped-def]
    from tianlan.store.reports_repo import ReportsRepo

    page.goto(live.base + "/report")
    shot(page, "report-form")
    page.select_option("select[name=category]", "tamper")
    page.fill("input[name=subject]", "唐山示例钢铁有限公司 1 号烧结机头")
    page.select_option("select[name=region]", "130200")
    page.fill("textarea[name=description]", "夜间在线监测数据长时间不变，疑似有人调整了分析仪参数。")
    page.click("#report-form button[type=submit]")
    page.wait_for_selector("#tracking-no")
    no = page.inner_text("#tracking-no")
    assert re.fullmatch(r"12369-\d{8}-[2-9A-HJ-NP-Z]{6}", no)
    shot(page, "report-done")
    stored = ReportsRepo(live.engine).get(no)
    assert (stored.category, stored.region_code, stored.status) == ("tamper", "130200", "received")
    page.goto(live.base + "/report")
    page.fill("input[name=no]", no.lower())  # typed carelessly: normalised
    page.click("form[action='/report/status'] button")
    page.wait_for_selector("#report-status")
    assert page.get_attribute("#status-value", "data-status") == "received"
    assert "已受理" in page.inner_text("#status-value")
    shot(page, "report-status")


def test_pages_fit_a_phone_screen(live: Live, browser) -> None:  # type: ignore[no-untyped-def]
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                              has_touch=True, locale="zh-CN")
    page = ctx.new_page()
    try:
        for path, name, ready in (("/", "home", "#aqi-map[data-ready]"), ("/ranking", "ranking", "#ranking-chart[data-ready]"),
                                  ("/city/130100", "city", "#trend-chart[data-ready]"), ("/water", "water", "#water-table"),
                                  ("/report", "report", "#report-form"), ("/releases", "releases", "#release-items")):
            page.goto(live.base + path)
            page.wait_for_selector(ready)
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{path} is {width} px wide at a 390 px viewport"
            shot(page, f"phone-{name}")
            if name == "report":  # the form's fields span the screen
                assert page.evaluate("document.querySelector('#report-form textarea').getBoundingClientRect().width") > 300
    finally:
        ctx.close()


# --- console ----------------------------------------------------------------------------------------------

def test_an_operator_disposes_an_alarm_from_its_evidence(live: Live, page) -> None:  # type: ignore[no-untyped-def]
    from tianlan.store.alarms_repo import AlarmsRepo
    from tianlan.web.pages.portal import network

    net = network(live.engine)
    in_city = {s.code for s in net.sites if net.city_of(s.region) == live.city}
    target = next(a for a in AlarmsRepo(live.engine).list_alarms(min_level=2)
                  if a.detector in ("SPA-01", "XV-03", "XV-04") and a.station in in_city and a.station.startswith("HB-AIR"))
    login(page, live, "city")
    page.goto(live.base + "/console/alarms")
    stations = page.locator("#alarm-table tbody tr").evaluate_all("rows => rows.map(r => r.dataset.station)")
    assert stations and set(stations) <= in_city, "the inbox shows alarms outside the operator's city"
    shot(page, "console-alarms")
    # the status filter swaps the list in place (HTMX): no page load, the URL follows
    page.evaluate("window.__kept = 1")
    page.select_option("#status-filter", "closed")
    page.wait_for_url("**/console/alarms?status=closed")
    page.wait_for_function(f"!document.querySelector(\"#alarm-table tr[data-alarm='{target.id}']\")")  # it is open
    assert page.evaluate("window.__kept") == 1
    page.select_option("#status-filter", "open")
    page.wait_for_selector(f"#alarm-table tr[data-alarm='{target.id}']")
    assert page.evaluate("window.__kept") == 1
    page.click(f"#alarm-table tr[data-alarm='{target.id}'] a")
    page.wait_for_selector("#evidence-chart[data-ready]")
    opt = page.evaluate("""() => { const o = tianlanCharts.evidence.getOption();
        return o.series.map(s => ({name: s.name, n: s.data.length, areas: s.markArea ? s.markArea.data.length : 0})); }""")
    span_h = (target.end_utc - target.start_utc) // 3600
    # the alarm's hours and the 12 h before it (the 12 h after may not have arrived yet)
    assert opt[0]["name"] == target.station and opt[0]["n"] > span_h + 6, (opt[0], span_h)
    assert opt[0]["areas"] >= 1  # the stretches the detectors flagged
    assert len(opt) >= 2 and all(s["n"] > 0 for s in opt[1:]), "no neighbour series in the evidence chart"
    assert page.locator("#detector-params tbody tr").count() > 0
    shot(page, "console-alarm-evidence")
    for action, label in (("ack", "确认"), ("verify", "核实"), ("dispose", "处置")):
        assert page.get_attribute("#act-form input[name=action]", "value") == action
        if action == "dispose":
            page.select_option("#act-form select[name=outcome]", "fraud")
        page.fill("#act-form textarea[name=note]", f"{label}：与邻站对比异常，现场核查属实")
        page.click("#act-button")
        page.wait_for_selector("#action-done")
    assert page.get_attribute("#alarm-status", "data-status") == "disposed"
    shot(page, "console-alarm-disposed")
    a = AlarmsRepo(live.engine).get(target.id)
    assert (a.status, a.outcome) == ("disposed", "fraud")
    people = [e for e in AlarmsRepo(live.engine).events(target.id) if e.user != "system"]
    assert [(e.action, e.user) for e in people] == [("ack", "op-city"), ("verify", "op-city"), ("dispose", "op-city")]


def test_an_operator_sees_station_data_flags_and_qc(live: Live, page) -> None:  # type: ignore[no-untyped-def]
    from tianlan.store.qc_repo import QcRepo
    from tianlan.web.pages.portal import network

    net = network(live.engine)
    code = next(s.code for s in net.sites if s.kind == "air" and net.city_of(s.region) == live.city
                and QcRepo(live.engine).results(station=s.code, limit=1))
    login(page, live, "city")
    page.goto(live.base + f"/console/stations/{code}?days=7")
    page.wait_for_selector("#station-chart[data-ready]")
    assert int(page.get_attribute("#station-chart", "data-ready")) == 7 * 24
    page.wait_for_selector("#qc-chart[data-ready]")
    shot(page, "console-station")


def test_an_enterprise_user_sees_only_its_own_outlets(live: Live, page) -> None:  # type: ignore[no-untyped-def]
    from tianlan.store.schema import sites

    with live.engine.connect() as c:
        own = set(c.execute(select(sites.c.code).where(sites.c.enterprise_code == live.enterprise)).scalars())
        other = c.execute(select(sites.c.code).where(sites.c.kind == "source", sites.c.enterprise_code != live.enterprise)
                          ).scalars().first()
    assert own and other
    login(page, live, "enterprise")
    page.goto(live.base + "/console/enterprise")
    shown = set(page.locator("section.outlet").evaluate_all("xs => xs.map(x => x.dataset.outlet)"))
    assert shown == own  # its gas and wastewater outlets, nobody else's
    shot(page, "console-enterprise")
    page.goto(live.base + "/console/stations")
    listed = set(page.locator("#site-table tbody tr").evaluate_all("xs => xs.map(x => x.dataset.site)"))
    assert listed == own
    resp = page.goto(live.base + f"/console/stations/{other}")
    assert resp is not None and resp.status == 404
    resp = page.goto(live.base + "/console/alarms")
    assert resp is not None and resp.status == 403  # enterprises do not see fraud alarms


def test_review_ledger_interference_and_reports_pages(live: Live, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(live.base + "/releases?item=city-ranking-monthly")
    page.click("#release-docs a")
    page.wait_for_selector("#release-doc")
    assert "ranking-2019-02.pdf" in page.inner_text("#release-doc")
    shot(page, "portal-release-document")
    login(page, live, "city")
    page.goto(live.base + "/console/review?start=2019-02-27&end=2019-02-28")
    assert page.locator("#review-table tbody tr.mine").count() > 0  # level 1 awaits the city
    shot(page, "console-review")
    page.goto(live.base + "/console/interference")
    page.fill("input[name=occurred]", "2019-02-20T09:30")
    page.fill("input[name=official]", "王某")
    page.fill("textarea[name=request_text]", "要求在检查期间暂停上传数据。")
    page.click("#itf-form button[type=submit]")
    page.wait_for_selector("#itf-done")
    assert page.locator("#itf-list li").count() == 1
    shot(page, "console-interference")
    page.goto(live.base + "/console/reports")
    shot(page, "console-reports")
    page.click("#who ~ form button")  # sign out
    login(page, live, "province")
    from tianlan.ledger.checkpoints import key_path, load_or_create_key
    from tianlan.ledger.service import seal_and_checkpoint

    seal_and_checkpoint(live.engine, load_or_create_key(key_path(live.platform.settings)))  # `tianlan ledger checkpoint`
    page.goto(live.base + "/console/ledger")
    assert int(page.inner_text("#head-seq")) > 0
    page.click("#verify-button")
    page.wait_for_selector("#verify-report")
    shot(page, "console-ledger")
    assert page.get_attribute("#verify-report", "data-ok") == "true", page.inner_text("#verify-report")[:2000]
    page.goto(live.base + "/console/releases")
    shot(page, "console-releases")
    page.click("#who ~ form button")
    login(page, live, "admin")
    page.goto(live.base + "/console/admin?lang=en")
    assert page.locator("#user-table tbody tr").count() == 4 and "Users and keys" in page.inner_text("h1")
    shot(page, "console-admin-en")


def test_screenshots_were_written() -> None:
    names = {p.stem for p in SHOTS.glob("*.png")} if SHOTS.exists() else set()
    assert {"portal-home", "portal-ranking", "report-done", "console-alarm-disposed", "console-enterprise",
            "phone-home"} <= names, names
