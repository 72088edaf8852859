"""Appending: canonical bodies, hashes linking, covered-row digests, concurrent appenders (both stores)."""

from __future__ import annotations

import json
import threading
from hashlib import sha256

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from tianlan.ledger.canonical import GENESIS, dumps, entry_body, entry_hash
from tianlan.ledger.chain import acting_as, append_entry, current_actor
from tianlan.ledger.covered import digest_in
from tianlan.ledger.verify import verify
from tianlan.model.registry import Enterprise
from tianlan.store.registry_repo import RegistryRepo


def test_body_is_canonical_json() -> None:
    payload = {"b": 1.5, "a": ["x", None], "名": "值"}
    body = entry_body(7, 1700000000.25, "k.x", "李", "t", "key", dumps(payload), b"\x01" * 32)
    assert body == json.dumps({"seq": 7, "time_utc": 1700000000.25, "kind": "k.x", "actor": "李", "subject_table": "t",
                               "subject_key": "key", "payload": payload, "row_digest": "01" * 32},
                              sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert entry_hash(GENESIS, body) == sha256(GENESIS + sha256(body).digest()).digest()


def test_entries_link_and_record_row_digests(store) -> None:
    with store.begin() as c:
        before = int(c.execute(text("SELECT seq FROM ledger_head")).scalar_one())
        e1 = append_entry(c, kind="test.note", actor="li", payload={"n": 1})
        e2 = append_entry(c, kind="test.note", actor="li", payload={"n": 2, "text": "第二"})
    assert (e1.seq, e2.seq) == (before + 1, before + 2)
    assert e2.prev_hash == e1.hash and e2.hash == entry_hash(e1.hash, e2.body())
    # a covered row: the entry carries its digest; a rolled-back change leaves no entry
    RegistryRepo(store).upsert_enterprises([Enterprise(code="E9", name="化工厂", region="130100")])
    with store.connect() as c:
        last = c.execute(text("SELECT kind, subject_table, subject_key, row_digest FROM ledger_entries "
                              "ORDER BY seq DESC LIMIT 1")).one()
        assert (last[0], last[1], last[2]) == ("registry.enterprise", "enterprises", "E9")
        assert bytes(last[3]) == digest_in(c, "enterprises", "E9")
    try:
        with store.begin() as c:
            append_entry(c, kind="test.note", actor="li", payload={"n": 3})
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    with store.connect() as c:
        assert c.execute(text("SELECT COUNT(*) FROM ledger_entries WHERE kind = 'test.note'")).scalar_one() == 2
    assert verify(store, public_key=None).ok


def test_reimport_adds_no_entry_and_change_adds_one(store) -> None:
    reg = RegistryRepo(store)
    reg.upsert_enterprises([Enterprise(code="E9", name="化工厂", region="130100")])
    count = "SELECT COUNT(*) FROM ledger_entries WHERE subject_key = 'E9'"
    with store.connect() as c:
        assert c.execute(text(count)).scalar_one() == 1
    reg.upsert_enterprises([Enterprise(code="E9", name="化工厂", region="130100")])
    with acting_as("wang"):
        assert current_actor() == "wang"
        reg.upsert_enterprises([Enterprise(code="E9", name="化工一厂", region="130100")])
    with store.connect() as c:
        assert c.execute(text(count)).scalar_one() == 2
        assert c.execute(text("SELECT actor FROM ledger_entries WHERE subject_key = 'E9' ORDER BY seq DESC")).first()[0] \
            == "wang"
    assert current_actor() == "system"


def test_concurrent_appenders_keep_one_chain(store) -> None:
    """Four threads append at once; the head lock serialises them into one gap-free chain."""
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            for j in range(15):
                with store.begin() as c:
                    append_entry(c, kind="test.concurrent", actor=f"t{i}", payload={"j": j})
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with store.connect() as c:
        assert c.execute(text("SELECT COUNT(*) FROM ledger_entries WHERE kind = 'test.concurrent'")).scalar_one() == 60
    r = verify(store, public_key=None)
    assert r.ok, r.problems


@given(st.integers(1, 2**53), st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=20),
       st.text(max_size=20), st.text(max_size=20), st.dictionaries(st.text(max_size=5), st.one_of(
           st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False), st.text()),
           max_size=5), st.one_of(st.none(), st.binary(min_size=32, max_size=32)))
def test_spliced_body_equals_canonical_json(seq, t, kind, actor, key, payload, digest) -> None:
    spliced = entry_body(seq, t, kind, actor, "tbl", key, dumps(payload), digest)
    full = dumps({"seq": seq, "time_utc": t, "kind": kind, "actor": actor, "subject_table": "tbl", "subject_key": key,
                  "payload": payload, "row_digest": None if digest is None else digest.hex()}).encode("utf-8")
    assert spliced == full
