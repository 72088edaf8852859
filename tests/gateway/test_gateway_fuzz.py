"""Hypothesis against the running gateway over real TCP: no crash, no hang, no lost good frame.

A stream of valid frames mixed with arbitrary bytes, cut at arbitrary points, goes to the
gateway. Every valid frame must be acknowledged, every byte sent must be archived — the frames
and the quarantined runs of one connection, in id order, concatenate to exactly the bytes sent —
and the gateway must keep serving.
"""

from __future__ import annotations

import itertools
import time

from gateway_helpers import connect, read_frames, register, upload
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tianlan.hj212 import decode
from tianlan.store.schema import devices, raw_frames

MN = "FUZZ00000000000000000001"
_qn = itertools.count(1)

piece = st.one_of(
    st.just("frame"),
    st.binary(min_size=1, max_size=60),
    st.sampled_from([b"##", b"##00", b"##0100QN=1;", b"\r\n", b"&&", b"##9999", b"##ABCD", b"#", b"##0010"]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pieces=st.lists(piece, min_size=1, max_size=12), cuts=st.lists(st.integers(1, 97), max_size=8))
def test_fuzzed_stream_over_tcp(platform, store, pieces, cuts) -> None:
    with store.connect() as c:
        if c.execute(select(devices.c.id).where(devices.c.mn == MN)).first() is None:
            register(store, MN)
    stream = b""
    qns = []
    for p in pieces:
        if p == "frame":
            qn = f"2020{next(_qn):013d}"
            qns.append(qn)
            stream += upload(MN, qn, data_time=f"2020{int(qn[-6:]) % 12 + 1:02d}01000000"[:14])
        else:
            stream += p
    gw = platform.running.gateway
    seen = gw.stats.connections_total
    s = connect(platform.hj212_port)
    host, port = s.getsockname()[:2]
    peer = f"{host}:{port}"
    pos = 0
    for c in sorted(set(cuts)):
        if c < len(stream) - pos:
            s.sendall(stream[pos : pos + c])
            pos += c
            time.sleep(0.001)
    s.sendall(stream[pos:])
    # every valid frame is acknowledged, with its QN, in order (garbage may follow a frame's bytes)
    acks = [decode(a) for a in read_frames(s, len(qns), timeout=10)] if qns else []
    assert [a.qn for a in acks] == qns
    s.close()
    deadline = time.monotonic() + 10
    while gw.stats.connections_total == seen or gw.stats.connections or gw.stats.received != gw.stats.committed:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    with store.connect() as c:
        kept = [bytes(r[0]) for r in c.execute(
            select(raw_frames.c.data).where(raw_frames.c.peer == peer).order_by(raw_frames.c.id))]
    assert b"".join(kept) == stream, "every byte sent is archived, in order"
