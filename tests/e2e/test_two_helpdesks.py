"""End to end over real HTTP: NGI_DE's helpdesk submits, DMSU's helpdesk solves, the hub syncs.

Three real servers on loopback: two reference helpdesks and the gateway (API + in-process
worker, with the generic REST adapter and the default mapping).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from examples.helpdesk import Helpdesk, asend_event, serving
from gateway.api.app import create_app
from gateway.auth import service as auth
from gateway.auth.models import ApiKeyCreate, Role
from gateway.config.loader import parse_config
from gateway.database.engine import create_engine, create_sessionmaker
from gateway.settings import Settings
from tests.support.configs import rest_connection
from tests.support.servers import wait_until

SECRET_NGI = "whsec_bmdpLXNlY3JldC1mb3ItdGVzdHM="
SECRET_DMSU = "whsec_ZG1zdS1zZWNyZXQtZm9yLXRlc3Rz"


def gateway_config(ngi_url: str, dmsu_url: str) -> dict:
    def connection(name: str, unit: str, url: str, secret_env: str) -> dict:
        return rest_connection(
            name, unit, url, token_env="E2E_TOKEN", secret_env=secret_env, timeout_seconds=5
        )

    return {
        "support_units": [
            {"name": "TPM", "level": "first"},
            {"name": "NGI_DE", "level": "first"},
            {"name": "DMSU", "level": "second"},
        ],
        "routing": {"default_support_unit": "TPM"},
        "connections": [
            connection("ngi", "NGI_DE", ngi_url, "E2E_SECRET_NGI"),
            connection("dmsu", "DMSU", dmsu_url, "E2E_SECRET_DMSU"),
        ],
    }


@pytest.fixture
def helpdesks(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("E2E_TOKEN", "e2e-token")
    monkeypatch.setenv("E2E_SECRET_NGI", SECRET_NGI)
    monkeypatch.setenv("E2E_SECRET_DMSU", SECRET_DMSU)
    ngi = Helpdesk(name="ngi", token="e2e-token")
    dmsu = Helpdesk(name="dmsu", token="e2e-token")
    with serving(ngi.app()) as ngi_url, serving(dmsu.app()) as dmsu_url:
        ngi.base_url, dmsu.base_url = ngi_url, dmsu_url
        yield ngi, dmsu


@pytest.fixture
def gateway(helpdesks, database_url: str, tmp_path: Path):
    ngi, dmsu = helpdesks
    settings = Settings(database_url=database_url, data_dir=tmp_path, worker_poll_interval=0.2)
    config = parse_config(gateway_config(ngi.base_url, dmsu.base_url))
    app = create_app(settings, config, run_worker=True)
    with serving(app, ready_path="/healthz") as url:
        yield url, database_url


async def admin_headers(database_url: str) -> dict[str, str]:
    """A key made through our own engine: the app's pool belongs to the server's event loop."""
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            data = ApiKeyCreate(name="e2e", role=Role.ADMIN)
            created = await auth.create_api_key(session, data=data)
            await session.commit()
    finally:
        await engine.dispose()
    return {"Authorization": f"Bearer {created.key}"}


def test_submitted_routed_solved_and_origin_told_only_then(helpdesks, gateway) -> None:
    ngi, dmsu = helpdesks
    url, database_url = gateway

    async def scenario() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            headers = await admin_headers(database_url)
            ngi.tickets["NGI-42"] = {"id": "NGI-42", "title": "Jobs fail at FZK", "comments": []}
            created = await asend_event(
                f"{url}/api/v1/webhooks/ngi",
                SECRET_NGI,
                {
                    "type": "ticket.created",
                    "ticket": {
                        "id": "NGI-42",
                        "title": "Jobs fail at FZK",
                        "body": "all jobs abort with 'Proxy expired'",
                        "requester": {"name": "Ann Example", "email": "ann@example.org"},
                        "priority": "high",
                        "group": "DMSU",
                    },
                },
            )
            assert created.status_code == 202, created.text
            hub_id = created.json()["events"][0]["applied"][0]["ticket_id"]

            await asyncio.to_thread(wait_until, lambda: len(dmsu.tickets) == 1)
            [remote] = dmsu.tickets.values()
            assert (
                remote["title"],
                remote["external_id"],
                remote["priority"],
                remote["status"],
            ) == (
                "Jobs fail at FZK",
                hub_id,
                "high",
                "open",
            )

            ticket = (await client.get(f"/api/v1/tickets/{hub_id}", headers=headers)).json()
            assert {(k["connection"], k["role"], k["external_id"]) for k in ticket["links"]} >= {
                ("ngi", "origin", "NGI-42")
            }
            await client.post(
                f"/api/v1/tickets/{hub_id}/entries",
                json={"body": "Please attach the job id"},
                headers=headers,
            )
            await client.post(
                f"/api/v1/tickets/{hub_id}/entries",
                json={"body": "looks like the CA update", "visibility": "internal"},
                headers=headers,
            )
            await asyncio.to_thread(wait_until, lambda: len(remote["comments"]) == 1)
            await asyncio.sleep(0.5)  # give an internal entry every chance to leak
            assert [c["body"] for c in remote["comments"]] == ["Please attach the job id"]
            assert ngi.received == []  # close-only: the origin hears nothing before the solution

            solved = await asend_event(
                f"{url}/api/v1/webhooks/dmsu",
                SECRET_DMSU,
                {
                    "type": "ticket.solved",
                    "ticket": {"id": remote["id"]},
                    "solution": "CA bundle updated.",
                },
            )
            assert solved.json()["events"][0]["applied"] == [{"kind": "solve", "ticket_id": hub_id}]
            await asyncio.to_thread(
                wait_until, lambda: any(r.path.endswith("/resolve") for r in ngi.received)
            )
            [told] = ngi.received
            assert (told.path, told.body) == (
                "/tickets/NGI-42/resolve",
                {"status": "resolved", "solution": "CA bundle updated."},
            )
            final = (await client.get(f"/api/v1/tickets/{hub_id}", headers=headers)).json()
            assert (final["status"], final["solution"]) == ("solved", "CA bundle updated.")
            for _ in range(100):  # results are written in batches just after the push
                log = (
                    await client.get(f"/api/v1/tickets/{hub_id}/deliveries", headers=headers)
                ).json()
                if all(d["state"] == "done" for d in log):
                    break
                await asyncio.sleep(0.05)
            assert [(d["connection"], d["action"], d["state"]) for d in log] == [
                ("dmsu", "create", "done"),
                ("dmsu", "entry", "done"),
                ("ngi", "solve", "done"),
            ]
            assert all(
                r.idempotency_key and r.idempotency_key.startswith("gw-")
                for r in dmsu.received + ngi.received
            )

            forged = await client.post(
                f"{url}/api/v1/webhooks/dmsu",
                json={"type": "ticket.solved"},
                headers={
                    "webhook-id": "x",
                    "webhook-timestamp": "1",
                    "webhook-signature": "v1,AAAA",
                },
            )
            assert forged.status_code == 401

    asyncio.run(scenario())
