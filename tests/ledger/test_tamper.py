"""Direct SQL tampering is detected by `ledger verify`, every kind, with the row named (issue 5 §2).

Each test builds the same small history on SQLite and PostgreSQL — users, a device registry,
frames written through the real writer and sealed in its transaction, observations sealed, a
signed checkpoint — checks that it verifies, edits the store with plain SQL as an intruder with
database access would, and checks the report names what was touched.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import write_batches
from sqlalchemy import Engine, text

from tianlan.auth.keys import public_bytes
from tianlan.auth.roles import Role
from tianlan.auth.users import UsersRepo
from tianlan.ledger import checkpoints
from tianlan.ledger import verify as verify_mod
from tianlan.ledger.canonical import entry_body, entry_hash
from tianlan.ledger.frames import seal_pending
from tianlan.ledger.verify import Report
from tianlan.model.registry import Device, Site
from tianlan.store.registry_repo import RegistryRepo


@pytest.fixture
def world(store: Engine, tmp_path: Path):
    """A store with history and a signed checkpoint; returns (engine, trusted public key, platform key)."""
    RegistryRepo(store).upsert_sites([Site(code="S1", name="一号站", kind="air", region="130100")])
    RegistryRepo(store).upsert_devices([Device(mn=f"MN{i:04d}", password="123456", kind="air", site="S1")
                                        for i in range(3)])
    users = UsersRepo(store)
    users.add("admin", "password1", Role.ADMIN, "130000", actor="system")
    users.add("li", "password1", Role.CITY, "130100", actor="admin")
    write_batches(store, [4, 6, 5])  # frames 1..15 in three sealed batches
    seal_pending(store)
    key = checkpoints.load_or_create_key(tmp_path / "keys" / "platform.pem")
    assert checkpoints.checkpoint(store, key) is not None
    pub = public_bytes(key)
    r = verify(store, public_key=pub)
    assert r.ok, r.problems
    assert r.frames == 15 and r.observation_rows == 30 and r.unsigned_tail == 0
    return store, pub, key


def sql(engine: Engine, stmt: str, **params: object) -> None:
    with engine.begin() as c:
        c.execute(text(stmt), params)


def verify(store: Engine, **kw) -> Report:
    """`ledger verify` in one process and, for every tampering below, again with worker processes
    (forced even on this small store): both must find the same problems, naming the same rows."""
    one = verify_mod.verify(store, **kw)
    if kw.get("jobs", 1) == 1:
        with pytest.MonkeyPatch.context() as m:
            m.setattr(verify_mod, "PARALLEL_MIN", 0)
            m.setattr(verify_mod, "PARALLEL_MIN_WINDOWS", 0)
            two = verify_mod.verify(store, **{**kw, "jobs": 2})
        assert kinds(two) == kinds(one)
        assert (two.entries, two.frames, two.observation_rows, two.rows, two.unsigned_tail) == \
            (one.entries, one.frames, one.observation_rows, one.rows, one.unsigned_tail)
    return one


def kinds(r: Report) -> set[tuple[str, str | None, str | None]]:
    return {(p.kind, p.table, p.row) for p in r.problems}


def test_frame_bytes_changed(world) -> None:
    store, pub, _ = world
    sql(store, "UPDATE raw_frames SET data = :d WHERE id = 7", d=b"##0010forged-bytes\r\n")
    r = verify(store, public_key=pub)
    assert not r.ok and ("frame-changed", "raw_frames", "7") in kinds(r)


def test_frame_bytes_and_sha256_column_changed(world) -> None:
    from hashlib import sha256

    store, pub, _ = world
    forged = b"##0010forged-bytes\r\n"
    sql(store, "UPDATE raw_frames SET data = :d, sha256 = :s WHERE id = 3", d=forged, s=sha256(forged).digest())
    r = verify(store, public_key=pub)
    assert ("frame-changed", "raw_frames", "3") in kinds(r)


def test_seal_leaves_forged_to_match(world) -> None:
    """The intruder changes a frame and the stored leaf: the leaves no longer give the signed root."""
    from hashlib import sha256

    store, pub, _ = world
    forged = b"##0010forged-bytes\r\n"
    sql(store, "UPDATE raw_frames SET data = :d, sha256 = :s WHERE id = 2", d=forged, s=sha256(forged).digest())
    with store.begin() as c:
        seq, leaves = c.execute(text("SELECT seq, leaves FROM ledger_seals WHERE kind = 'frames' AND first_id = 1")).one()
        leaves = bytes(leaves)
        c.execute(text("UPDATE ledger_seals SET leaves = :l WHERE seq = :s"),
                  {"l": leaves[:32] + sha256(forged).digest() + leaves[64:], "s": seq})
    r = verify(store, public_key=pub)
    assert ("seal", "ledger_seals", str(seq)) in kinds(r)


def test_frame_deleted(world) -> None:
    store, pub, _ = world
    sql(store, "DELETE FROM raw_frames WHERE id = 9")
    r = verify(store, public_key=pub)
    assert ("frame-missing", "raw_frames", "9") in kinds(r)


def test_last_frame_deleted(world) -> None:
    store, pub, _ = world
    sql(store, "DELETE FROM raw_frames WHERE id = 15")
    r = verify(store, public_key=pub)
    assert ("frame-missing", "raw_frames", "15") in kinds(r)


def test_frames_reordered(world) -> None:
    store, pub, _ = world
    sql(store, "UPDATE raw_frames SET id = -1 WHERE id = 4")
    sql(store, "UPDATE raw_frames SET id = 4 WHERE id = 11")
    sql(store, "UPDATE raw_frames SET id = 11 WHERE id = -1")
    r = verify(store, public_key=pub)
    assert {("frame-changed", "raw_frames", "4"), ("frame-changed", "raw_frames", "11")} <= kinds(r)


def test_frame_inserted(world) -> None:
    store, pub, _ = world
    with store.begin() as c:
        row = c.execute(text("SELECT * FROM raw_frames WHERE id = 1")).mappings().one()
        c.execute(text("INSERT INTO raw_frames (id, received_utc, peer, channel, data, sha256, status, n_obs) "
                       "VALUES (16, :r, :p, 'tcp', :d, :s, 'accepted', 0)"),
                  {"r": row["received_utc"], "p": row["peer"], "d": row["data"], "s": row["sha256"]})
    r = verify(store, public_key=pub)
    assert ("frame-unsealed", "raw_frames", "16") in kinds(r)


def test_observation_value_changed(world) -> None:
    store, pub, _ = world
    sql(store, "UPDATE observations SET value = value + 10 WHERE frame_id = 5 AND parameter = 'a21026'")
    r = verify(store, public_key=pub)
    # frame 5 (index 4 in helpers.records): device 4 % 3 + 1 = 2, hour 1546272000 + 4 h (2018-12-31T20:00Z)
    assert ("obs-changed", "observations", "device_id=2,hour=2018-12-31T20:00:00Z") in kinds(r)
    p = next(p for p in r.problems if p.kind == "obs-changed")
    assert "a21026/rtd@20:00" in p.message and "changed" in p.message


def test_observation_deleted(world) -> None:
    store, pub, _ = world
    sql(store, "DELETE FROM observations WHERE frame_id = 12 AND parameter = 'a34004'")
    r = verify(store, public_key=pub)
    p = next(p for p in r.problems if p.kind == "obs-changed")
    assert (p.table, p.row) == ("observations", "device_id=3,hour=2019-01-01T03:00:00Z") and "deleted" in p.message


def test_observation_inserted(world) -> None:
    sql(world[0], "INSERT INTO observations (time_utc, device_id, parameter, kind, value, frame_id) "
                  "VALUES (1546272000, 1, 'a21005', 'rtd', 1.5, 1)")
    r = verify(world[0], public_key=world[1])
    assert ("obs-changed", "observations", "device_id=1,hour=2018-12-31T16:00:00Z") in kinds(r)


def test_observation_rows_reordered(world) -> None:
    """The device ids of two frames' rows swapped (hour 0 device 1 ⇄ hour 1 device 2): every hour named."""
    store, pub, _ = world
    with store.begin() as c:
        c.execute(text("UPDATE observations SET device_id = 2 WHERE frame_id = 1"))
        c.execute(text("UPDATE observations SET device_id = 1 WHERE frame_id = 2"))
    r = verify(store, public_key=pub)
    assert {p.row for p in r.problems if p.kind == "obs-changed"} == {
        "device_id=1,hour=2018-12-31T16:00:00Z", "device_id=2,hour=2018-12-31T16:00:00Z",
        "device_id=1,hour=2018-12-31T17:00:00Z", "device_id=2,hour=2018-12-31T17:00:00Z"}


