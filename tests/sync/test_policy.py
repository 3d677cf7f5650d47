"""The sync policy as a pure function: who hears of which change, and by which rule."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.email.adapter import EmailAdapter
from adapters.email.config import EmailConfig
from gateway.adapter.models import Action
from gateway.connection.models import Policy
from gateway.connection.service import Connection, Connections
from gateway.sync.policy import ChangeFacts, targets
from tests.sync.harness import ScriptedAdapter


def conns(origin_policy: Policy = Policy.CLOSE_ONLY) -> Connections:
    return Connections(
        [
            Connection("ngi", "NGI_DE", origin_policy, ScriptedAdapter(name="ngi")),
            Connection("dmsu", "DMSU", Policy.CLOSE_ONLY, ScriptedAdapter(name="dmsu")),
            Connection("dcache", "dCache", Policy.CLOSE_ONLY, ScriptedAdapter(name="dcache")),
        ]
    )


def facts(
    action: str,
    changes: dict[str, Any],
    *,
    source: str = "api",
    unit: str | None = "DMSU",
    origin: str | None = "ngi",
) -> ChangeFacts:
    return ChangeFacts(
        action=action, changes=changes, source=source, support_unit=unit, origin=origin
    )


def summary(found: list[Any]) -> list[tuple[str, str, str]]:
    return [(t.connection, t.action.value, t.rule) for t in found]


def test_creation_for_a_connected_unit_creates_the_remote_ticket() -> None:
    assert summary(targets(facts("created", {}), conns())) == [
        ("dmsu", "create", "assignment-creates-remote-ticket")
    ]


def test_creation_for_an_unconnected_unit_goes_nowhere() -> None:
    assert targets(facts("created", {}, unit="TPM"), conns()) == []


def test_public_entry_goes_to_the_assignee_only_under_close_only() -> None:
    change = {"entry": {"id": 1, "visibility": "public"}}
    assert summary(targets(facts("entry_added", change), conns())) == [
        ("dmsu", "entry", "public-entry-to-assignee")
    ]


def test_internal_entry_never_leaves_the_hub() -> None:
    change = {"entry": {"id": 1, "visibility": "internal"}}
    assert targets(facts("entry_added", change), conns(Policy.MIRROR)) == []


def test_solution_updates_the_origin_now_and_not_before() -> None:
    progress = {"status": {"from": "assigned", "to": "in progress"}}
    assert summary(targets(facts("updated", progress), conns())) == [
        ("dmsu", "update", "public-update-to-assignee")
    ]
    solved = {
        "status": {"from": "in progress", "to": "solved"},
        "solution": {"from": None, "to": "x"},
    }
    assert summary(targets(facts("updated", solved, source="dmsu"), conns())) == [
        ("ngi", "solve", "origin-updated-on-solution")
    ]


def test_solve_at_the_hub_tells_assignee_and_origin() -> None:
    solved = {"status": {"from": "in progress", "to": "unsolved"}}
    assert [t.connection for t in targets(facts("updated", solved), conns())] == ["dmsu", "ngi"]


@pytest.mark.parametrize("source", ["ngi", "dmsu"])
def test_never_back_to_the_source(source: str) -> None:
    change = {"entry": {"id": 1, "visibility": "public"}}
    found = targets(facts("entry_added", change, source=source), conns(Policy.MIRROR))
    assert source not in [t.connection for t in found]


def test_mirror_origin_hears_every_public_change() -> None:
    change = {"priority": {"from": "urgent", "to": "top priority"}}
    assert summary(targets(facts("updated", change), conns(Policy.MIRROR))) == [
        ("dmsu", "update", "public-update-to-assignee"),
        ("ngi", "update", "mirror-public-update"),
    ]


def test_reassignment_creates_at_the_new_unit_and_tells_the_old() -> None:
    change = {"support_unit": {"from": "DMSU", "to": "dCache"}}
    assert summary(targets(facts("updated", change, unit="dCache"), conns())) == [
        ("dcache", "create", "assignment-creates-remote-ticket"),
        ("dmsu", "update", "reassigned-away-from-unit"),
    ]
    assert [
        t.action for t in targets(facts("updated", change, unit="dCache", source="dmsu"), conns())
    ] == [Action.CREATE]


def test_submitter_reply_that_resumes_work_sends_entry_and_update() -> None:
    change = {
        "entry": {"id": 3, "visibility": "public"},
        "status": {"from": "waiting for reply", "to": "in progress"},
    }
    assert summary(targets(facts("entry_added", change, source="ngi"), conns())) == [
        ("dmsu", "entry", "public-entry-to-assignee"),
        ("dmsu", "update", "public-update-to-assignee"),
    ]


def carrying(origin_policy: Policy = Policy.CLOSE_ONLY, *, dmsu: bool = True) -> Connections:
    """As `conns`, with adapters that carry files (DMSU's only if `dmsu`)."""
    return Connections(
        [
            Connection(
                "ngi", "NGI_DE", origin_policy, ScriptedAdapter(name="ngi", attachments=True)
            ),
            Connection(
                "dmsu", "DMSU", Policy.CLOSE_ONLY, ScriptedAdapter(name="dmsu", attachments=dmsu)
            ),
        ]
    )


def attached(visibility: str = "public") -> dict[str, Any]:
    return {"attachment": {"id": 5, "filename": "srm.log", "size": 12, "visibility": visibility}}


def test_public_attachment_goes_where_a_public_entry_goes_if_the_connection_carries_files() -> None:
    assert summary(targets(facts("attachment_added", attached()), carrying())) == [
        ("dmsu", "attach", "public-attachment-to-assignee")
    ]
    assert summary(targets(facts("attachment_added", attached()), carrying(Policy.MIRROR))) == [
        ("dmsu", "attach", "public-attachment-to-assignee"),
        ("ngi", "attach", "mirror-public-attachment"),
    ]


def test_attachment_skips_connections_that_do_not_carry_files() -> None:
    assert targets(facts("attachment_added", attached()), conns(Policy.MIRROR)) == []
    found = targets(facts("attachment_added", attached()), carrying(Policy.MIRROR, dmsu=False))
    assert summary(found) == [("ngi", "attach", "mirror-public-attachment")]


def test_internal_attachment_never_leaves_the_hub() -> None:
    assert targets(facts("attachment_added", attached("internal")), carrying(Policy.MIRROR)) == []


@pytest.mark.parametrize("source", ["ngi", "dmsu"])
def test_attachment_never_back_to_its_source(source: str) -> None:
    found = targets(facts("attachment_added", attached(), source=source), carrying(Policy.MIRROR))
    assert [t.connection for t in found] == [c for c in ("dmsu", "ngi") if c != source]


def with_mail() -> Connections:
    channel = EmailAdapter(
        name="mail",
        config=EmailConfig(audience="submitters", sender="helpdesk@gateway.example.org"),
    )
    return Connections([*conns(), Connection("mail", None, Policy.CLOSE_ONLY, channel)])


def test_the_submitter_is_acknowledged_even_when_the_ticket_came_by_mail() -> None:
    by_mail = facts("created", {}, source="mail", origin="mail", unit="TPM")
    assert summary(targets(by_mail, with_mail())) == [("mail", "create", "submitter-acknowledged")]


def test_the_submitter_hears_public_entries_status_and_the_solution_never_internal() -> None:
    public = {
        "entry": {"id": 1, "visibility": "public"},
        "status": {"from": "assigned", "to": "waiting for reply"},
    }
    assert ("mail", "entry", "public-entry-to-submitter") in summary(
        targets(facts("entry_added", public), with_mail())
    )
    assert ("mail", "update", "status-change-to-submitter") in summary(
        targets(facts("entry_added", public), with_mail())
    )
    internal = {"entry": {"id": 2, "visibility": "internal"}}
    assert [
        t for t in targets(facts("entry_added", internal), with_mail()) if t.connection == "mail"
    ] == []
    solved = {"status": {"from": "in progress", "to": "solved"}}
    assert ("mail", "solve", "submitter-mailed-solution") in summary(
        targets(facts("updated", solved, source="dmsu"), with_mail())
    )


def test_the_submitters_own_mail_is_not_mailed_back_to_them() -> None:
    reply = {
        "entry": {"id": 3, "visibility": "public"},
        "status": {"from": "waiting for reply", "to": "in progress"},
    }
    found = summary(targets(facts("entry_added", reply, source="mail"), with_mail()))
    assert [t for t in found if t[0] == "mail"] == []
    assert ("dmsu", "entry", "public-entry-to-assignee") in found


def requirement_queues(*, auto: bool) -> Connections:
    from adapters.rt import RtAdapter
    from adapters.rt.config import RtConfig

    config = RtConfig(
        url="https://rt.example.org",
        user="gateway",
        password="x",  # type: ignore[arg-type]
        queue="requirements",
        requirement_tag="DMSU",
        auto_for_change_requests=auto,
    )
    queue = RtAdapter(name="reqs", config=config)
    return Connections(
        [*conns(), Connection("reqs", None, Policy.CLOSE_ONLY, queue)]  # type: ignore[arg-type]
    )


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ("requirement_requested", ("reqs", "create", "requirement-opened")),
        ("requirement_linked", ("reqs", "link", "requirement-linked")),
        ("requirement_unlinked", ("reqs", "unlink", "requirement-unlinked")),
    ],
)
def test_a_requirement_goes_to_its_queue_only(action: str, expected: tuple[str, ...]) -> None:
    change = {"requirement": {"connection": "reqs", "remote_id": "17"}}
    assert summary(targets(facts(action, change), requirement_queues(auto=False))) == [expected]


@pytest.mark.parametrize("auto", [True, False])
def test_a_new_change_request_opens_a_requirement_only_where_configured(auto: bool) -> None:
    made = ChangeFacts(
        action="created",
        changes={},
        source="api",
        support_unit="TPM",
        origin=None,
        category="Change Request",
    )
    expected = [("reqs", "create", "requirement-for-change-request")] if auto else []
    assert summary(targets(made, requirement_queues(auto=auto))) == expected
    incident = ChangeFacts(
        action="created", changes={}, source="api", support_unit="TPM", origin=None
    )
    assert targets(incident, requirement_queues(auto=auto)) == []


def test_ordinary_changes_never_go_to_a_requirements_queue() -> None:
    queues = requirement_queues(auto=True)
    entry = {"entry": {"id": 1, "visibility": "public"}}
    assert summary(targets(facts("entry_added", entry), queues)) == [
        ("dmsu", "entry", "public-entry-to-assignee")
    ]
    solved = {"status": {"from": "in progress", "to": "solved"}, "solution": {"to": "done"}}
    assert {t.connection for t in targets(facts("updated", solved), queues)} == {"dmsu", "ngi"}
