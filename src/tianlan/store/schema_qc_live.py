"""Tables: live QC's pending backlog (issue 4).

Registered on :data:`tianlan.store.schema.metadata`; migration 0008 creates them.

- ``live_qc_backlog``: committed period data that live QC (:mod:`tianlan.qc.live`) recorded but has
  not checked yet — when its queue overflowed — per recorded backlog (``generation``), device and
  kind of period data (``hour``, ``min``): the span of period start times still to check. Written by
  the live QC worker while the backlog grows and as the catch-up advances; a row is deleted when its
  span has been checked. A platform that stops (or dies) before catching up finds the rows on its
  next start and checks them first (``tianlan serve``).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Index, Integer, String, Table

from tianlan.store.schema import metadata

_ID = BigInteger().with_variant(Integer, "sqlite")

live_qc_backlog = Table(
    "live_qc_backlog",
    metadata,
    Column("id", _ID, primary_key=True, autoincrement=True),
    Column("generation", String(32), nullable=False, comment="one recorded backlog (a run of queue overflow)"),
    Column("device_id", BigInteger, nullable=False, comment="devices.id of the committed data"),
    Column("kind", String(8), nullable=False, comment="kind of period data: hour | min"),
    Column("first_utc", BigInteger, nullable=False, comment="earliest period start not yet checked, UTC epoch s"),
    Column("last_utc", BigInteger, nullable=False, comment="latest period start recorded (inclusive), UTC epoch s"),
    Column("frames", Integer, nullable=False, server_default="0", comment="frames recorded for the device and kind"),
    Column("recorded_utc", Float, nullable=False, comment="wall time the backlog began, UTC epoch s"),
)
Index("ix_live_qc_backlog_generation", live_qc_backlog.c.generation, live_qc_backlog.c.kind)
