"""Inbound rules: a remote document becomes events (an id and its commands), as the rules say."""

from __future__ import annotations

import json
from typing import Any

import pytest

from adapters.rest import RestAdapter
from gateway.adapter.errors import InboundUnreadable
from gateway.adapter.models import AddComment, InboundEvent, Solve, UpdateFields
from gateway.inputs import MAX_JSON_DEPTH
from tests.adapters.rest.conftest import make_adapter
from tests.adapters.rest.support import build, request

COMMENT = {
    "kind": "comment",
    "remote_id": "{{ payload.issue.id | string }}",
    "hub_id": "{{ payload.issue.hub | default(none) }}",
    "body": "{{ payload.note.text }}",
    "author": "{{ payload.note.by | default(none) }}",
    "visibility": "{{ 'internal' if payload.note.private else 'public' }}",
}
RULES: list[dict[str, Any]] = [
    {
        "name": "status",
        "when": "{{ payload.event == 'issue.changed' and payload.issue.state == 'done' }}",
        "event_id": "x:{{ payload.issue.id }}:{{ payload.change }}",
        "commands": [
            {"kind": "solve", "remote_id": "{{ payload.issue.id | string }}", "solution": "Done."}
        ],
    },
    {
        "name": "reopened",
        "when": "{{ payload.event == 'issue.changed' and payload.issue.state == 'open' }}",
        "event_id": "x:{{ payload.issue.id }}:{{ payload.change }}",
        "commands": [
            {
                "kind": "status",
                "remote_id": "{{ payload.issue.id | string }}",
                "status": "reopened",
            },
            {
                "kind": "update",
                "remote_id": "{{ payload.issue.id | string }}",
                "priority": "{{ 'urgent' if payload.issue.level | int > 2 else none }}",
            },
        ],
    },
    {
        "name": "notes",
        "when": "{{ payload.event == 'notes' }}",
        "for_each": "{{ payload.notes | default(none) }}",
        "as": "note",
        "event_id": "x:{{ payload.issue.id }}:note:{{ note.id }}",
        "commands": [
            {
                **COMMENT,
                "body": "{{ note.text }}",
                "author": "{{ note.by | default(none) }}",
                "visibility": "{{ 'internal' if note.private else 'public' }}",
            }
        ],
    },
]


@pytest.fixture(scope="module")
def adapter() -> RestAdapter:
    return make_adapter(build({"inbound": {"rules": RULES}}))


def events(adapter: RestAdapter, payload: Any) -> list[InboundEvent]:
    return adapter.translate_inbound(request(payload))


def changed(state: str, level: Any = 1) -> dict[str, Any]:
    return {
        "event": "issue.changed",
        "change": 9,
        "issue": {"id": 5, "state": state, "level": level},
    }


def test_one_event_type_makes_different_commands_by_a_payload_value(adapter: RestAdapter) -> None:
    [done] = events(adapter, changed("done"))
    [reopened] = events(adapter, changed("open"))
    assert [c.kind for c in done.commands] == ["solve"]
    assert [c.kind for c in reopened.commands] == ["status", "update"]


def test_a_document_no_rule_applies_to_makes_no_event(adapter: RestAdapter) -> None:
    assert events(adapter, changed("waiting")) == []
    assert events(adapter, {"event": "issue.deleted"}) == []


def test_one_event_may_carry_several_commands(adapter: RestAdapter) -> None:
    [event] = events(adapter, changed("open", level="3"))
    assert event.event_id == "x:5:9"
    assert event.commands[1] == UpdateFields(remote_id="5", priority="urgent")


def test_for_each_makes_one_event_per_item_with_its_own_id(adapter: RestAdapter) -> None:
    payload = {
        "event": "notes",
        "issue": {"id": 5},
        "notes": [
            {"id": 1, "text": "Looking", "by": "Jana", "private": False},
            {"id": 2, "text": "Pool offline", "private": True},
        ],
    }
    found = events(adapter, payload)
    assert [e.event_id for e in found] == ["x:5:note:1", "x:5:note:2"]
    assert [e.commands for e in found] == [
        [AddComment(remote_id="5", body="Looking", author="Jana", visibility="public")],
        [AddComment(remote_id="5", body="Pool offline", visibility="internal")],
    ]


