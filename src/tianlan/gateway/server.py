"""The HJ 212 TCP gateway: sessions, acknowledgement after commit, timeouts, backpressure, drain.

Each connection feeds received bytes to the sans-I/O codec (``FrameReader``), decides each frame's
verdict (``process_frame``), and hands it to the one ``FrameWriter``. Replies the standard requires
(9014 for uploads with the A bit, 9013 for notices) are written only when the writer reports the
frame's batch committed (HJ 212-2017 §6.2 leaves the timing to the platform; we choose durability).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine

from tianlan.gateway.devices import DeviceCache
from tianlan.hj212 import FrameReader, RawFrame
from tianlan.ingest.item import ACCEPTED, QUARANTINED, IngestItem
from tianlan.ingest.processor import process_frame, process_framing_error
from tianlan.settings import Settings
from tianlan.store.frame_writer import FrameWriter

log = logging.getLogger(__name__)

PER_CONNECTION_PENDING_MAX = 256  # frames of one connection awaiting commit before it is paused
GARBAGE_BUDGET = 1 << 20  # bytes of non-frames one connection may send before it is cut
QUIET_S = 0.25  # a peer silent this long with a frame buffered: try it without its CR LF


@dataclass
class GatewayStats:
    """Live counters (since start) for progress displays and /api/v1/health."""

    started: float = field(default_factory=time.time)
    connections: int = 0
    connections_total: int = 0
    received: int = 0
    committed: int = 0
    status: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    closed_idle: int = 0
    closed_slow: int = 0
    closed_garbage: int = 0
    bytes_in: int = 0

    def as_dict(self) -> dict:
        return {
            "uptime_s": round(time.time() - self.started, 1),
            "connections": self.connections,
            "connections_total": self.connections_total,
            "received": self.received,
            "committed": self.committed,
            "accepted": self.status.get("accepted", 0),
            "duplicate": self.status.get("duplicate", 0),
            "quarantined": self.status.get("quarantined", 0),
            "by_reason": dict(self.reasons),
            "closed": {"idle": self.closed_idle, "slow": self.closed_slow, "garbage": self.closed_garbage},
            "bytes_in": self.bytes_in,
        }

    def writer_dict(self, w: FrameWriter) -> dict:
        return {"batches": w.batches, "frames": w.committed_frames, "observations": w.committed_obs,
                "busy_s": round(w.busy_s, 3), "pending": w.pending}


class Connection(asyncio.Protocol):
    """One device's TCP session."""

    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.transport: asyncio.Transport | None = None
        self.reader = FrameReader(max_length=gw.settings.max_frame_length)
        self.peer = ""
        self.pending = 0
        self.paused = False
        self.closed = False
        self.last_rx = time.monotonic()
        self.partial_since: float | None = None
        self.garbage = 0

    # asyncio callbacks ------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio.Transport subclasses
        pn = transport.get_extra_info("peername")
        self.peer = f"{pn[0]}:{pn[1]}" if isinstance(pn, tuple) else str(pn)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        self.gw.conns.add(self)
        self.gw.stats.connections += 1
        self.gw.stats.connections_total += 1

    def data_received(self, data: bytes) -> None:
        self.last_rx = mono = time.monotonic()
        self.gw.stats.bytes_in += len(data)
        self._handle(self.reader.feed(data))
        if self.reader.buffered:
            if self.partial_since is None:
                self.partial_since = mono
        else:
            self.partial_since = None
        if self.garbage > GARBAGE_BUDGET:
            self.gw.stats.closed_garbage += 1
            self.close()
        elif self.pending >= PER_CONNECTION_PENDING_MAX and not self.paused and self.transport:
            self.transport.pause_reading()
            self.paused = True

    def quiet(self) -> None:
        """The peer went quiet with bytes buffered: deliver a frame that lacks only its CR LF."""
        self._handle(self.reader.idle())
        if not self.reader.buffered:
            self.partial_since = None

    def _handle(self, results: list) -> None:  # type: ignore[type-arg]
        gw = self.gw
        now_wall = time.time()
        lookup = gw.cache.lookup
        closed = self.closed
        for r in results:
            if isinstance(r, RawFrame):
                item = process_frame(r, lookup, received_utc=now_wall, peer=self.peer)
            else:
                self.garbage += len(r.data)
                item = process_framing_error(r, received_utc=now_wall, peer=self.peer)
            if not closed:
                item.waiter = self
                self.pending += 1
            gw.submit(item)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.gw.conns.discard(self)
        self.gw.stats.connections -= 1
        # a last frame lacking only CR LF is still a frame; the rest is kept with its reason
        self._handle(self.reader.idle())
        self._handle(self.reader.flush())

    # called by the gateway --------------------------------------------------------------------

    def committed(self, item: IngestItem) -> None:
        self.pending -= 1
        replies = item.replies
        if replies and not self.closed and self.transport is not None:
            self.transport.write(replies[0] if len(replies) == 1 else b"".join(replies))
        if self.paused and self.pending < PER_CONNECTION_PENDING_MAX // 2 and not self.gw.globally_paused:
            self.paused = False
            if self.transport is not None and not self.closed:
                self.transport.resume_reading()

    def close(self) -> None:
        if self.transport is not None and not self.closed:
            self.transport.close()


