"""The lean load generator of the ingest benchmark (tianlan.sim.loadgen): answer checks, a real
gateway on both stores, OverTime resends and refusal of wrong answers against a scripted server."""

from __future__ import annotations

import socket
import threading

from gateway_helpers import register
from sqlalchemy import func, select

from tianlan.hj212 import FrameReader, RawFrame, build_frame, decode, replies_for
from tianlan.sim.device import SimDevice
from tianlan.sim.loadgen import check_answer, frame_qn, run_load
from tianlan.store.schema import observations, raw_frames

CODES = ["a34004", "a34002", "a21026", "a21004"]


def _ack(qn: str, mn: str, *, cn: str = "9014", crc_ok: bool = True) -> bytes:
    f = build_frame(f"QN={qn};ST=91;CN={cn};PW=123456;MN={mn};Flag=4;CP=&&&&")
    return f if crc_ok else f[:-6] + (b"0000" if f[-6:-2] != b"0000" else b"1111") + b"\r\n"


def test_check_answer_verifies_length_crc_cn_mn_and_reads_qn():
    qn = "20190101080000123"
    assert check_answer(_ack(qn, "DEV1"), b"DEV1") == qn.encode()
    assert check_answer(_ack(qn, "DEV1"), b"DEV2") is None  # another device's answer
    assert check_answer(_ack(qn, "DEV1", cn="9013"), b"DEV1") is None  # not a data answer
    assert check_answer(_ack(qn, "DEV1", crc_ok=False), b"DEV1") is None
    good = _ack(qn, "DEV1")
    assert check_answer(good[:2] + b"0001" + good[6:], b"DEV1") is None  # wrong length field
    assert check_answer(good[:-2], b"DEV1") is None  # no CR LF
    # 2005 form: the answered QN inside CP
    old = build_frame(f"ST=91;CN=9014;PW=123456;MN=DEV1;CP=&&QN={qn};CN=2061&&")
    assert check_answer(old, b"DEV1") == qn.encode()
    assert frame_qn(b"##0100QN=123;ST=22;CN=2061;CP=&&&&ABCD\r\n") == b"123"


def test_every_frame_acked_and_stored_once(platform, store):
    devs = [SimDevice(mn=f"LOAD{i:020d}", pw="123456", kind="air", seed=i, codes=CODES) for i in range(6)]
    for d in devs:
        register(store, d.mn)
    frames = {d.mn: [u.frame for u in d.series("2061", 1546272000, 3600, 7)] for d in devs}
    st = run_load("127.0.0.1", platform.hj212_port, frames, ack_timeout_s=5.0)
    assert (st.acked, st.frames, st.bad_answers, st.unacked, st.retransmissions) == (42, 42, 0, 0, 0)
    assert len(st.latencies) == 42 and st.latency_p50_ms is not None and st.latency_p50_ms > 0
    with store.connect() as c:
        assert c.execute(select(func.count()).select_from(raw_frames).where(raw_frames.c.status == "accepted")).scalar_one() == 42
        assert c.execute(select(func.count()).select_from(observations)).scalar_one() == 42 * len(CODES)


class _Scripted:
    """A one-connection TCP server answering the n-th upload it receives as ``answer(n, packet)`` says."""

    def __init__(self, answer) -> None:  # type: ignore[no-untyped-def]
        self.answer = answer
        self.received: list[bytes] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        reader = FrameReader()
        with conn:
            while True:
                data = conn.recv(65536)
                if not data:
                    return
                for item in reader.feed(data):
                    if isinstance(item, RawFrame):
                        self.received.append(item.data)
                        out = self.answer(len(self.received), decode(item))
                        if out:
                            conn.sendall(out)


def test_no_answer_within_overtime_sends_the_same_bytes_again():
    dev = SimDevice(mn="LOAD-RESEND", pw="123456", kind="air", seed=1, codes=CODES)
    frames = [u.frame for u in dev.series("2061", 1546272000, 3600, 3)]
    srv = _Scripted(lambda n, p: b"" if n == 1 else b"".join(replies_for(p)))  # the first goes unanswered
    st = run_load("127.0.0.1", srv.port, {dev.mn: frames}, ack_timeout_s=0.3, sweep_s=0.05)
    assert (st.acked, st.retransmissions, st.unacked, st.bad_answers) == (3, 1, 0, 0)
    assert srv.received == [frames[0], frames[0], frames[1], frames[2]]  # resent byte for byte, then in order


def test_wrong_answers_are_counted_and_not_taken_for_acks():
    dev = SimDevice(mn="LOAD-WRONG", pw="123456", kind="air", seed=2, codes=CODES)
    frames = [u.frame for u in dev.series("2061", 1546272000, 3600, 2)]

    def answer(n: int, p):  # type: ignore[no-untyped-def]
        if n == 1:  # wrong MN, bad CRC, wrong QN: none of them answers the upload
            return _ack(p.qn, "SOMEONE-ELSE") + _ack(p.qn, p.mn, crc_ok=False) + _ack("20000101000000000", p.mn)
        return b"".join(replies_for(p))

    srv = _Scripted(answer)
    st = run_load("127.0.0.1", srv.port, {dev.mn: frames}, ack_timeout_s=0.3, sweep_s=0.05)
    assert st.acked == 2 and st.bad_answers == 2 and st.duplicate_acks == 1 and st.retransmissions == 1
    assert frame_qn(frames[0]) != b"20000101000000000"
