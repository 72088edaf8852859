"""Console pages over the evidence records on both stores: review and sign-off (signed with the
reviewer's key, unlocked by the password), the ledger head and verification, interference records
(sealed: the filer and discipline/audit read them, nobody else)."""

from __future__ import annotations

import re
from html import unescape

from sqlalchemy import text
from web_world import PASSWORD, T0

from tianlan.auth.roles import Role


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m
    return m.group(1)


def test_a_station_day_is_approved_twice_and_signed_off(client_as, web_world) -> None:  # type: ignore[no-untyped-def]
    from tianlan.auth.users import UsersRepo
    from tianlan.store.review_repo import ReviewRepo

    day = T0  # 2026-05-01, Beijing
    steps = ((Role.CITY, "approve"), (Role.PROVINCE, "approve"), (Role.SIGNATORY, "sign"))
    for i, (role, action) in enumerate(steps):
        c = client_as(role)
        page = c.get("/console/review?start=2026-05-01&end=2026-05-02")
        assert page.status_code == 200, page.text
        assert f'data-station="AIR-SJZ" data-day="{day}" class="mine"' in page.text, (role, unescape(page.text)[:3000])
        form = {"station": "AIR-SJZ", "day": str(day), "action": action, "reason": "数据完整有效",
                "csrf_token": _csrf(page.text)}
        if i == 0:  # a wrong password signs nothing
            bad = c.post("/console/review/act", data={**form, "password": "wrong password!"}, follow_redirects=True)
            assert "review-error" in bad.text
        r = c.post("/console/review/act", data={**form, "password": PASSWORD}, follow_redirects=True)
        assert "review-done" in r.text, unescape(r.text)[-1500:]
    signatory = UsersRepo(web_world.engine).get("u-signatory-130100")
    d = ReviewRepo(web_world.engine).show(signatory, "AIR-SJZ", day)
    assert d.state.signed and [a.action for a in d.actions] == ["approve", "approve", "sign"]
    assert all(d.signature_ok)
    assert client_as(Role.ENTERPRISE).get("/console/review").status_code == 403


def test_ledger_head_and_verification(client_as, web_world) -> None:  # type: ignore[no-untyped-def]
    c = client_as(Role.PROVINCE)
    page = c.get("/console/ledger")
    assert page.status_code == 200
    r = c.post("/console/ledger/verify", data={"csrf_token": _csrf(page.text)})
    assert r.status_code == 200 and 'id="verify-report"' in r.text
    with web_world.engine.connect() as conn:
        entries = conn.execute(text("SELECT count(*) FROM ledger_entries")).scalar_one()
    assert f"条目 {entries} " in r.text
    assert client_as(Role.CITY).get("/console/ledger").status_code == 403
    assert c.post("/console/ledger/verify", data={"csrf_token": "forged"}).status_code == 403


def test_interference_records_are_sealed(client_as) -> None:  # type: ignore[no-untyped-def]
    filer = client_as(Role.CITY)
    page = filer.get("/console/interference")
    form = {"occurred": "2026-05-01T10:00", "method": "verbal", "official": "李某", "position": "副局长",
            "organisation": "某县政府", "request_text": "要求把站点周边的雾炮对准采样口。", "station": "AIR-SJZ",
            "csrf_token": _csrf(page.text)}
    r = filer.post("/console/interference", data=form, follow_redirects=True)
    rid = re.search(r'id="itf-done">[^#]*#(\d+)', r.text)
    assert rid, unescape(r.text)[-1500:]
    assert f'data-record="{rid.group(1)}"' in r.text
    assert f'data-record="{rid.group(1)}"' in client_as(Role.DISCIPLINE).get("/console/interference").text
    other = client_as(Role.PROVINCE).get("/console/interference")  # may file, may not read others' records
    assert other.status_code == 200 and f'data-record="{rid.group(1)}"' not in other.text
    empty = filer.post("/console/interference", data={**form, "official": ""}, follow_redirects=True)
    assert "itf-error" in empty.text
    assert client_as(Role.ENTERPRISE).get("/console/interference").status_code == 403


def test_an_administrator_manages_users_and_keys(client_as, app_client, web_world) -> None:  # type: ignore[no-untyped-def]
    from tianlan.auth.apikeys import ApiKeysRepo
    from tianlan.auth.users import UsersRepo

    admin = client_as(Role.ADMIN)
    page = admin.get("/console/admin")
    assert page.status_code == 200 and 'data-user="u-admin-130000"' in page.text
    token = _csrf(page.text)
    r = admin.post("/console/admin/users", data={"username": "li.si", "password": PASSWORD, "role": "city",
                                                  "scope": "130200", "display_name": "李四", "csrf_token": token},
                   follow_redirects=True)
    assert 'data-user="li.si"' in r.text and UsersRepo(web_world.engine).get("li.si").scope == "130200"
    bad = admin.post("/console/admin/users", data={"username": "wang.wu", "password": PASSWORD, "role": "city",
                                                    "scope": "999999", "csrf_token": token}, follow_redirects=True)
    assert "admin-error" in bad.text and "scope" in bad.text
    off = admin.post("/console/admin/users/li.si/active", data={"active": "0", "csrf_token": token}, follow_redirects=True)
    assert off.status_code == 200 and not UsersRepo(web_world.engine).get("li.si").active
    made = admin.post("/console/admin/keys", data={"name": "水利厅", "role": "department", "scope": "130100", "rate": "30",
                                                   "csrf_token": token})
    secret = re.search(r'id="key-secret">[^<]*<code class="mono">([^<]+)</code>', made.text)
    assert secret, made.text[-2000:]
    key = ApiKeysRepo(web_world.engine).lookup(unescape(secret.group(1)))
    assert (key.name, key.rate_limit_per_min) == ("水利厅", 30)
    assert app_client.get("/api/v1/sites", headers={"X-API-Key": unescape(secret.group(1))}).status_code == 200
    admin.post(f"/console/admin/keys/{key.id}/revoke", data={"csrf_token": token})
    # (the API caches a key's lookup for a few seconds; the store says at once)
    assert not next(k for k in ApiKeysRepo(web_world.engine).list() if k.id == key.id).active
    assert client_as(Role.PROVINCE).get("/console/admin").status_code == 403


