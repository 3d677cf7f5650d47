"""Ticket vocabulary as in DESIGN.md; the string values are what the API and remote systems see."""

from __future__ import annotations

from enum import StrEnum


class TicketType(StrEnum):
    USER = "USER"
    TEAM = "TEAM"
    ALARM = "ALARM"


class Category(StrEnum):
    INCIDENT = "Incident"
    CHANGE_REQUEST = "Change Request"
    DOCUMENTATION = "Documentation"
    TEST = "Test"


class Priority(StrEnum):
    LESS_URGENT = "less urgent"
    URGENT = "urgent"
    VERY_URGENT = "very urgent"
    TOP_PRIORITY = "top priority"


class Status(StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in progress"
    WAITING_FOR_REPLY = "waiting for reply"
    ON_HOLD = "on hold"
    REOPENED = "reopened"
    SOLVED = "solved"
    UNSOLVED = "unsolved"
    VERIFIED = "verified"
    CLOSED = "closed"

    @property
    def is_open(self) -> bool:
        return self in OPEN_STATES


OPEN_STATES = frozenset(
    {
        Status.NEW,
        Status.ASSIGNED,
        Status.IN_PROGRESS,
        Status.WAITING_FOR_REPLY,
        Status.ON_HOLD,
        Status.REOPENED,
    }
)
SOLVING_STATES = frozenset({Status.SOLVED, Status.UNSOLVED})


class Visibility(StrEnum):
    PUBLIC = "public"
    INTERNAL = "internal"


class LinkRole(StrEnum):
    ORIGIN = "origin"
    ASSIGNEE = "assignee"
    REQUIREMENT = "requirement"


class RelationKind(StrEnum):
    """A relation as stored, from the ticket that holds it to the one it names (at most one of
    each kind per ticket)."""

    CHILD_OF = "child_of"  # solved children solve their parent
    SLAVE_OF = "slave_of"  # solving the master solves its slaves
    DUPLICATE_OF = "duplicate_of"  # solving the original solves its duplicates (as Redmine does)


class RelationRole(StrEnum):
    """A relation as one of its two tickets sees it."""

    PARENT = "parent"
    CHILD = "child"
    MASTER = "master"
    SLAVE = "slave"
    DUPLICATE_OF = "duplicate_of"
    DUPLICATED_BY = "duplicated_by"


# (seen from the holder, seen from the ticket it names)
RELATION_ROLES: dict[RelationKind, tuple[RelationRole, RelationRole]] = {
    RelationKind.CHILD_OF: (RelationRole.PARENT, RelationRole.CHILD),
    RelationKind.SLAVE_OF: (RelationRole.MASTER, RelationRole.SLAVE),
    RelationKind.DUPLICATE_OF: (RelationRole.DUPLICATE_OF, RelationRole.DUPLICATED_BY),
}
