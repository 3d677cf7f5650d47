"""Ticket request and response models: the API's (and the JSON Schemas') source of truth."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from gateway.ticket.enums import Category, LinkRole, Priority, Status, TicketType, Visibility

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
Email = Annotated[str, StringConstraints(max_length=254, pattern=EMAIL_PATTERN)]
UnitName = Annotated[str, StringConstraints(min_length=1, max_length=64)]
ShortText = Annotated[str, StringConstraints(max_length=128)]
MAX_TEXT = 65_536


class Submitter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=255)
    email: Email
    dn: str | None = Field(default=None, max_length=1024, description="X.509 distinguished name")


class TicketCreate(BaseModel):
    """A new ticket. Its status is derived: `assigned` with a support unit, else `new`."""

    model_config = ConfigDict(extra="forbid")

    subject: str = Field(min_length=1, max_length=255)
    description: str = Field(min_length=1, max_length=MAX_TEXT)
    submitter: Submitter
    type: TicketType = TicketType.USER
    category: Category = Category.INCIDENT
    priority: Priority = Priority.LESS_URGENT
    support_unit: UnitName | None = None
    involved: list[UnitName] = Field(default_factory=list, max_length=50)
    cc: list[Email] = Field(default_factory=list, max_length=50)
    component: ShortText | None = None
    affected_site: ShortText | None = None
    vo: ShortText | None = None
    eta: date | None = None


class TicketPatch(BaseModel):
    """A change to a ticket; only the fields present are changed."""

    model_config = ConfigDict(extra="forbid")

    subject: str | None = Field(default=None, min_length=1, max_length=255)
    description: str | None = Field(default=None, min_length=1, max_length=MAX_TEXT)
    status: Status | None = None
    priority: Priority | None = None
    support_unit: UnitName | None = None
    involved: list[UnitName] | None = Field(default=None, max_length=50)
    cc: list[Email] | None = Field(default=None, max_length=50)
    component: ShortText | None = None
    affected_site: ShortText | None = None
    vo: ShortText | None = None
    eta: date | None = None
    solution: str | None = Field(default=None, min_length=1, max_length=MAX_TEXT)

    @model_validator(mode="before")
    @classmethod
    def _type_is_fixed(cls, data: Any) -> Any:
        if isinstance(data, dict) and "type" in data:
            raise ValueError("type is fixed at creation and cannot change")
        return data


class JournalEntryCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: str = Field(min_length=1, max_length=MAX_TEXT)
    visibility: Visibility = Visibility.PUBLIC
    author: str | None = Field(default=None, min_length=1, max_length=255)


class JournalEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    visibility: Visibility
    body: str
    author: str
    source: str
    created_at: datetime


class Link(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    connection: str
    external_id: str | None
    external_url: str | None
    role: LinkRole


class EtaRevision(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    eta: date | None
    set_by: str
    set_at: datetime


class Ticket(BaseModel):
    """The canonical ticket as the API shows it to one caller."""

    id: int
    subject: str
    description: str
    submitter: Submitter
    type: TicketType
    category: Category
    priority: Priority
    status: Status
    support_unit: str | None
    origin_unit: str | None
    involved: list[str]
    cc: list[str]
    component: str | None
    affected_site: str | None
    vo: str | None
    eta: date | None
    eta_history: list[EtaRevision]
    solution: str | None
    journal: list[JournalEntry]
    links: list[Link]
    created_at: datetime
    updated_at: datetime
    version: int


class TicketPage(BaseModel):
    items: list[Ticket]
    next_cursor: str | None


class FieldChange(BaseModel):
    old: Any = Field(alias="from")
    new: Any = Field(alias="to")

    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)


class HistoryEntry(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    version: int
    action: str
    actor: str
    source: str
    at: datetime
    changes: dict[str, Any]
