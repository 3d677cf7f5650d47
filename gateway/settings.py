"""Process settings from environment variables (prefix `GATEWAY_`)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything one gateway process needs to start; secrets never live here, only their names."""

    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore")

    data_dir: Path = Field(
        default=Path("data"), description="Where the embedded SQLite file lives."
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL (postgresql+asyncpg://...); default: SQLite in data_dir.",
    )
    config_file: Path | None = Field(default=None, description="YAML or JSON configuration file.")
    max_body_bytes: int = Field(default=1_048_576, description="Larger request bodies get 413.")
    max_header_bytes: int = Field(
        default=32_768, description="Requests whose headers total more get 431."
    )
    attachment_max_bytes: int = Field(
        default=10 * 1024 * 1024,
        description="Largest attachment (one file); an upload's body may be this large.",
    )
    attachment_ticket_max_bytes: int = Field(
        default=50 * 1024 * 1024, description="Largest total of all attachments on one ticket."
    )
    log_level: str = "INFO"
    keep_alive_seconds: int = Field(
        default=30,
        description="Idle keep-alive connections close after this; longer than clients' pools "
        "keep them (httpx: 5 s), so a client never reuses a connection the server is closing.",
    )
    db_pool_size: int = 10
    worker_concurrency: int = Field(default=32, description="Deliveries in flight per worker.")
    worker_lease_seconds: float = Field(
        default=60.0, description="A claim older than this is retaken."
    )
    worker_poll_interval: float = Field(default=1.0, description="Polling fallback, in seconds.")
    worker_max_attempts: int = Field(default=12, description="Attempts before a dead letter.")
    mail_readers: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Stored messages read at once per worker (PostgreSQL; SQLite reads one).",
    )
    connection_check_seconds: float = Field(
        default=60.0,
        description="A connection paused for refused credentials is checked this often, and "
        "resumed when the check passes.",
    )
    instance_heartbeat_seconds: float = Field(
        default=0.5, description="How often each instance renews its entry in the registry."
    )
    instance_dead_after_seconds: float = Field(
        default=5.0,
        description="An instance silent this long is dead and its work is taken over (a process "
        "seen to be gone is taken over after one missed beat).",
    )
    idempotency_in_flight_seconds: int = Field(
        default=60,
        description="An in-flight idempotency key older than this is considered abandoned.",
    )

    def resolved_database_url(self) -> str:
        """The database URL, defaulting to a SQLite file under the data directory."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'gateway.sqlite3').resolve()}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
