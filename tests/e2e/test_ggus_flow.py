"""The GGUS flow end to end, configured only by examples/ggus-flow.yaml: a user submits in the
regional helpdesk's Znuny (the Znuny-shaped helpdesk: a token header, string ids, errors inside
200 answers); the hub routes the ticket to DMSU, whose own system is a real Redmine (polled); a
public hub entry reaches Redmine, an internal one never does; DMSU's internal work stays in
Redmine; DMSU resolves it; the origin, down at that moment, is updated once when it is back.

Real processes and real HTTP: `gateway serve`, Debian's Redmine, the desk on loopback; on SQLite
and on PostgreSQL.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from examples.helpdesk import BackgroundServer
from examples.znuny_helpdesk import PREFIX, ZnunyHelpdesk
from tests.support.cluster import free_port
from tests.support.redmine import Redmine
from tests.support.servers import wait_until

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "examples" / "ggus-flow.yaml"
BIN = Path(sys.executable).parent
ZNUNY_PASSWORD, ZNUNY_TOKEN = "znuny-agent-password", "znuny-event-token"


class Hub:
    def __init__(self, url: str, key: str) -> None:
        self.url = url
        self.client = httpx.Client(
            base_url=f"{url}/api/v1", headers={"Authorization": f"Bearer {key}"}, timeout=30
        )

    def ticket(self, ticket_id: int) -> dict[str, Any]:
        answer = self.client.get(f"/tickets/{ticket_id}")
        answer.raise_for_status()
        found: dict[str, Any] = answer.json()
        return found

    def poll_now(self, connection: str) -> None:
        self.client.post(f"/connections/{connection}/poll").raise_for_status()


@pytest.fixture
def flow(
    redmine: Redmine,
    database_url: str,
    tmp_path: Path,
) -> Iterator[tuple[Hub, ZnunyHelpdesk, BackgroundServer, Redmine, str]]:
    for name, expected in {"Resolved": 3, "Feedback": 4}.items():
        assert redmine.facts["statuses"][name] == expected, "examples/ggus-flow.yaml's ids"
    project, _ = redmine.new_project()
    port = free_port()
    desk = ZnunyHelpdesk(
        password=ZNUNY_PASSWORD,
        token=ZNUNY_TOKEN,
        gateway_url=f"http://127.0.0.1:{port}/api/v1/webhooks/ngi-cz-znuny",
    )
    desk_server = BackgroundServer(desk.app())
    desk_server.start()
    env = {
        **os.environ,
        "GATEWAY_DATABASE_URL": database_url,
        "NGI_CZ_ZNUNY_URL": f"{desk_server.url}{PREFIX}",
        "NGI_CZ_ZNUNY_PASSWORD": ZNUNY_PASSWORD,
        "NGI_CZ_ZNUNY_TOKEN": ZNUNY_TOKEN,
        "DMSU_REDMINE_URL": redmine.url,
        "DMSU_REDMINE_API_KEY": redmine.api_key,
        "DMSU_REDMINE_PROJECT": project,
        "GATEWAY_WORKER_POLL_INTERVAL": "0.2",
    }
    key = subprocess.run(
        [str(BIN / "gateway"), "create-key", "--name", "tpm-operator", "--config", str(CONFIG)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout.strip()
    log = (tmp_path / "gateway.log").open("wb")
    server = subprocess.Popen(
        [str(BIN / "gateway"), "serve", "--config", str(CONFIG), "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    try:
        wait_until(lambda: _ready(f"http://127.0.0.1:{port}"), timeout=60)
        yield Hub(f"http://127.0.0.1:{port}", key), desk, desk_server, redmine, project
    finally:
        server.terminate()
        server.wait(timeout=30)
        desk_server.stop()
        log.close()


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def eventually(check: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    """Wait until `check()` gives something truthy, and give it back."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        time.sleep(0.2)


