"""Alarms on the store (SQLite and PostgreSQL): raise, dedupe and extend, lifecycle with history,
auto-resolve, silences and maintenance windows, notifications, precision statistics."""

from __future__ import annotations

import pytest

from tianlan.alarms import lifecycle as lc
from tianlan.alarms.lifecycle import Alarm
from tianlan.alarms.service import AlarmService, precision_table
from tianlan.errors import Conflict, InputError, NotFound
from tianlan.qc.core import Status
from tianlan.store.alarms_repo import AlarmsRepo

T0, H = 1546300800, 3600


class Clock:
    def __init__(self) -> None:
        self.t = T0 + 100 * H

    def __call__(self) -> float:
        self.t += 1.0
        return self.t


@pytest.fixture
def svc(store, recorder) -> AlarmService:
    return AlarmService(store, notifiers=[recorder], clock=Clock())


def _one(svc: AlarmService) -> Alarm:
    (a,) = svc.repo.list_alarms()
    return a


def test_raise_stores_alarm_evidence_and_history(svc, mk, recorder) -> None:
    rep = svc.raise_results([mk("XV-03", hours=3, score=0.9), mk("RNG-01", parameter="a21026", reason="range")])
    assert len(rep.raised) == 2
    a = svc.repo.list_alarms(min_level=2)[0]
    assert (a.station, a.parameter, a.detector, a.level, a.status, a.silenced) == ("1001A", "a34004", "XV-03", 3, "raised", False)
    assert (a.start_utc, a.end_utc) == (T0, T0 + 3 * H)
    assert a.evidence["results"][0]["detector"] == "XV-03" and a.evidence["level"]["level"] == 3
    (ev, note) = svc.repo.events(a.id)
    assert (ev.action, ev.user, ev.from_status, ev.to_status) == ("raise", "system", None, "raised")
    assert note.action == "notify" and "recorded raised" in note.note
    # level 1 is listed but not notified
    assert recorder.sent == [(a.id, "raised", 3, False)]
    assert [x.parameter for x in svc.repo.list_alarms(station="1001A", parameter="a21026")] == ["a21026"]
    assert svc.repo.list_alarms(status=["closed"]) == []
    with pytest.raises(NotFound):
        svc.repo.get(999)


def test_rescanning_the_same_results_changes_nothing(svc, mk, recorder) -> None:
    rs = [mk(hours=3), mk("SPA-01", start_h=1, hours=2, status=Status.SUSPECT, score=0.4),
          mk("RNG-01", start_h=2, hours=1, reason="range")]
    svc.raise_results(rs)
    rep = svc.raise_results(rs)
    # one alarm of evidence (XV-03 with SPA-01) and one of data quality (RNG-01): the kinds never mix
    assert rep.raised == [] and rep.extended == [] and rep.unchanged == 2
    assert sorted(a.detectors for a in svc.repo.list_alarms()) == [["RNG-01"], ["SPA-01", "XV-03"]]
    assert len(recorder.sent) == 1


def test_a_long_notice_neither_absorbs_nor_hides_a_finding(svc, mk, recorder) -> None:
    """A month-long data-quality alarm (a month short of data) and a 2 h fraud finding inside it are
    two alarms; with the first closed, a later finding inside its period is still raised and notified."""
    month = mk("CMP-01", hours=720, status=Status.MISSING, reason="month incomplete", score=0.0)
    svc.raise_results([month, mk("XV-03", start_h=100, hours=2, score=0.9)])
    notice, alarm = sorted(svc.repo.list_alarms(), key=lambda a: a.level)
    assert (notice.detector, notice.level, notice.end_utc - notice.start_utc) == ("CMP-01", 1, 720 * H)
    assert (alarm.detector, alarm.level, alarm.start_utc, alarm.end_utc) == ("XV-03", 3, T0 + 100 * H, T0 + 102 * H)
    assert [s[:2] for s in recorder.sent] == [(alarm.id, "raised")]
    for action in ("ack", "verify"):
        getattr(svc, action)(notice.id, user="ops", note="known outage")
    svc.dispose(notice.id, user="ops", note="known outage", outcome="fault")
    svc.close(notice.id, user="ops", note="known outage")
    rep = svc.raise_results([mk("XV-03", start_h=400, hours=3, score=0.9)])
    assert len(rep.raised) == 1 and rep.raised[0] not in (notice.id, alarm.id)
    assert svc.repo.get(rep.raised[0]).start_utc == T0 + 400 * H
    assert [s[:2] for s in recorder.sent][-1] == (rep.raised[0], "raised")


