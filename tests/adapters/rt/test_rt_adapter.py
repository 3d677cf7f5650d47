"""What is special to the RT adapter, on payloads recorded from the real RT 5 (tests/fixtures/rt):
refusals inside 200 answers, If-Match and 412, reading transactions into hub commands (what
comes back and what stays in RT), an idle poll in one request, the requirements queue."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

from adapters.rt import RtAdapter
from adapters.rt.config import RtConfig
from gateway.adapter.errors import PermanentError
from gateway.adapter.models import (
    Action,
    AddComment,
    AskSubmitter,
    AttachFile,
    Delivery,
    Reassign,
    RemoteRef,
    RequirementState,
    Solve,
)
from gateway.ticket.enums import Status, Visibility
from tests.contract.tickets import make_delivery

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "rt"
URL = "https://rt.example.org"
REST = f"{URL}/REST/2.0"


def recorded(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def adapter(**settings: Any) -> RtAdapter:
    config = RtConfig.model_validate(
        {
            "url": URL,
            "user": "gateway",
            "password": "not-a-real-password",
            "queue": "NGI_CZ",
            "hub_ticket_url": "https://ggus.example.org/tickets/{id}",
            "queue_units": {"DMSU": "DMSU"},
            **settings,
        }
    )
    return RtAdapter(name="ngi-cz-rt", config=config)


def delivery(action: str, **kwargs: Any) -> Delivery:
    return make_delivery(action, remote=RemoteRef("1"), **kwargs)


def transaction(txn: int, kind: str, creator: str = "jnovak", **values: str) -> dict[str, Any]:
    return {
        "id": str(txn),
        "type": "transaction",
        "Type": kind,
        "Field": values.get("field", ""),
        "OldValue": values.get("old", ""),
        "NewValue": values.get("new", ""),
        "Creator": {"id": creator, "type": "user"},
        "Created": "2026-12-03T17:41:50Z",
        "Data": "No Subject",
    }


def page(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"items": items, "page": 1, "pages": 1, "per_page": 100, "count": len(items)}


def serve_ticket(
    mock: respx.MockRouter,
    transactions: list[dict[str, Any]],
    texts: dict[int, str] | None = None,
    *,
    ticket: str = "1",
    updated: str = "2026-12-03T17:41:50Z",
    queue: str = "NGI_CZ",
) -> None:
    item = {"id": ticket, "type": "ticket", "LastUpdated": updated, "Queue": {"Name": queue}}
    listed = page([item])
    mock.get(f"{REST}/tickets").respond(200, json=listed)
    newest_first = sorted(transactions, key=lambda t: -int(t["id"]))
    mock.get(f"{REST}/ticket/{ticket}/history").respond(200, json=page(newest_first))
    for txn, text in (texts or {}).items():
        part = {"id": f"9{txn}", "ContentType": "text/plain", "Filename": "", "Content": text}
        mock.get(f"{REST}/transaction/{txn}/attachments").respond(200, json=page([part]))


CURSOR = {"since": "2026-12-03 17:00:00", "seen": {}, "read": {}}


# --- outbound --------------------------------------------------------------------------------


@respx.mock
async def test_a_create_carries_the_hub_id_the_link_and_no_requestor() -> None:
    route = respx.post(f"{REST}/ticket").respond(201, json=recorded("create_ticket_201.json"))
    result = await adapter().push(delivery("create", priority="urgent"))
    assert result.remote == RemoteRef("1", f"{URL}/Ticket/Display.html?id=1")
    sent = json.loads(route.calls[0].request.content)
    assert sent["Queue"] == "NGI_CZ"
    assert sent["CustomFields"] == {"Hub ID": "42"}
    assert sent["RefersTo"] == "https://ggus.example.org/tickets/42"
    assert sent["ContentType"] == "text/plain" and "Requestor" not in sent
    assert sent["Priority"] == 50


@respx.mock
async def test_a_refusal_inside_a_200_answer_is_a_permanent_error_naming_it() -> None:
    respx.get(f"{REST}/ticket/1").respond(
        200, json=recorded("ticket.json"), headers={"ETag": '"51"'}
    )
    respx.put(f"{REST}/ticket/1").respond(200, json=recorded("update_status_invalid_200.json"))
    with pytest.raises(PermanentError, match="isn't a valid status"):
        await adapter(status_to_rt={"in progress": "bogus"}).push(
            delivery("update", status="in progress")
        )


@respx.mock
async def test_a_stale_etag_is_read_again_and_the_update_retried() -> None:
    etags = iter(['"51"', '"87"'])
    respx.get(f"{REST}/ticket/1").mock(
        side_effect=lambda _: httpx.Response(
            200, json=recorded("ticket.json"), headers={"ETag": next(etags)}
        )
    )
    put = respx.put(f"{REST}/ticket/1").mock(
        side_effect=[
            httpx.Response(412, json=recorded("update_if_match_stale_412.json")),
            httpx.Response(200, json=recorded("update_status_open.json")),
        ]
    )
    await adapter().push(delivery("update"))
    assert [c.request.headers["if-match"] for c in put.calls] == ['"51"', '"87"']


@respx.mock
async def test_relations_added_and_removed_are_rt_links_from_the_side_that_holds_them() -> None:
    respx.get(f"{REST}/ticket/1").respond(
        200, json=recorded("ticket.json"), headers={"ETag": '"51"'}
    )
    put = respx.put(f"{REST}/ticket/1").respond(200, json=recorded("update_status_open.json"))
    changes = {
        "relations": {
            "added": [{"role": "parent", "ticket": 7}, {"role": "slave", "ticket": 9}],
            "removed": [{"role": "duplicate_of", "ticket": 8}],
        }
    }
    sent = replace(delivery("update", changes=changes), related={7: RemoteRef("31")})
    await adapter().push(sent)
    fields = json.loads(put.calls[0].request.content)
    assert fields["AddMemberOf"] == ["31"], "the parent is in this RT: its RT ticket"
    assert fields["DeleteRefersTo"] == ["https://ggus.example.org/tickets/8"], (
        "not in RT: the hub's"
    )
    assert not any("Members" in name or "ReferredToBy" in name for name in fields), (
        "a slave's own ticket holds its link; RT shows the other side by itself"
    )


@respx.mock
async def test_correspondence_never_sends_if_match_and_internal_entries_are_not_sent() -> None:
    route = respx.post(f"{REST}/ticket/1/correspond").respond(
        201, json=recorded("correspond_201.json"), headers={"Location": "/REST/2.0/transaction/68"}
    )
    await adapter().push(delivery("entry"))
    request = route.calls[0].request
    assert "if-match" not in request.headers
    body = json.loads(request.content)
    assert body["ContentType"] == "text/plain" and "wrote at the hub" in body["Content"]


@respx.mock
async def test_check_names_a_custom_field_that_does_not_apply_to_the_queue() -> None:
    queue = {**recorded("queue.json"), "TicketCustomFields": []}
    respx.get(f"{REST}/queue/NGI_CZ").respond(200, json=queue)
    result = await adapter().check()
    assert not result.ok and "Hub ID" in result.detail and "drop" in result.detail
    respx.get(f"{REST}/queue/NGI_CZ").respond(200, json=recorded("queue.json"))
    assert (await adapter().check()).ok


# --- polling ---------------------------------------------------------------------------------


@respx.mock
async def test_an_idle_poll_is_one_request() -> None:
    serve_ticket(respx.mock, [transaction(68, "Correspond")], {68: "hello"})
    rt = adapter()
    first = await rt.poll(CURSOR)
    assert first.exchanges == 3  # the search, the history, the reply's text
    again = await rt.poll(first.cursor)
    assert (again.events, again.exchanges) == ([], 1)


@respx.mock
async def test_what_comes_back_and_what_stays_in_rt() -> None:
    serve_ticket(
        respx.mock,
        [
            transaction(50, "Create", creator="gateway"),  # ours
            transaction(51, "EmailRecord", creator="RT_System"),
            transaction(68, "Correspond", creator="gateway"),  # our own entry, read back
            transaction(70, "Status", creator="RT_System", field="Status", old="new", new="open"),
            transaction(71, "Comment"),
            transaction(73, "Correspond"),
            transaction(81, "Status", field="Status", old="open", new="stalled"),
        ],
        {71: "pool p12 is offline", 73: "Which VO do you use?"},
    )
    events = (await adapter().poll(CURSOR)).events
    commands = {e.event_id: e.commands for e in events}
    assert list(commands) == ["rt-txn-71", "rt-txn-73", "rt-txn-81"]
    [comment] = commands["rt-txn-71"]
    assert isinstance(comment, AddComment) and comment.visibility == Visibility.INTERNAL
    [question] = commands["rt-txn-73"]
    assert isinstance(question, AskSubmitter) and question.body == "Which VO do you use?"
    assert commands["rt-txn-81"][0].status == Status.WAITING_FOR_REPLY  # type: ignore[union-attr]


@respx.mock
async def test_a_reply_that_resolves_is_the_solution_only() -> None:
    serve_ticket(
        respx.mock,
        [
            transaction(130, "Correspond"),
            transaction(131, "EmailRecord", creator="RT_System"),
            transaction(133, "Status", field="Status", old="open", new="resolved"),
        ],
        {130: "Restarted pool p12"},
    )
    events = (await adapter().poll(CURSOR)).events
    assert [e.event_id for e in events] == ["rt-txn-133"]
    [solve] = events[0].commands
    assert isinstance(solve, Solve)
    assert (solve.status, solve.solution) == (Status.SOLVED, "Restarted pool p12")


@respx.mock
async def test_rejected_without_a_reply_says_so() -> None:
    serve_ticket(
        respx.mock, [transaction(85, "Status", field="Status", old="open", new="rejected")]
    )
    [event] = (await adapter().poll(CURSOR)).events
    [solve] = event.commands
    assert isinstance(solve, Solve) and solve.status == Status.UNSOLVED
    assert "no reply was written" in solve.solution


@respx.mock
async def test_a_move_to_a_mapped_queue_is_a_reassignment() -> None:
    serve_ticket(respx.mock, [transaction(94, "Set", field="Queue", old="3", new="4")])
    respx.get(f"{REST}/queue/4").respond(200, json={**recorded("queue.json"), "Name": "DMSU"})
    [event] = (await adapter().poll(CURSOR)).events
    assert event.commands == [Reassign(remote_id="1", support_unit="DMSU")]


@respx.mock
async def test_files_of_a_reply_come_along() -> None:
    serve_ticket(respx.mock, [transaction(73, "Correspond")])
    respx.get(f"{REST}/transaction/73/attachments").respond(
        200, json=recorded("transaction_attachments_fields.json")
    )
    respx.get(url__regex=rf"{REST}/attachment/\d+").respond(
        200, json=recorded("attachment_png.json")
    )
    [event] = (await adapter().poll(CURSOR)).events
    files = [c for c in event.commands if isinstance(c, AttachFile)]
    assert {f.filename for f in files} == {"pools.csv", "screen.png"}
    assert all(f.content() for f in files)


@respx.mock
async def test_the_requirements_queue_reports_only_its_state() -> None:
    serve_ticket(
        respx.mock,
        [
            transaction(60, "Correspond"),
            transaction(61, "Status", field="Status", old="new", new="open"),
        ],
        ticket="3",
        queue="requirements",
    )
    rt = adapter(queue="requirements", requirement_tag="DMSU")
    [event] = (await rt.poll(CURSOR)).events  # the reply stays in RT
    assert event.commands == [RequirementState(remote_id="3", state="open", previous="new")]


@respx.mock
async def test_a_success_quoting_a_refusal_word_is_no_refusal() -> None:
    respx.get(f"{REST}/ticket/1").respond(
        200, json=recorded("ticket.json"), headers={"ETag": '"86"'}
    )
    respx.put(f"{REST}/ticket/1").respond(
        200, json=["Ticket 1: Subject changed from 'old' to 'Jobs can't start: invalid proxy'"]
    )
    await adapter().push(delivery("update", subject="Jobs can't start: invalid proxy"))


@respx.mock
async def test_a_refused_status_on_a_solution_is_an_error_not_a_success() -> None:
    respx.post(f"{REST}/ticket/1/correspond").respond(
        201,
        json=["Correspondence added", "You can't change status from 'open' to 'resolved'."],
    )
    with pytest.raises(PermanentError, match="can't change status"):
        await adapter().push(delivery("solve", status="solved", solution="fixed"))


@respx.mock
async def test_another_connections_ticket_is_passed_over_and_a_broken_one_holds_the_cursor() -> (
    None
):
    listed = page(
        [
            {"id": "5", "LastUpdated": "2026-12-03T17:41:40Z", "Queue": {"Name": "requirements"}},
            {"id": "6", "LastUpdated": "2026-12-03T17:41:45Z", "Queue": {"Name": "NGI_CZ"}},
            {"id": "7", "LastUpdated": "2026-12-03T17:41:50Z", "Queue": {"Name": "NGI_CZ"}},
        ]
    )
    search = respx.get(f"{REST}/tickets").respond(200, json=listed)
    respx.get(f"{REST}/ticket/6/history").respond(500)
    respx.get(f"{REST}/ticket/7/history").respond(
        200, json=page([transaction(90, "Status", field="Status", old="new", new="open")])
    )
    result = await adapter().poll(CURSOR)
    assert [e.event_id for e in result.events] == ["rt-txn-90"]
    assert "5" not in result.cursor["read"] and "6" not in result.cursor["read"]
    assert result.cursor["since"] == "2026-12-03 17:41:45"  # not past the ticket it could not read
    query = search.calls[0].request.url.params["query"]
    assert "'CF.{Hub ID}' IS NOT NULL" in query and "Queue = 'NGI_CZ'" in query
    assert search.calls[0].request.url.params.get_list("orderby") == ["LastUpdated", "id"]


@respx.mock
async def test_only_a_ticket_of_the_requirements_queue_can_be_linked() -> None:
    respx.get(f"{REST}/ticket/1").respond(200, json=recorded("ticket.json"))  # queue 3: NGI_CZ
    respx.get(f"{REST}/queue/3").respond(200, json=recorded("queue.json"))
    put = respx.put(f"{REST}/ticket/1")
    rt = adapter(queue="requirements", requirement_tag="DMSU")
    with pytest.raises(PermanentError, match="only a ticket of the requirements queue"):
        await rt.push(replace(make_delivery("update", remote=RemoteRef("1")), action=Action.LINK))
    assert not put.called


@respx.mock
async def test_linking_an_existing_ticket_writes_id_tag_and_link_and_unlinking_takes_them_out() -> (
    None
):
    respx.get(f"{REST}/ticket/3").respond(200, json=recorded("ticket_requirements.json"))
    respx.get(f"{REST}/queue/5").respond(
        200, json={**recorded("queue.json"), "Name": "requirements"}
    )
    put = respx.put(f"{REST}/ticket/3").respond(200, json=recorded("update_custom_field.json"))
    rt = adapter(queue="requirements", requirement_tag="DMSU")
    linked = make_delivery("update", remote=RemoteRef("3"))
    await rt.push(replace(linked, action=Action.LINK))
    assert json.loads(put.calls[0].request.content) == {
        "CustomFields": {"Hub ID": "42", "Tag": "DMSU"},
        "AddRefersTo": "https://ggus.example.org/tickets/42",
    }
    result = await rt.push(replace(linked, action=Action.UNLINK))
    assert result.remote is None
    assert json.loads(put.calls[1].request.content) == {
        "CustomFields": {"Hub ID": None},
        "DeleteRefersTo": "https://ggus.example.org/tickets/42",
    }


def test_settings_refuse_a_missing_credential_and_a_url_without_the_id() -> None:
    base = {"url": URL, "user": "gateway", "queue": "NGI_CZ"}
    with pytest.raises(ValueError, match="exactly one of password and token"):
        RtConfig.model_validate(base)
    with pytest.raises(ValueError, match=r"\{id\}"):
        RtConfig.model_validate({**base, "password": "x", "hub_ticket_url": "https://hub/t"})


def test_a_webhook_secret_that_cannot_verify_is_refused_at_start() -> None:
    base = {"url": URL, "user": "gateway", "password": "x", "queue": "NGI_CZ"}
    with pytest.raises(ValueError, match="whsec_ but is not base64"):
        RtConfig.model_validate({**base, "webhook_secrets": ["whsec_!!!"]})
