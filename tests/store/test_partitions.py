"""PostgreSQL monthly partitions of observations: created on demand, rows land in their month."""

from __future__ import annotations

import time

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from tianlan.store.partitions import month_bounds, month_of


@given(st.integers(-(10**9), 4 * 10**9))
def test_month_of_matches_gmtime(t: int) -> None:
    g = time.gmtime(t)
    assert month_of(t) == (g.tm_year, g.tm_mon)
    lo, hi = month_bounds(*month_of(t))
    assert lo <= t < hi


def test_writer_creates_monthly_partitions_on_postgresql(store) -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "gateway"))
    from gateway_helpers import register, upload

    from tianlan.hj212 import FrameReader
    from tianlan.ingest.processor import DeviceAuth, process_frame
    from tianlan.store.frame_writer import BatchStore, to_record

    register(store, "PART-1")
    auth = DeviceAuth(1, "PART-1", "123456", frozenset({"standard"}))
    frames = [upload("PART-1", f"2019{m:02d}01000000000", data_time=f"2019{m:02d}15120000") for m in (1, 2, 12)]
    frames.append(upload("PART-1", "20200101000000000", data_time="20191231235959"))  # 15:59:59 UTC, December
    recs = []
    for f in frames:
        (raw,) = FrameReader().feed(f)
        recs.append(to_record(process_frame(raw, lambda mn: auth, received_utc=time.time(), peer="t")))
    bs = BatchStore(store)
    res = bs.write(recs)
    assert [r[1] for r in res] == ["accepted"] * 4
    bs.close()
    with store.connect() as c:
        n = c.execute(text("SELECT COUNT(*) FROM observations")).scalar_one()
        assert n == 4 * 6
        if store.dialect.name == "postgresql":
            parts = {r[0] for r in c.execute(text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'observations'"))}
            assert parts == {"observations_y2019m01", "observations_y2019m02", "observations_y2019m12"}
            dec = c.execute(text("SELECT COUNT(*) FROM observations_y2019m12")).scalar_one()
            assert dec == 2 * 6
