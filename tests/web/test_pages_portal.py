"""Portal pages over HTTP (TestClient) on both stores: real-time AQI, trend, ranking, water, releases,
the 12369 form with tracking number, lookup and rate limit, the language switch, and the
releases/reports API behind them. The two-city world is ``web_world`` (tests/web/conftest.py)."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html import unescape

from fastapi.testclient import TestClient
from web_world import HOURS, OTHER_CITY, OWN_CITY, T0

from tianlan.auth.roles import Role
from tianlan.web.i18n import MESSAGES

TRACKING = re.compile(r"12369-\d{8}-[2-9A-HJ-NP-Z]{6}")


def _report(c: TestClient, **over: str):  # type: ignore[no-untyped-def]
    form = {"category": "falsify", "subject": "曹妃甸测试钢铁有限公司", "region": OTHER_CITY,
            "description": "烟气排放口数据夜间长期恒定，疑似篡改。", "contact": ""}
    form.update(over)
    return c.post("/report", data=form, follow_redirects=False)


def test_home_shows_each_station_and_city_with_its_latest_stored_aqi(app_client: TestClient) -> None:
    r = app_client.get("/")
    assert r.status_code == 200
    html = unescape(r.text)
    # the newest hour of the world: AQI 40 + 47 at both air stations, level I (green)
    for code in ("AIR-SJZ", "AIR-TS"):
        row = re.search(rf'<tr data-station="{code}">(.*?)</tr>', html, re.S)
        assert row, code
        assert f">{40 + HOURS - 1}<" in row.group(1) and "#00E400" in row.group(1)
    assert '"code":"AIR-SJZ"' in html  # map points rendered for the chart
    for city in (OWN_CITY, OTHER_CITY):
        assert f'<tr data-city="{city}">' in html
    assert "2026-05-02 23:00" in html  # data time, Beijing
    assert "/static/vendor/echarts/echarts.min.js" in html and "cdn" not in html.lower()


def test_english_switch_is_remembered_in_a_cookie(app_client: TestClient) -> None:
    r = app_client.get("/ranking?lang=en")
    assert r.status_code == 200 and "City air quality ranking" in r.text and 'lang="en"' in r.text
    assert r.cookies.get("lang") == "en" or app_client.cookies.get("lang") == "en"
    assert "City air quality ranking" in app_client.get("/ranking").text
    assert "设区市环境空气质量排名" in app_client.get("/ranking?lang=zh").text


def test_city_trend_ranking_and_water(app_client: TestClient) -> None:
    r = app_client.get(f"/city/{OWN_CITY}")
    assert r.status_code == 200
    m = re.search(r"data-series='(.*?)'", unescape(r.text))
    assert m and '"code":"AIR-SJZ"' in m.group(1) and "AIR-TS" not in m.group(1)
    assert m.group(1).count("null") == 0  # 24 hours, all present: AQI 64 … 87
    assert '"data":[' + ",".join(str(40 + h) for h in range(HOURS - 24, HOURS)) + "]" in m.group(1)
    # the city's own hourly AQI (city_hour) is the first line, the stations' follow
    series = json.loads(m.group(1))
    assert series[0]["code"] == OWN_CITY and series[0]["city"] is True
    assert series[0]["data"] == [110 + h for h in range(HOURS - 24, HOURS)]
    assert [s["code"] for s in series[1:]] == ["AIR-SJZ"]
    rank = app_client.get("/ranking")
    rows = re.findall(r'<tr data-city="(\d+)"><td class="rank">(\d+)</td>', rank.text)
    assert rows == [(OWN_CITY, "1"), (OTHER_CITY, "2")]
    assert "2026-05" in rank.text
    water = app_client.get("/water")
    assert water.text.count('class="wclass cIII"') == 2
    assert app_client.get("/city/999999").status_code == 404


def test_releases_list_publish_correct_and_download(app_client: TestClient, client_as) -> None:  # type: ignore[no-untyped-def]
    page = app_client.get("/releases")
    assert page.status_code == 200
    for code in ("air-realtime", "city-ranking-monthly", "water-monthly", "fraud-cases"):
        assert f'data-item="{code}"' in page.text
    body = {"item": "city-ranking-monthly", "title": "2026年5月设区市空气质量排名", "period": "2026-05",
            "body": "石家庄市第一，唐山市第二。"}
    assert app_client.post("/api/v1/releases", json=body).status_code == 401
    assert client_as(Role.CITY).post("/api/v1/releases", json=body).status_code == 403
    prov = client_as(Role.PROVINCE)
    pdf = b"%PDF-1.4 ranking"
    r = prov.post("/api/v1/releases", json={**body, "filename": "排名.pdf", "content_type": "application/pdf",
                                             "content_base64": base64.b64encode(pdf).decode()})
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["sha256"] == hashlib.sha256(body["body"].encode() + b"\0" + pdf).hexdigest()
    assert doc["published_by"].startswith("u-province")
    got = app_client.get(f"/releases/{doc['id']}/file")
    assert got.content == pdf and got.headers["content-type"] == "application/pdf"
    fix = prov.post("/api/v1/releases", json={**body, "title": "更正：2026年5月排名", "supersedes": doc["id"]})
    assert fix.status_code == 201
    listed = app_client.get("/api/v1/releases?item=city-ranking-monthly").json()["results"]
    assert [d["id"] for d in listed] == [fix.json()["id"], doc["id"]]
    assert listed[1]["superseded_by"] == fix.json()["id"]
    assert [d["id"] for d in app_client.get("/api/v1/releases?current=true").json()["results"]] == [fix.json()["id"]]
    old = app_client.get(f"/releases/{doc['id']}")
    assert "已被更正" in old.text and f"/releases/{fix.json()['id']}" in old.text
    bad = prov.post("/api/v1/releases", json={**body, "item": "no-such-item"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "item"
    empty = prov.post("/api/v1/releases", json={**body, "body": ""})
    assert empty.status_code == 422 and empty.json()["error"]["field"] == "body"
    items = {i["code"]: i for i in app_client.get("/api/v1/releases/items").json()["results"]}
    assert items["city-ranking-monthly"]["documents"] == 2 and items["city-ranking-monthly"]["frequency"] == "monthly"


def test_fraud_report_round_trip_and_staff_answer(app_client: TestClient, client_as) -> None:  # type: ignore[no-untyped-def]
    r = _report(app_client)
    assert r.status_code == 303
    no = TRACKING.search(r.headers["location"]).group(0)  # type: ignore[union-attr]
    done = app_client.get(r.headers["location"])
    assert f'<strong class="mono" id="tracking-no">{no}</strong>' in done.text
    lookup = app_client.get(f"/report/status?no={no.lower()}")
    assert lookup.status_code == 200 and 'data-status="received"' in lookup.text
    assert "曹妃甸" not in lookup.text  # the public lookup never shows what was reported
    assert app_client.get("/report/status?no=12369-20260101-ZZZZZZ").status_code == 404
    assert app_client.get("/report/status?no=garbage").status_code == 400
    # the other city's staff does not see it; the province answers it
    own_city = client_as(Role.CITY)
    assert no not in own_city.get("/api/v1/reports").text
    assert own_city.post(f"/api/v1/reports/{no}/answer", json={"status": "processing", "note": "x"}).status_code == 403
    prov = client_as(Role.PROVINCE)
    assert no in prov.get("/api/v1/reports").text
    ans = prov.post(f"/api/v1/reports/{no}/answer", json={"status": "closed", "note": "已立案查处，责令整改。"})
    assert ans.status_code == 200 and ans.json()["status"] == "closed"
    public = app_client.get(f"/api/v1/reports/{no}").json()
    assert (public["status"], public["answer"]) == ("closed", "已立案查处，责令整改。")
    assert "contact" not in public and "subject" not in public


def test_fraud_report_errors_name_the_field_and_submissions_are_rate_limited(app_client: TestClient) -> None:
    short = _report(app_client, description="太短")
    assert short.status_code == 400 and "description" in short.text
    assert "太短" in short.text  # what was typed is kept
    bad = _report(app_client, category="nonsense")
    assert bad.status_code == 400 and "category" in bad.text
    api = app_client.post("/api/v1/reports", json={"category": "other", "subject": "x", "description": "短"})
    assert api.status_code == 422 and api.json()["error"]["field"] == "description"
    app_client.app.state.report_limit = 2
    assert _report(app_client).status_code == 303
    assert _report(app_client).status_code == 303
    third = _report(app_client)
    assert third.status_code == 429 and int(third.headers["retry-after"]) > 0
    over = app_client.post("/api/v1/reports", json={"category": "other", "subject": "x", "description": "十个字以上的描述内容"})
    assert over.status_code == 429 and over.json()["error"]["field"] == "source"


def test_every_message_key_used_by_the_templates_exists_in_both_languages() -> None:
    from pathlib import Path

    import tianlan.web
    import tianlan.web.pages  # noqa: F401  (adds the pages' own messages, tianlan.web.pages.messages)

    root = Path(tianlan.web.__file__).parent
    used: set[str] = set()
    for f in list((root / "templates").rglob("*.html")) + list((root / "pages").glob("*.py")):
        used |= set(re.findall(r'_\("([a-z][\w.-]+)"', f.read_text())) | set(re.findall(r'i18n\.t\("([\w.-]+)"', f.read_text()))
    assert used, "no message keys found"
    # "aqi.level." ~ level: a prefix completed at run time must have entries
    missing = sorted(k for k in used
                     if (k not in MESSAGES if not k.endswith(".") else not any(m.startswith(k) for m in MESSAGES)))
    assert not missing
    for k, (zh, en) in MESSAGES.items():
        assert zh.strip() and en.strip(), k
        assert re.findall(r"{(\w+)}", zh) == re.findall(r"{(\w+)}", en), k
    assert T0 > 0
