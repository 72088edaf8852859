"""One settings object for the whole platform.

Every setting can come from the environment (``TIANLAN_<NAME>``), from a TOML/YAML-free ``.env``
style file given by ``TIANLAN_SETTINGS_FILE`` (``KEY=value`` lines), or from CLI options, which win.
Each field's description is its documentation; ``tianlan settings`` prints them all with defaults.
"""

from __future__ import annotations

import os
from pathlib import Path

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


def load_settings(**overrides: object) -> Settings:
    """Settings from env/file with explicit overrides (CLI options) applied; ``None`` means unset."""
    clean = {k: v for k, v in overrides.items() if v is not None}
    return Settings(**clean)  # type: ignore[arg-type]


def database_url(settings: Settings) -> str:
    """The store URL: the configured one, or SQLite in the data directory."""
    if settings.database_url:
        return settings.database_url
    return f"sqlite:///{(settings.data_dir / 'tianlan.db').resolve()}"
