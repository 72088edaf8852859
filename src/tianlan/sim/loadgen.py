"""A lean HJ 212 load generator: many devices on raw non-blocking sockets and one epoll loop.

Made for throughput benchmarks of the gateway (``benchmarks/ingest.py``), where the load generator
shares the machine with the server and its CPU time counts against the result. Each device still
behaves as the standard asks of a data logger (HJ 212-2017 §6.2, reference §5.4):

* one TCP connection per device (MN); frames are sent one at a time per device (``window`` > 1
  allows more in flight) and the next one only after the **9014** answering the previous;
* every answer is verified: a complete frame (``##`` + 4-digit length matching the segment, CR LF),
  a valid CRC (standard variant, what the platform sends), ``CN=9014``, the device's ``MN`` and the
  ``QN`` of the upload it answers (in the header, or inside CP in the 2005 form);
* no answer within OverTime (``ack_timeout_s``) → the same bytes are sent again, at most ReCount
  (``retries``) times; after that the connection is dropped, reopened, and every unanswered frame
  is sent again on the new connection (补传).

Unlike :class:`tianlan.sim.client.DeviceClient` there is no asyncio machinery: no Protocol, Future or
TimerHandle per frame; deadlines are checked by one sweep every ``sweep_s`` over the devices. Frames
are pre-built bytes (with their QN read once); latencies are first transmission → verified answer.

    stats = run_load("127.0.0.1", 9000, {mn: [frame, ...], ...})

Linux only (``select.epoll``).
"""

from __future__ import annotations

import errno
import select
import socket
import time
from array import array
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from tianlan.hj212.crc import hj212_crc

_IN = select.EPOLLIN
_OUT = select.EPOLLOUT
_ERRS = select.EPOLLERR | select.EPOLLHUP


@dataclass
class LoadStats:
    """Totals of one :func:`run_load`. Times in seconds, latencies in milliseconds.

    ``acked`` frames answered by a verified 9014; ``transmissions`` every write of a frame;
    ``retransmissions`` resends after OverTime; ``reuploads`` resends on a new connection;
    ``bad_answers`` frames received that failed a check (CRC, length, CN, MN, QN) — each one is a
    gateway bug; ``unacked`` frames never answered; ``elapsed_s`` from the first send to the last
    answer (connecting excluded); ``connect_s`` the time to open every connection.
    """

    devices: int = 0
    frames: int = 0
    acked: int = 0
    transmissions: int = 0
    retransmissions: int = 0
    reuploads: int = 0
    reconnects: int = 0
    bad_answers: int = 0
    duplicate_acks: int = 0
    unacked: int = 0
    elapsed_s: float = 0.0
    connect_s: float = 0.0
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None
    latencies: array = field(default_factory=lambda: array("d"), repr=False)

    @property
    def frames_per_s(self) -> float:
        return self.acked / self.elapsed_s if self.elapsed_s > 0 else 0.0


def frame_qn(frame: bytes) -> bytes:
    """The QN of an upload frame (header item ``QN=``), as bytes; ValueError when it has none."""
    cp = frame.find(b"CP=&&")
    head = frame[6:cp if cp >= 0 else len(frame)]
    for part in head.split(b";"):
        key, sep, value = part.partition(b"=")
        if sep and key.strip() == b"QN":
            return value.strip()
    raise ValueError("frame: 上传帧缺少 QN / upload frame has no QN (answers are matched by it)")


def check_answer(frame: bytes, mn: bytes) -> bytes | None:
    """The QN a verified 9014 ``frame`` (CR LF included) answers for device ``mn``; None when any
    check fails: ``##`` and the 4-digit length of the segment, CRC (standard), CR LF, header items
    ``CN=9014`` and ``MN=<mn>``, and a QN (in the header, or inside CP in the 2005 form)."""
    n = len(frame)
    if n < 14 or frame[:2] != b"##" or frame[n - 2:] != b"\r\n":
        return None
    seg = frame[6:n - 6]
    try:
        if int(frame[2:6]) != n - 12 or int(frame[n - 6:n - 2], 16) != hj212_crc(seg):
            return None
    except ValueError:
        return None
    cp = seg.find(b"CP=&&")
    if cp < 0:
        return None
    head = b";" + seg[:cp]  # every header item now starts with ';'
    if b";CN=9014;" not in head or b";MN=" + mn + b";" not in head:
        return None
    at = head.find(b";QN=")
    if at >= 0:
        end = head.find(b";", at + 4)
        qn = head[at + 4:end]
    else:  # 2005 form: CP=&&QN=…;CN=…&&
        at = seg.find(b"QN=", cp)
        if at < 0:
            return None
        end = at + 3
        while end < len(seg) and seg[end] not in b";,&":
            end += 1
        qn = seg[at + 3:end]
    return qn or None


class _Device:
    __slots__ = ("mn", "frames", "qns", "next", "inflight", "sock", "fd", "buf", "out", "deadline",
                 "resends", "done")

    def __init__(self, mn: str, frames: Sequence[bytes]) -> None:
        self.mn = mn.encode("ascii")
        self.frames = list(frames)
        self.qns = [frame_qn(f) for f in self.frames]
        self.next = 0  # index of the next frame never sent
        self.inflight: deque[tuple[int, float]] = deque()  # (frame index, first sent), oldest first
        self.sock: socket.socket | None = None
        self.fd = -1
        self.buf = b""
        self.out = b""  # bytes the socket did not take yet
        self.deadline = 0.0
        self.resends = 0
        self.done = not self.frames


