"""Helpers for the REST adapter's tests: shipped and hand-written mappings, product adapters with
realistic `values`, recorded fixtures, inbound requests."""

from __future__ import annotations

import copy
import email.policy
import functools
import json
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import httpx
import yaml

from adapters.rest import RestAdapter, RestMapping, load_mapping
from adapters.rest.checks import mapping_problems
from adapters.rest.mapping import merge, parse_mapping
from gateway.adapter.models import InboundRequest
from tests.adapters.rest.conftest import ROOT, make_adapter

MAPPINGS = ROOT / "mappings"
FIXTURES = ROOT / "tests" / "fixtures"

# The smallest valid mapping: every action one request, nothing inbound.
MINIMAL: dict[str, Any] = {
    "version": 2,
    "outbound": {
        "create": {
            "steps": [
                {"method": "POST", "path": "/tickets", "body": {"title": "{{ ticket.subject }}"}}
            ],
            "result": {"remote_id": "{{ response.id | default(none) }}"},
        },
        "update": {"steps": [{"method": "PATCH", "path": "/tickets/{{ remote.remote_id }}"}]},
        "entry": {"steps": [{"method": "POST", "path": "/tickets/{{ remote.remote_id }}/notes"}]},
        "solve": {"steps": [{"method": "POST", "path": "/tickets/{{ remote.remote_id }}/solve"}]},
    },
}

REDMINE_BASE = "https://redmine.example.org"
REDMINE_VALUES: dict[str, Any] = {
    "project": "ngi-cz",
    "hub_id_field": 1,
    "api_user_id": 5,  # the recorded journals are by user 1 (the admin), so not ours
    "status_ids": {
        "New": 1,
        "In Progress": 2,
        "Resolved": 3,
        "Feedback": 4,
        "Closed": 5,
        "Rejected": 6,
    },
    "priority_ids": {"Low": 1, "Normal": 2, "High": 3, "Urgent": 4, "Immediate": 5},
    "web_url": "https://redmine.example.org",
}
ZNUNY_BASE = (
    "https://znuny.example.org/znuny/nph-genericinterface.pl/Webservice/GatewayConnectorREST"
)
ZNUNY_VALUES: dict[str, Any] = {
    "user": "hub-gateway",
    "agent_user_id": 7,
    "queue": "NGI_CZ",
    "hub_id_field": "HubID",
    "customer_user": "hub-gateway@example.org",
}
ZNUNY_PASSWORD = "not-a-real-password"
JIRA_DC_BASE = "https://jira.example.org"
JIRA_CLOUD_BASE = "https://ngi-example.atlassian.net"
JIRA_VALUES: dict[str, Any] = {
    "project": "NGI",
    "hub_id_field": "customfield_10050",
    "hub_url": "https://hub.example.org",
    "browse_url": "https://ngi-example.atlassian.net",
    "account": "712020:5f0c2a1e-8d3b-4c7e-9a21-3b6f0d4e7a10",  # "Ticket Gateway" in the fixtures
    "email": "gateway@example.org",
}
JIRA_SECRET = "jira-webhook-s3cret"


@functools.cache
def shipped(name: str) -> RestMapping:
    """A mapping of mappings/, e.g. `shipped("znuny")` (loaded once: mappings are frozen)."""
    return load_mapping(MAPPINGS / f"{name}.yaml")


def build(
    overrides: dict[str, Any] | None = None, *, base: dict[str, Any] = MINIMAL
) -> RestMapping:
    """A mapping from data: `base` deep-merged with `overrides`, checked as load_mapping does."""
    mapping = parse_mapping(merge(copy.deepcopy(base), overrides or {}))
    problems = mapping_problems(mapping)
    assert not problems, problems
    return mapping


def shipped_with(name: str, overrides: dict[str, Any]) -> RestMapping:
    """A shipped mapping with some keys changed (deep-merged), e.g. a smaller poll page."""
    raw = yaml.safe_load((MAPPINGS / f"{name}.yaml").read_text(encoding="utf-8"))
    return build(overrides, base=raw)


def write(directory: Path, name: str, data: dict[str, Any] | str) -> Path:
    path = directory / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return path


def fixture(product: str, name: str) -> Any:
    return json.loads((FIXTURES / product / name).read_text(encoding="utf-8"))


def request(payload: Any, **headers: str) -> InboundRequest:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return InboundRequest(headers={k.lower(): v for k, v in headers.items()}, body=body)


def redmine(mapping: RestMapping | None = None, **values: Any) -> RestAdapter:
    return make_adapter(
        mapping or shipped("redmine"),
        base_url=REDMINE_BASE,
        secrets={"api_key": "5eed0c1c0ffee5eed0c1c0ffee5eed0c1c0ffee0"},
        values={**REDMINE_VALUES, **values},
    )


def znuny(**values: Any) -> RestAdapter:
    return make_adapter(
        shipped("znuny"),
        base_url=ZNUNY_BASE,
        secrets={"password": ZNUNY_PASSWORD},
        values={**ZNUNY_VALUES, **values},
        webhook_secrets=["znuny-event-token"],
    )


def jira(flavour: str, **values: Any) -> RestAdapter:
    """`flavour` is "dc" (PAT bearer, REST v2) or "cloud" (email + API token, REST v3)."""
    return make_adapter(
        shipped(f"jira-{flavour}"),
        base_url=JIRA_DC_BASE if flavour == "dc" else JIRA_CLOUD_BASE,
        secrets={"token": "jira-pat", "api_token": "jira-api-token"},
        values={**JIRA_VALUES, **values},
        webhook_secrets=[JIRA_SECRET],
    )


def form_parts(request: httpx.Request) -> dict[str, Any]:
    """A multipart/form-data request's parts: a field as its text, a file as
    {filename, content_type, content (bytes)}."""
    content_type = request.headers["content-type"]
    assert content_type.startswith("multipart/form-data; boundary="), content_type
    message = BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + request.content
    )
    parts: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        filename = part.get_filename()
        if filename is None:
            parts[str(name)] = payload.decode()
        else:
            parts[str(name)] = {
                "filename": filename,
                "content_type": part.get_content_type(),
                "content": payload,
            }
    return parts
