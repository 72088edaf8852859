"""Asyncio HJ 212 TCP client of one simulated device, with the standard's retransmission rules.

The device is the TCP client and the platform listens (reference §5.5). Rules implemented
(HJ 212-2017 §6.2 and Table 1, reference §5.4):

* an upload with Flag bit A set waits for a **9014** answer that echoes its QN — in the header for
  2017 answers, inside CP (``CP=&&QN=…;CN=…&&``) for 2005 answers (reference §5.1);
* no answer within **OverTime** (``ack_timeout_s``, default 10 s) → the same bytes are sent again,
  at most **ReCount** times (``retries``, default 3);
* when the last resend also times out the link counts as unusable: the connection is dropped and
  re-established with exponential backoff (with jitter), and every upload not yet answered is sent
  again on the new connection (补传) ahead of new data. A submitted upload is never abandoned while
  the client runs: it stays in the outbox until its answer arrives.

Several uploads may be in flight at once (``window``; the standard's model is 1). A connection the
server closes or resets (e.g. the gateway killed with ``kill -9`` and restarted on the same port) is
handled the same way as a link declared down. Platform requests that arrive on the connection are
answered by :mod:`tianlan.sim.commands` (9011/9012/9013; CN 1000 changes OverTime/ReCount).

Statistics per device are in :class:`DeviceStats`; ``sent_frames`` holds the bytes of every
distinct frame sent, so a test can check that the server stored each exactly once.
"""

from __future__ import annotations

import asyncio
import random
import time
from array import array
from collections import OrderedDict, deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from tianlan.hj212 import CrcVariant, DecodeError, FrameReader, RawFrame, decode, match_crc
from tianlan.sim.commands import CommandResponder
from tianlan.sim.device import Upload

_RECENT_ACKED = 4096


@dataclass
class DeviceStats:
    """Counters of one device client. Times in seconds.

    ``sent``: distinct uploads sent at least once; ``acked``: uploads answered by a matching 9014;
    ``transmissions``: every write of an upload frame; ``retransmissions``: resends after OverTime on
    the same connection; ``reuploads``: resends on a new connection after the link went down (补传);
    ``reconnects``: connections established after the first; ``connect_failures``: failed attempts;
    ``links_down``: times ReCount resends went unanswered; ``duplicate_acks``: 9014 for an upload
    already answered; ``unmatched_acks``: 9014 whose QN matches nothing sent; ``no_ack_sent``: uploads
    whose Flag asked for no answer; ``latencies``: first transmission → 9014, one per acked upload.
    """

    mn: str
    sent: int = 0
    acked: int = 0
    transmissions: int = 0
    retransmissions: int = 0
    reuploads: int = 0
    reconnects: int = 0
    connect_failures: int = 0
    links_down: int = 0
    duplicate_acks: int = 0
    unmatched_acks: int = 0
    no_ack_sent: int = 0
    bad_frames: int = 0
    commands: int = 0
    latencies: array = field(default_factory=lambda: array("d"))


def _answered_qn(segment: bytes) -> str | None:
    """QN a 9014 answers, read straight from the bytes: header ``QN=`` (2017 form) or ``QN=`` inside
    CP (2005 form). None when the segment is not a plain 9014 (then the full decoder decides)."""
    cp_at = segment.find(b"CP=&&")
    if cp_at < 0:
        return None
    head = segment[:cp_at]
    items = {k.strip(): v.strip() for k, _, v in (part.partition(b"=") for part in head.split(b";"))}
    if items.get(b"CN") != b"9014":
        return None
    qn = items.get(b"QN")
    if not qn:
        body = segment[cp_at + 5:]
        at = body.find(b"QN=")
        if at < 0:
            return None
        end = len(body)
        for sep in (b";", b",", b"&&"):
            j = body.find(sep, at)
            if 0 <= j < end:
                end = j
        qn = body[at + 3:end].strip()
    return qn.decode("ascii", "replace") if qn else None


class _Pending:
    """An upload in the outbox or in flight."""

    __slots__ = ("upload", "seq", "first_sent", "resends", "timer", "links")

    def __init__(self, upload: Upload, seq: int) -> None:
        self.upload = upload
        self.seq = seq
        self.first_sent = 0.0
        self.resends = 0
        self.timer: asyncio.TimerHandle | None = None
        self.links = 0  # connections it has been sent on


