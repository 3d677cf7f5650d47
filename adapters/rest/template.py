"""Tiny, safe templates for request paths and JSON bodies: `{{ ticket.subject }}`, `{{ x | map }}`.

A string that is exactly one placeholder keeps the value's JSON type (numbers stay numbers, null
stays null); inside a longer string values are formatted as text. There are no expressions and no
code, only dotted look-ups and named value maps, so a mapping file cannot run anything.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_]\w*(?:\.\w+)*)\s*(?:\|\s*([A-Za-z_]\w*)\s*)?\}\}")

Maps = Mapping[str, Mapping[str, str]]


class TemplateError(ValueError):
    """A placeholder names nothing, or a value has no entry in its map."""


def strings(template: Any) -> list[str]:
    """Every string in a JSON template (keys are literal and never templated)."""
    if isinstance(template, dict):
        return [s for value in template.values() for s in strings(value)]
    if isinstance(template, list):
        return [s for value in template for s in strings(value)]
    return [template] if isinstance(template, str) else []


def placeholders(template: Any) -> list[tuple[str, str | None]]:
    """Every (path, map name) used in a template, to validate mapping files up front."""
    return [(m.group(1), m.group(2)) for s in strings(template) for m in PLACEHOLDER.finditer(s)]


def malformed(template: Any) -> list[str]:
    """Strings with `{{` or `}}` that are not a valid placeholder (they would be sent verbatim)."""
    return [s for s in strings(template) if _leftovers(s)]


def _leftovers(text: str) -> set[str]:
    rest = PLACEHOLDER.sub("", text)
    return {brace for brace in ("{{", "}}") if brace in rest}


def render(template: Any, context: Mapping[str, Any], maps: Maps, *, in_url: bool = False) -> Any:
    """Fill a template; `in_url` percent-encodes every value placed into a path or query."""
    if isinstance(template, dict):
        return {key: render(value, context, maps) for key, value in template.items()}
    if isinstance(template, list):
        return [render(value, context, maps) for value in template]
    if not isinstance(template, str):
        return template
    whole = PLACEHOLDER.fullmatch(template.strip())
    if whole and not in_url:
        return _value(whole, context, maps)

    def substitute(match: re.Match[str]) -> str:
        value = _value(match, context, maps)
        text = "" if value is None else str(value)
        return quote(text, safe="") if in_url else text

    return PLACEHOLDER.sub(substitute, template)


def _value(match: re.Match[str], context: Mapping[str, Any], maps: Maps) -> Any:
    path, map_name = match.group(1), match.group(2)
    value = lookup(context, path)
    if map_name is None or value is None:
        return value
    table = maps.get(map_name)
    if table is None:
        raise TemplateError(f"no map named '{map_name}'")
    if str(value) not in table:
        raise TemplateError(f"{path} value '{value}' has no entry in map '{map_name}'")
    return table[str(value)]


def lookup(context: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path; a missing key, or a step into null or a scalar, is an error."""
    current: Any = context
    walked: list[str] = []
    for part in path.split("."):
        if not isinstance(current, Mapping):
            kind = "null" if current is None else f"a {type(current).__name__}"
            raise TemplateError(f"placeholder '{path}': '{'.'.join(walked)}' is {kind}")
        if part not in current:
            raise TemplateError(f"placeholder '{path}' names nothing ('{part}' is missing)")
        current = current[part]
        walked.append(part)
    return current
