"""web: information-release list and documents, public fraud reports (12369)

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "release_items",
        sa.Column("code", sa.String(32), nullable=False, comment="e.g. air-realtime, city-ranking-monthly"),
        sa.Column("title", sa.Text(), nullable=False, comment="Chinese title"),
        sa.Column("title_en", sa.Text(), server_default="", nullable=False),
        sa.Column("frequency", sa.String(12), nullable=False,
                  comment="realtime | hourly | daily | monthly | quarterly | yearly | ad-hoc"),
        sa.Column("publisher", sa.Text(), nullable=False, comment="the body that publishes it (Chinese, with English)"),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("link", sa.Text(), server_default="", nullable=False, comment="portal path where it is shown, if any"),
        sa.Column("sort", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_release_items")),
    )
    op.create_table(
        "release_documents",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("item_code", sa.String(32), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("period", sa.String(16), server_default="", nullable=False, comment="the period it covers, e.g. 2019-05"),
        sa.Column("body", sa.Text(), server_default="", nullable=False, comment="text of the document (plain text / Markdown)"),
        sa.Column("filename", sa.Text(), nullable=True, comment="attached file name"),
        sa.Column("content_type", sa.String(80), nullable=True),
        sa.Column("content", sa.LargeBinary(), nullable=True, comment="attached file, byte for byte"),
        sa.Column("sha256", sa.String(64), nullable=False, comment="hex SHA-256 of body + content"),
        sa.Column("published_utc", sa.Float(), nullable=False, comment="UTC epoch s"),
        sa.Column("published_by", sa.String(64), nullable=False, comment="user name"),
        sa.Column("supersedes", sa.BigInteger(), nullable=True, comment="id of the document this one corrects"),
        sa.ForeignKeyConstraint(["item_code"], ["release_items.code"],
                                name=op.f("fk_release_documents_item_code_release_items")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_release_documents")),
    )
    op.create_index("ix_release_documents_item_code", "release_documents", ["item_code", "published_utc"])
    op.create_table(
        "public_reports",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("tracking_no", sa.String(24), nullable=False, comment="e.g. 12369-20190501-7K3Q9D"),
        sa.Column("category", sa.String(24), nullable=False, comment="falsify | tamper | interfere | bypass | other"),
        sa.Column("subject", sa.Text(), nullable=False, comment="enterprise, outlet or station reported"),
        sa.Column("region_code", sa.String(12), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("contact", sa.Text(), server_default="", nullable=False, comment="optional; never shown publicly"),
        sa.Column("source_hash", sa.String(64), nullable=False, comment="salted SHA-256 of the reporter's address"),
        sa.Column("status", sa.String(12), nullable=False, comment="received | processing | closed"),
        sa.Column("status_note", sa.Text(), server_default="", nullable=False, comment="public answer"),
        sa.Column("handled_by", sa.String(64), server_default="", nullable=False),
        sa.Column("created_utc", sa.Float(), nullable=False),
        sa.Column("updated_utc", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["region_code"], ["regions.code"], name=op.f("fk_public_reports_region_code_regions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_public_reports")),
        sa.UniqueConstraint("tracking_no", name=op.f("uq_public_reports_tracking_no")),
    )
    op.create_index("ix_public_reports_source_hash", "public_reports", ["source_hash", "created_utc"])


def downgrade() -> None:
    op.drop_index("ix_public_reports_source_hash", table_name="public_reports")
    op.drop_table("public_reports")
    op.drop_index("ix_release_documents_item_code", table_name="release_documents")
    op.drop_table("release_documents")
    op.drop_table("release_items")
