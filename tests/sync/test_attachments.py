"""Files through the sync engine: in by an inbound `attach` command, out as `attach` deliveries
to the connections that carry files, loaded with their bytes when the delivery is sent."""

from __future__ import annotations

import base64

import pytest
from sqlalchemy import select, update

from gateway.attachment import service as attachments
from gateway.attachment.tables import AttachmentRow
from gateway.connection.models import Policy
from gateway.connection.service import Connection, Connections
from gateway.sync import outbox
from gateway.sync.tables import OutboxRow
from gateway.ticket.changes import Changes
from gateway.ticket.enums import Visibility
from tests.sync.conftest import send_event
from tests.sync.harness import Remote, ScriptedAdapter
from tests.sync.test_inbound import submit

DATA = b"srmcp: SRM_AUTHORIZATION_FAILURE\n\x00\xff binary tail"


@pytest.fixture
def connections(remotes: dict[str, Remote], policy: Policy) -> Connections:
    """NGI's and DMSU's systems carry files, dCache's does not."""
    return Connections(
        [
            Connection(
                "ngi",
                "NGI_DE",
                policy,
                ScriptedAdapter(name="ngi", remote=remotes["ngi"], attachments=True),
            ),
            Connection(
                "dmsu",
                "DMSU",
                Policy.CLOSE_ONLY,
                ScriptedAdapter(name="dmsu", remote=remotes["dmsu"], attachments=True),
            ),
            Connection(
                "dcache",
                "dCache",
                Policy.CLOSE_ONLY,
                ScriptedAdapter(name="dcache", remote=remotes["dcache"]),
            ),
        ]
    )


def attach(remote_id: str, **fields: object) -> dict[str, object]:
    return {
        "kind": "attach",
        "remote_id": remote_id,
        "filename": "srm.log",
        "content_type": "text/plain",
        "data": base64.b64encode(DATA).decode(),
        **fields,
    }


async def rows(app) -> list[OutboxRow]:
    async with app.state.sessionmaker() as session:
        return list((await session.execute(select(OutboxRow).order_by(OutboxRow.id))).scalars())


async def test_a_file_from_the_origin_is_stored_downloadable_and_sent_to_the_assignee(
    app, client, admin, worker, remotes
) -> None:
    await submit(client, support_unit="DMSU")
    answer = await send_event(client, "ngi", "n-file", [attach("NGI-7", author="Ann")])
    assert answer.json()["events"][0]["applied"] == [{"kind": "attach", "ticket_id": 1}]
    [listed] = (await client.get("/api/v1/tickets/1/attachments", headers=admin)).json()
    assert (listed["filename"], listed["size"], listed["source"], listed["author"]) == (
        "srm.log",
        len(DATA),
        "ngi",
        "Ann",
    )
    download = await client.get(listed["download_url"], headers=admin)
    assert download.content == DATA
    history = (await client.get("/api/v1/tickets/1/history", headers=admin)).json()
    assert "attachment_added" in [h["action"] for h in history]
    assert [(r.connection, r.action, r.rule) for r in await rows(app)] == [
        ("dmsu", "create", "assignment-creates-remote-ticket"),
        ("dmsu", "attach", "public-attachment-to-assignee"),
    ]
    await worker.run_until_idle()
    assert remotes["dmsu"].actions() == ["create", "attach"]
    sent = remotes["dmsu"].received[1].attachment
    assert sent is not None
    assert (sent.id, sent.filename, sent.content_type, sent.size, sent.data) == (
        listed["id"],
        "srm.log",
        "text/plain",
        len(DATA),
        DATA,
    )
    assert remotes["ngi"].received == []  # never back to its source


async def test_the_same_file_again_is_not_stored_twice(client, admin) -> None:
    await submit(client, support_unit="DMSU")
    await send_event(client, "ngi", "n-1", [attach("NGI-7")])
    again = await send_event(client, "ngi", "n-2", [attach("NGI-7")])
    [ignored] = again.json()["events"][0]["ignored"]
    assert ignored["reason"].startswith("the ticket already has this file")
    assert len((await client.get("/api/v1/tickets/1/attachments", headers=admin)).json()) == 1


