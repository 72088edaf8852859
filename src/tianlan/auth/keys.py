"""Personal and platform Ed25519 keys; passwords hashed with argon2id (memory-hard).

- A password is stored as an argon2id PHC string (RFC 9106; 64 MiB, 3 passes, 4 lanes).
- Each user's Ed25519 private key is stored encrypted with AES-256-GCM under a key derived from
  the user's password with argon2id (its own random salt), bound to the username as associated
  data. Without the password nobody — the platform included — can sign as that user.
- Signatures are Ed25519 (RFC 8032) over the exact message bytes; public keys are raw 32 bytes.
"""

from __future__ import annotations

import os
import struct

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.low_level import hash_secret_raw
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tianlan.errors import AuthError

# RFC 9106 §4 second recommended option (64 MiB). Tests may lower these through set_cost().
_COST = {"time_cost": 3, "memory_cost": 65536, "parallelism": 4}
_hasher = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4, type=Type.ID)
_BLOB_V1 = b"TK1"


def set_cost(*, time_cost: int, memory_cost: int, parallelism: int) -> None:
    """Change the argon2id cost of new hashes and key encryptions (stored hashes keep their own)."""
    global _hasher
    _COST.update(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism, type=Type.ID)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def new_keypair() -> tuple[Ed25519PrivateKey, bytes]:
    """(private key, raw 32-byte public key)."""
    k = Ed25519PrivateKey.generate()
    return k, public_bytes(k)


def public_bytes(k: Ed25519PrivateKey) -> bytes:
    return k.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _kdf(password: str, salt: bytes, t: int, m: int, p: int) -> bytes:
    return hash_secret_raw(password.encode("utf-8"), salt, time_cost=t, memory_cost=m, parallelism=p,
                           hash_len=32, type=Type.ID)


def encrypt_private_key(k: Ed25519PrivateKey, password: str, username: str) -> bytes:
    """``TK1 ‖ t m p (struct >BIB) ‖ salt(16) ‖ nonce(12) ‖ AES-GCM(raw private key)``."""
    raw = k.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    t, m, p = _COST["time_cost"], _COST["memory_cost"], _COST["parallelism"]
    salt, nonce = os.urandom(16), os.urandom(12)
    ct = AESGCM(_kdf(password, salt, t, m, p)).encrypt(nonce, raw, username.encode("utf-8"))
    return _BLOB_V1 + struct.pack(">BIB", t, m, p) + salt + nonce + ct


def decrypt_private_key(blob: bytes, password: str, username: str) -> Ed25519PrivateKey:
    """The private key; AuthError if the password (or the blob) is wrong."""
    if blob[:3] != _BLOB_V1 or len(blob) < 3 + 6 + 16 + 12 + 48:
        raise AuthError(reason="private key blob malformed")
    t, m, p = struct.unpack(">BIB", blob[3:9])
    salt, nonce, ct = blob[9:25], blob[25:37], blob[37:]
    try:
        raw = AESGCM(_kdf(password, salt, t, m, p)).decrypt(nonce, ct, username.encode("utf-8"))
    except InvalidTag:
        raise AuthError(reason="private key does not decrypt with this password") from None
    return Ed25519PrivateKey.from_private_bytes(raw)


def sign(k: Ed25519PrivateKey, message: bytes) -> bytes:
    return k.sign(message)


def verify_signature(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """True when ``signature`` is a valid Ed25519 signature of ``message`` by ``public_key`` (raw 32 bytes)."""
    try:
        Ed25519PublicKey.from_public_bytes(bytes(public_key)).verify(bytes(signature), bytes(message))
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False


def key_id(public_key: bytes) -> str:
    """First 16 hex digits of SHA-256 of the raw public key."""
    from hashlib import sha256

    return sha256(public_key).hexdigest()[:16]
