"""A real asyncio TCP platform stub with fault injection, for the simulator's client tests."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from tianlan.hj212 import FrameReader, Packet, RawFrame, data_ack, decode

# policy(packet, times this exact frame was seen, this time included) -> "ack" | "drop" | "close" | "corrupt"
# ("corrupt": answer with a wrong CRC)
Policy = Callable[[Packet, int], str]


def always_ack(p: Packet, seen: int) -> str:
    return "ack"


@dataclass
class FakePlatform:
    """Listens on 127.0.0.1; answers uploads per ``policy``; records every frame received.

    ``received`` lists every frame (bytes) in arrival order; ``stored`` holds the distinct upload
    frames, as a platform that de-duplicates by content would store them. ``kill`` drops every connection and the
    listener at once (what the client sees when the gateway dies with ``kill -9``).
    """

    policy: Policy = always_ack
    port: int = 0
    received: list[bytes] = field(default_factory=list)
    packets: list[Packet] = field(default_factory=list)
    stored: set[bytes] = field(default_factory=set)
    connections: int = 0
    acks_sent: int = 0
    on_connect: Callable[[asyncio.StreamWriter], None] | None = None
    _server: asyncio.Server | None = None
    _writers: set[asyncio.StreamWriter] = field(default_factory=set)
    _seen: Counter[bytes] = field(default_factory=Counter)

    async def start(self) -> FakePlatform:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def kill(self) -> None:
        if self._server is not None:
            self._server.close()
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        if self.on_connect is not None:
            self.on_connect(writer)
        fr = FrameReader()
        try:
            while data := await reader.read(65536):
                for item in fr.feed(data):
                    if not isinstance(item, RawFrame):
                        continue
                    p = decode(item)
                    self.received.append(item.data)
                    self.packets.append(p)
                    if p.cn is not None and p.cn.startswith("9"):
                        continue  # the device's answers to our requests
                    self.stored.add(item.data)
                    self._seen[item.data] += 1
                    action = self.policy(p, self._seen[item.data])
                    if action == "close":
                        writer.transport.abort()
                        return
                    if action == "ack" and p.wants_ack:
                        writer.write(data_ack(p))
                        self.acks_sent += 1
                    if action == "corrupt" and p.wants_ack:
                        ack = data_ack(p)
                        bad = b"0000" if ack[-6:-2] != b"0000" else b"1111"
                        writer.write(ack[:-6] + bad + b"\r\n")
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(writer)
            writer.transport.abort()

    def times_received(self, frame: bytes) -> int:
        return self.received.count(frame)
