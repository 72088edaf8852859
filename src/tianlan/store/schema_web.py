"""Tables: information releases and public fraud reports (12369) (issue 6).

Registered on :data:`tianlan.store.schema.metadata`; migration 0007 creates them.

- ``release_items``: the information-release list (信息公开目录) — what is published, how often and by
  whom (GB/T-style catalogue of the environmental information the centre discloses).
- ``release_documents``: released documents (an item's issue for a period), immutable once
  published: a correction is a new document that names the one it supersedes.
- ``public_reports``: reports of monitoring fraud from the public (12369 channel), with a tracking
  number the reporter looks the status up by; ``source_hash`` (salted SHA-256 of the reporter's
  address) serves rate limiting without keeping the address itself.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, ForeignKey, Index, Integer, LargeBinary, String, Table, Text

from tianlan.store.schema import metadata

_ID = BigInteger().with_variant(Integer, "sqlite")

release_items = Table(
    "release_items",
    metadata,
    Column("code", String(32), primary_key=True, comment="e.g. air-realtime, city-ranking-monthly"),
    Column("title", Text, nullable=False, comment="Chinese title"),
    Column("title_en", Text, nullable=False, server_default=""),
    Column("frequency", String(12), nullable=False, comment="realtime | hourly | daily | monthly | quarterly | yearly | ad-hoc"),
    Column("publisher", Text, nullable=False, comment="the body that publishes it (Chinese, with English)"),
    Column("description", Text, nullable=False, server_default=""),
    Column("link", Text, nullable=False, server_default="", comment="portal path where it is shown, if any"),
    Column("sort", Integer, nullable=False, server_default="0"),
)

release_documents = Table(
    "release_documents",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("item_code", String(32), ForeignKey("release_items.code"), nullable=False),
    Column("title", Text, nullable=False),
    Column("period", String(16), nullable=False, server_default="", comment="the period it covers, e.g. 2019-05"),
    Column("body", Text, nullable=False, server_default="", comment="text of the document (plain text / Markdown)"),
    Column("filename", Text, nullable=True, comment="attached file name"),
    Column("content_type", String(80), nullable=True),
    Column("content", LargeBinary, nullable=True, comment="attached file, byte for byte"),
    Column("sha256", String(64), nullable=False, comment="hex SHA-256 of body + content"),
    Column("published_utc", Float, nullable=False, comment="UTC epoch s"),
    Column("published_by", String(64), nullable=False, comment="user name"),
    Column("supersedes", BigInteger, nullable=True, comment="id of the document this one corrects"),
)
Index("ix_release_documents_item_code", release_documents.c.item_code, release_documents.c.published_utc)

public_reports = Table(
    "public_reports",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("tracking_no", String(24), nullable=False, unique=True, comment="e.g. 12369-20190501-7K3Q9D"),
    Column("category", String(24), nullable=False, comment="falsify | tamper | interfere | bypass | other"),
    Column("subject", Text, nullable=False, comment="enterprise, outlet or station reported"),
    Column("region_code", String(12), ForeignKey("regions.code"), nullable=True),
    Column("description", Text, nullable=False),
    Column("contact", Text, nullable=False, server_default="", comment="optional; never shown publicly"),
    Column("source_hash", String(64), nullable=False, comment="salted SHA-256 of the reporter's address"),
    Column("status", String(12), nullable=False, comment="received | processing | closed"),
    Column("status_note", Text, nullable=False, server_default="", comment="public answer"),
    Column("handled_by", String(64), nullable=False, server_default=""),
    Column("created_utc", Float, nullable=False),
    Column("updated_utc", Float, nullable=False),
)
Index("ix_public_reports_source_hash", public_reports.c.source_hash, public_reports.c.created_utc)
