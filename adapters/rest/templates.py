"""Templates of mapping files: Jinja2 expressions, sandboxed, over JSON-shaped data.

A string that is exactly one `{{ expression }}` keeps the expression's value and type (numbers
stay numbers, lists stay lists); any other string is rendered as text. Values a template names
but the data lacks are errors (a mapping must say `| default(...)` or `is defined` for what may be
absent), so a typo never sends an empty field. The sandbox is immutable: a mapping can read,
filter and combine values, never change them or reach Python internals.

Filters beyond Jinja's own: `to_remote(map)` / `to_hub(map)` look a value up in one of the
mapping's value maps (an unknown value is an error, never a guess); `pick(key, value[, attr])`
finds the dict of a list with `key == value`; `adf` wraps text in a minimal Atlassian Document
Format document; `b64` base64-encodes text. In a request path every value is percent-encoded.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from jinja2 import ChainableUndefined, StrictUndefined, TemplateError, Undefined, meta
from jinja2.sandbox import ImmutableSandboxedEnvironment

WHOLE = re.compile(r"^\s*\{\{(?P<expr>(?:(?!\}\}).)*)\}\}\s*$", re.DOTALL)
Maps = Mapping[str, Mapping[str, str]]


class MappingTemplateError(ValueError):
    """A template names what the data lacks, or a value has no entry in its map."""


class Missing(ChainableUndefined):
    """Absent values chain (`a.b.c | default(x)` works) but cannot be used as a value."""

    __slots__ = ()
    __iter__ = __str__ = __len__ = __eq__ = __ne__ = __bool__ = __hash__ = __contains__ = (
        StrictUndefined._fail_with_undefined_error
    )


class _Environment(ImmutableSandboxedEnvironment):
    """One per set of value maps, so the map filters know their tables."""

    def __init__(self, maps: Maps, finalize: Any = None) -> None:
        super().__init__(
            undefined=Missing, autoescape=False, keep_trailing_newline=True, finalize=finalize
        )
        self.maps = maps
        self.filters.update(
            to_remote=self._map_filter("outbound"),
            to_hub=self._map_filter("inbound"),
            adf=adf,
            b64=lambda text: base64.b64encode(str(text).encode()).decode(),
            pick=pick,
        )

    def _map_filter(self, direction: str) -> Any:
        def lookup(value: Any, name: str) -> Any:
            table = self.maps.get(f"{name}:{direction}")
            if table is None:
                raise MappingTemplateError(f"no map named '{name}'")
            if value is None:
                return None
            if str(value) not in table:
                raise MappingTemplateError(f"'{value}' has no {direction} entry in map '{name}'")
            return table[str(value)]

        return lookup


def pick(items: Any, key: str, value: Any, attribute: str | None = None) -> Any:
    """The first dict of a list whose `key` equals `value` (compared as text), or its
    `attribute`; absent when none does. E.g. `custom_fields | pick('id', 7, 'value')`."""
    for item in items if isinstance(items, list) else []:
        if isinstance(item, Mapping) and str(item.get(key)) == str(value):
            return item.get(attribute) if attribute is not None else item
    return Missing(hint=f"no item with {key} = {value!r}")


def _in_url(value: Any) -> str:
    if value is None:
        raise MappingTemplateError("a value placed in a path is null")
    return quote(str(value), safe="")


def _as_text(value: Any) -> Any:
    return "" if value is None else value  # null inside a text is nothing, not the word None


def adf(text: Any) -> dict[str, Any]:
    """Plain text as a minimal Atlassian Document Format document (Jira Cloud REST v3)."""
    paragraphs = [p for p in str(text).split("\n\n")] or [""]
    return {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": p}] if p else []}
            for p in paragraphs
        ],
    }


class Templates:
    """Renders the templates of one mapping (with its value maps)."""

    def __init__(self, maps: Mapping[str, Any]) -> None:
        flat: dict[str, Mapping[str, str]] = {}
        for name, table in maps.items():
            flat[f"{name}:outbound"] = table.outbound
            flat[f"{name}:inbound"] = table.inbound
        self.env = _Environment(flat, finalize=_as_text)
        self.url_env = _Environment(flat, finalize=_in_url)  # each value in a path, encoded

    def render(self, template: Any, context: Mapping[str, Any]) -> Any:
        """Fill a JSON-shaped template (dict keys are literal); errors name the template."""
        if isinstance(template, dict):  # a key may be a template too (`customfield_{{ n }}`)
            return {
                (self.text(key, context) if "{" in key else key): self.render(value, context)
                for key, value in template.items()
            }
        if isinstance(template, list):
            return [self.render(value, context) for value in template]
        if not isinstance(template, str) or "{" not in template:
            return template
        try:
            whole = WHOLE.match(template)
            if whole:
                value = self._expression(whole.group("expr"))(**context)
                if isinstance(value, Undefined):
                    raise MappingTemplateError(f"{template.strip()} names nothing in the data")
                return value
            return self._template(template).render(**context)
        except MappingTemplateError as exc:
            raise MappingTemplateError(f"{template.strip()[:200]}: {exc}") from None
        except TemplateError as exc:
            raise MappingTemplateError(f"{template.strip()[:200]}: {exc.message}") from None
        except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
            raise MappingTemplateError(f"{template.strip()[:200]}: {exc}") from None

    def path(self, template: str, context: Mapping[str, Any]) -> str:
        """A request path: every inserted value is percent-encoded, the literal parts are not."""
        try:
            return str(self._url_template(template).render(**context))
        except MappingTemplateError as exc:
            raise MappingTemplateError(f"{template.strip()[:200]}: {exc}") from None
        except TemplateError as exc:
            raise MappingTemplateError(f"{template.strip()[:200]}: {exc.message}") from None

    def text(self, template: str, context: Mapping[str, Any]) -> str:
        value = self.render(template, context)
        return "" if value is None else str(value)

    def test(self, template: str | bool, context: Mapping[str, Any]) -> bool:
        """A condition: `true`/`false`, or an expression (its text `false`, `none`, `0` or
        nothing counts as false too)."""
        if isinstance(template, bool):
            return template
        value = self.render(template, context)
        if isinstance(value, str):
            return value.strip().lower() not in ("", "false", "none", "0", "no")
        return bool(value)

    def compile_all(self, template: Any) -> list[str]:
        """Syntax problems of every string in a template (checked when the mapping loads)."""
        problems = []
        for text in strings(template):
            try:
                whole = WHOLE.match(text)
                if whole:
                    self._expression(whole.group("expr"))
                elif "{" in text:
                    self._template(text)
            except TemplateError as exc:
                problems.append(f"{text.strip()[:120]}: {exc.message}")
        return problems

    def names(self, template: Any) -> set[str]:
        """Top-level names a template reads (to check them against the context it gets)."""
        found: set[str] = set()
        for text in strings(template):
            if "{" not in text:
                continue
            try:
                whole = WHOLE.match(text)
                source = f"{{{{ {whole.group('expr')} }}}}" if whole else text
                found |= meta.find_undeclared_variables(self.env.parse(source))
            except TemplateError:
                continue
        return found

    @lru_cache(maxsize=1024)  # noqa: B019 (one Templates per mapping, living as long as it)
    def _expression(self, source: str) -> Any:
        return self.env.compile_expression(source, undefined_to_none=False)

    @lru_cache(maxsize=1024)  # noqa: B019
    def _template(self, source: str) -> Any:
        return self.env.from_string(source)

    @lru_cache(maxsize=256)  # noqa: B019
    def _url_template(self, source: str) -> Any:
        return self.url_env.from_string(source)


def without_nulls(value: Any) -> Any:
    """A rendered template without the keys whose value is null (what may be left out is)."""
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def strings(template: Any) -> list[str]:
    """Every string in a JSON-shaped template, keys included."""
    if isinstance(template, dict):
        return [s for key, value in template.items() for s in (key, *strings(value))]
    if isinstance(template, list):
        return [s for value in template for s in strings(value)]
    return [template] if isinstance(template, str) else []