def test_observations_in_an_unsealed_hour(world) -> None:
    sql(world[0], "INSERT INTO observations (time_utc, device_id, parameter, kind, value, frame_id) "
                  "VALUES (1546272000 - 86400, 1, 'a21005', 'rtd', 1.5, 1)")
    r = verify(world[0], public_key=world[1])
    assert ("obs-unsealed", "observations", "hour=2018-12-30T16:00:00Z") in kinds(r)


def test_covered_row_value_changed(world) -> None:
    store, pub, _ = world
    sql(store, "UPDATE devices SET password = '000000' WHERE mn = 'MN0001'")
    sql(store, "UPDATE users SET role = 'admin', scope = '130000' WHERE username = 'li'")
    r = verify(store, public_key=pub)
    assert {("row-changed", "devices", "MN0001"), ("row-changed", "users", "li")} <= kinds(r)


def test_covered_row_deleted(world) -> None:
    store, pub, _ = world
    sql(store, "DELETE FROM devices WHERE mn = 'MN0002'")
    r = verify(store, public_key=pub)
    assert ("row-deleted", "devices", "MN0002") in kinds(r)


def test_covered_rows_swapped(world) -> None:
    """Two users' password hashes exchanged (take over an account by swapping rows' values)."""
    store, pub, _ = world
    with store.begin() as c:
        a = c.execute(text("SELECT password_hash FROM users WHERE username = 'admin'")).scalar_one()
        b = c.execute(text("SELECT password_hash FROM users WHERE username = 'li'")).scalar_one()
        c.execute(text("UPDATE users SET password_hash = :h WHERE username = 'admin'"), {"h": b})
        c.execute(text("UPDATE users SET password_hash = :h WHERE username = 'li'"), {"h": a})
    r = verify(store, public_key=pub)
    assert {("row-changed", "users", "admin"), ("row-changed", "users", "li")} <= kinds(r)


