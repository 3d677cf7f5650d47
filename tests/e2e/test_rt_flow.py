"""The GGUS flow with Request Tracker, against the real RT 5 of `.ci/rt`: NGI_DE's helpdesk
submits; the hub routes the ticket to DMSU, whose own system is RT (a queue of this test's own,
polled); the RT ticket carries the hub id and a link to the hub ticket; a public hub entry
arrives as correspondence, an internal one never; a comment in RT stays there; `resolved` in RT
solves the hub ticket with the last correspondence, and the origin is told once. Then the
requirements queue: a requirement opened (tagged), its state followed, an existing RT ticket
linked and unlinked, both sides updated. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from examples.helpdesk import Helpdesk, asend_event, serving
from gateway.api.app import create_app
from gateway.config.loader import parse_config
from gateway.settings import Settings
from tests.e2e.test_two_helpdesks import admin_headers
from tests.support.configs import rest_connection
from tests.support.rt import RT

SECRET_NGI = "whsec_bmdpLXNlY3JldC1mb3ItdGVzdHM="
HUB_URL = "https://ggus.example.org/tickets/{id}"
TAG = "DMSU"


def config(ngi_url: str, rt: RT, queue: str) -> dict[str, Any]:
    def rt_connection(name: str, **settings: Any) -> dict[str, Any]:
        return {
            "name": name,
            "adapter": "rt",
            "poll_interval_seconds": 1,
            "settings": {
                "url": rt.url,
                "user": rt.user,
                "password": {"env": "E2E_RT_PASSWORD"},
                "hub_ticket_url": HUB_URL,
                **settings,
            },
        }

    return {
        "support_units": [
            {"name": "TPM", "level": "first"},
            {"name": "NGI_DE", "level": "first"},
            {"name": "DMSU", "level": "second"},
        ],
        "routing": {"default_support_unit": "TPM"},
        "connections": [
            rest_connection(
                "ngi", "NGI_DE", ngi_url, token_env="E2E_TOKEN", secret_env="E2E_SECRET_NGI"
            ),
            {**rt_connection("dmsu-rt", queue=queue), "support_unit": "DMSU"},
            rt_connection("requirements", queue="requirements", requirement_tag=TAG),
        ],
    }


@pytest.fixture
def hub(
    rt: RT, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, Helpdesk, int]]:
    monkeypatch.setenv("E2E_TOKEN", "e2e-token")
    monkeypatch.setenv("E2E_SECRET_NGI", SECRET_NGI)
    monkeypatch.setenv("E2E_RT_PASSWORD", rt.password)
    queue, queue_id = rt.new_queue()
    ngi = Helpdesk(name="ngi", token="e2e-token")
    with serving(ngi.app()) as ngi_url:
        ngi.base_url = ngi_url
        settings = Settings(database_url=database_url, data_dir=tmp_path, worker_poll_interval=0.2)
        app = create_app(settings, parse_config(config(ngi_url, rt, queue)), run_worker=True)
        with serving(app, ready_path="/healthz") as url:
            yield url, ngi, queue_id


async def eventually(check: Callable[[], Any], what: str, seconds: float = 30) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = await asyncio.to_thread(check)
        if value:
            return value
        assert time.monotonic() < deadline, f"not within {seconds}s: {what}"
        await asyncio.sleep(0.2)


def correspondence(rt: RT, ticket_id: int) -> list[str]:
    return [rt.content(int(t["id"])) for t in rt.history(ticket_id) if t["Type"] == "Correspond"]


def refers_to(rt: RT, ticket_id: int) -> list[str]:
    links = rt.ticket(ticket_id)["_hyperlinks"]
    return [link["_url"] for link in links if link.get("ref") == "refers-to"]


def hub_id_field(rt: RT, ticket_id: int) -> list[str]:
    fields = rt.ticket(ticket_id)["CustomFields"]
    return [v for f in fields if f["name"] == "Hub ID" for v in f["values"]]


async def test_the_ggus_flow_with_an_rt_unit_and_the_requirements_queue(
    rt: RT, hub: tuple[str, Helpdesk, int], database_url: str
) -> None:
    url, ngi, queue_id = hub
    headers = await admin_headers(database_url)
    async with httpx.AsyncClient(base_url=f"{url}/api/v1", headers=headers, timeout=30) as api:

        def hub_ticket(hub_id: int) -> dict[str, Any]:
            found: dict[str, Any] = httpx.get(
                f"{url}/api/v1/tickets/{hub_id}", headers=headers, timeout=10
            ).json()
            return found

        # 1. NGI_DE's user submits; the ticket goes to DMSU, whose RT gets it with our id.
        ngi.tickets["NGI-7"] = {"id": "NGI-7", "title": "Jobs fail at FZK", "comments": []}
        created = await asend_event(
            f"{url}/api/v1/webhooks/ngi",
            SECRET_NGI,
            {
                "type": "ticket.created",
                "ticket": {
                    "id": "NGI-7",
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
        links = await eventually(
            lambda: [x for x in hub_ticket(hub_id)["links"] if x["connection"] == "dmsu-rt"],
            "the RT ticket's id on the hub ticket",
        )
        rt_id = int(links[0]["external_id"])
        made = await asyncio.to_thread(rt.ticket, rt_id)
        assert made["Subject"] == "Jobs fail at FZK"
        assert made["Queue"]["id"] == str(queue_id)
        assert await asyncio.to_thread(hub_id_field, rt, rt_id) == [str(hub_id)]
        assert await asyncio.to_thread(refers_to, rt, rt_id) == [HUB_URL.format(id=hub_id)]

        # 2. A public hub entry is correspondence in RT; an internal one never arrives.
        await api.post(f"/tickets/{hub_id}/entries", json={"body": "Please attach the job id"})
        await api.post(
            f"/tickets/{hub_id}/entries",
            json={"body": "TPM only: the VO asked twice", "visibility": "internal"},
        )
        await eventually(
            lambda: any("Please attach the job id" in c for c in correspondence(rt, rt_id)),
            "the public entry as correspondence",
        )
        await asyncio.sleep(1)
        everything = await asyncio.to_thread(
            lambda: [rt.content(int(t["id"])) for t in rt.history(rt_id)]
        )
        assert not any("the VO asked twice" in c for c in everything)

        # 3. DMSU's comment stays in RT (close-only): polled, and left there.
        journal = len(hub_ticket(hub_id)["journal"])
        with rt.api(as_staff=True) as staff:
            commented = staff.post(
                f"/ticket/{rt_id}/comment",
                json={"Content": "dcache-se3 pool p12 is offline", "ContentType": "text/plain"},
            )
            commented.raise_for_status()
        comment_id = int(commented.headers["location"].rsplit("/", 1)[1])
        await api.post("/connections/dmsu-rt/poll")
        await eventually(
            lambda: (
                (_cursor(url, headers, "dmsu-rt").get("read") or {}).get(str(rt_id), 0)
                >= comment_id
            ),
            "a poll that read the comment",
        )
        assert len(hub_ticket(hub_id)["journal"]) == journal

        # 4. DMSU resolves in RT with a reply: the hub ticket is solved with it, the origin told
        #    once.
        with rt.api(as_staff=True) as staff:
            staff.post(
                f"/ticket/{rt_id}/correspond",
                json={
                    "Content": "Restarted pool p12; writes work again",
                    "ContentType": "text/plain",
                    "Status": "resolved",
                },
            ).raise_for_status()
        await api.post("/connections/dmsu-rt/poll")
        solved = await eventually(
            lambda: (t := hub_ticket(hub_id))["status"] == "solved" and t, "the hub ticket solved"
        )
        assert solved["solution"] == "Restarted pool p12; writes work again"
        await eventually(
            lambda: any(r.path.endswith("/resolve") for r in ngi.received), "the origin told"
        )
        await asyncio.sleep(2)  # anything more that would come, comes now
        assert [(r.path, r.body) for r in ngi.received] == [
            (
                "/tickets/NGI-7/resolve",
                {"status": "resolved", "solution": "Restarted pool p12; writes work again"},
            )
        ]
        questions = [e for e in solved["journal"] if "Restarted pool p12" in e["body"]]
        assert questions == [], "a reply that resolves is the solution, not also a question"

        # 5. A requirement: opened in the requirements queue, tagged, linked both ways.
        opened = await api.post(f"/tickets/{hub_id}/requirements", json={})
        assert opened.status_code == 202, opened.text
        assert opened.json()[0]["remote_id"] is None  # the worker opens it, soon
        [requirement] = await eventually(
            lambda: [
                r
                for r in httpx.get(
                    f"{url}/api/v1/tickets/{hub_id}/requirements", headers=headers
                ).json()
                if r["remote_id"]
            ],
            "the requirement's RT ticket",
        )
        assert (requirement["connection"], requirement["tag"]) == ("requirements", TAG)
        req_id = int(requirement["remote_id"])
        made = await asyncio.to_thread(rt.ticket, req_id)
        tags = [v for f in made["CustomFields"] if f["name"] == "Tag" for v in f["values"]]
        assert tags == [TAG]
        assert await asyncio.to_thread(hub_id_field, rt, req_id) == [str(hub_id)]
        assert await asyncio.to_thread(refers_to, rt, req_id) == [HUB_URL.format(id=hub_id)]
        again = await api.post(f"/tickets/{hub_id}/requirements", json={})
        assert again.status_code == 409

        # 6. Its state changes in RT: seen on the link and in the internal journal.
        with rt.api(as_staff=True) as staff:
            staff.put(f"/ticket/{req_id}", json={"Status": "open"}).raise_for_status()
        await api.post("/connections/requirements/poll")
        await eventually(
            lambda: [
                r
                for r in httpx.get(
                    f"{url}/api/v1/requirements",
                    params={"tag": TAG, "state": "open"},
                    headers=headers,
                ).json()
                if r["ticket_id"] == hub_id
            ],
            "the requirement listed as open",
        )
        notes = [e for e in hub_ticket(hub_id)["journal"] if e["visibility"] == "internal"]
        assert any(f"ticket {req_id} [{TAG}] is now open" in e["body"] for e in notes)

        # 7. An existing RT ticket linked to another hub ticket, then unlinked: both sides.
        other = (
            await api.post(
                "/tickets",
                json={
                    "subject": "Support for tokens in the SRM client",
                    "description": "Please add WLCG token support.",
                    "category": "Change Request",
                    "submitter": {"name": "Ann Example", "email": "ann@example.org"},
                },
            )
        ).json()["id"]
        existing = await asyncio.to_thread(
            rt.create_ticket, "requirements", "Token support in SRM clients"
        )
        linked = await api.post(f"/tickets/{other}/requirements", json={"remote_id": str(existing)})
        assert linked.status_code == 202, linked.text
        await eventually(
            lambda: hub_id_field(rt, existing) == [str(other)], "our hub id in the RT ticket"
        )
        assert await asyncio.to_thread(refers_to, rt, existing) == [HUB_URL.format(id=other)]
        unlinked = await api.delete(f"/tickets/{other}/requirements/requirements")
        assert unlinked.status_code == 204
        assert (await api.get(f"/tickets/{other}/requirements")).json() == []
        await eventually(lambda: hub_id_field(rt, existing) == [], "the hub id taken out")
        assert await asyncio.to_thread(refers_to, rt, existing) == []


def _cursor(url: str, headers: dict[str, str], name: str) -> dict[str, Any]:
    status = httpx.get(f"{url}/api/v1/connections/{name}", headers=headers, timeout=10).json()
    cursor: dict[str, Any] = status["polling"]["cursor"] or {}
    return cursor
