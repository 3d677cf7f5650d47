"""Templates keep JSON types, apply maps, encode URL values and never evaluate anything."""

from __future__ import annotations

import pytest

from adapters.rest.template import TemplateError, malformed, placeholders, render

MAPS = {"priority": {"urgent": "high", "less urgent": "low"}}
CONTEXT = {
    "hub_id": 7,
    "ticket": {
        "subject": "a/b c?d=1",
        "priority": "urgent",
        "eta": None,
        "cc": ["x@y.org"],
        "submitter": {"name": "Ann", "email": "ann@example.org"},
    },
    "entry": None,
    "changes": {"priority": {"from": "less urgent", "to": "urgent"}},
}


def test_a_lone_placeholder_keeps_the_value_type() -> None:
    body = {
        "id": "{{ hub_id }}",
        "eta": "{{ticket.eta}}",
        "cc": "{{ ticket.cc }}",
        "who": "{{ ticket.submitter }}",
        "fixed": [1, True, None, "plain"],
    }
    assert render(body, CONTEXT, MAPS) == {
        "id": 7,
        "eta": None,
        "cc": ["x@y.org"],
        "who": {"name": "Ann", "email": "ann@example.org"},
        "fixed": [1, True, None, "plain"],
    }


def test_placeholders_inside_text_are_formatted() -> None:
    assert render("#{{ hub_id }}: {{ ticket.subject }} (eta {{ ticket.eta }})", CONTEXT, MAPS) == (
        "#7: a/b c?d=1 (eta )"
    )


def test_maps_translate_values_and_unmapped_values_are_errors() -> None:
    assert render("{{ ticket.priority | priority }}", CONTEXT, MAPS) == "high"
    assert render("{{ changes.priority.from|priority }}", CONTEXT, MAPS) == "low"
    assert render("{{ ticket.eta | priority }}", CONTEXT, MAPS) is None  # null stays null
    with pytest.raises(TemplateError, match=r"ticket\.subject value 'a/b c\?d=1' has no entry"):
        render("{{ ticket.subject | priority }}", CONTEXT, MAPS)
    with pytest.raises(TemplateError, match="no map named 'colour'"):
        render("{{ ticket.priority | colour }}", CONTEXT, MAPS)


def test_values_in_urls_are_percent_encoded() -> None:
    assert render("/t/{{ ticket.subject }}", CONTEXT, MAPS, in_url=True) == "/t/a%2Fb%20c%3Fd%3D1"
    assert render("/t?id={{ hub_id }}", CONTEXT, MAPS, in_url=True) == "/t?id=7"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ ticket.colour }}", "'ticket.colour' names nothing ('colour' is missing)"),
        ("{{ nothing }}", "'nothing' names nothing"),
        ("{{ ticket.subject.length }}", "'ticket.subject' is a str"),
        ("{{ entry.body }}", "'entry' is null"),
    ],
)
def test_missing_paths_are_errors_naming_the_placeholder(template: str, message: str) -> None:
    with pytest.raises(TemplateError) as raised:
        render({"x": template}, CONTEXT, MAPS)
    assert message in str(raised.value)


def test_nothing_is_evaluated() -> None:
    evil = ["{{ __import__('os').system('true') }}", "{{ 1 + 1 }}", "{{ a | b | c }}"]
    assert render(evil, CONTEXT, MAPS) == evil  # sent verbatim, never run ...
    assert malformed({"x": evil}) == evil  # ... and a mapping holding them is refused


def test_placeholders_are_listed_for_validation() -> None:
    template = {"a": ["{{ ticket.subject }} {{ hub_id|priority }}"], "b": 3, "{{ key }}": "k"}
    assert placeholders(template) == [("ticket.subject", None), ("hub_id", "priority")]
    assert malformed(template) == []
