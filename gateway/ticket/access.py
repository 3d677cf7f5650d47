"""Who may see and change which ticket, and which fields each kind of caller may set."""

from __future__ import annotations

from sqlalchemy import ColumnElement, exists, func, or_, select, true

from gateway.auth.models import Caller, Role
from gateway.errors import Forbidden
from gateway.ticket.enums import Status, Visibility
from gateway.ticket.models import JournalEntryCreate, TicketCreate, TicketPatch
from gateway.ticket.tables import InvolvedUnitRow, TicketRow

UNIT_PATCH_FIELDS = frozenset(
    {
        "status",
        "priority",
        "support_unit",
        "involved",
        "cc",
        "component",
        "affected_site",
        "vo",
        "eta",
        "solution",
    }
)
SUBMITTER_PATCH_FIELDS = frozenset({"status", "cc"})
SUBMITTER_STATUSES = frozenset({Status.VERIFIED, Status.REOPENED, Status.CLOSED})
SUBMITTER_CREATE_REFUSED = ("support_unit", "involved", "eta")


def visible(caller: Caller) -> ColumnElement[bool]:
    """SQL condition for the tickets this caller may read at all."""
    if caller.role == Role.ADMIN:
        return true()
    if caller.role == Role.UNIT:
        unit = caller.unit_id
        involved = exists(
            select(InvolvedUnitRow.ticket_id).where(
                InvolvedUnitRow.ticket_id == TicketRow.id, InvolvedUnitRow.support_unit_id == unit
            )
        )
        return or_(TicketRow.support_unit_id == unit, TicketRow.origin_unit_id == unit, involved)
    return func.lower(TicketRow.submitter_email) == caller.submitter_email


def check_create(caller: Caller, data: TicketCreate) -> None:
    """A submitter's caller files tickets only for its own address and does not route them."""
    if caller.role != Role.SUBMITTER:
        return
    if data.submitter.email.lower() != caller.submitter_email:
        raise Forbidden("a submitter key may only create tickets for its own email address")
    for field in SUBMITTER_CREATE_REFUSED:
        if field in data.model_fields_set:
            raise Forbidden(f"field '{field}' may not be set by a submitter key")


def check_patch(caller: Caller, patch: TicketPatch) -> None:
    """Refuse, naming it, the first field this caller may not set."""
    if caller.is_admin:
        return
    allowed = UNIT_PATCH_FIELDS if caller.role == Role.UNIT else SUBMITTER_PATCH_FIELDS
    for field in sorted(patch.model_fields_set):
        if field not in allowed:
            raise Forbidden(f"field '{field}' may not be set by a {caller.role.value} key")
    submitter = caller.role == Role.SUBMITTER
    if submitter and patch.status is not None and patch.status not in SUBMITTER_STATUSES:
        raise Forbidden(f"a submitter key may not set status '{patch.status}'")


def check_eta(caller: Caller, row: TicketRow, holder: str | None) -> None:
    """The ETA is the promise of the unit that holds the ticket: only that unit's staff (and
    admins) set or revise it."""
    if caller.is_admin or caller.role != Role.UNIT or row.support_unit_id == caller.unit_id:
        return
    raise Forbidden(
        f"{caller.unit_name}: the ETA of #{row.id} is set by the unit that holds the ticket "
        f"({holder or 'none'})"
    )


def check_entry(caller: Caller, entry: JournalEntryCreate) -> None:
    """Submitters write public entries; the author is the caller unless an admin names one."""
    if entry.visibility == Visibility.INTERNAL and not caller.sees_internal:
        raise Forbidden("a submitter key may not write internal journal entries")
    if entry.author is not None and not caller.is_admin and entry.author != caller.name:
        raise Forbidden(
            f"field 'author' may name someone else only with an admin key; "
            f"entries by this {caller.role.value} key are by '{caller.name}'"
        )
