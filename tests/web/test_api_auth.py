"""Sign-in, sessions, CSRF, API keys, rate limits (both stores)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from web_world import PASSWORD

from tianlan.auth.roles import Role
from tianlan.web.ratelimit import RateLimiter


def test_login_sets_http_only_cookie_and_me_reports_role_and_scope(app_client: TestClient, client_as) -> None:  # type: ignore[no-untyped-def]
    c = client_as(Role.CITY)
    me = c.get("/api/v1/auth/me").json()
    assert me["principal"]["role"] == "city"
    assert me["principal"]["scope"] == "130100"
    assert me["principal"]["kind"] == "user"
    assert me["csrf_token"] == c.headers["X-CSRF-Token"]
    # the cookie is HttpOnly and SameSite=Lax
    c2 = TestClient(app_client.app)
    r = c2.post("/api/v1/auth/login", json={"username": "u-city-130100", "password": PASSWORD})
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie


def test_wrong_password_is_401_naming_the_field_and_anonymous_me_is_401(app_client: TestClient, client_as) -> None:  # type: ignore[no-untyped-def]
    client_as(Role.CITY)  # creates the user
    r = app_client.post("/api/v1/auth/login", json={"username": "u-city-130100", "password": "wrong password!"})
    assert r.status_code == 401
    assert r.json()["error"]["field"] == "password"
    assert app_client.get("/api/v1/auth/me").status_code == 401
    r = app_client.post("/api/v1/auth/login", json={"username": "", "password": "x"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "username"


def test_state_changing_request_with_session_needs_the_csrf_token(client_as, web_world) -> None:  # type: ignore[no-untyped-def]
    c = client_as(Role.CITY)
    alarm = web_world.alarm_ids["AIR-SJZ"]
    token = c.headers.pop("X-CSRF-Token")
    r = c.post(f"/api/v1/alarms/{alarm}/ack", json={"note": "看一下"})
    assert r.status_code == 403 and r.json()["error"]["field"] == "X-CSRF-Token"
    r = c.post(f"/api/v1/alarms/{alarm}/ack", json={"note": "看一下"}, headers={"X-CSRF-Token": "forged"})
    assert r.status_code == 403
    r = c.post(f"/api/v1/alarms/{alarm}/ack", json={"note": "看一下"}, headers={"X-CSRF-Token": token})
    assert r.status_code == 200, r.text
    assert r.json()["results"][0]["status"] == "acknowledged"


def test_logout_revokes_the_session(client_as) -> None:  # type: ignore[no-untyped-def]
    c = client_as(Role.PROVINCE)
    cookie = c.cookies.get("tianlan_session")
    assert c.get("/api/v1/devices").status_code == 200
    assert c.post("/api/v1/auth/logout").json() == {"signed_out": True}
    # even a client that kept the old cookie is anonymous now
    c.cookies.set("tianlan_session", cookie)
    assert c.get("/api/v1/devices").status_code == 401


def test_tampered_cookie_is_anonymous(app_client: TestClient) -> None:
    app_client.cookies.set("tianlan_session", "eyJ1IjoiYWRtaW4ifQ.forged.sig")
    assert app_client.get("/api/v1/devices").status_code == 401
    assert app_client.get("/api/v1/sites").status_code == 200  # public data still served


def test_api_key_reads_in_scope_and_reports_rate_limit_headers(app_client: TestClient, api_key) -> None:  # type: ignore[no-untyped-def]
    secret = api_key(Role.DEPARTMENT, rate_limit_per_min=5)
    h = {"X-API-Key": secret}
    r = app_client.get("/api/v1/devices", headers=h)
    assert r.status_code == 200
    assert r.headers["X-RateLimit-Limit"] == "5"
    assert r.headers["X-RateLimit-Remaining"] == "4"
    assert 1 <= int(r.headers["X-RateLimit-Reset"]) <= 60
    assert {d["site_code"] for d in r.json()["results"]} == {"AIR-SJZ", "WAT-SJZ", "OUT-SJZ"}
    assert all("password" not in d for d in r.json()["results"])
    # streamed responses carry the headers too
    r = app_client.get("/api/v1/observations/export?start=2026-05-01&end=2026-05-02", headers=h)
    assert r.status_code == 200 and r.headers["X-RateLimit-Remaining"] == "3"


def test_rate_limit_exceeded_is_429_with_retry_after(app_client: TestClient, api_key) -> None:  # type: ignore[no-untyped-def]
    secret = api_key(Role.DEPARTMENT, rate_limit_per_min=3)
    h = {"X-API-Key": secret}
    codes = [app_client.get("/api/v1/sites", headers=h).status_code for _ in range(5)]
    assert codes == [200, 200, 200, 429, 429]
    r = app_client.get("/api/v1/sites", headers=h)
    assert r.status_code == 429
    assert r.headers["X-RateLimit-Remaining"] == "0"
    assert int(r.headers["Retry-After"]) >= 1
    assert r.json()["error"]["code"] == "rate-limited" and r.json()["error"]["field"] == "X-API-Key"
    # another key is not affected
    other = api_key(Role.PROVINCE, rate_limit_per_min=3)
    assert app_client.get("/api/v1/sites", headers={"X-API-Key": other}).status_code == 200


def test_unknown_or_revoked_key_is_401(app_client: TestClient, api_key, web_world) -> None:  # type: ignore[no-untyped-def]
    from tianlan.auth.apikeys import ApiKeysRepo

    r = app_client.get("/api/v1/sites", headers={"X-API-Key": "tlk_nope"})
    assert r.status_code == 401 and r.json()["error"]["field"] == "X-API-Key"
    secret = api_key(Role.CITY)
    key = ApiKeysRepo(web_world.engine).lookup(secret)
    ApiKeysRepo(web_world.engine).revoke(key.id, actor="test")
    app_client.app.state.auth._keys.clear()  # the 5-second key cache
    assert app_client.get("/api/v1/sites", headers={"X-API-Key": secret}).status_code == 401


def test_keys_cannot_act_on_alarms(app_client: TestClient, api_key, web_world) -> None:  # type: ignore[no-untyped-def]
    secret = api_key(Role.CITY)
    alarm = web_world.alarm_ids["AIR-SJZ"]
    r = app_client.post(f"/api/v1/alarms/{alarm}/ack", json={"note": "x"}, headers={"X-API-Key": secret})
    assert r.status_code == 403
    assert app_client.get(f"/api/v1/alarms/{alarm}", headers={"X-API-Key": secret}).status_code == 200


def test_rate_limiter_window_resets() -> None:
    now = [1000.0]
    rl = RateLimiter(clock=lambda: now[0])
    assert [rl.hit("k", 2).allowed for _ in range(3)] == [True, True, False]
    v = rl.hit("k", 2)
    assert v.reset_s == 20  # window [960, 1020)
    now[0] = 1020.0
    v = rl.hit("k", 2)
    assert v.allowed and v.remaining == 1
