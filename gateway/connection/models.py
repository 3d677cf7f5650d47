"""A connection as written in the config file."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.support_unit.models import NAME_PATTERN


class Policy(StrEnum):
    """`close-only` (GGUS default): the origin hears only the solution; `mirror`: all changes."""

    CLOSE_ONLY = "close-only"
    MIRROR = "mirror"


class ConnectionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=NAME_PATTERN)
    adapter: str = Field(description="The adapter kind, e.g. `rest`.")
    support_unit: str | None = Field(
        default=None, description="The unit whose own system this is; assignments to it go here."
    )
    policy: Policy = Policy.CLOSE_ONLY
    mapping: str | None = Field(
        default=None, description="Mapping file, relative to the config file or to `mappings/`."
    )
    poll_interval_seconds: float | None = Field(
        default=None,
        ge=1,
        le=86_400,
        description="Poll the remote for changes this often (adapters that can be polled, e.g. "
        "Redmine, which has no webhooks). Unset: the remote pushes (webhooks) only.",
    )
    settings: dict[str, Any] = Field(
        default_factory=dict,
        description="Adapter settings (see schemas/adapter-<kind>.schema.json); "
        "secrets as `{env: VARIABLE}`.",
    )


class DeliveryFigures(BaseModel):
    pending: int
    in_flight: int
    dead: int
    last_success_at: datetime | None = Field(description="When a delivery last went through")
    last_error: str | None = Field(description="The error of the last delivery that failed")
    last_error_at: datetime | None


class PollFigures(BaseModel):
    interval_seconds: float
    cursor: dict[str, Any] | None = Field(description="Where the next poll starts")
    polled_at: datetime | None
    next_poll_at: datetime | None
    poll_requested_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    failures: int = Field(description="Polls failed in a row (each doubles the wait)")


class ConnectionStatus(BaseModel):
    """One connection as the hub sees it now."""

    name: str
    adapter: str
    support_unit: str | None
    policy: Policy
    state: Literal["active", "paused"]
    paused_at: datetime | None
    paused_reason: str | None = Field(description="Why: the credentials the remote refused")
    deliveries: DeliveryFigures
    polling: PollFigures | None = Field(description="Null for a connection that is not polled")


class PollRequested(BaseModel):
    connection: str
    requested_at: datetime
