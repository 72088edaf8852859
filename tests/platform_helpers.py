"""Running a platform in a background thread on free ports (used by fixtures and tests)."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from tianlan.settings import Settings


@dataclass
class Platform:
    """A platform running in a background thread on free ports."""

    engine: Engine
    settings: Settings
    hj212_port: int
    http_port: int
    running: object
    loop: asyncio.AbstractEventLoop

    def stop(self) -> None:
        r = self.running
        self.loop.call_soon_threadsafe(r.stop.set)  # type: ignore[attr-defined]


def start_platform(engine: Engine, tmp_path: Path, **settings: object) -> tuple[Platform, threading.Thread]:
    from tianlan import runtime

    s = Settings(data_dir=tmp_path, hj212_port=0, http_port=0, hj212_host="127.0.0.1", **settings)  # type: ignore[arg-type]
    ready = threading.Event()
    box: dict = {}

    def target() -> None:
        async def main() -> None:
            def on_ready(r: runtime.Running) -> None:
                box["running"] = r
                box["loop"] = asyncio.get_running_loop()
                ready.set()

            await runtime.serve(engine, s, on_ready=on_ready, install_signals=False)

        asyncio.run(main())

    th = threading.Thread(target=target, daemon=True)
    th.start()
    assert ready.wait(20), "platform did not start"
    r = box["running"]
    return Platform(engine, s, r.hj212_port, r.http_port, r, box["loop"]), th
