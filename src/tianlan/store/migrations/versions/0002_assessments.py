"""official results: assessments and the assessment watermark

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assessments",
        sa.Column("kind", sa.String(16), nullable=False, comment='station_hour | station_day | city_hour | city_day | city_month | city_year | ...'),
        sa.Column("subject", sa.String(32), nullable=False, comment='site code or region code'),
        sa.Column("period_utc", sa.BigInteger(), nullable=False, comment='period start, UTC epoch s (Beijing-time periods)'),
        sa.Column("edition", sa.String(32), nullable=False, comment='standard edition used, e.g. HJ633-2012-published'),
        sa.Column("aqi", sa.Integer(), nullable=True),
        sa.Column("level", sa.String(4), nullable=True, comment='AQI level I..VI'),
        sa.Column("primary_pollutants", sa.Text(), nullable=True, comment='comma-separated'),
        sa.Column("result", sa.Text(), nullable=False, comment='JSON: concentrations, IAQIs, statistics, index, rank'),
        sa.Column("coverage", sa.Text(), nullable=False, comment='JSON: expected, present, valid inputs'),
        sa.Column("computed_utc", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "subject", "period_utc", name=op.f("pk_assessments")),
    )
    op.create_index("ix_assessments_kind_period", "assessments", ["kind", "period_utc"])
    op.create_table(
        "assess_state",
        sa.Column("key", sa.String(64), nullable=False, comment='e.g. frames_done: last raw_frames.id assessed'),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_assess_state")),
    )


def downgrade() -> None:
    op.drop_table("assess_state")
    op.drop_index("ix_assessments_kind_period", table_name="assessments")
    op.drop_table("assessments")
