"""qc: live QC's pending backlog (committed data not yet checked), kept across restarts

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "live_qc_backlog",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("generation", sa.String(32), nullable=False, comment="one recorded backlog (a run of queue overflow)"),
        sa.Column("device_id", sa.BigInteger(), nullable=False, comment="devices.id of the committed data"),
        sa.Column("kind", sa.String(8), nullable=False, comment="kind of period data: hour | min"),
        sa.Column("first_utc", sa.BigInteger(), nullable=False,
                  comment="earliest period start not yet checked, UTC epoch s"),
        sa.Column("last_utc", sa.BigInteger(), nullable=False,
                  comment="latest period start recorded (inclusive), UTC epoch s"),
        sa.Column("frames", sa.Integer(), server_default="0", nullable=False,
                  comment="frames recorded for the device and kind"),
        sa.Column("recorded_utc", sa.Float(), nullable=False, comment="wall time the backlog began, UTC epoch s"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_live_qc_backlog")),
    )
    op.create_index("ix_live_qc_backlog_generation", "live_qc_backlog", ["generation", "kind"])


def downgrade() -> None:
    op.drop_index("ix_live_qc_backlog_generation", table_name="live_qc_backlog")
    op.drop_table("live_qc_backlog")