def test_a_month_long_forensic_alarm_and_an_event_inside_it_are_two_alarms(svc, mk) -> None:
    svc.raise_results([mk("FOR-01", hours=720, reason="bunching_below_limit", score=0.9),
                       mk("TMP-03", start_h=200, hours=12, reason="flat", score=0.5)])
    assert sorted((a.detector, a.end_utc - a.start_utc) for a in svc.repo.list_alarms()) == [
        ("FOR-01", 720 * H), ("TMP-03", 12 * H)]
    assert svc.policy.alarm_kind("FOR-05") == "forensic" and svc.policy.alarm_kind("SPA-01") == "event"
    assert svc.policy.alarm_kind("TMP-03") == "event" and svc.policy.alarm_kind("CMP-01") == "quality"


def test_rescanning_a_long_alarm_changes_nothing(svc, mk) -> None:
    rs = [mk("TMP-03", start_h=i, reason="flat", score=0.2) for i in range(600)]  # more than the bundle keeps in full
    svc.raise_results(rs)
    a = _one(svc)
    assert len(a.evidence["results"]) == 500 and a.evidence["results_total"] == 600
    assert svc.raise_results(rs).unchanged == 1
    assert svc.raise_results(rs + [mk("TMP-03", start_h=600, reason="flat")]).extended == [a.id]
    assert _one(svc).evidence["results_total"] == 601


def test_an_episode_extending_an_open_alarm_updates_it(svc, mk, recorder) -> None:
    svc.raise_results([mk("XV-03", hours=3, score=0.5)])  # level 2
    a = _one(svc)
    svc.ack(a.id, user="li", note="looking")
    rep = svc.raise_results([mk("XV-03", start_h=5, hours=2, score=0.95, reason="mist_strong")])  # gap 2 h < 6 h; level 3
    assert rep.raised == [] and rep.extended == [a.id]
    b = _one(svc)
    assert (b.start_utc, b.end_utc, b.level, b.status, b.reason) == (T0, T0 + 7 * H, 3, "acknowledged", "mist_strong")
    assert b.evidence["results_total"] == 2
    ext = [e for e in svc.repo.events(a.id) if e.action == "extend"]
    assert len(ext) == 1 and "level 2→3" in ext[0].note and ext[0].to_status == "acknowledged"
    assert [s[1] for s in recorder.sent] == ["raised", "escalated"]
    # beyond the gap: a new alarm
    rep = svc.raise_results([mk("XV-03", start_h=20, hours=1)])
    assert len(rep.raised) == 1 and len(svc.repo.list_alarms()) == 2


def test_lifecycle_with_who_when_why(svc, mk) -> None:
    svc.raise_results([mk()])
    a = _one(svc)
    svc.ack(a.id, user="li", note="taking it")
    svc.verify(a.id, user="wang", note="site visit: nozzle found at the inlet")
    svc.dispose(a.id, user="zhao", note="case filed", outcome="fraud")
    done = svc.close(a.id, user="zhao", note="penalty issued")
    assert (done.status, done.outcome) == ("closed", "fraud")
    hist = [(e.user, e.action, e.from_status, e.to_status) for e in svc.repo.events(a.id) if e.user != "system"]
    assert hist == [("li", "ack", "raised", "acknowledged"), ("wang", "verify", "acknowledged", "verified"),
                    ("zhao", "dispose", "verified", "disposed"), ("zhao", "close", "disposed", "closed")]
    events = svc.repo.events(a.id)
    assert all(e.time_utc > 0 for e in events) and events == sorted(events, key=lambda e: e.time_utc)
    assert "[fraud 弄虚作假] case filed" in [e.note for e in events if e.action == "dispose"]


@pytest.mark.parametrize("reached", ["raised", "acknowledged", "verified", "disposed", "closed"])
def test_invalid_transitions_are_refused_at_every_state(svc, mk, reached) -> None:
    svc.raise_results([mk()])
    a = _one(svc)
    path = [("ack", None), ("verify", None), ("dispose", "false-alarm"), ("close", None)]
    for action, outcome in path[:lc.STATES.index(reached)]:
        svc.transition(a.id, action, user="u", note="n", outcome=outcome)
    n_events = len(svc.repo.events(a.id))
    for action, outcome in path:
        if lc.TRANSITIONS[action][0] == reached:
            continue
        with pytest.raises(Conflict, match=f"alarm is {reached}"):
            svc.transition(a.id, action, user="u", note="n", outcome=outcome)
    assert svc.repo.get(a.id).status == reached and len(svc.repo.events(a.id)) == n_events
    with pytest.raises(NotFound):
        svc.ack(12345, user="u", note="n")