def test_an_interference_record_is_read_and_added_to_by_its_readers_only(client_as, web_world) -> None:  # type: ignore[no-untyped-def]
    from tianlan.store.interference_repo import READ_KINDS
    from tianlan.store.schema_ledger import ledger_entries as le

    filer = client_as(Role.CITY)
    page = filer.get("/console/interference")
    form = {"occurred": "2026-05-01T10:00", "method": "verbal", "official": "王某", "position": "局长",
            "organisation": "某区政府", "request_text": "要求在考核期间暂停周边工地监测。", "station": "AIR-SJZ",
            "csrf_token": _csrf(page.text)}
    r = filer.post("/console/interference", data=form, follow_redirects=True)
    rid = int(re.search(r'id="itf-done">[^#]*#(\d+)', r.text).group(1))  # type: ignore[union-attr]
    assert f'href="/console/interference/{rid}"' in r.text  # the list links to the record

    def reads() -> list[tuple[str, str]]:
        import json

        from sqlalchemy import select

        with web_world.engine.connect() as c:
            rows = c.execute(select(le.c.kind, le.c.actor, le.c.payload).where(le.c.kind.in_(READ_KINDS))
                             .order_by(le.c.seq)).all()
        return [(k, a) for k, a, p in rows if json.loads(p).get("record") == rid]

    # the filer reads it: its content, and the read is a ledger entry
    own = filer.get(f"/console/interference/{rid}")
    assert own.status_code == 200
    assert "要求在考核期间暂停周边工地监测。" in own.text and "王某" in own.text
    assert reads()[-1] == ("interference.read", "u-city-130100")
    assert 'id="itf-reads"' not in own.text  # the access log is for discipline and audit

    # an addendum with an attachment, then discipline reads all of it and the access log
    r = filer.post(f"/console/interference/{rid}/append", data={"text": "补充：对方随后电话催促。",
                                                                 "csrf_token": _csrf(own.text)},
                   files={"file": ("call-log.txt", "通话记录 10:05".encode(), "text/plain")}, follow_redirects=True)
    assert 'id="itf-appended"' in r.text and "补充：对方随后电话催促。" in r.text
    att = re.search(rf'/console/interference/{rid}/attachments/(\d+)', r.text)
    assert att
    discipline = client_as(Role.DISCIPLINE)
    d = discipline.get(f"/console/interference/{rid}")
    assert d.status_code == 200 and "补充：对方随后电话催促。" in d.text and 'id="itf-reads"' in d.text
    assert "u-city-130100" in d.text.split('id="itf-reads"')[1]  # the filer's read is in the log shown
    f = discipline.get(f"/console/interference/{rid}/attachments/{att.group(1)}")
    assert f.status_code == 200 and f.content == "通话记录 10:05".encode()
    assert reads()[-1] == ("interference.read", "u-discipline-130000")

    # another filer (province) and an enterprise cannot read it nor add to it; the attempts are logged
    n = len(reads())
    prov = client_as(Role.PROVINCE)
    denied = prov.get(f"/console/interference/{rid}")
    assert denied.status_code == 404 and "要求在考核期间" not in denied.text
    assert prov.get(f"/console/interference/{rid}/attachments/{att.group(1)}").status_code == 404
    prov_csrf = _csrf(prov.get("/console/interference").text)
    r = prov.post(f"/console/interference/{rid}/append", data={"text": "x", "csrf_token": prov_csrf},
                  follow_redirects=True)
    assert r.status_code == 404 and "无权查阅或不存在" in r.text  # refused; the record page refuses them too
    assert client_as(Role.ENTERPRISE).get(f"/console/interference/{rid}").status_code == 404
    later = reads()[n:]
    assert [k for k, _ in later].count("interference.denied") >= 4
    # a missing CSRF token is refused before anything is written
    no_csrf = filer.post(f"/console/interference/{rid}/append", data={"text": "y"}, headers={"X-CSRF-Token": ""})
    assert no_csrf.status_code == 403
    body = discipline.get(f"/console/interference/{rid}").text
    assert body.count("data-addendum=") == 1


def test_a_console_page_of_another_regions_air_station_links_to_the_portal(client_as) -> None:  # type: ignore[no-untyped-def]
    from web_world import OTHER_CITY

    city = client_as(Role.CITY)  # 130100: AIR-TS is in another city
    r = city.get("/console/stations/AIR-TS")
    assert r.status_code == 200 and 'id="public-station"' in r.text
    assert f'id="portal-link" href="/city/{OTHER_CITY}"' in r.text
    assert "a34004" not in r.text  # no data of the station, only the link
    assert city.get("/console/stations/AIR-SJZ").status_code == 200  # own station: the data page
    assert city.get("/console/stations/NO-SUCH").status_code == 404
    # a non-public site (an outlet) of another region stays absent
    from web_world import SITES

    outlet = next(s for s in SITES if s.kind == "source" and s.city == OTHER_CITY)
    assert city.get(f"/console/stations/{outlet.code}").status_code == 404
