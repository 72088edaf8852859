"""Data endpoints on both stores: observations with flags, QC status and coverage; times with explicit
offsets; CSV and streamed export; alarms with evidence and actions; 4xx naming the field."""

from __future__ import annotations

import csv
import io

import orjson
from fastapi.testclient import TestClient
from web_world import HOURS, SITES, T0

from tianlan.auth.roles import Role
from tianlan.model.timeutil import utc_to_beijing_iso

API = "/api/v1"


def test_observations_carry_flags_qc_status_coverage_and_beijing_offsets(client_as) -> None:  # type: ignore[no-untyped-def]
    c = client_as(Role.PROVINCE)
    r = c.get(f"{API}/observations?site=AIR-SJZ&parameter=a34004&grain=hour&start=2026-05-01&end=2026-05-02&limit=10")
    body = r.json()
    assert r.status_code == 200
    assert body["meta"]["found"] == 24
    assert body["meta"]["page"] == 1 and body["meta"]["limit"] == 10
    rows = body["results"]
    assert len(rows) == 10
    assert rows[0]["time"] == "2026-05-01T00:00:00+08:00"  # Beijing time with the offset
    assert rows[0]["site"] == "AIR-SJZ" and rows[0]["mn"] == "MNAIRSJZ0001" and rows[0]["kind"] == "hour"
    assert rows[5]["flag"] == "M" and rows[5]["flag_meaning"].startswith("维护")
    assert rows[3]["qc"] == {"status": 3, "detectors": ["RNG-01"]}  # the suspect QC result covers hour 3
    assert rows[2]["qc"] is None
    assert body["meta"]["coverage"]["a34004"] == {"expected": 24, "observed": 24, "with_value": 24,
                                                  "percent_complete": 100.0}
    # page 3 of 10: the last four hours; the same count
    p3 = c.get(f"{API}/observations?site=AIR-SJZ&parameter=a34004&grain=hour&start=2026-05-01&end=2026-05-02"
               "&limit=10&page=3").json()
    assert p3["meta"]["found"] == 24 and [x["time"][11:13] for x in p3["results"]] == ["20", "21", "22", "23"]
    # an offset in the query is honoured: 00:00Z is 08:00 Beijing
    z = c.get(f"{API}/observations?site=AIR-SJZ&parameter=a34004&start=2026-05-01T00:00:00Z&limit=1").json()
    assert z["results"][0]["time"] == "2026-05-01T08:00:00+08:00"


def test_raw_grain_and_latest_values(client_as) -> None:  # type: ignore[no-untyped-def]
    c = client_as(Role.PROVINCE)
    raw = c.get(f"{API}/observations?grain=raw&site=WAT-TS").json()
    assert raw["meta"]["found"] == 2 and {r["kind"] for r in raw["results"]} == {"rtd"}
    latest = c.get(f"{API}/latest?kind=water").json()
    by_site = {r["site"]: r for r in latest["results"]}
    assert set(by_site) == {"WAT-SJZ", "WAT-TS"}
    v = by_site["WAT-TS"]["values"]["w01018"]
    assert v["grain"] == "rtd" and v["value"] == 104.0 and v["time"] == utc_to_beijing_iso(T0 + HOURS * 3600)


def test_csv_format_and_streamed_export(client_as) -> None:  # type: ignore[no-untyped-def]
    c = client_as(Role.CITY)
    r = c.get(f"{API}/observations?grain=hour&site=AIR-SJZ&limit=5&format=csv")
    assert r.headers["content-type"].startswith("text/csv") and r.headers["X-Total-Count"] == str(HOURS * 2)
    rows = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    assert len(rows) == 5 and rows[0]["time"] == "2026-05-01T00:00:00+08:00"
    exp = c.get(f"{API}/observations/export?grain=hour&start=2026-05-01&end=2026-05-03&format=ndjson&site=OUT-SJZ")
    assert exp.headers["content-type"].startswith("application/x-ndjson")
    lines = [orjson.loads(x) for x in exp.content.splitlines()]
    assert len(lines) == HOURS * 2
    assert lines[0]["time"] == "2026-05-01T00:00:00+08:00" and lines[0]["site"] == "OUT-SJZ"
    assert [x["time"] for x in lines] == sorted(x["time"] for x in lines)


def test_export_needs_a_bounded_range(client_as) -> None:  # type: ignore[no-untyped-def]
    c = client_as(Role.PROVINCE)
    r = c.get(f"{API}/observations/export")
    assert r.status_code == 422 and r.json()["error"]["field"] == "start"
    r = c.get(f"{API}/observations/export?start=2024-01-01&end=2026-01-01")
    assert r.status_code == 422 and r.json()["error"]["field"] == "end"


