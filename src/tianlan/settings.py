"""One settings object for the whole platform.

Every setting can come from the environment (``TIANLAN_<NAME>``), from a TOML/YAML-free ``.env``
style file given by ``TIANLAN_SETTINGS_FILE`` (``KEY=value`` lines), or from CLI options, which win.
Each field's description is its documentation; ``tianlan settings`` prints them all with defaults.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Platform settings; defaults run the embedded single-process platform in ``./tianlan-data``."""

    model_config = SettingsConfigDict(
        env_prefix="TIANLAN_",
        env_file=os.environ.get("TIANLAN_SETTINGS_FILE"),
        extra="ignore",
    )

    data_dir: Path = Field(Path("tianlan-data"), description="Data directory (SQLite store, logs, exports).")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the store; default: SQLite in WAL mode at <data_dir>/tianlan.db. "
        "PostgreSQL: postgresql+psycopg://user:pw@host/db",
    )
    hj212_host: str = Field("0.0.0.0", description="Address the HJ 212 TCP gateway listens on.")
    hj212_port: int = Field(9212, description="HJ 212 TCP port; 0 picks a free port (printed at start).")
    http_host: str = Field("127.0.0.1", description="Address of the HTTP API / web.")
    http_port: int = Field(8212, description="HTTP port; 0 picks a free port (printed at start).")
    max_frame_length: int = Field(
        9999, description="Largest data-segment length accepted (bytes). HJ 212-2017 §6.3.1 says 1024; "
        "real devices send more, up to the 4-digit maximum 9999."
    )
    idle_timeout_s: float = Field(
        600.0, description="A connection with no bytes for this long is closed (s). Devices report at "
        "least hourly; real-time intervals are 30–3600 s (HJ 212-2017 CN 1061)."
    )
    frame_timeout_s: float = Field(
        30.0, description="A frame that has started but is not complete after this long is cut (slow "
        "senders), and the connection closed (s)."
    )
    batch_max: int = Field(2000, description="Most frames committed in one store transaction (group commit).")
    queue_max: int = Field(20000, description="Frames waiting for the writer before reading pauses (backpressure).")
    writer_mode: str = Field(
        "process", description="Where the store writer runs: 'process' (its own process and core; default) "
        "or 'thread' (inside the server process)."
    )
    assess_interval_s: float = Field(
        300.0, description="How often `tianlan serve` assesses newly stored data (AQI, city values and "
        "rankings of the months they touch), in seconds; 0 turns it off (run `tianlan assess run` instead)."
    )
    subpacket_timeout_s: float = Field(300.0, description="How long sub-packets (PNUM/PNO) wait for their siblings (s).")
    sqlite_synchronous: str = Field(
        "FULL", description="SQLite PRAGMA synchronous in WAL mode. FULL makes every commit durable against "
        "power loss; NORMAL is durable against process crash (kill -9) only."
    )
    ledger_key_file: Path | None = Field(
        None, description="PEM file of the platform's Ed25519 key that signs ledger checkpoints; default "
        "<data_dir>/keys/platform-ed25519.pem (created on first use, mode 0600). For PostgreSQL deployments "
        "point it at a file outside the database host's reach; `tianlan ledger verify` needs only its public key."
    )
    ledger_checkpoint_interval_s: float = Field(
        60.0, description="How often `tianlan serve` seals pending frames and observations and signs a ledger "
        "checkpoint (s); 0 turns it off (run `tianlan ledger checkpoint` instead)."
    )
    ledger_mode: Literal["process", "thread"] = Field(
        "process", description="Where `tianlan serve` seals observations and signs checkpoints: 'process' (a "
        "low-priority child process, so that sealing never takes CPU from the gateway; default) or 'thread' "
        "(inside the server process)."
    )
    session_secret: str | None = Field(
        None, description="Secret that signs web session cookies; default: a random secret kept in "
        "<data_dir>/session.key (created on first start). Set it when several web processes serve one site."
    )
    session_max_age_s: float = Field(43200.0, description="How long a web sign-in lasts (s); default 12 hours.")
    session_cookie_secure: bool = Field(
        False, description="Send the session cookie only over HTTPS (set true behind a TLS proxy)."
    )
    live_qc: bool = Field(
        True, description="Check every committed batch with streaming QC in `tianlan serve` / `tianlan demo` and "
        "raise alarms from it (docs/qc.md, Live QC); false turns it off (run `tianlan qc scan` instead)."
    )
    live_qc_config: Path | None = Field(
        None, description="QC configuration YAML of live QC (docs/qc.md, Configuration); default: the built-in one."
    )
    live_qc_queue_max: int = Field(
        50000, description="Committed frames waiting for live QC before it records a backlog and catches up "
        "from the store instead (nothing is dropped; counted as dropped_to_catch_up in /api/v1/health)."
    )
    live_qc_resolve_every_s: float = Field(
        600.0, description="How often live QC auto-resolves quiet low-level alarms (s); 0: never "
        "(`tianlan alarms resolve`)."
    )
    live_qc_flush_quiet_s: float = Field(
        7200.0, description="A station silent this long (s) with data not yet checked by every detector (live QC "
        "checks every 3 hours of data) gets them checked at once; all are checked when the server stops."
    )
    qc_batch_interval_s: float = Field(
        21600.0, description="How often `tianlan serve` runs the detectors live QC leaves to batch scans (the forensic "
        "family and month-long tests) over the previous and current month, raising alarms (s); default 6 hours; "
        "0 turns it off (run `tianlan qc scan` instead). See docs/qc.md, Scheduled scans."
    )
    alarm_webhook_url: str | None = Field(
        None, description="Alarm webhook URL (HTTP POST, signed JSON); default off (docs/alarms.md)."
    )
    alarm_webhook_secret: str | None = Field(None, description="HMAC-SHA256 key of the alarm webhook; required with the URL.")
    alarm_webhook_timeout_s: float | None = Field(None, description="Alarm webhook timeout per attempt (s); default 10.")
    alarm_webhook_retries: int | None = Field(None, description="Alarm webhook retries after the first attempt; default 3.")
    alarm_webhook_backoff_s: float | None = Field(
        None, description="First alarm webhook retry delay (s), doubled each time; default 0.5."
    )
    alarm_smtp_host: str | None = Field(None, description="SMTP server for alarm e-mail; default off.")
    alarm_smtp_port: int | None = Field(None, description="SMTP port for alarm e-mail; default 25.")
    alarm_smtp_starttls: bool | None = Field(None, description="STARTTLS before SMTP login and sending; default false.")
    alarm_smtp_user: str | None = Field(None, description="SMTP login user; default none.")
    alarm_smtp_password: str | None = Field(None, description="SMTP login password; default none.")
    alarm_smtp_timeout_s: float | None = Field(None, description="SMTP timeout (s); default 30.")
    alarm_mail_from: str | None = Field(None, description="Sender of alarm e-mail; default tianlan@localhost.")
    alarm_mail_to: str | None = Field(None, description="Recipients of alarm e-mail, comma-separated; default none.")
    review_level1_days: int = Field(
        3, description="Review deadline of level 1 (city/operator), days after the end of the reviewed Beijing day "
        "(docs/records.md; a platform default, set it to the province's rule)."
    )
    review_level2_days: int = Field(7, description="Review deadline of level 2 (province), days after the day's end.")
    review_level3_days: int = Field(10, description="Sign-off deadline (level 3), days after the day's end.")
    mark_window_days: float = Field(
        10.0, description="Enterprise marks created more than this many days after the marked period's end are "
        "flagged late (kept); the national platform's 10-day repair/annotation window for source data "
        "(数据生成10日内, transmission-efficiency rules as quoted in a training deck, qc_fraud.md §A.5; "
        "official clause and Hebei rule not found, docs/records.md)."
    )
    mark_grace_h: float = Field(
        1.0, description="Marks created later than this many hours after the marked period's start are flagged "
        "retroactive (kept)."
    )
    mark_advance_days: float = Field(7.0, description="How far ahead a planned period may be marked (days).")


def load_settings(**overrides: object) -> Settings:
    """Settings from env/file with explicit overrides (CLI options) applied; ``None`` means unset."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)  # type: ignore[arg-type]


def database_url(settings: Settings) -> str:
    """The store URL: the configured one, or SQLite in the data directory."""
    if settings.database_url:
        return settings.database_url
    return f"sqlite:///{(settings.data_dir / 'tianlan.db').resolve()}"