def test_compare_and_set_refuses_a_stale_status(store, mk) -> None:
    svc = AlarmService(store)
    svc.raise_results([mk()])
    a = _one(svc)
    svc.ack(a.id, user="u", note="n")
    with pytest.raises(Conflict, match="changed state"), AlarmsRepo(store).tx() as tx:
        tx.update(a.id, expect_status="raised", status="acknowledged")


def test_closed_alarms_are_not_reopened_by_the_same_data(svc, mk) -> None:
    svc.raise_results([mk(hours=3)])
    a = _one(svc)
    for action, outcome in [("ack", None), ("verify", None), ("dispose", "false-alarm"), ("close", None)]:
        svc.transition(a.id, action, user="u", note="n", outcome=outcome)
    assert svc.raise_results([mk(hours=3)]).unchanged == 1
    rep = svc.raise_results([mk(hours=3), mk(start_h=3, hours=3)])  # continues past the judged period
    (new,) = rep.raised
    b = svc.repo.get(new)
    assert (b.start_utc, b.end_utc, b.status) == (T0 + 3 * H, T0 + 6 * H, "raised")


def test_auto_resolve(svc, mk) -> None:
    svc.raise_results([mk("XV-03", hours=2, score=0.5),  # level 2: auto-resolves
                       mk("FOR-06", station="1002A", hours=2, reason="copied"),  # level 3: waits for a person
                       mk("XV-01", parameter="a21026", hours=2, score=0.5, reason="x"),  # level 2, acknowledged
                       mk("XV-02", parameter="a21004", start_h=10, hours=2, score=0.5, reason="y")])  # not quiet yet
    by = {a.parameter: a for a in svc.repo.list_alarms(station="1001A")}
    assert [a.level for a in svc.repo.list_alarms(station="1001A")] == [2, 2, 2]  # one family only: no corroboration
    svc.ack(by["a21026"].id, user="u", note="n")
    assert svc.auto_resolve(as_of_utc=T0 + 14 * H) == [by["a34004"].id]
    closed = svc.repo.get(by["a34004"].id)
    assert closed.status == "closed" and closed.outcome is None
    last = svc.repo.events(closed.id)[-1]
    assert (last.action, last.user, last.from_status, last.to_status) == ("auto-resolve", "system", "raised", "closed")
    assert svc.auto_resolve(as_of_utc=T0 + 18 * H) == [by["a21004"].id]
    assert {a.status for a in svc.repo.list_alarms(min_level=3)} == {"raised"}


def test_silence_marks_but_never_drops(svc, mk, recorder) -> None:
    sil, marked = svc.silence(station="1001A", start_utc=T0, until_utc=T0 + 24 * H, user="li", reason="inlet repair")
    assert marked == [] and sil.id > 0
    rep = svc.raise_results([mk(hours=3), mk(station="1002A", hours=3)])
    assert len(rep.raised) == 2 and len(rep.silenced) == 1
    a = svc.repo.list_alarms(station="1001A")[0]
    assert a.silenced and a.status == "raised"
    assert any(e.action == "silence" and f"#{sil.id}" in e.note and "inlet repair" in e.note for e in svc.repo.events(a.id))
    assert [s[0] for s in recorder.sent] == [svc.repo.list_alarms(station="1002A")[0].id]  # only the unsilenced one
    # the alarm outlives its silence: notifications resume
    rep = svc.raise_results([mk(hours=3), mk(start_h=6, hours=20)])
    assert rep.extended == [a.id]
    b = svc.repo.get(a.id)
    assert not b.silenced and b.end_utc == T0 + 26 * H
    assert recorder.sent[-1][:2] == (a.id, "unsilenced")
    assert [e.action for e in svc.repo.events(a.id)][-3:] == ["extend", "unsilence", "notify"]