def test_covered_row_ids_swapped(world) -> None:
    store, pub, _ = world
    with store.begin() as c:
        c.execute(text("UPDATE devices SET id = -1 WHERE mn = 'MN0000'"))
        c.execute(text("UPDATE devices SET id = (SELECT MIN(id) FROM devices WHERE mn = 'MN0000') "
                       "WHERE mn = 'MN0000'"))
        ids = dict(c.execute(text("SELECT mn, id FROM devices WHERE mn IN ('MN0001', 'MN0002')")).all())
        c.execute(text("UPDATE devices SET id = :i WHERE mn = 'MN0000'"), {"i": 1000})
        c.execute(text("UPDATE devices SET id = :i WHERE mn = 'MN0001'"), {"i": ids["MN0002"] + 5000})
        c.execute(text("UPDATE devices SET id = :i WHERE mn = 'MN0002'"), {"i": ids["MN0001"]})
        c.execute(text("UPDATE devices SET id = :i WHERE mn = 'MN0001'"), {"i": ids["MN0002"]})
    r = verify(store, public_key=pub)
    assert {("row-changed", "devices", "MN0001"), ("row-changed", "devices", "MN0002")} <= kinds(r)


def test_covered_row_inserted_without_entry(world) -> None:
    store, pub, _ = world
    sql(store, "INSERT INTO enterprises (code, name, region_code, industry, key_polluter) "
               "VALUES ('FAKE', '假企业', '130100', '', true)")
    r = verify(store, public_key=pub)
    assert ("row-unledgered", "enterprises", "FAKE") in kinds(r)


