"""The running platform seals what it acknowledges: frames over real TCP, then ``ledger verify`` (both stores)."""

from __future__ import annotations

from gateway_helpers import connect, read_frames, upload
from platform_helpers import start_platform
from sqlalchemy import text

from tianlan.ledger.checkpoints import key_path, load_or_create_key
from tianlan.ledger.frames import seal_pending
from tianlan.ledger.verify import verify
from tianlan.model.registry import Device
from tianlan.store.registry_repo import RegistryRepo


def test_acknowledged_frames_are_sealed_in_their_batch(store, tmp_path) -> None:
    RegistryRepo(store).add_device(Device(mn="MN0000000000000000000001", password="123456"))  # a ledgered change
    p, th = start_platform(store, tmp_path, live_qc=False)
    try:
        s = connect(p.hj212_port)
        for i in range(20):
            s.sendall(upload("MN0000000000000000000001", f"20190101080000{i:03d}", data_time=f"201901010{i % 10}0000"))
            assert b"CN=9014" in read_frames(s, 1)[0]  # acknowledged only after the commit that sealed it
        s.sendall(b"##0010garbage!!\r\n")  # quarantined frames are archived and sealed too
        s.close()
    finally:
        p.stop()
        th.join(30)
    with store.connect() as c:
        frames = c.execute(text("SELECT count(*) FROM raw_frames")).scalar_one()
        sealed = c.execute(text("SELECT coalesce(sum(n), 0) FROM ledger_seals WHERE kind = 'frames'")).scalar_one()
    assert frames >= 20 and sealed == frames
    assert seal_pending(store)["frames"] == 0  # nothing was left for the catch-up
    key = load_or_create_key(key_path(p.settings))  # the platform's key, made at its first start
    report = verify(store, public_key=key.public_key().public_bytes_raw())
    assert report.ok, report.problems
    assert report.frames == frames
    # the platform signs periodically (its worker process may start after the uploads ended) and
    # after the drain: nothing is left unsigned
    assert report.checkpoints >= 1 and report.unsigned_tail == 0
