"""Mapping files: the default one is valid; a bad one is refused with every problem keyed."""

from __future__ import annotations

import copy
import datetime
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from adapters.rest.checks import COMMAND_MODELS
from adapters.rest.mapping import CommandKind, load_mapping
from gateway.adapter.errors import AdapterConfigError
from tests.adapters.rest.conftest import DEFAULT_MAPPING

DEFAULT: dict[str, Any] = yaml.safe_load(DEFAULT_MAPPING.read_text(encoding="utf-8"))


def problems_of(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> list[dict[str, str]]:
    """The problems reported for the default mapping after `change`."""
    raw = copy.deepcopy(DEFAULT)
    change(raw)
    path = tmp_path / "mapping.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    with pytest.raises(AdapterConfigError) as raised:
        load_mapping(path)
    return raised.value.problems


def test_default_mapping_is_valid() -> None:
    mapping = load_mapping(DEFAULT_MAPPING)
    assert (
        mapping.outbound.lookup is not None and mapping.outbound.lookup.remote_id == "/items/0/id"
    )
    assert mapping.maps["priority"].outbound["top priority"] == "critical"
    assert set(mapping.inbound.events) >= {
        "ticket.created",
        "ticket.commented",
        "ticket.question",
        "ticket.solved",
        "ticket.unsolved",
        "ticket.reassigned",
        "ticket.updated",
    }


def test_the_mapping_knows_every_command_of_the_hub() -> None:
    assert set(typing.get_args(CommandKind)) == set(COMMAND_MODELS)


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    """Shape errors and cross-reference errors come in one report, each with its key."""

    def break_it(raw: dict[str, Any]) -> None:
        raw["outbound"]["update"]["method"] = "FETCH"
        del raw["outbound"]["solve"]
        raw["outbound"]["create"]["colour"] = "red"
        raw["inbound"]["events"]["ticket.commented"]["command"] = "explode"
        raw["maps"]["priority"]["inbound"]["urgent"] = "sehr dringend"
        raw["inbound"]["events"]["ticket.solved"]["fields"] = {"solutoin": "/solution"}

    problems = problems_of(tmp_path, break_it)
    keys = {p["key"] for p in problems}
    assert {
        "outbound.update.method",
        "outbound.solve",
        "outbound.create.colour",
        "inbound.events.ticket.commented.command",
        "maps.priority.inbound.urgent",
        "inbound.events.ticket.solved.fields.solutoin",
    } <= keys, problems
    assert {"key": "outbound.solve", "message": "Field required"} in problems


@pytest.mark.parametrize(
    ("change", "key", "message"),
    [
        (
            lambda m: m["outbound"]["create"]["body"].update(x="{{ remote.remote_id }}"),
            "outbound.create.body",
            "'remote' is not available in create",
        ),
        (
            lambda m: m["outbound"]["update"]["body"].update(x="{{ entry.body }}"),
            "outbound.update.body",
            "'entry' is not available in update",
        ),
        (
            lambda m: m["outbound"]["lookup"].update(path="/t?s={{ ticket.subject }}"),
            "outbound.lookup.path",
            "'ticket' is not available in lookup (available: hub_id)",
        ),
        (
            lambda m: m["outbound"]["create"]["body"].update(x="{{ ticket.colour }}"),
            "outbound.create.body",
            "Ticket has no field 'colour'",
        ),
        (
            lambda m: m["outbound"]["create"]["body"].update(x="{{ ticket.submitter.phone }}"),
            "outbound.create.body",
            "Submitter has no field 'phone'",
        ),
        (
            lambda m: m["outbound"]["entry"]["body"].update(x="{{ remote.id }}"),
            "outbound.entry.body",
            "use one of remote.remote_id, remote.remote_url",
        ),
        (
            lambda m: m["outbound"]["create"]["body"].update(x="{{ ticket.subject | nomap }}"),
            "outbound.create.body",
            "unknown map 'nomap'",
        ),
        (
            lambda m: m["outbound"]["create"]["body"].update(x="{{ ticket.subject | a | b }}"),
            "outbound.create.body",
            "malformed placeholder in '{{ ticket.subject | a | b }}'",
        ),
        (
            lambda m: m["outbound"]["create"]["body"].update(due=datetime.date(2026, 1, 1)),
            "outbound.create.body",
            "must be JSON",
        ),
        (
            lambda m: m["outbound"]["create"].pop("remote_id"),
            "outbound.create.remote_id",
            "required: JSON pointer to the created ticket id",
        ),
        (
            lambda m: m["outbound"]["create"].update(remote_id="id"),
            "outbound.create.remote_id",
            "String should match pattern",
        ),
        (
            lambda m: m["outbound"]["create"].update(path="https://elsewhere.example/tickets"),
            "outbound.create.path",
            "String should match pattern '^/'",
        ),
        (
            lambda m: m["maps"]["status"]["outbound"].pop("on hold"),
            "maps.status.outbound",
            "no remote value for: on hold",
        ),
        (
            lambda m: m["maps"]["status"]["outbound"].update(archived="closed"),
            "maps.status.outbound.archived",
            "not a canonical status",
        ),
        (
            lambda m: m["maps"]["priority"]["inbound"].update(blocker="panic"),
            "maps.priority.inbound.blocker",
            "'panic' is not a canonical priority",
        ),
        (
            lambda m: m["inbound"]["events"]["ticket.created"]["fields"].pop("ticket.subject"),
            "inbound.events.ticket.created.fields",
            "command 'create' needs 'ticket.subject'",
        ),
        (
            lambda m: m["inbound"]["events"]["ticket.commented"]["fields"].update(hub_id="/x"),
            "inbound.events.ticket.commented.fields.hub_id",
            "comes from the inbound section's pointers",
        ),
        (
            lambda m: m["inbound"]["events"]["ticket.updated"]["maps"].update(status="status"),
            "inbound.events.ticket.updated.maps.status",
            "'status' is not in fields",
        ),
        (
            lambda m: m["inbound"]["events"]["ticket.status"]["maps"].update(status="states"),
            "inbound.events.ticket.status.maps.status",
            "unknown map 'states'",
        ),
        (
            lambda m: m["inbound"]["events"]["ticket.solved"]["constants"].update(colour="red"),
            "inbound.events.ticket.solved.constants.colour",
            "Solve has no field 'colour'",
        ),
        (
            lambda m: m["inbound"].update(remote_id="ticket/id"),
            "inbound.remote_id",
            "String should match pattern",
        ),
        (lambda m: m.update(version=2), "version", "Input should be 1"),
    ],
)
def test_each_rule_names_the_key(
    tmp_path: Path, change: Callable[[dict[str, Any]], Any], key: str, message: str
) -> None:
    problems = problems_of(tmp_path, change)
    assert any(p["key"] == key and message in p["message"] for p in problems), problems


def test_cross_references_are_checked_even_when_a_section_is_malformed(tmp_path: Path) -> None:
    def change(raw: dict[str, Any]) -> None:
        raw["inbound"]["event_type"] = 5  # inbound is malformed ...
        raw["outbound"]["create"]["body"]["x"] = "{{ bogus }}"  # ... outbound is not

    keys = {p["key"] for p in problems_of(tmp_path, change)}
    assert {"inbound.event_type", "outbound.create.body"} <= keys


@pytest.mark.parametrize(
    ("text", "key"),
    [("outbound: [unclosed", "(file)"), ("- just\n- a list\n", "(top level)"), ("", "(top level)")],
)
def test_unreadable_file_is_refused(tmp_path: Path, text: str, key: str) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(AdapterConfigError) as raised:
        load_mapping(path)
    assert [p["key"] for p in raised.value.problems] == [key]


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(AdapterConfigError, match="cannot read mapping"):
        load_mapping(tmp_path / "absent.yaml")