def test_bad_requests_name_the_field(app_client: TestClient) -> None:
    cases = {
        "/sites?limit=5000": "limit",
        "/sites?page=0": "page",
        "/sites?kind=volcano": "kind",
        "/sites?region=999999": "region",
        "/aqi/stations?start=2026-13-01": "start",
        "/aqi/stations?start=2026-05-02&end=2026-05-01": "end",
        "/rankings?month=2026-5": "month",
        "/aqi/stations?period=week": "period",
        "/latest?parameter=,": "parameter",
        "/regions?format=xml": "format",
    }
    for url, field in cases.items():
        r = app_client.get(API + url)
        assert r.status_code == 422, (url, r.text)
        err = r.json()["error"]
        assert err["field"] == field, (url, err)
        assert err["reason"]
    r = app_client.get(API + "/sites/NOPE")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not-found"


def test_alarm_evidence_and_lifecycle_attributed_to_the_user(client_as, web_world) -> None:  # type: ignore[no-untyped-def]
    c = client_as(Role.CITY)
    aid = web_world.alarm_ids["OUT-SJZ"]
    a = c.get(f"{API}/alarms/{aid}").json()["results"][0]
    assert a["evidence"]["thresholds"] == {"min_hours": 6} and a["status"] == "raised"
    assert a["start"] == utc_to_beijing_iso(T0 + 3600)
    ev = c.get(f"{API}/alarms/{aid}/evidence").json()["results"][0]
    assert ev["detector"] == "TMP-03" and ev["evidence"]["inputs"] == {"station": "OUT-SJZ"}
    # the lifecycle: ack → verify → dispose (needs an outcome)
    assert c.post(f"{API}/alarms/{aid}/verify", json={"note": "跳步"}).status_code == 409
    assert c.post(f"{API}/alarms/{aid}/ack", json={"note": "已接手"}).status_code == 200
    assert c.post(f"{API}/alarms/{aid}/ack", json={"note": "again"}).status_code == 409
    assert c.post(f"{API}/alarms/{aid}/verify", json={"note": "现场核查"}).status_code == 200
    r = c.post(f"{API}/alarms/{aid}/dispose", json={"note": "结论"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "outcome"
    r = c.post(f"{API}/alarms/{aid}/dispose", json={"note": ""})
    assert r.status_code == 422 and r.json()["error"]["field"] == "note"
    r = c.post(f"{API}/alarms/{aid}/dispose", json={"note": "确认篡改", "outcome": "fraud"})
    assert r.status_code == 200
    done = r.json()["results"][0]
    assert done["status"] == "disposed" and done["outcome"] == "fraud"
    assert [(e["action"], e["user"]) for e in done["events"]] == [("ack", "u-city-130100"), ("verify", "u-city-130100"),
                                                                  ("dispose", "u-city-130100")]
    assert done["events"][0]["time"].endswith("+08:00")
    lst = c.get(f"{API}/alarms?status=disposed").json()
    assert [x["id"] for x in lst["results"]] == [aid]
    r = c.get(f"{API}/alarms?status=bogus")
    assert r.status_code == 422 and r.json()["error"]["field"] == "status"


def test_results_for_enterprises_and_water(client_as) -> None:  # type: ignore[no-untyped-def]
    c = client_as(Role.ENTERPRISE)
    ex = c.get(f"{API}/emissions/exceedances").json()
    assert [x["site"] for x in ex["results"]] == ["OUT-SJZ"]
    assert ex["results"][0]["exceedances"][0]["hour"] == utc_to_beijing_iso(T0 + 7 * 3600)
    em = c.get(f"{API}/emissions/hourly?start=2026-05-01T07:00&end=2026-05-01T08:00").json()
    assert em["meta"]["found"] == 1 and em["results"][0]["exceeding"] == "a21026"
    w = c.get(f"{API}/water/classes?site=WAT-TS").json()["results"][0]
    assert w["class"] == "III" and w["meets_target"] is True
    latest_aqi = c.get(f"{API}/aqi/stations?latest=true").json()
    assert {r["period"] for r in latest_aqi["results"]} == {utc_to_beijing_iso(T0 + (HOURS - 1) * 3600)}
    assert latest_aqi["meta"]["found"] == sum(1 for s in SITES if s.kind == "air")


def test_ledger_head_and_frame_proof(client_as, web_world) -> None:  # type: ignore[no-untyped-def]
    import hashlib

    from tianlan.ledger.checkpoints import load_or_create_key
    from tianlan.ledger.service import seal_and_checkpoint
    from tianlan.store.frames_repo import FramesRepo

    key = load_or_create_key(web_world.data_dir / "ledger.key")
    seal_and_checkpoint(web_world.engine, key)
    c = client_as(Role.AUDIT)
    head = c.get(f"{API}/ledger/head").json()["results"][0]
    assert 1 <= head["checkpoint"]["seq"] <= head["seq"]  # signing in as a new user appends entries after it
    frame = FramesRepo(web_world.engine).frame(1)
    proof = c.get(f"{API}/ledger/proofs/frames/1").json()["results"][0]
    assert proof["frame"]["sha256"] == hashlib.sha256(bytes(frame["data"])).hexdigest()
    assert proof["checkpoint"]["signature"] == head["checkpoint"]["signature"]
    assert c.get(f"{API}/ledger/proofs/frames/999999").status_code == 404
    assert client_as(Role.CITY).get(f"{API}/ledger/head").status_code == 403
