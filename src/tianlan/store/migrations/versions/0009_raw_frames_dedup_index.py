"""ingest: the retransmission index of raw_frames leads with data_utc (time-local inserts)

The writer finds re-sent frames by their SHA-256. Indexed on ``sha256`` alone, every new frame
landed on a random leaf of that B-tree: once the index outgrew a batch, each 500-frame commit
dirtied ~500 index pages (SQLite: written to the WAL and again at checkpoint), and the writer's
cost per frame grew with the archive (measured 34 → 50 µs/frame over the first 150k frames).
A byte-identical frame has the same DataTime, so (data_utc, sha256) finds it as well, and new
entries land next to each other (data arrive in time order).

Revision ID: 0009
Revises: 0008
"""
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("raw_frames", schema=None) as batch_op:
        batch_op.drop_index("ix_raw_frames_sha256")
        batch_op.create_index("ix_raw_frames_data_utc_sha256", ["data_utc", "sha256"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("raw_frames", schema=None) as batch_op:
        batch_op.drop_index("ix_raw_frames_data_utc_sha256")
        batch_op.create_index("ix_raw_frames_sha256", ["sha256"], unique=False)
