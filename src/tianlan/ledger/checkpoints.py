"""Signed checkpoints of the ledger and the platform's Ed25519 key (issue 5 §1).

A checkpoint covers the entries since the previous one (``first_seq..seq``): it stores their
hashes and signs, with the platform key, the canonical message
(:func:`tianlan.ledger.canonical.checkpoint_message`) that names the head (seq and hash) and the
RFC 6962 Merkle root over those entry hashes. So:

- rewriting an entry — even with every later hash recomputed — no longer matches the signed
  hashes, and verification names the entry;
- one entry's inclusion in a signed head is proven with log2(n) hashes (``tianlan ledger prove``);
- the head printed by ``tianlan ledger head`` can be published outside the platform: a store
  rolled back or rewritten behind it cannot show that head any more.

The key lives in a PEM file (setting ``ledger_key_file``; default
``<data_dir>/keys/platform-ed25519.pem``), created on first use with mode 0600.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Engine

from tianlan.auth.keys import key_id, public_bytes
from tianlan.errors import ConfigError
from tianlan.ledger import merkle
from tianlan.ledger.canonical import checkpoint_message
from tianlan.store import ledger_repo as repo

KEY_NAME = "platform-ed25519.pem"


def key_path(settings: Any) -> Path:
    """The platform key file of ``settings`` (a :class:`tianlan.settings.Settings`)."""
    if getattr(settings, "ledger_key_file", None):
        return Path(settings.ledger_key_file)
    return Path(settings.data_dir) / "keys" / KEY_NAME


def load_or_create_key(path: Path) -> Ed25519PrivateKey:
    """The platform key at ``path``; a new one is generated (mode 0600) when the file does not exist."""
    if path.exists():
        return load_key(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    k = Ed25519PrivateKey.generate()
    pem = k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return k


def load_key(path: Path) -> Ed25519PrivateKey:
    try:
        k = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as e:
        raise ConfigError(f"ledger_key_file: cannot read the platform key {path}: {e}") from e
    if not isinstance(k, Ed25519PrivateKey):
        raise ConfigError(f"ledger_key_file: {path} is not an Ed25519 private key")
    return k


def load_public_key(text_or_path: str) -> bytes:
    """A trusted public key given as 64 hex digits, or a PEM file (public or private key)."""
    t = text_or_path.strip()
    if len(t) == 64:
        try:
            return bytes.fromhex(t)
        except ValueError:
            pass
    p = Path(t)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise ConfigError(f"--public-key: neither 64 hex digits nor a readable PEM file: {e}") from e
    if b"PRIVATE KEY" in data:
        return public_bytes(load_key(p))
    k = serialization.load_pem_public_key(data)
    if not isinstance(k, Ed25519PublicKey):
        raise ConfigError(f"--public-key: {p} is not an Ed25519 public key")
    return k.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    id: int
    first_seq: int
    seq: int
    hash: bytes
    entries_root: bytes
    time_utc: float
    key_id: str
    public_key: bytes
    signature: bytes

    def message(self) -> bytes:
        return checkpoint_message(first_seq=self.first_seq, seq=self.seq, head_hash=self.hash,
                                  entries_root=self.entries_root, time_utc=self.time_utc, key_id=self.key_id)

    def to_json(self) -> dict[str, Any]:
        """The signed head for publication: everything needed to check it with the public key."""
        return {"platform": "tianlan", "type": "ledger-checkpoint", "checkpoint_id": self.id,
                "first_seq": self.first_seq, "seq": self.seq, "hash": self.hash.hex(),
                "entries_root": self.entries_root.hex(), "time_utc": self.time_utc, "key_id": self.key_id,
                "public_key": self.public_key.hex(), "signature": self.signature.hex(),
                "message": self.message().decode("utf-8")}


def from_row(r: repo.CheckpointRow) -> Checkpoint:
    return Checkpoint(r.id, r.first_seq, r.seq, r.hash, r.entries_root, r.time_utc, r.key_id, r.public_key,
                      r.signature)


def checkpoint(engine: Engine, key: Ed25519PrivateKey) -> Checkpoint | None:
    """Sign a checkpoint over the entries since the last one; None when there are none."""
    import time

    pub = public_bytes(key)
    with engine.begin() as conn:
        repo.lock_for_checkpoint(conn)  # no entry can be appended while we read the tail and sign
        seq, head_hash = repo.head(conn)
        last = repo.last_checkpoint(conn)
        first = (last.seq + 1) if last is not None else 1
        if first > seq:
            return None
        hashes = repo.entry_hashes(conn, first, seq)
        if len(hashes) != seq - first + 1 or (hashes and hashes[-1][1] != head_hash):
            # the stored entries do not match the head: never sign over a damaged ledger
            raise ConfigError("ledger: entries do not match the head; run `tianlan ledger verify` before signing")
        leaves = [h for _, h in hashes]
        root = merkle.root(leaves)
        now = time.time()
        kid = key_id(pub)
        msg = checkpoint_message(first_seq=first, seq=seq, head_hash=head_hash, entries_root=root, time_utc=now,
                                 key_id=kid)
        sig = key.sign(msg)
        cid = repo.insert_checkpoint(conn, {"first_seq": first, "seq": seq, "hash": head_hash, "entries_root": root,
                                            "entry_hashes": b"".join(leaves), "time_utc": now, "key_id": kid,
                                            "public_key": pub, "signature": sig})
    return Checkpoint(cid, first, seq, head_hash, root, now, kid, pub, sig)


def latest(engine: Engine) -> Checkpoint | None:
    with engine.connect() as conn:
        r = repo.last_checkpoint(conn)
    return None if r is None else from_row(r)