def _entry_of(store: Engine, kind: str, key: str) -> int:
    with store.connect() as c:
        return int(c.execute(text("SELECT MIN(seq) FROM ledger_entries WHERE kind = :k AND subject_key = :s"),
                             {"k": kind, "s": key}).scalar_one())


def test_entry_deleted(world) -> None:
    store, pub, _ = world
    seq = _entry_of(store, "user.add", "li")
    sql(store, "DELETE FROM ledger_entries WHERE seq = :s", s=seq)
    r = verify(store, public_key=pub)
    assert not r.ok
    first = r.first()
    assert first is not None and first.seq == seq and first.kind == "entry-missing"


def test_entry_altered_in_place(world) -> None:
    store, pub, _ = world
    seq = _entry_of(store, "user.add", "li")
    sql(store, "UPDATE ledger_entries SET actor = 'someone-else' WHERE seq = :s", s=seq)
    r = verify(store, public_key=pub)
    first = r.first()
    assert first is not None and first.seq == seq and first.kind == "entry-altered"
    assert first.table == "users" and first.row == "li"


def _rewrite_from(store: Engine, seq: int, **changes: object) -> None:
    """Change entry ``seq`` and recompute its hash and every later hash and the head: a consistent chain."""
    with store.begin() as c:
        rows = c.execute(text("SELECT seq, time_utc, kind, actor, subject_table, subject_key, payload, row_digest, "
                              "prev_hash, hash FROM ledger_entries WHERE seq >= :s ORDER BY seq"), {"s": seq}).all()
        prev = bytes(rows[0].prev_hash)
        for r in rows:
            vals = dict(r._mapping)
            if r.seq == seq:
                vals.update(changes)
            digest = None if vals["row_digest"] is None else bytes(vals["row_digest"])
            h = entry_hash(prev, entry_body(vals["seq"], vals["time_utc"], vals["kind"], vals["actor"],
                                            vals["subject_table"], vals["subject_key"], vals["payload"], digest))
            c.execute(text("UPDATE ledger_entries SET actor = :a, payload = :p, row_digest = :d, prev_hash = :ph, "
                           "hash = :h WHERE seq = :s"),
                      {"a": vals["actor"], "p": vals["payload"], "d": digest, "ph": prev, "h": h, "s": vals["seq"]})
            prev = h
        c.execute(text("UPDATE ledger_head SET hash = :h WHERE id = 1"), {"h": prev})


def test_entry_rewritten_with_recomputed_hashes(world) -> None:
    """The chain is made consistent again; only the signed checkpoint can tell, and names the entry."""
    store, pub, _ = world
    seq = _entry_of(store, "user.add", "li")
    _rewrite_from(store, seq, actor="forger")
    r = verify(store, public_key=pub)
    assert {p.kind for p in r.problems} == {"entry-rewritten"}
    first = r.first()
    assert first is not None and first.seq == seq and (first.table, first.row) == ("users", "li")


def test_entry_and_row_rewritten_together(world) -> None:
    """Row changed, its entry's digest recomputed to match, the chain recomputed: still detected."""
    from tianlan.ledger import covered

    store, pub, _ = world
    sql(store, "UPDATE users SET scope = '130200' WHERE username = 'li'")
    seq = max(_entry_of(store, "user.add", "li"), 0)
    with store.connect() as c:
        digest = covered.digest_in(c, "users", "li")
    _rewrite_from(store, seq, row_digest=digest)
    r = verify(store, public_key=pub)
    first = r.first()
    assert first is not None and first.kind == "entry-rewritten" and first.seq == seq and first.row == "li"


def test_checkpoint_forged_without_the_key(world) -> None:
    """Rewrite entries AND the checkpoint's hashes and root: the signature no longer verifies."""
    from tianlan.ledger import merkle

    store, pub, _ = world
    seq = _entry_of(store, "user.add", "li")
    _rewrite_from(store, seq, actor="forger")
    with store.begin() as c:
        hashes = b"".join(bytes(h) for h in c.execute(text("SELECT hash FROM ledger_entries ORDER BY seq")).scalars())
        c.execute(text("UPDATE ledger_checkpoints SET entry_hashes = :b, entries_root = :r, hash = :h"),
                  {"b": hashes, "r": merkle.root(merkle.split(hashes)), "h": hashes[-32:]})
    r = verify(store, public_key=pub)
    assert any(p.kind == "checkpoint" and p.table == "ledger_checkpoints" and "signature invalid" in p.message
               for p in r.problems)


