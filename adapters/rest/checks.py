"""Cross-checks of a mapping that the models alone cannot make, all reported at once.

Every template must compile, may read only the names its context provides (a request template
cannot read `response`, nothing outside auth and headers may read `secrets`), and may use only
value maps the file defines. Every inbound command names a known kind.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from adapters.rest.templates import Templates, strings

if TYPE_CHECKING:
    from adapters.rest.mapping import Request, RestMapping

Problem = dict[str, str]
MAP_USE = re.compile(r"to_(?:remote|hub)\(\s*['\"]([^'\"]+)['\"]")
COMMAND_KINDS = {
    "create",
    "comment",
    "question",
    "solve",
    "reassign",
    "status",
    "update",
    "attach",
}
JINJA_GLOBALS = {
    "range",
    "dict",
    "lipsum",
    "cycler",
    "joiner",
    "namespace",
    "true",
    "false",
    "none",
    "loop",
    "True",
    "False",
    "None",
}

REQUEST = {
    "ticket",
    "entry",
    "remote",
    "hub_id",
    "changes",
    "relations",
    "values",
    "steps",
    "key",
    "now",
}
ATTACH = REQUEST | {"attachment"}
ANSWER = REQUEST | {"response", "status"}
FIND = {"hub_id", "values", "steps", "now"}
TOP = {"values", "secrets", "now"}
JUDGE = {"response", "status", "values"}
RULE = {"payload", "headers", "values", "now"}
POLL = {"cursor", "values", "now", "page_size"}


def syntax_problems(raw: Any, key: str = "") -> list[Problem]:
    """Template syntax problems anywhere in raw mapping data (reported with the schema's, when
    the file does not validate, so one round fixes both)."""
    templates = Templates({})
    if isinstance(raw, dict):
        return [
            p for k, v in raw.items() for p in syntax_problems(v, f"{key}.{k}" if key else str(k))
        ]
    if isinstance(raw, list):
        return [p for n, v in enumerate(raw) for p in syntax_problems(v, f"{key}[{n}]")]
    return [
        {"key": key, "message": f"template does not compile: {message}"}
        for message in templates.compile_all(raw)
    ]


def mapping_problems(mapping: RestMapping) -> list[Problem]:
    templates = Templates(mapping.maps)
    problems: list[Problem] = []
    for key, template, allowed in _templates(mapping):
        for message in templates.compile_all(template):
            problems.append({"key": key, "message": f"template does not compile: {message}"})
        extra = templates.names(template) - allowed - JINJA_GLOBALS
        if extra:
            names = ", ".join(sorted(extra))
            problems.append({"key": key, "message": f"template reads {names}, not available here"})
        for used in {m.group(1) for s in strings(template) for m in MAP_USE.finditer(s)}:
            if used not in mapping.maps:
                problems.append({"key": key, "message": f"no map named '{used}' in maps"})
    for key, request in _requests(mapping):
        if not key.startswith("outbound.attach.") and (request.multipart or request.body_raw):
            field = "multipart" if request.multipart else "body_raw"
            problems.append(
                {"key": f"{key}.{field}", "message": "only the steps of outbound.attach send files"}
            )
    for index, rule in enumerate(mapping.inbound.rules):
        for number, command in enumerate(rule.commands):
            if command.get("kind") not in COMMAND_KINDS:
                problems.append(
                    {
                        "key": f"inbound.rules[{index}].commands[{number}].kind",
                        "message": f"must be one of {', '.join(sorted(COMMAND_KINDS))}",
                    }
                )
    return problems


def _requests(mapping: RestMapping) -> Iterator[tuple[str, Request]]:
    for name in ("create", "update", "entry", "solve", "attach", "find"):
        action = getattr(mapping.outbound, name)
        for number, step in enumerate(action.steps if action is not None else []):
            yield f"outbound.{name}.steps[{number}]", step
    if mapping.outbound.check is not None:
        yield "outbound.check", mapping.outbound.check
    if mapping.poll is not None:
        yield "poll.list", mapping.poll.list
        if mapping.poll.detail is not None:
            yield "poll.detail", mapping.poll.detail


def _templates(mapping: RestMapping) -> Iterator[tuple[str, Any, set[str]]]:
    auth = mapping.auth.model_dump(exclude={"type", "name"}, exclude_none=True)
    yield "auth", auth, TOP
    yield "headers", mapping.headers, TOP
    yield "query", mapping.query, TOP
    for action_name in ("create", "update", "entry", "solve", "attach", "find"):
        action = getattr(mapping.outbound, action_name)
        if action is None:
            continue
        before = {"find": FIND, "attach": ATTACH}.get(action_name, REQUEST)
        for number, step in enumerate(action.steps):
            key = f"outbound.{action_name}.steps[{number}]"
            yield from _request(key, step, before, before | {"response", "status"})
        if action.result is not None:
            yield (
                f"outbound.{action_name}.result",
                action.result.model_dump(),
                before
                | {
                    "response",
                    "status",
                },
            )
    if mapping.outbound.check is not None:
        yield from _request("outbound.check", mapping.outbound.check, {"values", "now"}, JUDGE)
    responses = mapping.responses
    judged = {
        "error_when": responses.error_when,
        "error_message": responses.error_message,
        "error_outcome": responses.error_outcome,
    }
    yield "responses", {k: v for k, v in judged.items() if isinstance(v, str)}, JUDGE
    for index, rule in enumerate(mapping.inbound.rules):
        key = f"inbound.rules[{index}]"
        yield f"{key}.when", rule.when, RULE | ({rule.as_} if rule.for_each else set())
        yield f"{key}.for_each", rule.for_each or "", RULE
        inner = RULE | ({rule.as_} if rule.for_each else set())
        yield f"{key}.event_id", rule.event_id, inner
        yield f"{key}.commands", rule.commands, inner
    if mapping.poll is not None:
        poll = mapping.poll
        yield "poll.start", poll.start, {"now", "values"}
        yield from _request("poll.list", poll.list, POLL, POLL | {"response", "status"})
        for field in ("items", "key", "version"):
            yield f"poll.list.{field}", getattr(poll.list, field), POLL | {"response", "item"}
        if poll.detail is not None:
            yield from _request(
                "poll.detail", poll.detail, POLL | {"item"}, POLL | {"item", "response", "status"}
            )
            yield "poll.detail.document", poll.detail.document, POLL | {"item", "response"}


def _request(
    key: str, request: Request, before: set[str], after: set[str]
) -> Iterator[tuple[str, Any, set[str]]]:
    yield f"{key}.when", request.when, before
    yield f"{key}.path", request.path, before
    yield f"{key}.query", request.query, before
    yield f"{key}.headers", request.headers, before
    yield f"{key}.body", request.body, before
    if request.multipart is not None:
        yield f"{key}.multipart", request.multipart.model_dump(exclude={"file_field"}), before
    yield f"{key}.save", request.save, after
