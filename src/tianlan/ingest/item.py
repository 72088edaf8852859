"""One received frame on its way to the store: the raw bytes, the verdict and what it yields."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from tianlan.ingest.observations import ObsRow

# Status of a raw frame (raw_frames.status).
ACCEPTED = "accepted"  # decoded, authenticated; its values are stored as observations
DUPLICATE = "duplicate"  # byte-identical to an accepted frame (a retransmission); archived, acked again
QUARANTINED = "quarantined"  # kept byte for byte with the reason; never stored as data, never acked



@dataclass(slots=True)
class IngestItem:
    """A received frame with its verdict; the writer stores it and then ``replies`` are sent."""

    data: bytes
    received_utc: float
    peer: str
    channel: str = "tcp"
    status: str = QUARANTINED
    reason: str | None = None
    detail: str | None = None
    mn: str | None = None
    device_id: int | None = None
    qn: str | None = None
    cn: str | None = None
    crc_variant: str | None = None
    relaxations: str | None = None
    obs: list[ObsRow] = field(default_factory=list)
    replies: list[bytes] = field(default_factory=list)
    # Set by the writer:
    frame_id: int | None = None
    duplicate_of: int | None = None
    sha256: bytes = b""
    # Opaque handle of whoever waits for the commit (a gateway connection, an HTTP request).
    waiter: Any = None

    def __post_init__(self) -> None:
        if not self.sha256:
            self.sha256 = hashlib.sha256(self.data).digest()

    def quarantine(self, reason: str, detail: str) -> IngestItem:
        """Mark as quarantined: archived with the reason, no observations, no acknowledgement."""
        self.status = QUARANTINED
        self.reason = reason
        self.detail = detail
        self.obs = []
        self.replies = []
        return self
