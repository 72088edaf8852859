"""``tianlan alarms …`` through Typer's CliRunner, on SQLite and PostgreSQL (``--database-url``)."""

from __future__ import annotations

import json

import pytest
import typer
from typer.testing import CliRunner

from tianlan.alarms.service import AlarmService
from tianlan.alarms_cli import app
from tianlan.qc.core import Status
from tianlan.store.engine import open_store

root = typer.Typer()
root.add_typer(app, name="alarms")
T0, H = 1546300800, 3600


@pytest.fixture
def cli(store_url: str, mk, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """(run, ids): a store with three alarms — 1001A PM2.5 level 4, 1001A SO2 level 1, 1002A PM2.5 level 2."""
    monkeypatch.delenv("TIANLAN_DATABASE_URL", raising=False)
    monkeypatch.setenv("COLUMNS", "200")  # rich tables and messages without wrapping
    engine = open_store(store_url, sqlite_synchronous="NORMAL")
    svc = AlarmService(engine)
    svc.raise_results([mk("XV-03", hours=3, score=0.95), mk("SPA-01", hours=3, status=Status.SUSPECT, score=0.4,
                                                            reason="neighbour_z"),
                       mk("RNG-01", parameter="a21026", reason="range"),
                       mk("TMP-03", station="1002A", hours=12, reason="flat", score=0.3)])
    ids = {(a.station, a.parameter): a.id for a in svc.repo.list_alarms()}
    engine.dispose()
    runner = CliRunner()

    def run(*args: str):  # type: ignore[no-untyped-def]
        result = runner.invoke(root, ["alarms", *args, "--database-url", store_url])
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    return run, ids


def _json(result) -> object:  # type: ignore[no-untyped-def]
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_list_and_filters(cli) -> None:
    run, ids = cli
    rows = _json(run("list", "--json"))
    assert len(rows) == 3
    top = _json(run("list", "--level", "2", "--json"))
    assert sorted((r["station"], r["level"]) for r in top) == [("1001A", 4), ("1002A", 2)]
    assert [r["id"] for r in _json(run("list", "--station", "1002A", "--json"))] == [ids[("1002A", "a34004")]]
    assert _json(run("list", "--status", "closed", "--json")) == []
    assert len(_json(run("list", "--status", "open", "--json"))) == 3
    table = run("list")
    assert table.exit_code == 0 and "1001A" in table.stdout and "3 alarms" in table.stdout
    bad = run("list", "--status", "done")
    assert bad.exit_code == 2 and "--status" in bad.output


def test_show_has_evidence_and_history(cli) -> None:
    run, ids = cli
    aid = ids[("1001A", "a34004")]
    d = _json(run("show", str(aid), "--json"))
    assert d["level"] == 4 and d["detectors"] == ["SPA-01", "XV-03"] and d["start"] == "2019-01-01T08:00:00+08:00"
    assert d["evidence"]["level"]["corroborated_by"] == ["SPA-01", "XV-03"]
    assert d["evidence"]["results"][0]["config_hash"] == "cfg0123456789abc"
    assert [h["action"] for h in d["history"]] == ["raise"]
    text = run("show", str(aid))
    assert text.exit_code == 0 and "证据包 / evidence bundle" in text.stdout and "history" in text.stdout
    missing = run("show", "999")
    assert missing.exit_code == 2 and "not found" in missing.output


def test_lifecycle_commands(cli) -> None:
    run, ids = cli
    aid = str(ids[("1001A", "a34004")])
    r = run("ack", aid, "--user", "li", "--note", "on it")
    assert r.exit_code == 0 and "acknowledged" in r.stdout
    refused = run("dispose", aid, "--user", "li", "--note", "x", "--outcome", "fraud")
    assert refused.exit_code == 2 and "alarm is acknowledged; dispose needs verified" in refused.output
    assert "已确认" in refused.output
    assert run("verify", aid, "--user", "wang", "--note", "site visit").exit_code == 0
    no_outcome = run("dispose", aid, "--user", "li", "--note", "x")
    assert no_outcome.exit_code == 2
    bad_outcome = run("dispose", aid, "--user", "li", "--note", "x", "--outcome", "guilty")
    assert bad_outcome.exit_code == 2 and "outcome" in bad_outcome.output
    assert run("dispose", aid, "--user", "zhao", "--note", "case filed", "--outcome", "fraud").exit_code == 0
    assert run("close", aid, "--user", "zhao", "--note", "done").exit_code == 0
    again = run("close", aid, "--user", "zhao", "--note", "done")
    assert again.exit_code == 2 and "alarm is closed" in again.output
    no_note = run("ack", str(ids[("1002A", "a34004")]), "--user", "li", "--note", " ")
    assert no_note.exit_code == 2 and "note" in no_note.output
    hist = _json(run("show", aid, "--json"))["history"]
    assert [(h["user"], h["action"]) for h in hist] == [("system", "raise"), ("li", "ack"), ("wang", "verify"),
                                                        ("zhao", "dispose"), ("zhao", "close")]
    prec = _json(run("precision", "--json"))
    assert [p["detector"] for p in prec] == ["SPA-01", "XV-03"]
    assert prec[1] == {"detector": "XV-03", "alarms": 1, "fraud": 1, "fault": 0, "false_alarm": 0, "precision": 1.0,
                       "fraud_precision": 1.0}
    assert "XV-03" in run("precision").stdout


def test_silence_commands(cli) -> None:
    run, ids = cli
    r = run("silence", "--station", "1002A", "--from", "2019-01-01T08:00", "--until", "2019-01-03", "--user", "op",
            "--reason", "analyser swap", "--maintenance")
    assert r.exit_code == 0 and "1 open alarms marked silenced" in r.stdout
    (s,) = _json(run("silences", "--json"))
    assert (s["kind"], s["station"], s["from"], s["until"], s["user"]) == (
        "maintenance", "1002A", "2019-01-01T08:00:00+08:00", "2019-01-03T00:00:00+08:00", "op")
    assert [a["silenced"] for a in _json(run("list", "--station", "1002A", "--json"))] == [True]
    bad = run("silence", "--station", "1002A", "--from", "2019-01-03", "--until", "2019-01-02", "--user", "op",
              "--reason", "x")
    assert bad.exit_code == 2 and "until" in bad.output
    bad_time = run("silence", "--station", "1002A", "--until", "tomorrow", "--user", "op", "--reason", "x")
    assert bad_time.exit_code == 2 and "--until" in bad_time.output


def test_resolve_command(cli) -> None:
    run, ids = cli
    r = run("resolve", "--as-of", "2019-01-02T12:00")
    assert r.exit_code == 0
    closed = {a["id"] for a in _json(run("list", "--status", "closed", "--json"))}
    assert closed == {ids[("1001A", "a21026")], ids[("1002A", "a34004")]}  # levels 1 and 2; level 4 waits
