"""Tables: users, roles, API keys and the hash-chained ledger (issue 5 §0-2).

Registered on :data:`tianlan.store.schema.metadata`; the matching Alembic migration (0005) creates
them. The ledger is append-only: nothing in Tianlan updates or deletes a ``ledger_*`` row except the
one-row ``ledger_head`` (the chain's tip, locked by every append to serialise writers).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Float, Index, Integer, LargeBinary, String, Table, Text

from tianlan.store.schema import metadata

ID = BigInteger().with_variant(Integer, "sqlite")

users = Table(
    "users",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("username", String(64), nullable=False, unique=True),
    Column("display_name", Text, nullable=False, server_default=""),
    Column("role", String(16), nullable=False, comment="tianlan.auth.roles.Role value"),
    Column("scope", String(32), nullable=False, comment="region, enterprise or agency code, or the province code"),
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("password_hash", Text, nullable=False, comment="argon2id (PHC string)"),
    Column("public_key", LargeBinary(32), nullable=True, comment="personal Ed25519 public key (raw 32 bytes)"),
    Column("private_key_enc", LargeBinary, nullable=True,
           comment="personal Ed25519 private key, AES-256-GCM under an argon2id key derived from the password"),
    Column("created_utc", Float, nullable=False, comment="UTC epoch s"),
    Column("updated_utc", Float, nullable=False, comment="UTC epoch s"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    Column("prefix", String(16), nullable=False, comment="first characters of the secret, to recognise a key"),
    Column("secret_sha256", LargeBinary(32), nullable=False, unique=True,
           comment="SHA-256 of the secret (a 256-bit random token; the secret itself is never stored)"),
    Column("role", String(16), nullable=False),
    Column("scope", String(32), nullable=False),
    Column("rate_limit_per_min", Integer, nullable=False, server_default="60"),
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("created_by", String(64), nullable=False),
    Column("created_utc", Float, nullable=False, comment="UTC epoch s"),
    Column("revoked_utc", Float, nullable=True, comment="UTC epoch s"),
)

ledger_head = Table(
    "ledger_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False, comment="always 1"),
    Column("seq", BigInteger, nullable=False, comment="seq of the newest entry (0: empty ledger)"),
    Column("hash", LargeBinary(32), nullable=False, comment="hash of the newest entry (32 zero bytes: empty)"),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False,
           comment="1, 2, 3 … without gaps"),
    Column("time_utc", Float, nullable=False, comment="when the entry was appended, UTC epoch s"),
    Column("kind", String(32), nullable=False, comment="e.g. frames.seal, user.add, registry.device"),
    Column("actor", String(64), nullable=False, comment="username, or 'system'"),
    Column("subject_table", String(64), nullable=False, server_default=""),
    Column("subject_key", Text, nullable=False, server_default=""),
    Column("payload", Text, nullable=False, comment="canonical JSON (sorted keys, no spaces, UTF-8)"),
    Column("row_digest", LargeBinary(32), nullable=True, comment="SHA-256 of the covered row after the change"),
    Column("prev_hash", LargeBinary(32), nullable=False),
    Column("hash", LargeBinary(32), nullable=False, comment="SHA-256(prev_hash ‖ SHA-256(canonical body))"),
)
Index("ix_ledger_entries_subject", ledger_entries.c.subject_table, ledger_entries.c.subject_key)

ledger_seals = Table(
    "ledger_seals",
    metadata,
    Column("seq", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False,
           comment="the ledger entry that holds this seal's root"),
    Column("kind", String(12), nullable=False, comment="frames | observations"),
    Column("first_id", BigInteger, nullable=False,
           comment="frames: first raw_frames.id covered; observations: start of the hour window (UTC epoch s)"),
    Column("last_id", BigInteger, nullable=False,
           comment="frames: last raw_frames.id covered (ids contiguous); observations: frames seen up to this id"),
    Column("n", Integer, nullable=False, comment="number of leaves"),
    Column("root", LargeBinary(32), nullable=False, comment="RFC 6962 Merkle root over the leaves"),
    Column("leaves", LargeBinary, nullable=False,
           comment="the leaves' data in order: frames 32 bytes (SHA-256) each; observations 44 bytes each"),
)
# an observation window is sealed again when late data arrive: (kind, first_id) repeats
Index("ix_ledger_seals_kind_first_id", ledger_seals.c.kind, ledger_seals.c.first_id)

ledger_checkpoints = Table(
    "ledger_checkpoints",
    metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("first_seq", BigInteger, nullable=False, comment="first entry covered (previous checkpoint's seq + 1)"),
    Column("seq", BigInteger, nullable=False, comment="last entry covered: the signed head"),
    Column("hash", LargeBinary(32), nullable=False, comment="hash of entry seq"),
    Column("entries_root", LargeBinary(32), nullable=False,
           comment="RFC 6962 Merkle root over the hashes of entries first_seq..seq"),
    Column("entry_hashes", LargeBinary, nullable=False, comment="hashes of entries first_seq..seq, 32 bytes each"),
    Column("time_utc", Float, nullable=False, comment="UTC epoch s"),
    Column("key_id", String(16), nullable=False, comment="first 16 hex digits of SHA-256(public key)"),
    Column("public_key", LargeBinary(32), nullable=False, comment="platform Ed25519 public key (raw)"),
    Column("signature", LargeBinary(64), nullable=False, comment="Ed25519 over the canonical checkpoint message"),
)
Index("ix_ledger_checkpoints_seq", ledger_checkpoints.c.seq)
