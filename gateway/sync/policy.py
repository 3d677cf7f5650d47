"""The sync policy (GGUS integration-platform model): which connection hears of which change.

A pure function of the change and the connections, so every rule is testable on its own and
each outbox row records the rule that created it (shown on dead letters).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.adapter.models import Action
from gateway.connection.models import Policy
from gateway.connection.service import Connections
from gateway.ticket.enums import SOLVING_STATES, Visibility

PUBLIC_FIELDS = frozenset(
    {
        "subject",
        "description",
        "status",
        "priority",
        "cc",
        "component",
        "affected_site",
        "vo",
        "eta",
        "involved",
        "support_unit",
        "relations",
    }
)

NOTICE = "notice"  # a process notice: mailed to the addresses it names, nowhere else


@dataclass(frozen=True, slots=True)
class ChangeFacts:
    """What the policy needs to know about one recorded change."""

    action: str  # created | updated | entry_added | attachment_added
    changes: dict[str, Any]
    source: str  # "api" or the connection the change came from
    support_unit: str | None  # the responsible unit after the change
    origin: str | None  # the connection the ticket came from, if any
    category: str | None = None  # the ticket's category (Change Requests may open requirements)
    told_through_parent: bool = False  # a child opened for the parent's submitter (see relations)


@dataclass(frozen=True, slots=True)
class Target:
    connection: str
    action: Action
    rule: str


def targets(facts: ChangeFacts, connections: Connections) -> list[Target]:
    """Outbox rows for one change; never one back to the connection the change came from
    (but a submitter who mailed a problem is still sent the acknowledgement with the hub id)."""
    if facts.action == NOTICE:
        channel = connections.submitter_channel()
        kind = str(facts.changes.get(NOTICE, {}).get("kind", ""))
        return [Target(channel.name, Action.NOTICE, f"notice-{kind}"[:64])] if channel else []
    found = (
        _attachment_targets(facts, connections)
        + _assignee_targets(facts, connections)
        + _origin_targets(facts, connections)
        + _submitter_targets(facts, connections)
        + _requirement_targets(facts, connections)
    )
    seen: set[tuple[str, Action]] = set()
    out = []
    for target in found:
        key = (target.connection, target.action)
        echo = target.connection == facts.source and target.rule != ACKNOWLEDGED
        if not echo and key not in seen:
            seen.add(key)
            out.append(target)
    return out


ATTACHMENT_ADDED = "attachment_added"


def _attachment_targets(facts: ChangeFacts, connections: Connections) -> list[Target]:
    """A public file goes where a public entry goes (the assignee; the origin under mirror), to
    connections that carry files; an internal one never leaves the hub."""
    if facts.action != ATTACHMENT_ADDED or not _public_attachment(facts):
        return []
    out = []
    assignee = connections.for_unit(facts.support_unit)
    if assignee is not None and assignee.adapter.carries_attachments:
        out.append(Target(assignee.name, Action.ATTACH, "public-attachment-to-assignee"))
    origin = connections.get(facts.origin) if facts.origin else None
    if origin is not None and origin.policy == Policy.MIRROR and origin.adapter.carries_attachments:
        out.append(Target(origin.name, Action.ATTACH, "mirror-public-attachment"))
    return out


def _assignee_targets(facts: ChangeFacts, connections: Connections) -> list[Target]:
    assignee = connections.for_unit(facts.support_unit)
    out: list[Target] = []
    if facts.action == ATTACHMENT_ADDED:
        return out
    if facts.action == "created":
        if assignee is not None:
            out.append(Target(assignee.name, Action.CREATE, "assignment-creates-remote-ticket"))
        return out
    unit_change = facts.changes.get("support_unit")
    if unit_change is not None:
        previous = connections.for_unit(unit_change.get("from"))
        if assignee is not None:
            out.append(Target(assignee.name, Action.CREATE, "assignment-creates-remote-ticket"))
        if previous is not None and previous is not assignee:
            out.append(Target(previous.name, Action.UPDATE, "reassigned-away-from-unit"))
        return out
    if assignee is None:
        return out
    if _is_solve(facts):
        return [Target(assignee.name, Action.SOLVE, "assignee-told-of-solution")]
    if _public_entry(facts):
        out.append(Target(assignee.name, Action.ENTRY, "public-entry-to-assignee"))
    if _public_fields(facts):  # e.g. a submitter's reply also resumes work
        out.append(Target(assignee.name, Action.UPDATE, "public-update-to-assignee"))
    return out


def _origin_targets(facts: ChangeFacts, connections: Connections) -> list[Target]:
    origin = connections.get(facts.origin) if facts.origin else None
    if origin is None or facts.action in ("created", ATTACHMENT_ADDED):
        return []
    if _is_solve(facts):
        return [Target(origin.name, Action.SOLVE, "origin-updated-on-solution")]
    if origin.policy != Policy.MIRROR:
        return []
    out = []
    if _public_entry(facts):
        out.append(Target(origin.name, Action.ENTRY, "mirror-public-entry"))
    if _public_fields(facts):
        out.append(Target(origin.name, Action.UPDATE, "mirror-public-update"))
    return out


ACKNOWLEDGED = "submitter-acknowledged"
REQUIREMENT_RULES = {
    "requirement_requested": (Action.CREATE, "requirement-opened"),
    "requirement_linked": (Action.LINK, "requirement-linked"),
    "requirement_unlinked": (Action.UNLINK, "requirement-unlinked"),
}
REQUIREMENT_FOR_CHANGE_REQUEST = "requirement-for-change-request"


def is_requirement_rule(rule: str) -> bool:
    """Rows whose remote ticket is the hub ticket's requirement (its link has that role)."""
    return rule.startswith("requirement-")