def _connect(host: str, port: int, timeout: float) -> socket.socket:
    s = socket.create_connection((host, port), timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.setblocking(False)
    return s


def run_load(host: str, port: int, frames_by_mn: Mapping[str, Sequence[bytes]], *, window: int = 1,
             ack_timeout_s: float = 10.0, retries: int = 3, deadline_s: float = 600.0,
             connect_timeout_s: float = 10.0, sweep_s: float = 0.25) -> LoadStats:
    """Send every device's frames in order, ``window`` in flight per device, until all are answered
    (or ``deadline_s`` passes); returns the totals. Blocks the calling thread."""
    if window < 1:
        raise ValueError(f"window: 必须 ≥ 1 / must be ≥ 1, got {window}")
    devs = [_Device(mn, fr) for mn, fr in frames_by_mn.items()]
    st = LoadStats(devices=len(devs), frames=sum(len(d.frames) for d in devs))
    lat = st.latencies
    ep = select.epoll(len(devs) + 1)
    by_fd: dict[int, _Device] = {}
    t_conn = time.perf_counter()

    def attach(d: _Device) -> None:
        d.sock = _connect(host, port, connect_timeout_s)
        d.fd = d.sock.fileno()
        d.buf = d.out = b""
        by_fd[d.fd] = d
        ep.register(d.fd, _IN)

    def write(d: _Device, data: bytes) -> None:
        if d.out:
            d.out += data
            return
        try:
            n = d.sock.send(data)  # type: ignore[union-attr]
        except BlockingIOError:
            n = 0
        if n < len(data):
            d.out = data[n:]
            ep.modify(d.fd, _IN | _OUT)

    def pump(d: _Device, now: float) -> None:
        while len(d.inflight) < window and d.next < len(d.frames):
            i = d.next
            d.next += 1
            d.inflight.append((i, now))
            write(d, d.frames[i])
            st.transmissions += 1
        if d.inflight:
            d.deadline = now + ack_timeout_s
        elif d.next >= len(d.frames):
            d.done = True

    def drop(d: _Device, now: float) -> None:
        """Link unusable: reconnect and send every unanswered frame again (补传)."""
        ep.unregister(d.fd)
        by_fd.pop(d.fd, None)
        d.sock.close()  # type: ignore[union-attr]
        st.reconnects += 1
        while True:
            try:
                attach(d)
                break
            except OSError:
                if time.perf_counter() - t0 > deadline_s:
                    raise
                time.sleep(0.1)
        d.resends = 0
        for i, _ in d.inflight:
            write(d, d.frames[i])
            st.transmissions += 1
            st.reuploads += 1
        d.deadline = time.perf_counter() + ack_timeout_s

    for d in devs:
        attach(d)
    st.connect_s = time.perf_counter() - t_conn
    t0 = now = time.perf_counter()
    for d in devs:
        pump(d, now)
    remaining = sum(1 for d in devs if not d.done)
    next_sweep = now + sweep_s
    poll = ep.poll
    perf = time.perf_counter
    try:
        while remaining:
            events = poll(sweep_s)
            now = perf()
            for fd, ev in events:
                found = by_fd.get(fd)
                if found is None:
                    continue
                d = found
                if ev & _OUT and d.out:
                    try:
                        n = d.sock.send(d.out)  # type: ignore[union-attr]
                    except BlockingIOError:
                        n = 0
                    except OSError:
                        drop(d, now)
                        continue
                    d.out = d.out[n:]
                    if not d.out:
                        ep.modify(fd, _IN)
                if not ev & (_IN | _ERRS):
                    continue
                try:
                    data = d.sock.recv(65536)  # type: ignore[union-attr]
                except BlockingIOError:
                    continue
                except OSError as e:
                    if e.errno not in (errno.ECONNRESET, errno.EPIPE):
                        raise
                    data = b""
                if not data:
                    drop(d, now)
                    continue
                buf = d.buf + data if d.buf else data
                start = 0
                answered = False
                while True:
                    end = buf.find(b"\r\n", start)
                    if end < 0:
                        break
                    frame = buf[start:end + 2]
                    start = end + 2
                    qn = check_answer(frame, d.mn)
                    if qn is None:
                        st.bad_answers += 1
                        continue
                    for k, (i, sent) in enumerate(d.inflight):
                        if d.qns[i] == qn:
                            del d.inflight[k]
                            st.acked += 1
                            lat.append(now - sent)
                            answered = True
                            break
                    else:
                        st.duplicate_acks += 1
                d.buf = buf[start:] if start < len(buf) else b""
                if answered:
                    d.resends = 0
                    pump(d, now)
                    if d.done:
                        remaining -= 1
            if now >= next_sweep:
                next_sweep = now + sweep_s
                if now - t0 > deadline_s:
                    break
                for d in devs:
                    if d.inflight and now > d.deadline:
                        if d.resends < retries:  # OverTime: send the oldest unanswered again
                            d.resends += 1
                            st.retransmissions += 1
                            st.transmissions += 1
                            write(d, d.frames[d.inflight[0][0]])
                            d.deadline = now + ack_timeout_s
                        else:  # ReCount exhausted: the link is down
                            drop(d, now)
        st.elapsed_s = perf() - t0
    finally:
        for d in devs:
            if d.sock is not None:
                d.sock.close()
        ep.close()
    st.unacked = sum(len(d.inflight) + len(d.frames) - d.next for d in devs)
    if len(lat):
        s = sorted(lat)
        st.latency_p50_ms = s[len(s) // 2] * 1e3
        st.latency_p99_ms = s[min(len(s) - 1, int(len(s) * 0.99))] * 1e3
    return st