class Gateway:
    """HJ 212 TCP server bound to one store writer."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.cache = DeviceCache(engine)
        self.stats = GatewayStats()
        self.conns: set[Connection] = set()
        self.globally_paused = False
        self.writer = FrameWriter(engine, self._on_commit, batch_max=settings.batch_max,
                                  mode=settings.writer_mode, sqlite_synchronous=settings.sqlite_synchronous)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._sweeper: asyncio.Task | None = None
        self.port: int | None = None
        # Called on the event loop with every committed batch, after its acknowledgements are
        # written (streaming QC, ledger watchers). A listener must only enqueue: it runs on the
        # loop that serves every connection.
        self.listeners: list[Callable[[list[IngestItem]], None]] = []

    async def start(self, host: str | None = None, port: int | None = None) -> int:
        """Listen; returns the bound port (``port=0`` picks a free one)."""
        self._loop = asyncio.get_running_loop()
        self.writer.start(self._loop)  # process mode: driven by this loop, acks without a thread hop
        self._server = await self._loop.create_server(
            lambda: Connection(self),
            host if host is not None else self.settings.hj212_host,
            self.settings.hj212_port if port is None else port,
            reuse_address=True,
            backlog=4096,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._sweeper = self._loop.create_task(self._sweep())
        return self.port

    def submit(self, item: IngestItem) -> None:
        self.stats.received += 1
        self.writer.submit(item)
        if not self.globally_paused and self.writer.pending > self.settings.queue_max:
            self.globally_paused = True
            for c in self.conns:
                if c.transport is not None and not c.paused:
                    c.transport.pause_reading()
                    c.paused = True

    def _on_commit(self, batch: list[IngestItem]) -> None:
        if self.writer.on_loop:  # already on the loop
            self._committed(batch)
            return
        loop = self._loop  # from the writer thread
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._committed, batch)

    def _committed(self, batch: list[IngestItem]) -> None:
        st = self.stats
        st.committed += len(batch)
        accepted = 0
        for it in batch:
            status = it.status
            if status == ACCEPTED:
                accepted += 1
            else:
                st.status[status] += 1
                if it.reason and status == QUARANTINED:
                    st.reasons[it.reason] += 1
            w = it.waiter
            if w is not None:
                w.committed(it)
        if accepted:
            st.status[ACCEPTED] += accepted
        for listener in self.listeners:
            listener(batch)
        if self.globally_paused and self.writer.pending < self.settings.queue_max // 2:
            self.globally_paused = False
            for c in self.conns:
                if c.paused and c.pending < PER_CONNECTION_PENDING_MAX // 2 and c.transport is not None:
                    c.paused = False
                    c.transport.resume_reading()

    async def _sweep(self) -> None:
        """Cut idle connections and slow senders (a frame started but not finished in time)."""
        s = self.settings
        last_refresh = time.monotonic()
        while True:
            await asyncio.sleep(min(QUIET_S, s.frame_timeout_s / 4, s.idle_timeout_s / 4))
            now = time.monotonic()
            if now - last_refresh > 30.0:  # password / CRC-variant changes in the registry
                last_refresh = now
                await asyncio.to_thread(self.cache.refresh)
            for c in list(self.conns):
                if c.partial_since is not None and now - c.last_rx > QUIET_S:
                    c.quiet()
                if now - c.last_rx > s.idle_timeout_s and c.pending == 0:
                    self.stats.closed_idle += 1
                    c.close()
                elif c.partial_since is not None and now - c.partial_since > s.frame_timeout_s:
                    self.stats.closed_slow += 1
                    c.close()

    async def stop(self, drain_timeout: float = 30.0) -> None:
        """Graceful shutdown: stop accepting and reading, commit and acknowledge what was received."""
        if self._server is not None:
            self._server.close()
        for c in list(self.conns):
            if c.transport is not None and not c.paused:
                c.transport.pause_reading()
                c.paused = True
        deadline = time.monotonic() + drain_timeout
        while self.writer.pending and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0)  # let the last committed callbacks write their acks
        for c in list(self.conns):
            c.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
        await self.writer.aclose(max(0.0, deadline - time.monotonic()))