def _requirement_targets(facts: ChangeFacts, connections: Connections) -> list[Target]:
    """A requirement asked for, linked or unlinked goes to its requirements queue; a new Change
    Request opens one in each queue that wants them all."""
    if facts.action in REQUIREMENT_RULES:
        named = connections.get(facts.changes.get("requirement", {}).get("connection") or "")
        if named is None or named.adapter.requirement_tag is None:
            return []
        action, rule = REQUIREMENT_RULES[facts.action]
        return [Target(named.name, action, rule)]
    if facts.action == "created" and facts.category == "Change Request":
        return [
            Target(c.name, Action.CREATE, REQUIREMENT_FOR_CHANGE_REQUEST)
            for c in connections
            if c.adapter.requirement_tag is not None and c.adapter.requirements_for_change_requests
        ]
    return []


def _submitter_targets(facts: ChangeFacts, connections: Connections) -> list[Target]:
    """The mail channel tells the submitter and cc: the acknowledgement, public entries
    (questions included), status changes, and the solution. Never internal entries."""
    channel = connections.submitter_channel()
    if channel is None or facts.action == ATTACHMENT_ADDED:
        return []
    if facts.told_through_parent:  # the parent acknowledges and solves; a child's questions pass
        if facts.action != "created" and _public_entry(facts):
            return [Target(channel.name, Action.ENTRY, "public-entry-to-submitter")]
        return []
    if facts.action == "created":
        return [Target(channel.name, Action.CREATE, ACKNOWLEDGED)]
    if _is_solve(facts):
        return [Target(channel.name, Action.SOLVE, "submitter-mailed-solution")]
    out = []
    if _public_entry(facts):
        out.append(Target(channel.name, Action.ENTRY, "public-entry-to-submitter"))
    if "status" in facts.changes or "support_unit" in facts.changes:
        out.append(Target(channel.name, Action.UPDATE, "status-change-to-submitter"))
    return out


def _is_solve(facts: ChangeFacts) -> bool:
    status = facts.changes.get("status")
    return status is not None and status.get("to") in SOLVING_STATES


def _public_entry(facts: ChangeFacts) -> bool:
    entry = facts.changes.get("entry")
    return entry is not None and entry.get("visibility") == Visibility.PUBLIC


def _public_attachment(facts: ChangeFacts) -> bool:
    attachment = facts.changes.get("attachment")
    return attachment is not None and attachment.get("visibility") == Visibility.PUBLIC


def _public_fields(facts: ChangeFacts) -> bool:
    return bool(PUBLIC_FIELDS & set(facts.changes))
