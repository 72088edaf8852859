"""Frames written through the real writer (BatchStore), which seals each batch in its transaction."""

from __future__ import annotations

from hashlib import sha256

from sqlalchemy import Engine

from tianlan.ingest.item import ACCEPTED
from tianlan.store.frame_writer import BatchStore, Record


def frame_bytes(i: int) -> bytes:
    seg = f"QN=20190101000000{i % 1000:03d};ST=22;CN=2011;PW=123456;MN=MN{i % 7:04d};Flag=4;CP=&&DataTime=20190101" \
          f"{i % 24:02d}0000;a21026-Rtd={i * 0.5:.1f},a21026-Flag=N&&"
    return f"##{len(seg):04d}{seg}ABCD\r\n".encode()


def records(start: int, n: int) -> list[Record]:
    out = []
    for i in range(start, start + n):
        data = frame_bytes(i)
        t = 1546272000 + i * 3600
        obs = [(t, "a21026", "rtd", i * 0.5, "N", None, None, None, None, None),
               (t, "a34004", "rtd", float(i % 50), "N", None, None, None, None, None)]
        out.append((1.7e9 + i, "127.0.0.1:5000", "tcp", data, sha256(data).digest(), f"MN{i:04d}", i % 3 + 1,
                    None, "2011", ACCEPTED, None, None, "standard", None, obs))
    return out


def write_batches(engine: Engine, sizes: list[int], *, seal: bool = True, start: int = 0) -> list[int]:
    """Write batches through the real BatchStore, which seals each batch in its own transaction.

    ``seal=False`` writes as a writer from before the ledger did (a data dir being upgraded).
    """
    store = BatchStore(engine, seal=seal)
    ids: list[int] = []
    try:
        n = start
        for size in sizes:
            store.write(records(n, size))
            n += size
        cur = store.raw.cursor()
        cur.execute("SELECT id FROM raw_frames ORDER BY id")
        ids = [r[0] for r in cur.fetchall()]
        cur.close()
        store.raw.commit()
    finally:
        store.close()
    return ids
