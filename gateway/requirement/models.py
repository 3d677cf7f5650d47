"""What the requirement routes take and show."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from gateway.inputs import InputModel
from gateway.ticket.enums import Status


class RequirementRequest(InputModel):
    connection: str | None = Field(
        default=None,
        max_length=64,
        description="The requirements queue's connection; may be left out when there is one.",
    )
    remote_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        pattern=r"^[0-9]{1,18}$",
        description="Link this existing ticket of the queue instead of opening a new one.",
    )


class Requirement(BaseModel):
    """One hub ticket's requirement. `remote_id` is empty until the worker has opened it."""

    ticket_id: int
    subject: str
    ticket_status: Status
    connection: str
    tag: str | None = Field(description="The queue's tag (e.g. the unit that tracks it)")
    remote_id: str | None
    remote_url: str | None
    state: str | None = Field(description="Its state in the queue as last read; null: not yet")
    linked_at: datetime | None = Field(description="When the link was made; null: still opening")
