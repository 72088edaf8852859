"""alarms: alarms, alarm_events (lifecycle history), silences (and maintenance windows)

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "alarms",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("station", sa.String(32), nullable=False, comment="site code (or device MN)"),
        sa.Column("parameter", sa.String(16), nullable=False, comment="HJ 212 code; * for a station-wide alarm"),
        sa.Column("detector", sa.String(16), nullable=False, comment="lead detector (catalogue ID)"),
        sa.Column("detectors", sa.Text(), server_default="", nullable=False,
                  comment="every detector in the alarm, comma-separated"),
        sa.Column("level", sa.Integer(), nullable=False, comment="1 notice | 2 warning | 3 serious | 4 critical"),
        sa.Column("score", sa.Float(), server_default="0", nullable=False, comment="lead detector's evidence score"),
        sa.Column("reason", sa.Text(), server_default="", nullable=False, comment="lead reason code"),
        sa.Column("start_utc", sa.BigInteger(), nullable=False, comment="data period start, UTC epoch s (inclusive)"),
        sa.Column("end_utc", sa.BigInteger(), nullable=False, comment="data period end, UTC epoch s (exclusive)"),
        sa.Column("status", sa.String(12), nullable=False,
                  comment="raised | acknowledged | verified | disposed | closed"),
        sa.Column("outcome", sa.String(12), nullable=True, comment="disposal outcome: fraud | fault | false-alarm"),
        sa.Column("silenced", sa.Boolean(), server_default="0", nullable=False,
                  comment="matched a silence or maintenance window"),
        sa.Column("evidence", sa.Text(), server_default="{}", nullable=False,
                  comment="JSON: the evidence bundle (qc_fraud.md §G)"),
        sa.Column("created_utc", sa.Float(), nullable=False, comment="UTC epoch s"),
        sa.Column("updated_utc", sa.Float(), nullable=False, comment="UTC epoch s"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarms")),
    )
    op.create_index("ix_alarms_station_parameter_end", "alarms", ["station", "parameter", "end_utc"])
    op.create_index("ix_alarms_status_level", "alarms", ["status", "level"])
    op.create_table(
        "alarm_events",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("alarm_id", sa.BigInteger(), nullable=False),
        sa.Column("time_utc", sa.Float(), nullable=False, comment="UTC epoch s"),
        sa.Column("user", sa.String(64), nullable=False, comment="who; 'system' for automatic actions"),
        sa.Column("action", sa.String(16), nullable=False,
                  comment="raise | extend | ack | verify | dispose | close | auto-resolve | silence | unsilence | notify"),
        sa.Column("from_status", sa.String(12), nullable=True),
        sa.Column("to_status", sa.String(12), nullable=False),
        sa.Column("note", sa.Text(), server_default="", nullable=False, comment="why (people) or what (system)"),
        sa.ForeignKeyConstraint(["alarm_id"], ["alarms.id"], name=op.f("fk_alarm_events_alarm_id_alarms")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alarm_events")),
    )
    op.create_index("ix_alarm_events_alarm_id", "alarm_events", ["alarm_id"])
    op.create_table(
        "silences",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(12), server_default="silence", nullable=False, comment="silence | maintenance"),
        sa.Column("station", sa.String(32), nullable=False),
        sa.Column("parameter", sa.String(16), nullable=True, comment="none: every parameter"),
        sa.Column("detector", sa.String(16), nullable=True, comment="none: every detector"),
        sa.Column("start_utc", sa.BigInteger(), nullable=False, comment="window start (data time), UTC epoch s"),
        sa.Column("end_utc", sa.BigInteger(), nullable=False, comment="window end (data time), UTC epoch s (exclusive)"),
        sa.Column("user", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_utc", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_silences")),
    )
    op.create_index("ix_silences_station_end", "silences", ["station", "end_utc"])


def downgrade() -> None:
    op.drop_index("ix_silences_station_end", table_name="silences")
    op.drop_table("silences")
    op.drop_index("ix_alarm_events_alarm_id", table_name="alarm_events")
    op.drop_table("alarm_events")
    op.drop_index("ix_alarms_status_level", table_name="alarms")
    op.drop_index("ix_alarms_station_parameter_end", table_name="alarms")
    op.drop_table("alarms")
