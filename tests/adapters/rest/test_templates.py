"""Mapping templates: Jinja2 expressions over JSON-shaped data, sandboxed, strict about absence."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.rest.mapping import ValueMap
from adapters.rest.templates import MappingTemplateError, Templates

TEMPLATES = Templates(
    {"priority": ValueMap(outbound={"urgent": "High"}, inbound={"High": "urgent", "Low": "less"})}
)
DATA: dict[str, Any] = {
    "ticket": {"id": 42, "subject": "SRM down", "tags": ["a", "b"], "eta": None},
    "x": "a/b c",
    "fields": [{"id": 7, "value": "seven"}, {"id": 8, "value": "eight"}],
}


def render(template: Any) -> Any:
    return TEMPLATES.render(template, DATA)


@pytest.mark.parametrize(
    ("template", "value"),
    [
        ("{{ ticket.id }}", 42),
        ("  {{ ticket.id }}  ", 42),
        ("{{ ticket.tags }}", ["a", "b"]),
        ("{{ ticket.eta }}", None),
        ("{{ ticket.id > 40 }}", True),
        ("{{ ticket }}", DATA["ticket"]),
    ],
)
def test_a_whole_expression_keeps_the_type_of_its_value(template: str, value: Any) -> None:
    assert render(template) == value


@pytest.mark.parametrize(
    ("template", "text"),
    [
        ("#{{ ticket.id }}", "#42"),
        ("{{ ticket.id }}-{{ ticket.subject }}", "42-SRM down"),
        ("{% for t in ticket.tags %}{{ t }};{% endfor %}", "a;b;"),
    ],
)
def test_anything_else_renders_as_text(template: str, text: str) -> None:
    assert render(template) == text


def test_strings_without_braces_and_other_json_values_are_left_as_they_are() -> None:
    assert render({"a": "plain", "b": 3, "c": [True, None]}) == {
        "a": "plain",
        "b": 3,
        "c": [True, None],
    }


@pytest.mark.parametrize(
    "template",
    [
        "{{ ticket.sla }}",
        "due {{ ticket.sla }}",
        "{{ ticket.sla | string }}",
        "{{ ticket.sla == 1 }}",
    ],
)
def test_a_missing_value_is_an_error_naming_the_template(template: str) -> None:
    with pytest.raises(MappingTemplateError, match=r"ticket\.sla"):
        render(template)


@pytest.mark.parametrize(
    ("template", "value"),
    [
        ("{{ ticket.sla | default('none given') }}", "none given"),
        ("{{ ticket.sla.hours.max | default(0) }}", 0),
        ("{{ 'set' if ticket.sla is defined else 'unset' }}", "unset"),
        ("{{ ticket.sla | default(none) }}", None),
    ],
)
def test_default_and_is_defined_make_a_value_optional(template: str, value: Any) -> None:
    assert render(template) == value


def test_maps_translate_both_ways() -> None:
    assert render("{{ 'urgent' | to_remote('priority') }}") == "High"
    assert render("{{ 'Low' | to_hub('priority') }}") == "less"


def test_a_null_passes_a_map_as_null() -> None:
    assert render("{{ ticket.eta | to_remote('priority') }}") is None


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{ 'top' | to_remote('priority') }}", "'top' has no outbound entry in map 'priority'"),
        ("{{ 'urgent' | to_hub('priority') }}", "'urgent' has no inbound entry in map 'priority'"),
        ("{{ 'urgent' | to_remote('prio') }}", "no map named 'prio'"),
    ],
)
def test_a_value_a_map_lacks_is_an_error_naming_the_map(template: str, message: str) -> None:
    with pytest.raises(MappingTemplateError, match=message):
        render(template)


def test_values_inserted_in_a_path_are_percent_encoded_and_the_literal_part_is_not() -> None:
    assert TEMPLATES.path("/tickets/{{ x }}/notes", DATA) == "/tickets/a%2Fb%20c/notes"
    assert TEMPLATES.path("/issues/{{ ticket.id }}.json", DATA) == "/issues/42.json"


def test_a_missing_value_in_a_path_is_an_error() -> None:
    with pytest.raises(MappingTemplateError, match="remote"):
        TEMPLATES.path("/tickets/{{ remote.remote_id }}", DATA)


def test_dict_keys_may_be_templates() -> None:
    assert render({"customfield_{{ ticket.id }}": "{{ ticket.id }}"}) == {"customfield_42": 42}


def test_pick_finds_the_item_of_a_list_by_a_key_compared_as_text() -> None:
    assert render("{{ fields | pick('id', '8', 'value') }}") == "eight"
    assert render("{{ fields | pick('id', 7) }}") == {"id": 7, "value": "seven"}
    assert render("{{ (fields | pick('id', 9)).value | default('no such') }}") == "no such"


def test_pick_of_nothing_is_missing_not_null() -> None:
    with pytest.raises(MappingTemplateError):
        render("{{ fields | pick('id', 9, 'value') }}")


def test_adf_makes_one_paragraph_per_blank_line_separated_block() -> None:
    assert render("{{ 'Hello\n\nSecond' | adf }}") == {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "Hello"}]},
            {"type": "paragraph", "content": [{"type": "text", "text": "Second"}]},
        ],
    }


def test_b64_encodes_text() -> None:
    assert render("{{ 'user:pass' | b64 }}") == "dXNlcjpwYXNz"


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__ }}",
        "x{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ lipsum.__globals__.os }}",
        "{{ ticket.tags.append('c') }}",
        "{{ ticket.update({'id': 1}) }}",
    ],
)
def test_the_sandbox_refuses_internals_and_changes(template: str) -> None:
    with pytest.raises(MappingTemplateError):
        render(template)
    assert DATA["ticket"]["tags"] == ["a", "b"] and DATA["ticket"]["id"] == 42


def test_compile_all_lists_the_syntax_problem_of_each_string() -> None:
    problems = TEMPLATES.compile_all({"a": "{{ ticket.id }", "b": ["{% if %}", "{{ fine }}"]})
    assert len(problems) == 2
    assert problems[0].startswith("{{ ticket.id }")


def test_names_are_the_top_level_names_a_template_reads() -> None:
    names = TEMPLATES.names({"{{ key }}": "{{ ticket.id | default(values.x) }}", "b": "plain"})
    assert names == {"key", "ticket", "values"}
