"""Tiny, safe templates for request paths and JSON bodies: `{{ ticket.subject }}`, `{{ x | map }}`.

A string that is exactly one placeholder keeps the value's type (numbers stay numbers); inside a
longer string values are formatted. No expressions, no code: only dotted lookups and named maps.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*(?:\|\s*([A-Za-z_]\w*)\s*)?\}\}")


class TemplateError(ValueError):
    """A placeholder names nothing, or a value has no entry in its map."""


def placeholders(template: Any) -> list[tuple[str, str | None]]:
    """Every (path, map) used in a template, for validating mapping files up front."""
    if isinstance(template, dict):
        return [p for value in template.values() for p in placeholders(value)]
    if isinstance(template, list):
        return [p for value in template for p in placeholders(value)]
    if isinstance(template, str):
        return [(m.group(1), m.group(2)) for m in PLACEHOLDER.finditer(template)]
    return []


def render(
    template: Any,
    context: Mapping[str, Any],
    maps: Mapping[str, Mapping[str, str]],
    *,
    in_url: bool = False,
) -> Any:
    """Fill a template; `in_url` percent-encodes values placed inside a path or query."""
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


def _value(
    match: re.Match[str], context: Mapping[str, Any], maps: Mapping[str, Mapping[str, str]]
) -> Any:
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
    current: Any = context
    for part in path.split("."):
        if isinstance(current, Mapping) and part in current:
            current = current[part]
        elif isinstance(current, Mapping) or current is None:
            raise TemplateError(f"placeholder '{path}' names nothing ('{part}' is missing)")
        else:
            raise TemplateError(f"placeholder '{path}' goes into a {type(current).__name__}")
    return current
