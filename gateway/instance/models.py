"""Instance models for the API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class Held(BaseModel):
    deliveries: int = Field(description="Outbox rows it has claimed and not yet finished")
    idempotency_keys: int = Field(description="Creates it is in the middle of")
    leases: list[str] = Field(description="Named leases it holds (pollers, scheduled jobs)")


class Instance(BaseModel):
    """One gateway process as the registry sees it."""

    id: str
    role: str = Field(description="api, worker or api+worker")
    version: str
    host: str
    pid: int
    state: str = Field(description="alive, stopping or dead")
    started_at: datetime
    heartbeat_at: datetime
    ended_at: datetime | None
    held: Held
