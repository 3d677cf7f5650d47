"""Which status changes are allowed, and who may make them."""

from __future__ import annotations

from gateway.errors import Forbidden, InvalidInput
from gateway.ticket.enums import OPEN_STATES, SOLVING_STATES, Status


def check_transition(
    old: Status, new: Status, *, solution_given: bool, may_reopen_closed: bool
) -> None:
    """Raise if `old -> new` breaks the GGUS status rules; return quietly if it is allowed."""
    if old == new and new not in SOLVING_STATES:
        return
    if new == Status.NEW:
        raise InvalidInput("status 'new' is only set at creation")
    if old == Status.VERIFIED:
        raise InvalidInput("status 'verified' is final and cannot change")
    if old == Status.CLOSED:
        _check_leaving_closed(new, may_reopen_closed)
        return
    if new in SOLVING_STATES and not solution_given:
        raise InvalidInput(f"status '{new}' needs a solution in the same change")
    if new == Status.VERIFIED and old not in SOLVING_STATES:
        raise InvalidInput("only a solved or unsolved ticket can be verified")
    if new == Status.REOPENED and old in OPEN_STATES:
        raise InvalidInput(f"a ticket in '{old}' is open; only a solved ticket can be reopened")
    if old in SOLVING_STATES and new in OPEN_STATES and new != Status.REOPENED:
        raise InvalidInput(f"a '{old}' ticket goes back to work through 'reopened', not '{new}'")


def _check_leaving_closed(new: Status, may_reopen_closed: bool) -> None:
    if new != Status.REOPENED:
        raise InvalidInput("status 'closed' is final except for 'reopened'")
    if not may_reopen_closed:
        raise Forbidden("only the submitter or an admin may reopen a closed ticket")
