"""Templates keep types and apply maps; bad mapping files are refused with every key named."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.rest.mapping import load_mapping
from adapters.rest.template import TemplateError, render
from gateway.adapter.errors import AdapterConfigError

MAPS = {"priority": {"urgent": "high"}}
CONTEXT = {"ticket": {"id": 7, "subject": "a/b c", "priority": "urgent", "eta": None}, "hub_id": 7}


def test_single_placeholder_keeps_the_type_and_strings_are_formatted() -> None:
    body = {
        "id": "{{ hub_id }}",
        "title": "#{{ hub_id }}: {{ ticket.subject }}",
        "eta": "{{ ticket.eta }}",
    }
    assert render(body, CONTEXT, MAPS) == {"id": 7, "title": "#7: a/b c", "eta": None}


def test_maps_apply_and_unmapped_values_are_errors() -> None:
    assert render("{{ ticket.priority | priority }}", CONTEXT, MAPS) == "high"
    with pytest.raises(TemplateError, match="has no entry in map 'priority'"):
        render("{{ ticket.subject | priority }}", CONTEXT, MAPS)
    with pytest.raises(TemplateError, match="no map named 'colour'"):
        render("{{ ticket.subject | colour }}", CONTEXT, MAPS)


def test_values_in_urls_are_percent_encoded() -> None:
    assert render("/t/{{ ticket.subject }}", CONTEXT, MAPS, in_url=True) == "/t/a%2Fb%20c"


def test_unknown_placeholder_names_itself() -> None:
    with pytest.raises(TemplateError, match=r"'ticket\.colour' names nothing"):
        render("{{ ticket.colour }}", CONTEXT, MAPS)


def test_default_mapping_is_valid() -> None:
    mapping = load_mapping(Path("mappings/rest-default.yaml"))
    assert mapping.outbound.lookup is not None
    assert "ticket.solved" in mapping.inbound.events


def test_bad_mapping_lists_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        """
version: 1
outbound:
  create: {method: POST, path: /t, body: {a: "{{ ticket.subject | nomap }}", b: "{{ bogus.x }}"}}
  update: {method: FETCH, path: /t}
  entry: {method: POST, path: /t}
inbound:
  event_type: /type
  remote_id: /id
  events:
    x: {command: explode}
""",
        encoding="utf-8",
    )
    with pytest.raises(AdapterConfigError) as raised:
        load_mapping(path)
    keys = {p["key"] for p in raised.value.problems}
    assert {"outbound.update.method", "outbound.solve", "inbound.events.x.command"} <= keys
    fixed = (
        path.read_text(encoding="utf-8")
        .replace("FETCH", "PATCH")
        .replace("explode", "comment")
        .replace(
            "  entry: {method: POST, path: /t}",
            "  entry: {method: POST, path: /t}\n  solve: {method: POST, path: /t}",
        )
    )
    path.write_text(fixed, encoding="utf-8")  # now only the references are wrong
    with pytest.raises(AdapterConfigError) as raised:
        load_mapping(path)
    assert raised.value.problems == [
        {"key": "outbound.create.body", "message": "unknown map 'nomap'"},
        {"key": "outbound.create.body", "message": "unknown placeholder 'bogus.x'"},
    ]
