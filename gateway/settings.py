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
    log_level: str = "INFO"
    db_pool_size: int = 10
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
