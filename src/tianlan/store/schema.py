"""The store's schema (SQLAlchemy Core), shared by SQLite and PostgreSQL.

Times are stored as UTC epoch seconds in BIGINT columns whose names end in ``_utc`` (float seconds
for reception times, which need sub-second resolution). One integer type is identical in both
engines, sorts and range-partitions cheaply, and keeps the bulk path free of per-row datetime
conversion. Conversion to and from Beijing time (UTC+8, what devices report) happens only in
``tianlan.model.timeutil``.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# --- network registry -------------------------------------------------------------------------

regions = Table(
    "regions",
    metadata,
    Column("code", String(12), primary_key=True, comment="administrative division code (GB/T 2260 style)"),
    Column("name", Text, nullable=False, comment="Chinese name"),
    Column("name_en", Text, nullable=False, server_default=""),
    Column("level", String(12), nullable=False, comment="province | city | county | township"),
    Column("parent_code", String(12), ForeignKey("regions.code"), nullable=True),
)

enterprises = Table(
    "enterprises",
    metadata,
    Column("code", String(32), primary_key=True, comment="unified social credit code or registry code"),
    Column("name", Text, nullable=False),
    Column("region_code", String(12), ForeignKey("regions.code"), nullable=False),
    Column("industry", Text, nullable=False, server_default=""),
    Column("key_polluter", Boolean, nullable=False, server_default="1"),
)

sites = Table(
    "sites",
    metadata,
    Column("code", String(32), primary_key=True),
    Column("name", Text, nullable=False),
    Column("kind", String(8), nullable=False, comment="air | water | source (an enterprise outlet)"),
    Column("region_code", String(12), ForeignKey("regions.code"), nullable=False),
    Column("lon", Float, nullable=True, comment="WGS-84 degrees east"),
    Column("lat", Float, nullable=True, comment="WGS-84 degrees north"),
    Column("control_level", String(12), nullable=True, comment="air: national|provincial|city|county|township"),
    Column("background", Boolean, nullable=False, server_default="0", comment="air: background/control site"),
    Column("section_type", String(12), nullable=True, comment="water: inbound|outbound|lake|key"),
    Column("target_class", String(4), nullable=True, comment="water: GB 3838 target class I..V"),
    Column("enterprise_code", String(32), ForeignKey("enterprises.code"), nullable=True),
    Column("outlet_type", String(8), nullable=True, comment="source: gas | water"),
    Column("attrs", Text, nullable=False, server_default="{}", comment="JSON: limits and other attributes"),
)

parameters = Table(
    "parameters",
    metadata,
    Column("code", String(16), primary_key=True, comment="HJ 212-2017 Appendix B code"),
    Column("name", Text, nullable=False),
    Column("name_en", Text, nullable=False, server_default=""),
    Column("unit", Text, nullable=False, server_default=""),
    Column("system", String(16), nullable=False, server_default="", comment="air | gas | water | noise | other"),
    Column("code_2005", String(8), nullable=True, comment="HJ/T 212-2005 code mapped to this one"),
)

devices = Table(
    "devices",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("mn", String(64), nullable=False, unique=True, comment="HJ 212 MN, the device key"),
    Column("password", Text, nullable=False, comment="HJ 212 PW (a shared secret sent in clear by the standard)"),
    Column("st", String(4), nullable=True, comment="expected HJ 212 ST system code"),
    Column("kind", String(8), nullable=False, comment="air | water | source"),
    Column("protocol", String(4), nullable=False, server_default="2017", comment="2005 | 2017 | 2025"),
    Column("crc_variant", String(12), nullable=False, server_default="standard"),
    Column("site_code", String(32), ForeignKey("sites.code"), nullable=True),
    Column("parameters", Text, nullable=False, server_default="", comment="expected parameter codes, comma-separated"),
    Column("active", Boolean, nullable=False, server_default="1"),
    Column("created_utc", Float, nullable=False),
)

# --- raw archive and observations --------------------------------------------------------------

raw_frames = Table(
    "raw_frames",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False),
    Column("received_utc", Float, nullable=False, comment="reception time, UTC epoch seconds"),
    Column("peer", Text, nullable=False, server_default="", comment="remote address:port or source file"),
    Column("channel", String(8), nullable=False, server_default="tcp", comment="tcp | http | replay | import"),
    Column("data", LargeBinary, nullable=False, comment="the frame exactly as received, byte for byte"),
    Column("sha256", LargeBinary(32), nullable=False, comment="SHA-256 of data"),
    Column("mn", String(64), nullable=True),
    Column("device_id", Integer, nullable=True),
    Column("qn", String(24), nullable=True),
    Column("cn", String(8), nullable=True),
    Column("status", String(12), nullable=False, comment="accepted | duplicate | quarantined"),
    Column("reason", String(40), nullable=True, comment="quarantine or duplicate reason code"),
    Column("detail", Text, nullable=True, comment="human-readable reason"),
    Column("crc_variant", String(12), nullable=True),
    Column("relaxations", Text, nullable=True, comment="leniencies used to read the frame, comma-separated"),
    Column("duplicate_of", BigInteger, nullable=True),
    Column("n_obs", Integer, nullable=False, server_default="0"),
    Column("data_utc", BigInteger, nullable=True, comment="DataTime of the frame's observations, UTC epoch s"),
)
# ids grow with reception, so id ranges serve time ranges. (data_utc, sha256) finds retransmissions
# (a byte-identical frame has the same DataTime) and, led by data time, takes new frames at the end
# of the B-tree; sha256 alone put each on a random page (migration 0009: the writer's cost grew
# with the archive).
Index("ix_raw_frames_data_utc_sha256", raw_frames.c.data_utc, raw_frames.c.sha256)

observations = Table(
    "observations",
    metadata,
    Column("time_utc", BigInteger, primary_key=True, comment="period start (HJ 212 DataTime), UTC epoch s"),
    Column("device_id", Integer, primary_key=True),
    Column("parameter", String(16), primary_key=True),
    Column("kind", String(4), primary_key=True, comment="rtd | min | hour | day | info | rs | rt"),
    Column("value", Float, nullable=True, comment="Rtd for rtd, Avg for min/hour/day; unit of the parameter"),
    Column("flag", String(4), nullable=True, comment="HJ 212 data flag (N F M S D C T B; 2005: P, 0-3)"),
    Column("vmin", Float, nullable=True, comment="-Min of the period (min/hour/day data)"),
    Column("vmax", Float, nullable=True, comment="-Max of the period"),
    Column("cou", Float, nullable=True, comment="-Cou: cumulative amount of the period (emission kg, flow m3…)"),
    Column("zs", Float, nullable=True, comment="converted (折算) value: -ZsRtd / -ZsAvg (flue gas, reference O2)"),
    Column("extra", Text, nullable=True, comment="JSON of any other suffix (SampleTime, EFlag, ZsMin, text values…)"),
    Column("frame_id", BigInteger, nullable=False, comment="raw_frames.id the value came from"),
    sqlite_with_rowid=False,
    # PostgreSQL: one partition per calendar month (UTC), created by the writer as data arrive
    # (tianlan.store.partitions); old months can be detached or archived without touching new ones.
    postgresql_partition_by="RANGE (time_utc)",
)
# The key is time-leading: appends of new data land at the end of the B-tree, which keeps bulk
# inserts fast (measured here: SQLite 440k rows/s WITHOUT ROWID with this key alone, 240k with a
# second (device_id, time_utc) index). PostgreSQL gets that second index too (migration 0001),
# since its writer works in another process; on SQLite a one-device query scans its time window.

# --- official results ----------------------------------------------------------------------------

assessments = Table(
    "assessments",
    metadata,
    Column("kind", String(16), primary_key=True,
           comment="station_hour | station_day | city_hour | city_day | city_month | city_year | ..."),
    Column("subject", String(32), primary_key=True, comment="site code or region code"),
    Column("period_utc", BigInteger, primary_key=True, comment="period start, UTC epoch s (Beijing-time periods)"),
    Column("edition", String(32), nullable=False, comment="standard edition used, e.g. HJ633-2012-published"),
    Column("aqi", Integer, nullable=True),
    Column("level", String(4), nullable=True, comment="AQI level I..VI"),
    Column("primary_pollutants", Text, nullable=True, comment="comma-separated"),
    Column("result", Text, nullable=False, comment="JSON: concentrations, IAQIs, statistics, index, rank"),
    Column("coverage", Text, nullable=False, comment="JSON: expected, present, valid inputs"),
    Column("computed_utc", Float, nullable=False),
)
Index("ix_assessments_kind_period", assessments.c.kind, assessments.c.period_utc)

assess_state = Table(
    "assess_state",
    metadata,
    Column("key", String(64), primary_key=True, comment="e.g. frames_done: last raw_frames.id assessed"),
    Column("value", BigInteger, nullable=False),
)

# --- quality control -----------------------------------------------------------------------------

qc_results = Table(
    "qc_results",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("detector", String(16), nullable=False, comment="catalogue ID, e.g. TMP-03 (qc_fraud.md §F)"),
    Column("version", String(16), nullable=False, comment="detector version"),
    Column("config_hash", String(16), nullable=False, comment="SHA-256 (hex, first 16) of the effective QC configuration"),
    Column("station", String(32), nullable=False, comment="site code (or device MN when the device has no site)"),
    Column("parameter", String(16), nullable=False, comment="HJ 212 code"),
    Column("start_utc", BigInteger, nullable=False, comment="start of the value range, UTC epoch s (inclusive)"),
    Column("end_utc", BigInteger, nullable=False, comment="end of the value range, UTC epoch s (exclusive)"),
    Column("status", Integer, nullable=False, comment="QARTOD: 1 pass, 2 not evaluated, 3 suspect, 4 fail, 9 missing"),
    Column("reason", Text, nullable=False, server_default="", comment="reason code"),
    Column("score", Float, nullable=False, server_default="0"),
    Column("evidence", Text, nullable=False, server_default="{}", comment="JSON: inputs, neighbours, statistics, thresholds"),
    Column("created_utc", Float, nullable=False, comment="when the result was computed, UTC epoch s"),
)
# One row per detector call and value range; raw data are never changed. Read by station and time.
Index("ix_qc_results_station_start", qc_results.c.station, qc_results.c.start_utc)

# --- alarms ----------------------------------------------------------------------------------------

alarms = Table(
    "alarms",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("station", String(32), nullable=False, comment="site code (or device MN)"),
    Column("parameter", String(16), nullable=False, comment="HJ 212 code; * for a station-wide alarm"),
    Column("detector", String(16), nullable=False, comment="lead detector (catalogue ID)"),
    Column("detectors", Text, nullable=False, server_default="", comment="every detector in the alarm, comma-separated"),
    Column("level", Integer, nullable=False, comment="1 notice | 2 warning | 3 serious | 4 critical"),
    Column("score", Float, nullable=False, server_default="0", comment="lead detector's evidence score"),
    Column("reason", Text, nullable=False, server_default="", comment="lead reason code"),
    Column("start_utc", BigInteger, nullable=False, comment="data period start, UTC epoch s (inclusive)"),
    Column("end_utc", BigInteger, nullable=False, comment="data period end, UTC epoch s (exclusive)"),
    Column("status", String(12), nullable=False, comment="raised | acknowledged | verified | disposed | closed"),
    Column("outcome", String(12), nullable=True, comment="disposal outcome: fraud | fault | false-alarm"),
    Column("silenced", Boolean, nullable=False, server_default="0", comment="matched a silence or maintenance window"),
    Column("evidence", Text, nullable=False, server_default="{}", comment="JSON: the evidence bundle (qc_fraud.md §G)"),
    Column("created_utc", Float, nullable=False, comment="UTC epoch s"),
    Column("updated_utc", Float, nullable=False, comment="UTC epoch s"),
)
# Dedupe looks up a station and parameter's alarms near a time; lists filter by status.
Index("ix_alarms_station_parameter_end", alarms.c.station, alarms.c.parameter, alarms.c.end_utc)
Index("ix_alarms_status_level", alarms.c.status, alarms.c.level)

alarm_events = Table(
    "alarm_events",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("alarm_id", BigInteger, ForeignKey("alarms.id"), nullable=False),
    Column("time_utc", Float, nullable=False, comment="UTC epoch s"),
    Column("user", String(64), nullable=False, comment="who; 'system' for automatic actions"),
    Column("action", String(16), nullable=False, comment="raise | extend | ack | verify | dispose | close | auto-resolve | "
                                                           "silence | unsilence | notify"),
    Column("from_status", String(12), nullable=True),
    Column("to_status", String(12), nullable=False),
    Column("note", Text, nullable=False, server_default="", comment="why (people) or what (system)"),
)
Index("ix_alarm_events_alarm_id", alarm_events.c.alarm_id)

silences = Table(
    "silences",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("kind", String(12), nullable=False, server_default="silence", comment="silence | maintenance"),
    Column("station", String(32), nullable=False),
    Column("parameter", String(16), nullable=True, comment="none: every parameter"),
    Column("detector", String(16), nullable=True, comment="none: every detector"),
    Column("start_utc", BigInteger, nullable=False, comment="window start (data time), UTC epoch s"),
    Column("end_utc", BigInteger, nullable=False, comment="window end (data time), UTC epoch s (exclusive)"),
    Column("user", String(64), nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_utc", Float, nullable=False),
)
Index("ix_silences_station_end", silences.c.station, silences.c.end_utc)

# --- tables of later concerns live in their own modules, registered on the same ``metadata`` -------
# (imported last: they import ``metadata`` from here)
from tianlan.store import schema_ledger as _schema_ledger  # noqa: E402,F401  users, keys, ledger
from tianlan.store import schema_qc_live as _schema_qc_live  # noqa: E402,F401  live QC's pending backlog
from tianlan.store import schema_records as _schema_records  # noqa: E402,F401  versions, reviews, custody, marks, interference
from tianlan.store import schema_web as _schema_web  # noqa: E402,F401  releases, public reports, web sessions
