"""Delivery log and dead letter models for the API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.inputs import InputModel


class DeliveryAttempt(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    attempt: int
    worker: str
    outcome: str
    error: str | None
    exchange: dict[str, Any] | None
    started_at: datetime
    finished_at: datetime


class DeliveryStatus(BaseModel):
    """One outbox row: where a change stands on its way to one connection."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    ticket_id: int
    connection: str
    action: str
    rule: str
    state: str
    attempt: int
    next_attempt_at: datetime
    outcome: str | None
    last_error: str | None
    last_exchange: dict[str, Any] | None
    created_at: datetime
    done_at: datetime | None
    attempts: list[DeliveryAttempt] = []


class DiscardRequest(InputModel):
    reason: str = Field(
        min_length=1, max_length=2000, description="Why nobody will send it: kept in the history."
    )
