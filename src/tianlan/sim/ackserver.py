"""A trivial HJ 212 platform stub: answers every upload that asks for it with a 9014, at once.

It stores nothing and checks nothing but framing, so it measures the simulator's own ceiling
(``tianlan simulate ackserver`` in one process, ``tianlan simulate run``/``blast`` in another).
Answers are the codec's ``data_ack`` (2017 form, or the 2005 form for 2005 uploads).
"""

from __future__ import annotations

import asyncio

from tianlan.hj212 import FrameReader, RawFrame, data_ack, decode


class _AckProtocol(asyncio.Protocol):
    def __init__(self, server: AckServer) -> None:
        self.server = server
        self.reader = FrameReader()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.server.connections += 1

    def data_received(self, data: bytes) -> None:
        out = []
        for item in self.reader.feed(data):
            if not isinstance(item, RawFrame):
                continue
            self.server.frames += 1
            try:
                p = decode(item)
            except ValueError:
                continue
            if p.wants_ack and p.crc_variant is not None:
                out.append(data_ack(p))
        if out and self.transport is not None:
            self.transport.write(b"".join(out))

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.connections -= 1


class AckServer:
    """Listen on ``host``:``port`` (0: a free port, see :attr:`port`) and answer uploads with 9014.

    ``frames`` counts frames received, ``connections`` open connections.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, backlog: int = 4096) -> None:
        self.host = host
        self.port = port
        self.backlog = backlog
        self.frames = 0
        self.connections = 0
        self._server: asyncio.Server | None = None

    async def start(self) -> AckServer:
        """Start listening; returns self (the bound port is in :attr:`port`)."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _AckProtocol(self), self.host, self.port,
                                                backlog=self.backlog, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def close(self) -> None:
        """Stop listening and close the server."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def serve_forever(self) -> None:
        """Start if needed and serve until cancelled."""
        if self._server is None:
            await self.start()
        assert self._server is not None
        await self._server.serve_forever()
