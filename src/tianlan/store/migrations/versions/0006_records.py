"""record versions, reviews, custody, marks, interference records

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "observation_versions",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False, comment="observations.device_id of the corrected value"),
        sa.Column("parameter", sa.String(16), nullable=False, comment="HJ 212 code"),
        sa.Column("kind", sa.String(4), nullable=False, comment="rtd | min | hour | day ..."),
        sa.Column("time_utc", sa.BigInteger(), nullable=False, comment="observation period start, UTC epoch s"),
        sa.Column("action", sa.String(12), nullable=False, comment="correct | substitute | invalidate"),
        sa.Column("value", sa.Float(), nullable=True, comment="new value (none for invalidate); unit of the parameter"),
        sa.Column("flag", sa.String(4), nullable=True, comment="new data flag (none: keep the raw flag)"),
        sa.Column("reason", sa.Text(), nullable=False, comment="why"),
        sa.Column("document", sa.Text(), nullable=False, comment="supporting document reference"),
        sa.Column("proposed_by", sa.String(64), nullable=False),
        sa.Column("proposed_utc", sa.Float(), nullable=False, comment="UTC epoch s"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_observation_versions")),
    )
    op.create_index("ix_observation_versions_device_id", "observation_versions", ["device_id", "time_utc"])
    op.create_table(
        "version_decisions",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("version_id", sa.BigInteger(), nullable=False),
        sa.Column("decision", sa.String(8), nullable=False, comment="approve | reject"),
        sa.Column("user", sa.String(64), nullable=False, comment="the second user (never the proposer)"),
        sa.Column("time_utc", sa.Float(), nullable=False,
                  comment="UTC epoch s: from this moment the version is in effect"),
        sa.Column("note", sa.Text(), server_default="", nullable=False),
        sa.Column("prev_value", sa.Float(), nullable=True, comment="value in effect just before (approve)"),
        sa.Column("prev_flag", sa.String(4), nullable=True, comment="flag in effect just before (approve)"),
        sa.ForeignKeyConstraint(["version_id"], ["observation_versions.id"],
                                name=op.f("fk_version_decisions_version_id_observation_versions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_version_decisions")),
    )
    op.create_index("ix_version_decisions_version_id", "version_decisions", ["version_id"], unique=True)
    op.create_table(
        "review_actions",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("station", sa.String(32), nullable=False,
                  comment="site code (or device MN when the device has no site)"),
        sa.Column("day_utc", sa.BigInteger(), nullable=False, comment="start of the Beijing calendar day, UTC epoch s"),
        sa.Column("revision", sa.Integer(), nullable=False, comment="1, then +1 for each reopening of a signed day"),
        sa.Column("level", sa.Integer(), nullable=False, comment="1 city/operator | 2 province | 3 sign-off"),
        sa.Column("action", sa.String(12), nullable=False, comment="approve | send-back | sign | reopen"),
        sa.Column("user", sa.String(64), nullable=False),
        sa.Column("time_utc", sa.Float(), nullable=False, comment="UTC epoch s"),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("digest", sa.String(64), nullable=True, comment="SHA-256 hex of the day's content as reviewed"),
        sa.Column("signature", sa.Text(), nullable=True, comment="base64 Ed25519 signature of the review message"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_actions")),
    )
    op.create_index("ix_review_actions_station", "review_actions", ["station", "day_utc"])
    op.create_table(
        "custody_samples",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("code", sa.String(64), nullable=False, comment="sample number as written on the container"),
        sa.Column("owner_scope", sa.String(32), nullable=False,
                  comment="scope (agency or region code) of the user who sampled"),
        sa.Column("site_code", sa.String(32), nullable=True, comment="monitoring site sampled, if registered"),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_utc", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custody_samples")),
        sa.UniqueConstraint("code", name=op.f("uq_custody_samples_code")),
    )
    op.create_table(
        "custody_steps",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("sample_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False, comment="1, 2, ... in the order recorded"),
        sa.Column("step", sa.String(12), nullable=False, comment="sample | transfer | analysis | report"),
        sa.Column("time_utc", sa.BigInteger(), nullable=False, comment="when the step happened, UTC epoch s"),
        sa.Column("actor", sa.String(64), nullable=False, comment="user who performed and signed the step"),
        sa.Column("details", sa.Text(), nullable=False, comment="JSON: the step's fields"),
        sa.Column("signature", sa.Text(), nullable=False, comment="base64 Ed25519 signature of the step message"),
        sa.Column("recorded_utc", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["sample_id"], ["custody_samples.id"],
                                name=op.f("fk_custody_steps_sample_id_custody_samples")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custody_steps")),
    )
    op.create_index("ix_custody_steps_sample_id", "custody_steps", ["sample_id", "seq"], unique=True)
    op.create_table(
        "enterprise_marks",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("station", sa.String(32), nullable=False, comment="outlet site code"),
        sa.Column("enterprise_code", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False,
                  comment="maintenance | fault | calibration | commissioning | start-up | shutdown | "
                          "treatment-fault | other"),
        sa.Column("start_utc", sa.BigInteger(), nullable=False, comment="marked period start, UTC epoch s (inclusive)"),
        sa.Column("end_utc", sa.BigInteger(), nullable=False, comment="marked period end, UTC epoch s (exclusive)"),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("document", sa.Text(), server_default="", nullable=False, comment="supporting document reference"),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_utc", sa.Float(), nullable=False),
        sa.Column("timeliness", sa.String(12), nullable=False, comment="on-time | retroactive | late"),
        sa.Column("delay_s", sa.Float(), server_default="0", nullable=False,
                  comment="creation minus period start, s (≥ 0)"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enterprise_marks")),
    )
    op.create_index("ix_enterprise_marks_station", "enterprise_marks", ["station", "start_utc"])
    op.create_table(
        "interference_records",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("filer", sa.String(64), nullable=False),
        sa.Column("filed_utc", sa.Float(), nullable=False),
        sa.Column("occurred_utc", sa.BigInteger(), nullable=False, comment="when the interference happened, UTC epoch s"),
        sa.Column("method", sa.String(12), nullable=False, comment="written | letter | verbal | hint | other"),
        sa.Column("officials", sa.Text(), nullable=False, comment="JSON list: name, position, organisation, username"),
        sa.Column("request", sa.Text(), nullable=False, comment="what was asked"),
        sa.Column("station", sa.String(32), nullable=True, comment="station or data concerned, if any"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interference_records")),
    )
    op.create_table(
        "interference_addenda",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("author", sa.String(64), nullable=False),
        sa.Column("time_utc", sa.Float(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["record_id"], ["interference_records.id"],
                                name=op.f("fk_interference_addenda_record_id_interference_records")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interference_addenda")),
    )
    op.create_index("ix_interference_addenda_record_id", "interference_addenda", ["record_id"])
    op.create_table(
        "interference_attachments",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("record_id", sa.BigInteger(), nullable=False),
        sa.Column("addendum_id", sa.BigInteger(), nullable=True, comment="the addendum it came with (none: the filing)"),
        sa.Column("filename", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False, comment="SHA-256 hex of data"),
        sa.Column("size", sa.BigInteger(), nullable=False, comment="bytes"),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("added_by", sa.String(64), nullable=False),
        sa.Column("added_utc", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["record_id"], ["interference_records.id"],
                                name=op.f("fk_interference_attachments_record_id_interference_records")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interference_attachments")),
    )
    op.create_index("ix_interference_attachments_record_id", "interference_attachments", ["record_id"])


def downgrade() -> None:
    op.drop_index("ix_interference_attachments_record_id", table_name="interference_attachments")
    op.drop_table("interference_attachments")
    op.drop_index("ix_interference_addenda_record_id", table_name="interference_addenda")
    op.drop_table("interference_addenda")
    op.drop_table("interference_records")
    op.drop_index("ix_enterprise_marks_station", table_name="enterprise_marks")
    op.drop_table("enterprise_marks")
    op.drop_index("ix_custody_steps_sample_id", table_name="custody_steps")
    op.drop_table("custody_steps")
    op.drop_table("custody_samples")
    op.drop_index("ix_review_actions_station", table_name="review_actions")
    op.drop_table("review_actions")
    op.drop_index("ix_version_decisions_version_id", table_name="version_decisions")
    op.drop_table("version_decisions")
    op.drop_index("ix_observation_versions_device_id", table_name="observation_versions")
    op.drop_table("observation_versions")