def test_for_each_over_nothing_makes_no_event(adapter: RestAdapter) -> None:
    assert events(adapter, {"event": "notes", "issue": {"id": 5}, "notes": []}) == []
    assert events(adapter, {"event": "notes", "issue": {"id": 5}}) == []


def test_for_each_over_something_else_than_a_list_is_unreadable(adapter: RestAdapter) -> None:
    with pytest.raises(InboundUnreadable, match=r"inbound.rules\[2\] \(notes\).for_each"):
        events(adapter, {"event": "notes", "issue": {"id": 5}, "notes": {"id": 1}})


def test_optional_fields_rendering_null_are_left_out() -> None:
    rule = {
        "when": True,
        "event_id": "{{ payload.id }}",
        "commands": [COMMENT],
    }
    adapter = make_adapter(build({"inbound": {"rules": [rule]}}))
    payload = {"id": "e1", "issue": {"id": 5, "hub": None}, "note": {"text": "Hi", "private": 0}}
    [event] = events(adapter, payload)
    assert event.commands == [AddComment(remote_id="5", body="Hi")]
    assert event.commands[0].author is None and event.commands[0].hub_id is None


def test_values_are_converted_by_filters() -> None:
    rule = {
        "event_id": "{{ payload.id }}",
        "commands": [
            {
                "kind": "comment",
                "remote_id": "{{ payload.issue | string }}",
                "hub_id": "{{ payload.hub | int }}",
                "body": "{{ payload.text }}",
            }
        ],
    }
    adapter = make_adapter(build({"inbound": {"rules": [rule]}}))
    [event] = events(adapter, {"id": "e1", "issue": 4711, "hub": "42", "text": "Hi"})
    assert event.commands == [AddComment(remote_id="4711", hub_id=42, body="Hi")]


def test_a_value_the_payload_lacks_is_unreadable_naming_the_rule(adapter: RestAdapter) -> None:
    payload = {"event": "issue.changed", "issue": {"id": 5, "state": "done"}}  # no change id
    with pytest.raises(
        InboundUnreadable, match=r"inbound.rules\[0\] \(status\).event_id"
    ) as caught:
        events(adapter, payload)
    assert caught.value.details[0]["key"] == "inbound.rules[0] (status).event_id"


def test_a_command_the_hub_would_refuse_is_unreadable_naming_the_field() -> None:
    rule = {"event_id": "e", "commands": [{**COMMENT, "body": "{{ payload.note.text }}"}]}
    adapter = make_adapter(build({"inbound": {"rules": [rule]}}))
    payload = {"issue": {"id": 5}, "note": {"text": "", "private": False}}
    with pytest.raises(
        InboundUnreadable, match=r"inbound.rules\[0\].commands\[0\]: body"
    ) as caught:
        events(adapter, payload)
    assert caught.value.details[0]["field"] == "body"


def test_a_long_event_id_is_hashed_to_fit() -> None:
    rule = {"event_id": "{{ payload.id }}", "commands": [RULES[0]["commands"][0]]}
    adapter = make_adapter(build({"inbound": {"rules": [rule]}}))
    [first] = events(adapter, {"id": "x" * 300, "issue": {"id": 1}})
    [again] = events(adapter, {"id": "x" * 300, "issue": {"id": 1}})
    [other] = events(adapter, {"id": "x" * 299 + "y", "issue": {"id": 1}})
    assert first.event_id.startswith("sha256:") and len(first.event_id) <= 255
    assert first.event_id == again.event_id != other.event_id
    assert isinstance(first.commands[0], Solve)


def test_a_body_that_is_not_json_is_unreadable(adapter: RestAdapter) -> None:
    with pytest.raises(InboundUnreadable, match="not JSON"):
        events(adapter, b"event=notes&id=5")


def test_a_payload_nested_too_deep_is_unreadable(adapter: RestAdapter) -> None:
    deep: Any = "bottom"
    for _ in range(MAX_JSON_DEPTH + 1):
        deep = {"d": deep}
    with pytest.raises(InboundUnreadable, match="deeper than"):
        events(adapter, json.dumps(deep).encode())


def test_rules_see_the_request_headers() -> None:
    rule = {"event_id": "{{ headers['x-delivery'] }}", "commands": [RULES[0]["commands"][0]]}
    adapter = make_adapter(build({"inbound": {"rules": [rule]}}))
    [event] = adapter.translate_inbound(request({"issue": {"id": 1}}, **{"X-Delivery": "d-1"}))
    assert event.event_id == "d-1"
