"""Ticket request and response models: the API's (and the JSON Schemas') source of truth."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from gateway.inputs import MAX_DB_INT, InputModel, IsoDate, Omittable
from gateway.ticket.enums import (
    Category,
    LinkRole,
    Priority,
    RelationKind,
    RelationRole,
    Status,
    TicketType,
    Visibility,
)

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
Email = Annotated[str, StringConstraints(max_length=254, pattern=EMAIL_PATTERN)]
UnitName = Annotated[str, StringConstraints(min_length=1, max_length=64)]
ShortText = Annotated[str, StringConstraints(max_length=128)]
MAX_TEXT = 65_536


class Submitter(InputModel):
    name: str = Field(min_length=1, max_length=255)
    email: Email
    dn: str | None = Field(default=None, max_length=1024, description="X.509 distinguished name")


class TicketCreate(InputModel):
    """A new ticket. Its status is derived: `assigned` with a support unit, else `new`."""

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
    eta: IsoDate | None = None


class TicketPatch(InputModel):
    """A change to a ticket; only the fields present are changed.

    `null` clears a field the ticket may lack (component, affected_site, vo, eta); the others may
    be left out but not cleared.
    """

    subject: Omittable[str] = Field(default=None, min_length=1, max_length=255)
    description: Omittable[str] = Field(default=None, min_length=1, max_length=MAX_TEXT)
    status: Omittable[Status] = None
    priority: Omittable[Priority] = None
    support_unit: Omittable[UnitName] = None
    involved: Omittable[list[UnitName]] = Field(default=None, max_length=50)
    cc: Omittable[list[Email]] = Field(default=None, max_length=50)
    component: ShortText | None = None
    affected_site: ShortText | None = None
    vo: ShortText | None = None
    eta: IsoDate | None = None
    solution: Omittable[str] = Field(default=None, min_length=1, max_length=MAX_TEXT)

    @model_validator(mode="before")
    @classmethod
    def _type_is_fixed(cls, data: Any) -> Any:
        if isinstance(data, dict) and "type" in data:
            raise ValueError("type is fixed at creation and cannot change")
        return data


class JournalEntryCreate(InputModel):
    body: str = Field(min_length=1, max_length=MAX_TEXT)
    visibility: Visibility = Visibility.PUBLIC
    author: str | None = Field(
        default=None,
        min_length=1,
        max_length=255,
        description="Shown as the entry's author; only an admin key may name someone else.",
    )


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
    state: str | None = Field(
        default=None, description="A requirement's state in its queue, as last read"
    )


class EtaRevision(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    eta: date | None
    set_by: str
    set_at: datetime


class Relation(BaseModel):
    """Another ticket this one is related to, and what it is to this one."""

    role: RelationRole = Field(description="What the other ticket is to this one")
    ticket: int = Field(description="The other ticket's hub id")


class RelationCreate(InputModel):
    """Make this ticket a child, slave or duplicate of another (staff only)."""

    kind: RelationKind
    ticket: int = Field(ge=1, le=MAX_DB_INT, description="The parent, master or original")


class ChildrenCreate(InputModel):
    """One report to many sites: a child ticket for each unit, solved into the parent."""

    support_units: list[UnitName] = Field(min_length=1, max_length=200)
    description: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_TEXT,
        description="The children's description; the parent's when left out.",
    )


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
    relations: list[Relation] = Field(default_factory=list)
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
