"""Console pages over HTTP (TestClient) on both stores: sign-in, scoped alarm inbox and evidence,
the lifecycle through forms with CSRF, station pages, the enterprise's own outlets, report handling."""

from __future__ import annotations

import re
from html import unescape

from fastapi.testclient import TestClient
from web_world import OTHER_ENTERPRISE, OWN_ENTERPRISE, PASSWORD

from tianlan.auth.roles import Role
from tianlan.store.alarms_repo import AlarmsRepo


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token in the page"
    return m.group(1)


def test_sign_in_with_the_form_and_out(app_client: TestClient, web_world) -> None:  # type: ignore[no-untyped-def]
    from tianlan.auth.users import UsersRepo

    UsersRepo(web_world.engine).add("zhang.san", PASSWORD, Role.CITY, "130100", display_name="张三", actor="test")
    r = app_client.get("/console/alarms", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/console/login")
    bad = app_client.post("/console/login", data={"username": "zhang.san", "password": "wrong"}, follow_redirects=False)
    assert bad.status_code == 401 and "用户名或密码错误" in bad.text
    ok = app_client.post("/console/login", data={"username": "zhang.san", "password": PASSWORD,
                                                 "next": "/console/alarms"}, follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/console/alarms"
    inbox = app_client.get("/console/alarms")
    assert inbox.status_code == 200 and "张三" in inbox.text
    off_site = app_client.post("/console/login", data={"username": "zhang.san", "password": PASSWORD,
                                                       "next": "https://evil.example/"}, follow_redirects=False)
    assert off_site.headers["location"] == "/console"
    out = app_client.post("/console/logout", data={"csrf_token": _csrf(inbox.text)}, follow_redirects=False)
    assert out.status_code == 303
    assert app_client.get("/console/alarms", follow_redirects=False).status_code == 303


def test_city_inbox_shows_only_its_own_alarms(client_as, web_world) -> None:  # type: ignore[no-untyped-def]
    c = client_as(Role.CITY)
    page = c.get("/console/alarms")
    shown = set(re.findall(r'data-station="([^"]+)"', page.text))
    assert shown == {"AIR-SJZ", "WAT-SJZ", "OUT-SJZ"}
    assert c.get(f"/console/alarms/{web_world.alarm_ids['AIR-TS']}").status_code == 404
    detail = c.get(f"/console/alarms/{web_world.alarm_ids['AIR-SJZ']}")
    assert detail.status_code == 200
    chart = re.search(r"data-chart='(.*?)'", unescape(detail.text))
    assert chart and '"own":true' in chart.group(1) and '"parameter":"a34004"' in chart.group(1)
    assert client_as(Role.PROVINCE).get("/console/alarms").text.count("data-alarm=") == 6


def test_an_alarm_is_disposed_through_the_forms_in_the_users_name(client_as, web_world) -> None:  # type: ignore[no-untyped-def]
    c = client_as(Role.CITY)
    alarm_id = web_world.alarm_ids["AIR-SJZ"]
    url = f"/console/alarms/{alarm_id}"
    token = _csrf(c.get(url).text)
    no_token = TestClient(c.app, cookies=dict(c.cookies))
    refused = no_token.post(f"{url}/act", data={"action": "ack", "note": "x"}, follow_redirects=False)
    assert refused.status_code == 403 and AlarmsRepo(web_world.engine).get(alarm_id).status == "raised"
    early = c.post(f"{url}/act", data={"action": "dispose", "note": "太早", "outcome": "fraud", "csrf_token": token},
                   follow_redirects=True)
    assert "action-error" in early.text and AlarmsRepo(web_world.engine).get(alarm_id).status == "raised"
    for action, extra in (("ack", {}), ("verify", {}), ("dispose", {"outcome": "fault"})):
        r = c.post(f"{url}/act", data={"action": action, "note": f"{action} 说明", "csrf_token": token, **extra},
                   follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"].endswith(f"done={action}")
    a = AlarmsRepo(web_world.engine).get(alarm_id)
    assert (a.status, a.outcome) == ("disposed", "fault")
    users = {e.user for e in AlarmsRepo(web_world.engine).events(alarm_id)}
    assert users == {"u-city-130100"}
    missing_outcome = c.post(f"/console/alarms/{web_world.alarm_ids['WAT-SJZ']}/act",
                             data={"action": "ack", "note": "", "csrf_token": token}, follow_redirects=True)
    assert "note" in missing_outcome.text
    other = c.post(f"/console/alarms/{web_world.alarm_ids['AIR-TS']}/act",
                   data={"action": "ack", "note": "越权", "csrf_token": token}, follow_redirects=False)
    assert other.status_code == 404 and AlarmsRepo(web_world.engine).get(web_world.alarm_ids["AIR-TS"]).status == "raised"
    enforcement_reader = client_as(Role.SIGNATORY)  # reads alarms, may not act
    page = enforcement_reader.get(f"/console/alarms/{web_world.alarm_ids['WAT-SJZ']}")
    assert page.status_code == 200 and "act-form" not in page.text


def test_station_page_shows_data_flags_and_qc(client_as) -> None:  # type: ignore[no-untyped-def]
    c = client_as(Role.CITY)
    r = c.get("/console/stations/AIR-SJZ?parameter=a34004&days=7")
    assert r.status_code == 200
    chart = re.search(r"data-chart='(.*?)'", unescape(r.text))
    assert chart and '"parameter":"a34004"' in chart.group(1) and '"detector":"RNG-01"' in chart.group(1)
    # the console reads data in the user's scope, like the API: another city's sites read as absent,
    # except that a public air station links to its public view on the portal (no data shown)
    other = c.get("/console/stations/AIR-TS")
    assert other.status_code == 200 and 'id="portal-link"' in other.text and "data-chart" not in other.text
    assert c.get("/console/stations/OUT-TS").status_code == 404
    assert client_as(Role.PROVINCE).get("/console/stations/OUT-TS").status_code == 200


def test_an_enterprise_sees_only_its_own_outlets(client_as) -> None:  # type: ignore[no-untyped-def]
    c = client_as(Role.ENTERPRISE)
    page = c.get("/console/enterprise")
    assert re.findall(r'data-outlet="([^"]+)"', page.text) == ["OUT-SJZ"]
    assert "40.00" in page.text  # its exceedance: 40 against 35
    sites = set(re.findall(r'data-site="([^"]+)"', c.get("/console/stations?kind=source").text))
    assert sites == {"OUT-SJZ"}
    assert c.get("/console/stations/OUT-TS").status_code == 404
    assert c.get("/console/alarms").status_code == 403
    assert OWN_ENTERPRISE != OTHER_ENTERPRISE


def test_staff_answer_public_reports_in_the_console(app_client: TestClient, client_as) -> None:  # type: ignore[no-untyped-def]
    r = app_client.post("/report", data={"category": "bypass", "subject": "栾城测试制药", "region": "130100",
                                         "description": "雨天夜间通过雨水管偷排废水。"}, follow_redirects=False)
    no = re.search(r"no=([^&]+)", r.headers["location"]).group(1)  # type: ignore[union-attr]
    c = client_as(Role.CITY)
    page = c.get("/console/reports")
    assert f'data-report="{no}"' in page.text
    done = c.post(f"/console/reports/{no}", data={"status": "processing", "note": "已转执法支队核查。",
                                                  "csrf_token": _csrf(page.text)}, follow_redirects=False)
    assert done.status_code == 303
    assert app_client.get(f"/api/v1/reports/{no}").json()["status"] == "processing"
    assert client_as(Role.ENTERPRISE).get("/console/reports").status_code == 403


def test_the_province_publishes_a_document_with_an_attachment_from_the_console(app_client: TestClient,
                                                                                client_as) -> None:  # type: ignore[no-untyped-def]
    prov = client_as(Role.PROVINCE)
    page = prov.get("/console/releases")
    assert page.status_code == 200
    form = {"csrf_token": _csrf(page.text), "item": "water-monthly", "title": "2026年5月地表水水质月报", "period": "2026-05",
            "body": "全省断面水质总体稳定。"}
    r = prov.post("/console/releases", data=form, files={"file": ("月报.pdf", b"%PDF-1.4 water", "application/pdf")},
                  follow_redirects=False)
    assert r.status_code == 303 and "done=" in r.headers["location"]
    doc_id = int(r.headers["location"].rsplit("=", 1)[1])
    assert app_client.get(f"/releases/{doc_id}/file").content == b"%PDF-1.4 water"
    assert "2026年5月地表水水质月报" in app_client.get("/releases?item=water-monthly").text
    empty = prov.post("/console/releases", data={**form, "body": ""}, follow_redirects=True)
    assert "pub-error" in empty.text and "body" in empty.text
    assert client_as(Role.CITY).get("/console/releases").status_code == 403
    forged = prov.post("/console/releases", data={**form, "csrf_token": "forged"}, follow_redirects=False)
    assert forged.status_code == 403


def test_an_enterprise_marks_its_own_outlet_only(client_as, web_world) -> None:  # type: ignore[no-untyped-def]
    from tianlan.store.schema_records import enterprise_marks

    c = client_as(Role.ENTERPRISE)
    page = c.get("/console/enterprise")
    form = {"station": "OUT-SJZ", "kind": "maintenance", "start": "2026-05-01T09:00", "end": "2026-05-01T11:00",
            "reason": "更换采样探头", "csrf_token": _csrf(page.text)}
    r = c.post("/console/enterprise/marks", data=form, follow_redirects=True)
    assert 'id="mark-done"' in r.text and 'data-mark="' in r.text
    other = c.post("/console/enterprise/marks", data={**form, "station": "OUT-TS"}, follow_redirects=True)
    assert 'id="mark-error"' in other.text
    with web_world.engine.connect() as conn:
        rows = conn.execute(enterprise_marks.select()).all()
    assert [(m.station, m.kind, m.created_by) for m in rows] == [("OUT-SJZ", "maintenance", "u-enterprise-E130111001")]
