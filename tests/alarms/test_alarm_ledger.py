"""Alarm decisions are ledger entries, written in the same transaction as the decision: who, what,
from which state to which, why; a refused move leaves no entry; the chain stays verifiable.
On SQLite and PostgreSQL (the ``store`` fixture)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from tianlan.alarms.service import AlarmService
from tianlan.errors import Conflict
from tianlan.ledger.verify import verify
from tianlan.store import ledger_repo

T0 = 1546300800  # 2019-01-01T00:00:00Z, as the alarm fixtures' results


def _alarm_entries(engine: Engine) -> list[ledger_repo.EntryRow]:
    with engine.connect() as c:
        return [e for e in ledger_repo.iter_entries(c) if e.subject_table == "alarms"]


def test_decisions_are_ledger_entries(store: Engine, mk) -> None:
    svc = AlarmService(store, clock=lambda: float(T0 + 86400))
    rep = svc.raise_results([mk("XV-03", station="1301A", reason="mist_signature", score=0.95)])
    (aid,) = rep.raised
    assert _alarm_entries(store) == []  # raising is the system's, recorded in the alarm's history
    svc.ack(aid, user="zhang.wei", note="看过数据 / looked at the data")
    svc.verify(aid, user="li.na", note="现场核查 / site visit confirms the inlet was sprayed")
    with pytest.raises(Conflict):
        svc.close(aid, user="li.na", note="too early")  # refused: no entry, nothing changed
    svc.dispose(aid, user="li.na", note="移交执法 / handed to enforcement", outcome="fraud")
    svc.close(aid, user="wang.fang", note="案件已立 / case opened")
    got = _alarm_entries(store)
    assert [(e.kind, e.actor, e.subject_key) for e in got] == [
        ("alarm.ack", "zhang.wei", str(aid)), ("alarm.verify", "li.na", str(aid)),
        ("alarm.dispose", "li.na", str(aid)), ("alarm.close", "wang.fang", str(aid))]
    import json

    payloads = [json.loads(e.payload) for e in got]
    assert [(p["from"], p["to"]) for p in payloads] == [("raised", "acknowledged"), ("acknowledged", "verified"),
                                                       ("verified", "disposed"), ("disposed", "closed")]
    assert payloads[2]["outcome"] == "fraud" and payloads[2]["note"] == "移交执法 / handed to enforcement"
    assert payloads[0]["station"] == "1301A" and payloads[0]["detectors"] == ["XV-03"]
    # the history and the ledger tell the same story
    actions = [(e.action, e.user) for e in svc.repo.events(aid) if e.action != "raise"]
    assert actions == [(e.kind.removeprefix("alarm."), e.actor) for e in got]
    report = verify(store, public_key=None)
    assert not [p for p in report.problems if p.seq in {e.seq for e in got}], report.to_json()
    assert report.entries >= len(got)


def test_auto_resolve_is_a_system_ledger_entry(store: Engine, mk) -> None:
    svc = AlarmService(store, clock=lambda: float(T0 + 86400))
    (aid,) = svc.raise_results([mk("RNG-01", station="1302A", reason="range", score=0.2)]).raised
    assert svc.auto_resolve(T0 + 86400) == [aid]
    (e,) = _alarm_entries(store)
    assert (e.kind, e.actor, e.subject_key) == ("alarm.auto-resolve", "system", str(aid))
