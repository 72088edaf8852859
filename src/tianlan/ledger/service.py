"""The ledger's periodic work in a running platform: seal what is pending, sign a checkpoint.

``tianlan serve`` runs :func:`ledger_periodically` next to the gateway: once at start (sealing the
frames of an older data directory, or any committed without a seal) and then every
``ledger_checkpoint_interval_s`` seconds, so that entries are covered by a signed checkpoint
within that interval and observations are sealed soon after they are written.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine

from tianlan.ledger.checkpoints import Checkpoint, checkpoint, key_path, load_or_create_key
from tianlan.ledger.frames import seal_pending

log = logging.getLogger(__name__)


def seal_and_checkpoint(engine: Engine, key: Ed25519PrivateKey) -> tuple[dict[str, int], Checkpoint | None]:
    """Seal pending frames and observations, then sign a checkpoint over new entries."""
    sealed = seal_pending(engine)
    return sealed, checkpoint(engine, key)


async def ledger_periodically(engine: Engine, settings: Any, stop: asyncio.Event) -> None:
    """Run :func:`seal_and_checkpoint` now and every ``settings.ledger_checkpoint_interval_s`` until ``stop``."""
    interval = float(settings.ledger_checkpoint_interval_s)
    if interval <= 0:
        return
    key = load_or_create_key(key_path(settings))
    while not stop.is_set():
        try:
            sealed, cp = await asyncio.to_thread(seal_and_checkpoint, engine, key)
            if sealed["frames"]:
                log.info("ledger: sealed %d frames committed without a seal", sealed["frames"])
            if cp is not None:
                log.debug("ledger: checkpoint #%d signed at seq %d", cp.id, cp.seq)
        except Exception:
            log.exception("ledger: periodic seal/checkpoint failed (will retry)")
        try:
            await asyncio.wait_for(stop.wait(), interval)
        except TimeoutError:
            pass


def final_checkpoint(engine: Engine, settings: Any) -> tuple[dict[str, int], Checkpoint | None]:
    """At shutdown, after the gateway drained: seal what is pending and sign it, so that a stopped
    platform's ledger ends in a signed checkpoint (``ledger verify`` then reports no unsigned tail)."""
    return seal_and_checkpoint(engine, load_or_create_key(key_path(settings)))
