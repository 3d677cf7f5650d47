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
