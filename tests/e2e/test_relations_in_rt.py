"""Relations travel to Request Tracker as its own links, against the real RT 5 of `.ci/rt`: a
child opened for DMSU is `MemberOf` the parent's RT ticket, a slave `RefersTo` its master's;
resolving the master in RT solves the slave at the hub, and the hub resolves the slave's RT
ticket. On SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from examples.helpdesk import serving
from gateway.api.app import create_app
from gateway.config.loader import parse_config
from gateway.settings import Settings
from tests.e2e.test_rt_flow import HUB_URL, eventually
from tests.e2e.test_two_helpdesks import admin_headers
from tests.support.rt import RT


@pytest.fixture
def hub(
    rt: RT, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    monkeypatch.setenv("E2E_RT_PASSWORD", rt.password)
    queue, _ = rt.new_queue()
    config = {
        "support_units": [
            {"name": "TPM", "level": "first"},
            {"name": "DMSU", "level": "second"},
        ],
        "routing": {"default_support_unit": "TPM"},
        "connections": [
            {
                "name": "dmsu-rt",
                "adapter": "rt",
                "support_unit": "DMSU",
                "poll_interval_seconds": 1,
                "settings": {
                    "url": rt.url,
                    "user": rt.user,
                    "password": {"env": "E2E_RT_PASSWORD"},
                    "hub_ticket_url": HUB_URL,
                    "queue": queue,
                },
            }
        ],
    }
    settings = Settings(database_url=database_url, data_dir=tmp_path, worker_poll_interval=0.2)
    app = create_app(settings, parse_config(config), run_worker=True)
    with serving(app, ready_path="/healthz") as url:
        yield url


def links(rt: RT, ticket_id: int, ref: str) -> list[str]:
    """The RT ticket numbers (or URLs) this ticket links to as `ref` (RT shows `MemberOf` as
    `parent`)."""
    found = rt.ticket(ticket_id)["_hyperlinks"]
    return [str(link.get("id") or link["_url"]) for link in found if link.get("ref") == ref]


async def test_children_and_slaves_are_rt_links_and_a_solution_in_rt_solves_the_slave(
    rt: RT, hub: str, database_url: str
) -> None:
    headers = await admin_headers(database_url)
    async with httpx.AsyncClient(base_url=f"{hub}/api/v1", headers=headers, timeout=30) as api:

        async def rt_id(hub_id: int) -> int:
            async def linked() -> list[dict[str, Any]]:
                ticket = (await api.get(f"/tickets/{hub_id}")).json()
                return [x for x in ticket["links"] if x["connection"] == "dmsu-rt"]

            found = await _eventually_async(linked, f"the RT ticket of #{hub_id}")
            return int(found[0]["external_id"])

        async def open_for_dmsu(subject: str) -> int:
            created = await api.post(
                "/tickets",
                json={
                    "subject": subject,
                    "description": "srmcp fails since 08:00",
                    "submitter": {"name": "Ann Example", "email": "ann@example.org"},
                    "support_unit": "DMSU",
                },
            )
            assert created.status_code == 201, created.text
            return int(created.json()["id"])

        master = await open_for_dmsu("SRM refuses writes at three sites")
        master_rt = await rt_id(master)

        # a child opened for DMSU is a member of the parent's RT ticket
        opened = await api.post(f"/tickets/{master}/children", json={"support_units": ["DMSU"]})
        assert opened.status_code == 201, opened.text
        child_rt = await rt_id(opened.json()[0]["id"])
        assert await asyncio.to_thread(links, rt, child_rt, "parent") == [str(master_rt)]

        # a slave refers to its master's RT ticket
        slave = await open_for_dmsu("SRM refuses writes (second report)")
        slave_rt = await rt_id(slave)
        related = await api.post(
            f"/tickets/{slave}/relations", json={"kind": "slave_of", "ticket": master}
        )
        assert related.status_code == 201, related.text
        await eventually(
            lambda: str(master_rt) in links(rt, slave_rt, "refers-to"),
            "the slave's RT ticket referring to the master's",
        )

        # DMSU resolves the master in RT: the hub solves the master and its slave, and resolves
        # the slave's RT ticket
        with rt.api(as_staff=True) as staff:
            staff.post(
                f"/ticket/{master_rt}/correspond",
                json={
                    "Content": "Restarted the SRM front end",
                    "ContentType": "text/plain",
                    "Status": "resolved",
                },
            ).raise_for_status()
        await api.post("/connections/dmsu-rt/poll")

        async def slave_solved() -> dict[str, Any] | None:
            ticket: dict[str, Any] = (await api.get(f"/tickets/{slave}")).json()
            return ticket if ticket["status"] == "solved" else None

        solved = await _eventually_async(slave_solved, "the slave solved with its master")
        assert solved["solution"] == "Restarted the SRM front end"
        await eventually(
            lambda: rt.ticket(slave_rt)["Status"] == "resolved", "the slave's RT ticket resolved"
        )


async def _eventually_async(check: Any, what: str, seconds: float = 30) -> Any:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        value = await check()
        if value:
            return value
        assert asyncio.get_running_loop().time() < deadline, f"not within {seconds}s: {what}"
        await asyncio.sleep(0.2)
