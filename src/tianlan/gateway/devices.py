"""The gateway's view of the device registry: MN → credentials, kept fresh cheaply.

A known MN is answered from memory. An unknown MN is looked up in the store by its unique index
(so a device added with ``tianlan device add`` while the server runs is recognised at once), and
the miss is remembered for ``negative_ttl_s`` so a flood of frames from unknown MNs costs at most
one query per MN per that time. ``refresh`` re-reads the whole table (password or CRC changes);
the gateway calls it periodically.
"""

from __future__ import annotations

import time

from sqlalchemy import Engine, select

from tianlan.ingest.processor import DeviceAuth
from tianlan.store.schema import devices

_COLS = (devices.c.id, devices.c.mn, devices.c.password, devices.c.crc_variant, devices.c.active)


def _auth(row) -> DeviceAuth:  # type: ignore[no-untyped-def]
    i, mn, pw, crc, act = row
    return DeviceAuth(id=i, mn=mn, password=pw, crc_variants=frozenset({"standard", crc or "standard"}), active=bool(act))


class DeviceCache:
    """Device credentials by MN, with negative caching of unknown MNs."""

    def __init__(self, engine: Engine, *, negative_ttl_s: float = 1.0) -> None:
        self.engine = engine
        self.negative_ttl_s = negative_ttl_s
        self._by_mn: dict[str, DeviceAuth] = {}
        self._misses: dict[str, float] = {}
        self.refresh()

    def refresh(self) -> None:
        with self.engine.connect() as c:
            rows = c.execute(select(*_COLS)).all()
        self._by_mn = {r[1]: _auth(r) for r in rows}
        self._misses.clear()

    def __len__(self) -> int:
        return len(self._by_mn)

    def lookup(self, mn: str) -> DeviceAuth | None:
        dev = self._by_mn.get(mn)
        if dev is not None:
            return dev
        now = time.monotonic()
        missed = self._misses.get(mn)
        if missed is not None and now - missed < self.negative_ttl_s:
            return None
        with self.engine.connect() as c:
            row = c.execute(select(*_COLS).where(devices.c.mn == mn)).first()
        if row is None:
            if len(self._misses) > 100_000:
                self._misses.clear()
            self._misses[mn] = now
            return None
        dev = self._by_mn[mn] = _auth(row)
        self._misses.pop(mn, None)
        return dev