def test_the_ggus_flow_from_znuny_to_redmine_and_back(flow) -> None:
    hub, desk, desk_server, redmine, project = flow

    # 1. A user's problem is opened in NGI_CZ's Znuny; Znuny tells the hub.
    opened = desk.open_ticket(
        "SRM at prague_cesnet_lcg2 refuses writes",
        "srmcp fails since 08:00",
        email="ann@example.org",
        name="Ann Example",
        priority="4 high",
    )
    origin = f"ngi-cz-znuny:{opened['TicketID']}"
    [ticket] = eventually(
        lambda: hub.client.get("/tickets", params={"link": origin}).json()["items"],
        what="the hub ticket for the Znuny ticket",
    )
    assert (ticket["support_unit"], ticket["priority"]) == ("TPM", "urgent")
    hub_id = ticket["id"]

    # 2. The first line routes it to DMSU: it is created in DMSU's Redmine, the hub keeps the id.
    hub.client.patch(f"/tickets/{hub_id}", json={"support_unit": "DMSU"}).raise_for_status()
    link = eventually(
        lambda: [x for x in hub.ticket(hub_id)["links"] if x["connection"] == "dmsu-redmine"],
        what="the Redmine issue's id on the hub ticket",
    )[0]
    issue_id = link["external_id"]
    with redmine.api() as api:
        issue = api.get(f"/issues/{issue_id}.json").json()["issue"]
    assert issue["project"]["name"] == project
    assert issue["subject"] == "SRM at prague_cesnet_lcg2 refuses writes"
    assert [f["value"] for f in issue["custom_fields"] if f["id"] == 1] == [str(hub_id)]

    # 3. A public hub entry reaches Redmine; an internal one never does.
    hub.client.post(f"/tickets/{hub_id}/entries", json={"body": "Please check pool p12"})
    hub.client.post(
        f"/tickets/{hub_id}/entries",
        json={"body": "TPM only: VO asked twice", "visibility": "internal"},
    )

    def notes() -> list[str]:
        with redmine.api() as api:
            answer = api.get(f"/issues/{issue_id}.json", params={"include": "journals"})
            return [j["notes"] for j in answer.json()["issue"]["journals"] if j["notes"]]

    eventually(lambda: any("Please check pool p12" in n for n in notes()), what="the entry")
    time.sleep(1)
    assert not any("VO asked twice" in n for n in notes())

    # 4. DMSU's own work stays in Redmine (close-only): notes, public and private, come back to
    #    the hub's poll and are left there.
    with redmine.api(as_user="jnovak") as staff:
        for body in (
            {"notes": "Looking at p12 now"},
            {"notes": "dcache-se3 pool p12 offline", "private_notes": True},
        ):
            staff.put(f"/issues/{issue_id}.json", json={"issue": body}).raise_for_status()
    journal_before = len(hub.ticket(hub_id)["journal"])
    hub.poll_now("dmsu-redmine")
    eventually(lambda: _polled_since(hub, issue_id), what="a poll that saw the notes")
    assert len(hub.ticket(hub_id)["journal"]) == journal_before

    # 5. The origin goes down; DMSU resolves the issue in Redmine.
    desk_server.stop()
    with redmine.api(as_user="jnovak") as staff:
        staff.put(
            f"/issues/{issue_id}.json",
            json={"issue": {"status_id": 3, "notes": "Restarted pool p12; writes work again"}},
        ).raise_for_status()
    hub.poll_now("dmsu-redmine")
    solved = eventually(
        lambda: (t := hub.ticket(hub_id))["status"] == "solved" and t, what="the hub ticket solved"
    )
    assert solved["solution"] == "Restarted pool p12; writes work again"
    waiting = eventually(
        lambda: [
            d
            for d in hub.client.get(f"/tickets/{hub_id}/deliveries").json()
            if d["connection"] == "ngi-cz-znuny" and d["last_error"]
        ],
        what="the origin's delivery failing while it is down",
    )
    assert waiting[0]["state"] == "pending"

    # 6. The origin is back: it is updated, once.
    desk_server.start()
    eventually(
        lambda: desk.tickets[opened["TicketID"]]["State"] == "closed successful",
        timeout=60,
        what="the Znuny ticket closed",
    )
    time.sleep(2)  # anything more that would come, comes now
    written = desk.articles(opened["TicketID"], by_gateway=True)
    assert [a["Body"] for a in written] == ["Restarted pool p12; writes work again"]
    assert hub.ticket(hub_id)["status"] == "solved", "Znuny's echo of our change changed nothing"
    deliveries = hub.client.get(f"/tickets/{hub_id}/deliveries").json()
    to_origin = [d for d in deliveries if d["connection"] == "ngi-cz-znuny"]
    assert [(d["action"], d["state"]) for d in to_origin] == [("solve", "done")]


def _polled_since(hub: Hub, issue_id: str) -> bool:
    status = hub.client.get("/connections/dmsu-redmine").json()
    seen = (status["polling"]["cursor"] or {}).get("seen") or {}
    return issue_id in seen and status["polling"]["poll_requested_at"] is None


def test_relations_travel_to_redmine_as_its_parent_and_relations(flow) -> None:
    hub, _desk, _desk_server, redmine, _project = flow

    def for_dmsu(subject: str) -> tuple[int, str]:
        created = hub.client.post(
            "/tickets",
            json={
                "subject": subject,
                "description": "dCache pools at three sites refuse writes",
                "submitter": {"name": "Ann Example", "email": "ann@example.org"},
                "support_unit": "DMSU",
            },
        )
        created.raise_for_status()
        hub_id = created.json()["id"]
        link = eventually(
            lambda: [x for x in hub.ticket(hub_id)["links"] if x["connection"] == "dmsu-redmine"],
            what=f"the Redmine issue of #{hub_id}",
        )[0]
        return hub_id, link["external_id"]

    def issue(issue_id: str) -> dict[str, Any]:
        with redmine.api() as api:
            found: dict[str, Any] = api.get(
                f"/issues/{issue_id}.json", params={"include": "relations"}
            ).json()["issue"]
            return found

    parent, parent_issue = for_dmsu("Writes refused at three sites")
    child, child_issue = for_dmsu("Writes refused at prague_cesnet_lcg2")
    duplicate, duplicate_issue = for_dmsu("Writes refused (reported again)")
    relate = hub.client.post(
        f"/tickets/{child}/relations", json={"kind": "child_of", "ticket": parent}
    )
    assert relate.status_code == 201, relate.text
    eventually(
        lambda: issue(child_issue).get("parent", {}).get("id") == int(parent_issue),
        what="the child's issue under the parent's",
    )
    relate = hub.client.post(
        f"/tickets/{duplicate}/relations", json={"kind": "duplicate_of", "ticket": parent}
    )
    assert relate.status_code == 201, relate.text
    relations = eventually(lambda: issue(duplicate_issue).get("relations"), what="a relation")
    assert [(r["issue_id"], r["issue_to_id"], r["relation_type"]) for r in relations] == [
        (int(duplicate_issue), int(parent_issue), "duplicates")
    ]
    removed = hub.client.delete(f"/tickets/{child}/relations/child_of")
    assert removed.status_code == 204
    eventually(lambda: "parent" not in issue(child_issue), what="the parent taken off in Redmine")