def test_checkpoint_resigned_with_another_key(world) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from tianlan.ledger import merkle
    from tianlan.ledger.checkpoints import from_row
    from tianlan.store import ledger_repo

    store, pub, _ = world
    seq = _entry_of(store, "user.add", "li")
    _rewrite_from(store, seq, actor="forger")
    mine = Ed25519PrivateKey.generate()
    with store.begin() as c:
        hashes = b"".join(bytes(h) for h in c.execute(text("SELECT hash FROM ledger_entries ORDER BY seq")).scalars())
        cp = from_row(ledger_repo.checkpoints(c)[0])
        root = merkle.root(merkle.split(hashes))
        forged = type(cp)(cp.id, cp.first_seq, cp.seq, hashes[-32:], root, cp.time_utc, cp.key_id, public_bytes(mine),
                          b"")
        c.execute(text("UPDATE ledger_checkpoints SET entry_hashes = :b, entries_root = :r, hash = :h, public_key = :k, "
                       "signature = :s"), {"b": hashes, "r": root, "h": hashes[-32:], "k": public_bytes(mine),
                                           "s": mine.sign(forged.message())})
    r = verify(store, public_key=pub)
    assert any(p.kind == "checkpoint" and "not signed by the trusted platform key" in p.message for p in r.problems)


def test_tail_cut_off(world) -> None:
    """The newest entries deleted and the head moved back: the signed checkpoint still names them."""
    store, pub, _ = world
    with store.begin() as c:
        top = int(c.execute(text("SELECT MAX(seq) FROM ledger_entries")).scalar_one())
        c.execute(text("DELETE FROM ledger_seals WHERE seq > :s"), {"s": top - 2})
        c.execute(text("DELETE FROM ledger_entries WHERE seq > :s"), {"s": top - 2})
        h = c.execute(text("SELECT hash FROM ledger_entries WHERE seq = :s"), {"s": top - 2}).scalar_one()
        c.execute(text("UPDATE ledger_head SET seq = :s, hash = :h"), {"s": top - 2, "h": h})
    r = verify(store, public_key=pub)
    first = r.first()
    assert first is not None and first.kind == "entry-missing" and first.seq == top - 1


def test_unsigned_tail_reported_and_signed(world) -> None:
    store, pub, key = world
    UsersRepo(store).add("late", "password1", Role.AUDIT, "130000", actor="admin")
    r = verify(store, public_key=pub)
    assert r.ok and r.unsigned_tail == 1
    checkpoints.checkpoint(store, key)
    r = verify(store, public_key=pub)
    assert r.ok and r.unsigned_tail == 0 and r.checkpoints == 2


def test_parallel_verification_finds_the_same(world, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--jobs`: frames and observation windows checked by worker processes, problems merged."""
    from tianlan.ledger import verify as v

    store, pub, _ = world
    monkeypatch.setattr(v, "PARALLEL_MIN", 0)
    monkeypatch.setattr(v, "PARALLEL_MIN_WINDOWS", 0)
    assert verify(store, public_key=pub, jobs=2).ok
    sql(store, "UPDATE raw_frames SET data = :d WHERE id = 8", d=b"##0004xxxx\r\n")
    sql(store, "DELETE FROM raw_frames WHERE id = 13")
    sql(store, "UPDATE observations SET flag = 'D' WHERE frame_id = 5")
    one, two = verify(store, public_key=pub), verify(store, public_key=pub, jobs=2)
    assert kinds(one) == kinds(two) >= {("frame-changed", "raw_frames", "8"), ("frame-missing", "raw_frames", "13"),
                                        ("obs-changed", "observations", "device_id=2,hour=2018-12-31T20:00:00Z")}
    assert (one.frames, one.observation_rows) == (two.frames, two.observation_rows) == (14, 30)
