"""Tables: corrections as versions, reviews and sign-off, chain of custody, enterprise marks, interference records (issue 5 §3-7).

Registered on :data:`tianlan.store.schema.metadata`; the matching Alembic migration (0006) creates them.

Every table here is **insert-only**: a correction is a new version row (the observation row is never
touched), its approval another row; a review step, a custody step, a mark, an interference record
and each addendum are rows that are never updated or deleted. Each insert is covered by a ledger
entry (``tianlan.ledger.covered``), so ``tianlan ledger verify`` detects an edit or a deletion done
with SQL behind the platform's back.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, ForeignKey, Index, Integer, LargeBinary, String, Table, Text, UniqueConstraint

from tianlan.store.schema import metadata

_ID = BigInteger().with_variant(Integer, "sqlite")

# --- corrections without overwrite (§3) ------------------------------------------------------------

observation_versions = Table(
    "observation_versions",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("device_id", Integer, nullable=False, comment="observations.device_id of the corrected value"),
    Column("parameter", String(16), nullable=False, comment="HJ 212 code"),
    Column("kind", String(4), nullable=False, comment="rtd | min | hour | day ..."),
    Column("time_utc", BigInteger, nullable=False, comment="observation period start, UTC epoch s"),
    Column("action", String(12), nullable=False, comment="correct | substitute | invalidate"),
    Column("value", Float, nullable=True, comment="new value (none for invalidate); unit of the parameter"),
    Column("flag", String(4), nullable=True, comment="new data flag (none: keep the raw flag)"),
    Column("reason", Text, nullable=False, comment="why"),
    Column("document", Text, nullable=False, comment="supporting document reference"),
    Column("proposed_by", String(64), nullable=False),
    Column("proposed_utc", Float, nullable=False, comment="UTC epoch s"),
)
Index("ix_observation_versions_device_id", observation_versions.c.device_id, observation_versions.c.time_utc)

version_decisions = Table(
    "version_decisions",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("version_id", BigInteger, ForeignKey("observation_versions.id"), nullable=False),
    Column("decision", String(8), nullable=False, comment="approve | reject"),
    Column("user", String(64), nullable=False, comment="the second user (never the proposer)"),
    Column("time_utc", Float, nullable=False, comment="UTC epoch s: from this moment the version is in effect"),
    Column("note", Text, nullable=False, server_default=""),
    Column("prev_value", Float, nullable=True, comment="value in effect just before (approve)"),
    Column("prev_flag", String(4), nullable=True, comment="flag in effect just before (approve)"),
)
# one decision per version, also under concurrent approvers
Index("ix_version_decisions_version_id", version_decisions.c.version_id, unique=True)

# --- review and sign-off (§4) -----------------------------------------------------------------------

review_actions = Table(
    "review_actions",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("station", String(32), nullable=False, comment="site code (or device MN when the device has no site)"),
    Column("day_utc", BigInteger, nullable=False, comment="start of the Beijing calendar day, UTC epoch s"),
    Column("revision", Integer, nullable=False, comment="1, then +1 for each reopening of a signed day"),
    Column("level", Integer, nullable=False, comment="1 city/operator | 2 province | 3 sign-off"),
    Column("action", String(12), nullable=False, comment="approve | send-back | sign | reopen"),
    Column("user", String(64), nullable=False),
    Column("time_utc", Float, nullable=False, comment="UTC epoch s"),
    Column("reason", Text, nullable=False, server_default=""),
    Column("digest", String(64), nullable=True, comment="SHA-256 hex of the day's content as reviewed"),
    Column("signature", Text, nullable=True, comment="base64 Ed25519 signature of the review message"),
)
Index("ix_review_actions_station", review_actions.c.station, review_actions.c.day_utc)

# --- chain of custody (§5) --------------------------------------------------------------------------

custody_samples = Table(
    "custody_samples",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("code", String(64), nullable=False, comment="sample number as written on the container"),
    Column("owner_scope", String(32), nullable=False, comment="scope (agency or region code) of the user who sampled"),
    Column("site_code", String(32), nullable=True, comment="monitoring site sampled, if registered"),
    Column("created_by", String(64), nullable=False),
    Column("created_utc", Float, nullable=False),
    UniqueConstraint("code"),
)

custody_steps = Table(
    "custody_steps",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("sample_id", BigInteger, ForeignKey("custody_samples.id"), nullable=False),
    Column("seq", Integer, nullable=False, comment="1, 2, ... in the order recorded"),
    Column("step", String(12), nullable=False, comment="sample | transfer | analysis | report"),
    Column("time_utc", BigInteger, nullable=False, comment="when the step happened, UTC epoch s"),
    Column("actor", String(64), nullable=False, comment="user who performed and signed the step"),
    Column("details", Text, nullable=False, comment="JSON: the step's fields"),
    Column("signature", Text, nullable=False, comment="base64 Ed25519 signature of the step message"),
    Column("recorded_utc", Float, nullable=False),
)
Index("ix_custody_steps_sample_id", custody_steps.c.sample_id, custody_steps.c.seq, unique=True)

# --- enterprise data marks (§6) -----------------------------------------------------------------------

enterprise_marks = Table(
    "enterprise_marks",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("station", String(32), nullable=False, comment="outlet site code"),
    Column("enterprise_code", String(32), nullable=False),
    Column("kind", String(24), nullable=False, comment="maintenance | fault | calibration | commissioning | start-up | "
                                                       "shutdown | treatment-fault | other"),
    Column("start_utc", BigInteger, nullable=False, comment="marked period start, UTC epoch s (inclusive)"),
    Column("end_utc", BigInteger, nullable=False, comment="marked period end, UTC epoch s (exclusive)"),
    Column("reason", Text, nullable=False),
    Column("document", Text, nullable=False, server_default="", comment="supporting document reference"),
    Column("created_by", String(64), nullable=False),
    Column("created_utc", Float, nullable=False),
    Column("timeliness", String(12), nullable=False, comment="on-time | retroactive | late"),
    Column("delay_s", Float, nullable=False, server_default="0", comment="creation minus period start, s (≥ 0)"),
)
Index("ix_enterprise_marks_station", enterprise_marks.c.station, enterprise_marks.c.start_utc)

# --- interference records (§7) ------------------------------------------------------------------------

interference_records = Table(
    "interference_records",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("filer", String(64), nullable=False),
    Column("filed_utc", Float, nullable=False),
    Column("occurred_utc", BigInteger, nullable=False, comment="when the interference happened, UTC epoch s"),
    Column("method", String(12), nullable=False, comment="written | letter | verbal | hint | other"),
    Column("officials", Text, nullable=False, comment="JSON list: name, position, organisation, username"),
    Column("request", Text, nullable=False, comment="what was asked"),
    Column("station", String(32), nullable=True, comment="station or data concerned, if any"),
)

interference_addenda = Table(
    "interference_addenda",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("record_id", BigInteger, ForeignKey("interference_records.id"), nullable=False),
    Column("author", String(64), nullable=False),
    Column("time_utc", Float, nullable=False),
    Column("text", Text, nullable=False),
)
Index("ix_interference_addenda_record_id", interference_addenda.c.record_id)

interference_attachments = Table(
    "interference_attachments",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("record_id", BigInteger, ForeignKey("interference_records.id"), nullable=False),
    Column("addendum_id", BigInteger, nullable=True, comment="the addendum it came with (none: the filing)"),
    Column("filename", Text, nullable=False),
    Column("sha256", String(64), nullable=False, comment="SHA-256 hex of data"),
    Column("size", BigInteger, nullable=False, comment="bytes"),
    Column("data", LargeBinary, nullable=False),
    Column("added_by", String(64), nullable=False),
    Column("added_utc", Float, nullable=False),
)
Index("ix_interference_attachments_record_id", interference_attachments.c.record_id)