def test_silence_scope_and_maintenance_window(svc, mk, recorder) -> None:
    svc.silence(station="1001A", parameter="a34002", until_utc=T0 + 24 * H, start_utc=T0, user="li", reason="pm10 swap")
    svc.silence(station="1001A", detector="FOR-06", until_utc=T0 + 24 * H, start_utc=T0, user="li", reason="known copy")
    svc.silence(station="1003A", until_utc=T0 + 5 * H, start_utc=T0 + 2 * H, user="op", reason="calibration",
                kind="maintenance")
    svc.raise_results([mk(parameter="a34002"), mk(parameter="a34004"), mk("FOR-06", parameter="a21026", reason="c"),
                       mk(station="1003A", start_h=4), mk(station="1003A", parameter="a21026", start_h=12)])
    silenced = {(a.station, a.parameter): a.silenced for a in svc.repo.list_alarms()}
    assert silenced == {("1001A", "a34002"): True, ("1001A", "a34004"): False, ("1001A", "a21026"): True,
                        ("1003A", "a34004"): True, ("1003A", "a21026"): False}
    assert len(recorder.sent) == 2
    assert {s.kind for s in svc.repo.silences(station="1003A")} == {"maintenance"}
    assert len(svc.repo.silences(active_at_utc=T0 + 10 * H)) == 2


def test_a_new_silence_marks_open_alarms(svc, mk) -> None:
    svc.raise_results([mk(hours=3), mk(parameter="a34002", hours=3)])
    sil, marked = svc.silence(station="1001A", parameter="a34004", start_utc=T0 + 1 * H, until_utc=T0 + 48 * H,
                              user="li", reason="investigating")
    a = svc.repo.list_alarms(parameter="a34004")[0]
    assert marked == [a.id] and a.silenced
    assert svc.repo.events(a.id)[-1].user == "li"
    assert not svc.repo.list_alarms(parameter="a34002")[0].silenced


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"station": "", "user": "u", "reason": "r"}, "station"),
    ({"station": "S", "user": "", "reason": "r"}, "user"),
    ({"station": "S", "user": "u", "reason": ""}, "reason"),
    ({"station": "S", "user": "u", "reason": "r", "kind": "holiday"}, "kind"),
    ({"station": "S", "user": "u", "reason": "r", "start_utc": T0 + 10}, "until"),
])
def test_silence_input_errors(svc, kwargs, field) -> None:
    with pytest.raises(InputError) as e:
        svc.silence(until_utc=T0, **kwargs)
    assert e.value.field == field


def test_a_failed_delivery_keeps_the_alarm(svc, mk, recorder) -> None:
    recorder.fail = True
    rep = svc.raise_results([mk()])
    assert rep.raised and rep.failed and rep.failed[0][1] == "recorder"
    a = _one(svc)
    assert [e for e in svc.repo.events(a.id) if e.action == "notify"][0].note.startswith("raised: recorder 失败 failed")


def test_precision_by_detector(svc, mk) -> None:
    outcomes = {"a34004": "fraud", "a34002": "false-alarm", "a21026": "fault", "a21004": "fraud"}
    svc.raise_results([mk("XV-03", parameter="a34004"), mk("SPA-01", parameter="a34004", reason="n"),
                       mk("XV-03", parameter="a34002"), mk("XV-03", parameter="a21026"),
                       mk("SPA-01", parameter="a21004", reason="n"), mk("FOR-06", parameter="a05024", reason="c")])
    for a in svc.repo.list_alarms():
        if a.parameter in outcomes:
            for action, outcome in [("ack", None), ("verify", None), ("dispose", outcomes[a.parameter])]:
                svc.transition(a.id, action, user="u", note="n", outcome=outcome)
    table = {p.detector: p for p in svc.precision_by_detector()}
    assert set(table) == {"SPA-01", "XV-03"}  # FOR-06 was never disposed
    xv = table["XV-03"]
    assert (xv.alarms, xv.fraud, xv.fault, xv.false_alarm) == (3, 1, 1, 1)
    assert xv.precision == pytest.approx(2 / 3) and xv.fraud_precision == pytest.approx(1 / 3)
    assert table["SPA-01"].precision == 1.0


def test_precision_table_is_pure() -> None:
    rows = precision_table([(["A", "B"], "fraud"), (["A"], "false-alarm"), (["A", "A"], "fault"), (["C"], "pending")])
    assert [(r.detector, r.alarms, r.precision) for r in rows] == [("A", 3, pytest.approx(2 / 3)), ("B", 1, 1.0)]
