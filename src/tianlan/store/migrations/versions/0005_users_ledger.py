"""users, roles, API keys, ledger entries and checkpoints

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("display_name", sa.Text(), server_default="", nullable=False),
        sa.Column("role", sa.String(16), nullable=False, comment="tianlan.auth.roles.Role value"),
        sa.Column("scope", sa.String(32), nullable=False,
                  comment="region, enterprise or agency code, or the province code"),
        sa.Column("active", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False, comment="argon2id (PHC string)"),
        sa.Column("public_key", sa.LargeBinary(32), nullable=True,
                  comment="personal Ed25519 public key (raw 32 bytes)"),
        sa.Column("private_key_enc", sa.LargeBinary(), nullable=True,
                  comment="personal Ed25519 private key, AES-256-GCM under an argon2id key derived from the password"),
        sa.Column("created_utc", sa.Float(), nullable=False, comment="UTC epoch s"),
        sa.Column("updated_utc", sa.Float(), nullable=False, comment="UTC epoch s"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False,
                  comment="first characters of the secret, to recognise a key"),
        sa.Column("secret_sha256", sa.LargeBinary(32), nullable=False,
                  comment="SHA-256 of the secret (a 256-bit random token; the secret itself is never stored)"),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("scope", sa.String(32), nullable=False),
        sa.Column("rate_limit_per_min", sa.Integer(), server_default="60", nullable=False),
        sa.Column("active", sa.Boolean(), server_default="1", nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_utc", sa.Float(), nullable=False, comment="UTC epoch s"),
        sa.Column("revoked_utc", sa.Float(), nullable=True, comment="UTC epoch s"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("secret_sha256", name=op.f("uq_api_keys_secret_sha256")),
    )
    op.create_table(
        "ledger_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False, comment="always 1"),
        sa.Column("seq", sa.BigInteger(), nullable=False, comment="seq of the newest entry (0: empty ledger)"),
        sa.Column("hash", sa.LargeBinary(32), nullable=False,
                  comment="hash of the newest entry (32 zero bytes: empty)"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_head")),
    )
    head = sa.table("ledger_head", sa.column("id", sa.Integer()), sa.column("seq", sa.BigInteger()),
                    sa.column("hash", sa.LargeBinary()))
    op.bulk_insert(head, [{"id": 1, "seq": 0, "hash": bytes(32)}])
    op.create_table(
        "ledger_entries",
        sa.Column("seq", ID, autoincrement=False, nullable=False, comment="1, 2, 3 … without gaps"),
        sa.Column("time_utc", sa.Float(), nullable=False, comment="when the entry was appended, UTC epoch s"),
        sa.Column("kind", sa.String(32), nullable=False, comment="e.g. frames.seal, user.add, registry.device"),
        sa.Column("actor", sa.String(64), nullable=False, comment="username, or 'system'"),
        sa.Column("subject_table", sa.String(64), server_default="", nullable=False),
        sa.Column("subject_key", sa.Text(), server_default="", nullable=False),
        sa.Column("payload", sa.Text(), nullable=False, comment="canonical JSON (sorted keys, no spaces, UTF-8)"),
        sa.Column("row_digest", sa.LargeBinary(32), nullable=True,
                  comment="SHA-256 of the covered row after the change"),
        sa.Column("prev_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False,
                  comment="SHA-256(prev_hash ‖ SHA-256(canonical body))"),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_ledger_entries")),
    )
    op.create_index("ix_ledger_entries_subject", "ledger_entries", ["subject_table", "subject_key"])
    op.create_table(
        "ledger_seals",
        sa.Column("seq", ID, autoincrement=False, nullable=False,
                  comment="the ledger entry that holds this seal's root"),
        sa.Column("kind", sa.String(12), nullable=False, comment="frames | observations"),
        sa.Column("first_id", sa.BigInteger(), nullable=False,
                  comment="frames: first raw_frames.id covered; observations: start of the hour window (UTC epoch s)"),
        sa.Column("last_id", sa.BigInteger(), nullable=False,
                  comment="frames: last raw_frames.id covered (ids contiguous); observations: frames seen up to this id"),
        sa.Column("n", sa.Integer(), nullable=False, comment="number of leaves"),
        sa.Column("root", sa.LargeBinary(32), nullable=False, comment="RFC 6962 Merkle root over the leaves"),
        sa.Column("leaves", sa.LargeBinary(), nullable=False,
                  comment="the leaves' data in order: frames 32 bytes (SHA-256) each; observations 44 bytes each"),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_ledger_seals")),
    )
    op.create_index("ix_ledger_seals_kind_first_id", "ledger_seals", ["kind", "first_id"])
    op.create_table(
        "ledger_checkpoints",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("first_seq", sa.BigInteger(), nullable=False,
                  comment="first entry covered (previous checkpoint's seq + 1)"),
        sa.Column("seq", sa.BigInteger(), nullable=False, comment="last entry covered: the signed head"),
        sa.Column("hash", sa.LargeBinary(32), nullable=False, comment="hash of entry seq"),
        sa.Column("entries_root", sa.LargeBinary(32), nullable=False,
                  comment="RFC 6962 Merkle root over the hashes of entries first_seq..seq"),
        sa.Column("entry_hashes", sa.LargeBinary(), nullable=False,
                  comment="hashes of entries first_seq..seq, 32 bytes each"),
        sa.Column("time_utc", sa.Float(), nullable=False, comment="UTC epoch s"),
        sa.Column("key_id", sa.String(16), nullable=False, comment="first 16 hex digits of SHA-256(public key)"),
        sa.Column("public_key", sa.LargeBinary(32), nullable=False, comment="platform Ed25519 public key (raw)"),
        sa.Column("signature", sa.LargeBinary(64), nullable=False,
                  comment="Ed25519 over the canonical checkpoint message"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_checkpoints")),
    )
    op.create_index("ix_ledger_checkpoints_seq", "ledger_checkpoints", ["seq"])


def downgrade() -> None:
    op.drop_index("ix_ledger_checkpoints_seq", table_name="ledger_checkpoints")
    op.drop_table("ledger_checkpoints")
    op.drop_index("ix_ledger_seals_kind_first_id", table_name="ledger_seals")
    op.drop_table("ledger_seals")
    op.drop_index("ix_ledger_entries_subject", table_name="ledger_entries")
    op.drop_table("ledger_entries")
    op.drop_table("ledger_head")
    op.drop_table("api_keys")
    op.drop_table("users")
