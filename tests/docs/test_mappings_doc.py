"""docs/mappings.md cannot drift: each `example:` block is merged into a small complete mapping
and run; the json blocks after it say what goes in and what must come out."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
import yaml

from adapters.rest import RestAdapter, RestConfig
from adapters.rest.checks import mapping_problems
from adapters.rest.mapping import merge, parse_mapping
from gateway.adapter.errors import AdapterError
from gateway.adapter.models import InboundRequest, RemoteRef
from tests.adapters.rest.support import form_parts
from tests.contract.tickets import make_delivery, make_file

DOC = Path(__file__).resolve().parents[2] / "docs" / "mappings.md"
BLOCK = re.compile(r'```(yaml|json) title="([^"]+)"\n(.*?)```', re.DOTALL)
BASE_URL = "https://remote.test"
ACTIONS = ("create", "update", "entry", "solve")
DELIVERIES = (*ACTIONS, "attach")
FILE = make_file(b"SRM_AUTHORIZATION_FAILURE at 09:00\n", "srm.log", "text/plain")
ERRORS = {"RetryableError": "retry", "PermanentError": "dead", "AuthenticationError": "pause"}


@dataclass
class Example:
    title: str
    mapping: dict[str, Any]
    blocks: dict[str, Any] = field(default_factory=dict)


def examples() -> list[Example]:
    found: list[Example] = []
    for kind, title, text in BLOCK.findall(DOC.read_text(encoding="utf-8")):
        if kind == "yaml" and title.startswith("example:"):
            found.append(Example(title, yaml.safe_load(text)))
        elif kind == "json" and found:
            found[-1].blocks[title] = json.loads(text)
    return found


def complete(example: Example) -> dict[str, Any]:
    base = {
        "version": 2,
        "outbound": {
            action: {
                "steps": [{"method": "POST", "path": f"/{action}"}],
                **({"result": {"remote_id": "{{ response.id }}"}} if action == "create" else {}),
            }
            for action in ACTIONS
        },
    }
    merged: dict[str, Any] = merge(base, example.mapping)
    return merged


def adapter_for(example: Example) -> RestAdapter:
    mapping = parse_mapping(complete(example))
    assert mapping_problems(mapping) == [], "a documented example must load cleanly"
    config = RestConfig.model_validate(
        {
            "base_url": BASE_URL,
            "secrets": {"token": "s3cret", "api_token": "s3cret", "api_key": "s3cret"},
            "values": {"email": "bot@example.org", "user": "hub-gateway"},
            "webhook_secrets": ["not-used"],
        }
    )
    return RestAdapter(name="doc", config=config, mapping=mapping)


def test_the_page_has_examples() -> None:
    assert len(examples()) >= 6


@pytest.mark.parametrize("example", examples(), ids=lambda e: e.title.removeprefix("example: "))
async def test_documented_example(example: Example) -> None:
    adapter = adapter_for(example)
    try:
        if "payload" in example.blocks:
            check_inbound(adapter, example)
        else:
            await check_outbound(adapter, example)
    finally:
        await adapter.aclose()


def check_inbound(adapter: RestAdapter, example: Example) -> None:
    body = json.dumps(example.blocks["payload"]).encode()
    events = adapter.translate_inbound(InboundRequest(headers={}, body=body))
    shown = [
        {
            "event_id": event.event_id,
            "commands": [c.model_dump(mode="json", exclude_unset=True) for c in event.commands],
        }
        for event in events
    ]
    assert shown == example.blocks["events"]


async def check_outbound(adapter: RestAdapter, example: Example) -> None:
    [action] = [a for a in example.mapping.get("outbound", {}) if a in DELIVERIES]
    delivery = make_delivery(
        action,
        remote=RemoteRef("NGI-7"),
        attachment=FILE if action == "attach" else None,
        **example.blocks.get("ticket", {}),
    )
    answers = iter(example.blocks.get("answers", []))
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=next(answers, {}))

    with respx.mock(base_url=BASE_URL) as mock:
        mock.route().mock(side_effect=answer)
        try:
            await adapter.push(delivery)
        except AdapterError as error:
            expected = example.blocks["outcome"]
            assert ERRORS[type(error).__name__] == expected["error"]
            assert expected["message"] in error.message
            return
    assert "outcome" not in example.blocks, "the example says this fails"
    assert [
        shown(request, expected)
        for request, expected in zip(sent, example.blocks["requests"], strict=True)
    ] == example.blocks["requests"]


def shown(request: httpx.Request, expected: dict[str, Any]) -> dict[str, Any]:
    """The request as the page writes it: only the parts the page shows."""
    path = request.url.raw_path.decode()
    out: dict[str, Any] = {"method": request.method, "path": path}
    if "headers" in expected:
        out["headers"] = {name: request.headers.get(name) for name in expected["headers"]}
    if "body" in expected:
        out["body"] = json.loads(request.content) if request.content else None
    if "multipart" in expected:  # files shown with their content as text
        out["multipart"] = {
            name: {**part, "content": part["content"].decode()} if isinstance(part, dict) else part
            for name, part in form_parts(request).items()
        }
    if "raw" in expected:
        out["raw"] = request.content.decode()
    return out
