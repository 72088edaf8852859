"""Interference records on both stores: sealed visibility, named officials, logged reads, append-only,
and SQL edits or deletions caught by ``ledger verify``."""

from __future__ import annotations

import hashlib

import pytest
from records_world import World
from sqlalchemy import delete, select, update

from tianlan.errors import InputError
from tianlan.ledger.interference import Official
from tianlan.ledger.verify import verify
from tianlan.store.interference_repo import InterferenceRepo
from tianlan.store.schema_ledger import ledger_entries
from tianlan.store.schema_records import interference_addenda, interference_attachments, interference_records

T0 = 1_546_300_800
MINE = {"interference_records", "interference_addenda", "interference_attachments"}


def _file(world: World, repo: InterferenceRepo) -> int:
    return repo.file(world.u("city_sjz"), occurred_utc=T0, method="verbal",
                     officials=[Official("王局长", "局长", "某区生态环境分局", "official"), Official("李某", "科长")],
                     request="要求把1月1日的PM2.5小时值改低 / asked to lower the PM2.5 hours of Jan 1",
                     station="A-SJZ", attachments=[("note.txt", "电话记录".encode())])


def _problems(world: World) -> list:
    return [p for p in verify(world.engine, public_key=None).problems if p.table in MINE]


def test_visibility_named_officials_and_read_log(world: World) -> None:
    repo = InterferenceRepo(world.engine)
    rid = _file(world, repo)
    # filer and sealed readers read it
    for who in ("city_sjz", "auditor", "discipline"):
        rec = repo.show(world.u(who), rid)
        assert rec.request.startswith("要求") and rec.attachments[0]["ok"]
        assert rec.attachments[0]["sha256"] == hashlib.sha256("电话记录".encode()).hexdigest()
    # nobody else: not the admin, not the province, not another city, not the named official (a reader role)
    for who in ("admin", "prov", "city_sjz2", "city_ts", "sig_sjz", "ent1", "official"):
        with pytest.raises(InputError) as e:
            repo.show(world.u(who), rid)
        assert e.value.field == "record" and "visible" in e.value.reason
        with pytest.raises(InputError):
            repo.attachment(world.u(who), rid, 1)
        assert [r.id for r in repo.list(world.u(who))] == []
    # a probe of a missing record reads exactly like a refusal
    with pytest.raises(InputError) as e:
        repo.show(world.u("official"), rid + 100)
    assert "visible" in e.value.reason
    assert [r.id for r in repo.list(world.u("auditor"))] == [rid]
    name, data, digest = repo.attachment(world.u("discipline"), rid, repo.show(world.u("discipline"), rid).attachments[0]["id"])
    assert (name, data.decode()) == ("note.txt", "电话记录")
    # every read and every refusal is a ledger entry, shown to the reader as the access log
    log = repo.show(world.u("auditor"), rid).reads
    readers = [(r["actor"], r["kind"]) for r in log]
    assert ("city_sjz", "interference.read") in readers and ("discipline", "interference.read") in readers
    for who in ("admin", "official", "prov"):
        assert (who, "interference.denied") in readers
    assert ("auditor", "interference.list") in readers
    with world.engine.connect() as c:
        payloads = [p for (p,) in c.execute(select(ledger_entries.c.payload).where(
            ledger_entries.c.kind.like("interference.%")))]
    assert payloads and not any("王局长" in p or "PM2.5" in p for p in payloads)  # the ledger does not leak content
    # sealed readers read, they do not file (monitoring staff only)
    with pytest.raises(InputError) as e:
        repo.file(world.u("auditor"), occurred_utc=T0, method="hint", officials=[Official("x")], request="y")
    assert e.value.field == "user"


def test_append_only_and_sql_tampering_detected(world: World) -> None:
    repo = InterferenceRepo(world.engine)
    rid = _file(world, repo)
    aid = repo.append(world.u("city_sjz"), rid, "又打来电话 / called again", [("call2.txt", b"second call")])
    rec = repo.show(world.u("discipline"), rid)
    assert [a["text"] for a in rec.addenda] == ["又打来电话 / called again"] and len(rec.attachments) == 2
    with pytest.raises(InputError):
        repo.append(world.u("admin"), rid, "x")
    # the API has no way to edit or delete
    assert not any(hasattr(repo, n) for n in ("update", "edit", "delete", "remove"))
    assert _problems(world) == []
    # an edit by SQL is found, naming the table and row
    with world.engine.begin() as c:
        c.execute(update(interference_records).where(interference_records.c.id == rid).values(request="无事 / nothing"))
    probs = _problems(world)
    assert [(p.kind, p.table, p.row) for p in probs] == [("row-changed", "interference_records", str(rid))]
    # a deleted addendum (and its attachment) likewise
    with world.engine.begin() as c:
        c.execute(delete(interference_attachments).where(interference_attachments.c.addendum_id == aid))
        c.execute(delete(interference_addenda).where(interference_addenda.c.id == aid))
    kinds = sorted((p.kind, p.table) for p in _problems(world))
    assert kinds == [("row-changed", "interference_records"), ("row-deleted", "interference_addenda"),
                     ("row-deleted", "interference_attachments")]
    # a swapped attachment body is found both by the ledger and by its SHA-256 on read
    with world.engine.begin() as c:
        c.execute(update(interference_attachments).values(data=b"forged"))
    assert ("row-changed", "interference_attachments") in {(p.kind, p.table) for p in _problems(world)}
    att = repo.show(world.u("auditor"), rid).attachments[0]
    assert att["ok"] is False
    with pytest.raises(InputError) as e:
        repo.attachment(world.u("auditor"), rid, att["id"])
    assert e.value.field == "--attachment"
