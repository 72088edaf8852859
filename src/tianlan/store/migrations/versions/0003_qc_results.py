"""quality control: qc_results (one row per detector call and value range)

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "qc_results",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("detector", sa.String(16), nullable=False, comment='catalogue ID, e.g. TMP-03 (qc_fraud.md §F)'),
        sa.Column("version", sa.String(16), nullable=False, comment='detector version'),
        sa.Column("config_hash", sa.String(16), nullable=False,
                  comment='SHA-256 (hex, first 16) of the effective QC configuration'),
        sa.Column("station", sa.String(32), nullable=False,
                  comment='site code (or device MN when the device has no site)'),
        sa.Column("parameter", sa.String(16), nullable=False, comment='HJ 212 code'),
        sa.Column("start_utc", sa.BigInteger(), nullable=False,
                  comment='start of the value range, UTC epoch s (inclusive)'),
        sa.Column("end_utc", sa.BigInteger(), nullable=False, comment='end of the value range, UTC epoch s (exclusive)'),
        sa.Column("status", sa.Integer(), nullable=False,
                  comment='QARTOD: 1 pass, 2 not evaluated, 3 suspect, 4 fail, 9 missing'),
        sa.Column("reason", sa.Text(), server_default="", nullable=False, comment='reason code'),
        sa.Column("score", sa.Float(), server_default="0", nullable=False),
        sa.Column("evidence", sa.Text(), server_default="{}", nullable=False,
                  comment='JSON: inputs, neighbours, statistics, thresholds'),
        sa.Column("created_utc", sa.Float(), nullable=False, comment='when the result was computed, UTC epoch s'),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_qc_results")),
    )
    op.create_index("ix_qc_results_station_start", "qc_results", ["station", "start_utc"])


def downgrade() -> None:
    op.drop_index("ix_qc_results_station_start", table_name="qc_results")
    op.drop_table("qc_results")