class _Link(asyncio.Protocol):
    """The asyncio protocol of one TCP connection; forwards bytes and loss to its client."""

    def __init__(self, client: DeviceClient) -> None:
        self.client = client
        self.reader = FrameReader()
        self.transport: asyncio.Transport | None = None
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        # Current link from now on: the platform may talk first, before create_connection returns.
        self.client._link = self

    def data_received(self, data: bytes) -> None:
        for item in self.reader.feed(data):
            if isinstance(item, RawFrame):
                self.client._on_frame(self, item)
            else:
                self.client.stats.bad_frames += 1

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)


class DeviceClient:
    """One device's connection to the platform; submit uploads, they are sent until answered.

    ``ack_timeout_s`` is OverTime and ``retries`` ReCount (HJ 212-2017 §6.2); ``window`` the number
    of uploads in flight; ``backoff_initial_s``/``backoff_max_s`` bound the reconnect delay, which
    doubles per failed attempt; ``record_frames`` keeps the bytes of each distinct frame sent in
    ``sent_frames``; ``crc`` is the variant of answers to platform requests; ``answer_commands``
    turns those answers off. Call :meth:`start` inside a running event loop, :meth:`close` to stop.
    """

    def __init__(self, host: str, port: int, mn: str, *, crc: CrcVariant = CrcVariant.STANDARD,
                 ack_timeout_s: float = 10.0, retries: int = 3, window: int = 1,
                 backoff_initial_s: float = 0.1, backoff_max_s: float = 5.0,
                 connect_timeout_s: float = 5.0, record_frames: bool = True,
                 answer_commands: bool = True) -> None:
        if window < 1:
            raise ValueError(f"window: 必须 ≥ 1 / must be ≥ 1, got {window}")
        self.host = host
        self.port = port
        self.mn = mn
        self.ack_timeout_s = ack_timeout_s
        self.retries = retries
        self.window = window
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.connect_timeout_s = connect_timeout_s
        self.record_frames = record_frames
        self.stats = DeviceStats(mn)
        self.sent_frames: set[bytes] = set()
        self.connected = False
        self.responder = CommandResponder(self, crc=crc) if answer_commands else None
        self._outbox: deque[_Pending] = deque()
        self._inflight: OrderedDict[str, _Pending] = OrderedDict()
        self._recent_acked: OrderedDict[str, None] = OrderedDict()
        self._seq = 0
        self._link: _Link | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._idle = asyncio.Event()
        self._idle.set()
        self._space = asyncio.Event()
        self._space.set()
        self._rand = random.Random(mn)

    # -- public ---------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """Uploads submitted and not yet answered (outbox + in flight)."""
        return len(self._outbox) + len(self._inflight)

    def start(self) -> asyncio.Task[None]:
        """Start the connection loop (connect, send, reconnect) as a task of the running loop."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"hj212-client-{self.mn}")
        return self._task

    def submit(self, upload: Upload) -> None:
        """Queue ``upload``; it is sent when the window allows and resent until answered."""
        self._seq += 1
        self._outbox.append(_Pending(upload, self._seq))
        self._idle.clear()
        self._pump()

    def submit_many(self, uploads: Iterable[Upload]) -> None:
        """Queue several uploads in order."""
        for u in uploads:
            self._seq += 1
            self._outbox.append(_Pending(u, self._seq))
        if self._outbox:
            self._idle.clear()
            self._pump()

    async def wait_below(self, limit: int) -> None:
        """Wait until fewer than ``limit`` uploads are pending (backpressure for fast producers)."""
        while self.pending >= limit:
            self._space.clear()
            await self._space.wait()

    async def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until every submitted upload is answered; False if ``timeout`` (s) passed first."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        """Stop: drop the connection and the loop. Unanswered uploads stay in :attr:`unacked`."""
        self._closing = True
        if self._link is not None and self._link.transport is not None:
            self._link.transport.abort()
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._cancel_timers()

    @property
    def unacked(self) -> list[Upload]:
        """Uploads not answered yet, in submission order."""
        items = sorted([*self._inflight.values(), *self._outbox], key=lambda p: p.seq)
        return [p.upload for p in items]

    def send_raw(self, frame: bytes) -> None:
        """Write a frame outside the upload machinery (answers to platform requests)."""
        if self._link is not None and self._link.transport is not None:
            self._link.transport.write(frame)

    # -- connection loop ------------------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        delay = self.backoff_initial_s
        ever = False
        while not self._closing:
            try:
                _, link = await asyncio.wait_for(
                    loop.create_connection(lambda: _Link(self), self.host, self.port),
                    self.connect_timeout_s)
            except (OSError, TimeoutError):
                self.stats.connect_failures += 1
                await asyncio.sleep(delay * (0.5 + self._rand.random()))
                delay = min(delay * 2.0, self.backoff_max_s)
                continue
            delay = self.backoff_initial_s
            if ever:
                self.stats.reconnects += 1
            ever = True
            self._link = link
            self.connected = True
            self._pump()
            try:
                await link.lost
            finally:
                self.connected = False
                self._link = None
                self._requeue()
            if not self._closing:
                # Give a restarting server a moment before the first reconnect attempt.
                await asyncio.sleep(self.backoff_initial_s * (0.5 + self._rand.random()))

    def _requeue(self) -> None:
        """Put in-flight uploads back at the head of the outbox, oldest first (补传 order)."""
        self._cancel_timers()
        if self._inflight:
            back = sorted(self._inflight.values(), key=lambda p: p.seq)
            self._inflight.clear()
            for p in reversed(back):
                p.resends = 0
                self._outbox.appendleft(p)

    def _cancel_timers(self) -> None:
        for p in self._inflight.values():
            if p.timer is not None:
                p.timer.cancel()
                p.timer = None

    # -- sending ----------------------------------------------------------------------------

    def _pump(self) -> None:
        link = self._link
        if link is None or link.transport is None or link.transport.is_closing():
            self._check_idle()
            return
        loop = asyncio.get_running_loop()
        now = time.monotonic()
        while self._outbox and len(self._inflight) < self.window:
            p = self._outbox[0]
            u = p.upload
            if u.wants_ack and u.qn is not None and u.qn in self._inflight:
                break  # a QN reused while the earlier upload is in flight: wait for its answer
            self._outbox.popleft()
            link.transport.write(u.frame)
            st = self.stats
            st.transmissions += 1
            if p.links == 0:
                st.sent += 1
                p.first_sent = now
                if self.record_frames:
                    self.sent_frames.add(u.frame)
            else:
                st.reuploads += 1
            p.links += 1
            if not u.wants_ack or u.qn is None:
                st.no_ack_sent += 1
                continue
            self._inflight[u.qn] = p
            p.timer = loop.call_later(self.ack_timeout_s, self._on_timeout, p, link)
        self._check_idle()

    def _on_timeout(self, p: _Pending, link: _Link) -> None:
        p.timer = None
        if link is not self._link or link.transport is None or p.upload.qn not in self._inflight:
            return
        if p.resends < self.retries:
            p.resends += 1
            self.stats.retransmissions += 1
            self.stats.transmissions += 1
            link.transport.write(p.upload.frame)
            p.timer = asyncio.get_running_loop().call_later(self.ack_timeout_s, self._on_timeout, p, link)
            return
        # ReCount resends unanswered: the link is unusable (HJ 212-2017 §6.2); drop and reconnect.
        self.stats.links_down += 1
        link.transport.abort()

    # -- receiving --------------------------------------------------------------------------

    def _on_frame(self, link: _Link, raw: RawFrame) -> None:
        segment = raw.segment
        if match_crc(segment, raw.crc_field) is None:
            # A frame whose CRC fails is not acted upon (HJ 212-2017 §6.5: processing stops).
            self.stats.bad_frames += 1
            return
        if b"CN=9014" in segment:
            qn = _answered_qn(segment)
            if qn is not None:
                self._on_ack(qn)
                return
        try:
            packet = decode(raw)
        except DecodeError:
            self.stats.bad_frames += 1
            return
        if packet.cn == "9014":
            self._on_ack(packet.cp.fields.get("QN") or packet.qn)
        elif self.responder is not None:
            self.responder.handle(packet)

    def _on_ack(self, qn: str | None) -> None:
        p = self._inflight.pop(qn, None) if qn else None
        if p is None:
            if qn is not None and qn in self._recent_acked:
                self.stats.duplicate_acks += 1
            else:
                self.stats.unmatched_acks += 1
            return
        if p.timer is not None:
            p.timer.cancel()
            p.timer = None
        st = self.stats
        st.acked += 1
        st.latencies.append(time.monotonic() - p.first_sent)
        self._recent_acked[qn] = None  # type: ignore[index]
        if len(self._recent_acked) > _RECENT_ACKED:
            self._recent_acked.popitem(last=False)
        self._pump()

    def _check_idle(self) -> None:
        n = self.pending
        if n == 0:
            self._idle.set()
        self._space.set()
