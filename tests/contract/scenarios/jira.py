"""Contract scenarios: Jira Data Center (REST v2, personal access token) and Jira Cloud (REST v3,
email and API token), webhooks signed with HMAC-SHA256 (`X-Hub-Signature`)."""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import httpx
import respx

from gateway.adapter.base import Adapter
from gateway.adapter.models import InboundEvent
from tests.contract.scenarios import Remote, Scenario, through_webhook

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "jira"
SECRET = "jira-webhook-s3cret"
PRIORITY = {
    "less urgent": "Medium",
    "urgent": "High",
    "very urgent": "Highest",
    "top priority": "Highest",
}
VALUES = {
    "project": "NGI",
    "hub_id_field": "customfield_10050",
    "hub_url": "https://hub.test",
    "account": "712020:gateway",
    "accepts_new_tickets": True,
    "submitter_email": "ngi-support@example.org",
    "email": "gateway@example.org",
}


def signed(payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    return body, {"X-Hub-Signature": f"sha256={digest}"}


def recorded(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return loaded


async def opened_remotely(
    adapter: Adapter[Any], mock: respx.MockRouter, remote: Remote
) -> list[InboundEvent]:
    payload = recorded("webhook_issue_created.json")
    fields = payload["issue"]["fields"]
    fields.update(
        summary=remote.subject,
        description=remote.description,
        priority={"name": PRIORITY[remote.priority]},
        customfield_10050=None,
    )
    fields["reporter"] = {**fields["reporter"], "displayName": remote.submitter_name}
    payload["issue"]["key"] = remote.remote_id
    return await through_webhook(adapter, *signed(payload))


async def internal_note(
    adapter: Adapter[Any], mock: respx.MockRouter, remote: Remote
) -> list[InboundEvent]:
    payload = recorded("webhook_comment_created_internal.json")
    payload["comment"]["body"] = remote.note
    payload["issue"]["key"] = remote.remote_id
    return await through_webhook(adapter, *signed(payload))


def scenario(
    name: str,
    *,
    mapping: str,
    base: str,
    api: str,
    search: str,
    auth: dict[str, Any],
    environ: dict[str, str],
) -> Scenario:
    def mock_lookup(mock: respx.MockRouter, remote_ids: Any) -> None:
        def answer(_: httpx.Request) -> httpx.Response:
            return httpx.Response(200, json={"issues": [{"key": k} for k in remote_ids()]})

        mock.get(f"{base}{search}").mock(side_effect=answer)

    def also_on_create(mock: respx.MockRouter) -> None:
        mock.post(url__regex=rf"{base}{api}/issue/[^/]+/remotelink").mock(
            return_value=httpx.Response(201, json={"id": 10000, "self": "x"})
        )

    return Scenario(
        name=name,
        kind="rest",
        settings={
            "base_url": base,
            "webhook_secrets": [{"env": "CONTRACT_JIRA_SECRET"}],
            "values": VALUES,
            **auth,
        },
        environ={"CONTRACT_JIRA_SECRET": SECRET, **environ},
        secret_values=[SECRET, *environ.values()],
        mapping=mapping,
        invalid=[({"base_url": f"{base}?x=1"}, "settings.base_url")],
        create_route=lambda mock: mock.post(f"{base}{api}/issue"),
        created=lambda key: httpx.Response(
            201, json={"id": "10042", "key": key, "self": f"{base}{api}/issue/10042"}
        ),
        check_route=lambda mock: mock.get(f"{base}{api}/myself"),
        mock_lookup=mock_lookup,
        opened_remotely=opened_remotely,
        internal_note=internal_note,
        forged={"X-Hub-Signature": "sha256=" + "0" * 64},
        also_on_create=also_on_create,
        mock_attach=lambda mock: mock.post(f"{base}{api}/issue/77/attachments").respond(
            200, json=[{"id": "10001", "filename": "srm.log"}]
        ),
    )


SCENARIOS = [
    scenario(
        "jira-dc",
        mapping="jira-dc.yaml",
        base="https://jira.contract.test",
        api="/rest/api/2",
        search="/rest/api/2/search",
        auth={"secrets": {"token": {"env": "CONTRACT_JIRA_PAT"}}},
        environ={"CONTRACT_JIRA_PAT": "jira-pat-s3cret"},
    ),
    scenario(
        "jira-cloud",
        mapping="jira-cloud.yaml",
        base="https://ngi.contract.atlassian.test",
        api="/rest/api/3",
        search="/rest/api/3/search/jql",
        auth={"secrets": {"api_token": {"env": "CONTRACT_JIRA_API_TOKEN"}}},
        environ={"CONTRACT_JIRA_API_TOKEN": "jira-api-token-s3cret"},
    ),
]