async def test_a_close_only_assignees_file_is_its_internal_traffic(client, admin, worker) -> None:
    await submit(client, support_unit="DMSU")
    await worker.run_until_idle()
    answer = await send_event(client, "dmsu", "d-file", [attach("R1")])
    assert [i["reason"] for i in answer.json()["events"][0]["ignored"]] == [
        "close-only: 'attach' is internal traffic of dmsu"
    ]
    assert (await client.get("/api/v1/tickets/1/attachments", headers=admin)).json() == []


async def test_an_internal_file_stays_at_the_hub(app, client, admin, worker, remotes) -> None:
    await submit(client, support_unit="DMSU")
    await send_event(client, "ngi", "n-file", [attach("NGI-7", visibility="internal")])
    [listed] = (await client.get("/api/v1/tickets/1/attachments", headers=admin)).json()
    assert listed["visibility"] == "internal"
    assert [r.action for r in await rows(app)] == ["create"]
    await worker.run_until_idle()
    assert remotes["dmsu"].actions() == ["create"]


async def store(app, *, data: bytes = b"trace") -> None:
    """What an upload does when it passes its `Changes` to `store_attachment` and commits
    through the sync engine."""
    changes = Changes()
    async with app.state.sessionmaker() as session:
        await attachments.store_attachment(
            session,
            ticket_id=1,
            filename="trace.txt",
            content_type="text/plain",
            data=data,
            visibility=Visibility.PUBLIC,
            author="Eve",
            source="api",
            changes=changes,
        )
        await outbox.commit(session, app.state.sync, changes)


@pytest.mark.parametrize("policy", [Policy.MIRROR])
async def test_a_file_added_at_the_hub_reaches_the_assignee_and_a_mirror_origin(
    app, client, admin, worker, remotes, policy
) -> None:
    await submit(client, support_unit="DMSU")
    await store(app)
    await worker.run_until_idle()
    assert remotes["dmsu"].actions() == ["create", "attach"]
    assert remotes["ngi"].actions() == ["attach"]
    assert remotes["ngi"].received[0].attachment.data == b"trace"  # type: ignore[union-attr]


async def test_a_unit_whose_system_does_not_carry_files_is_sent_none(
    app, client, admin, worker, remotes
) -> None:
    await submit(client, support_unit="DMSU")
    moved = await client.patch("/api/v1/tickets/1", json={"support_unit": "dCache"}, headers=admin)
    assert moved.status_code == 200, moved.text
    await send_event(client, "ngi", "n-file", [attach("NGI-7")])
    assert "attach" not in [r.action for r in await rows(app)]
    await worker.run_until_idle()
    assert remotes["dcache"].actions() == ["create"]


async def test_a_file_that_became_internal_before_sending_is_a_dead_letter(
    app, client, admin, worker, remotes
) -> None:
    await submit(client, support_unit="DMSU")
    await send_event(client, "ngi", "n-file", [attach("NGI-7")])
    async with app.state.sessionmaker() as session:
        await session.execute(update(AttachmentRow).values(visibility=Visibility.INTERNAL.value))
        await session.commit()
    await worker.run_until_idle()
    assert remotes["dmsu"].actions() == ["create"]
    [dead] = (await client.get("/api/v1/dead-letters", headers=admin)).json()
    assert (dead["rule"], dead["last_error"]) == (
        "public-attachment-to-assignee",
        "attachment 1 of #1 is internal",
    )


async def test_a_file_stored_with_the_units_change_log_is_sent_like_any_change(
    app, client, admin, worker, remotes
) -> None:
    await submit(client, support_unit="DMSU")
    await store(app)
    await worker.run_until_idle()
    assert remotes["dmsu"].actions() == ["create", "attach"]
    assert remotes["dmsu"].received[1].attachment.data == b"trace"  # type: ignore[union-attr]
