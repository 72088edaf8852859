"""The gateway's view of the device registry: MN → credentials, refreshed when it changes."""

from __future__ import annotations

import time

from sqlalchemy import Engine, select

from tianlan.ingest.processor import DeviceAuth
from tianlan.store.schema import devices


class DeviceCache:
    """Looks devices up by MN in memory; an unknown MN triggers a re-read of the table.

    Re-reads are rate-limited (``min_refresh_s``) so a flood of frames from unknown MNs cannot turn
    into a flood of queries; a device added with ``tianlan device add`` while the server runs is
    therefore recognised within that delay.
    """

    def __init__(self, engine: Engine, *, min_refresh_s: float = 1.0) -> None:
        self.engine = engine
        self.min_refresh_s = min_refresh_s
        self._by_mn: dict[str, DeviceAuth] = {}
        self._last_refresh = 0.0
        self.refresh()

    def refresh(self) -> None:
        d = devices.c
        with self.engine.connect() as c:
            rows = c.execute(select(d.id, d.mn, d.password, d.crc_variant, d.active)).all()
        self._by_mn = {
            mn: DeviceAuth(id=i, mn=mn, password=pw, crc_variants=frozenset({"standard", crc or "standard"}), active=bool(act))
            for i, mn, pw, crc, act in rows
        }
        self._last_refresh = time.monotonic()

    def __len__(self) -> int:
        return len(self._by_mn)

    def lookup(self, mn: str) -> DeviceAuth | None:
        dev = self._by_mn.get(mn)
        if dev is None and time.monotonic() - self._last_refresh >= self.min_refresh_s:
            self.refresh()
            dev = self._by_mn.get(mn)
        return dev
