"""Polling Redmine (mappings/redmine.yaml) against the answers recorded from a real Redmine 5.0.4:
a list of changed issues, one detail per changed issue, a cursor that makes an idle poll cheap."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import respx

from gateway.adapter.errors import AuthenticationError, PermanentError
from gateway.adapter.models import AddComment, Solve
from tests.adapters.rest.support import REDMINE_BASE, fixture, redmine, shipped_with

LIST = f"{REDMINE_BASE}/issues.json"
CURSOR = {"since": "2026-11-23T10:00:00Z", "seen": {}}
NEWEST = "2026-11-23T21:42:50Z"  # issue 1's updated_on in the recorded list


def listed() -> dict[str, Any]:
    return fixture("redmine", "issues_updated_since.json")  # issue 2, then issue 1


def issue_1() -> dict[str, Any]:
    return fixture("redmine", "issue_with_journals.json")  # a public, a private note, Resolved


def issue_2() -> dict[str, Any]:
    return {"issue": {**listed()["issues"][0], "journals": []}}  # just created: no journals


def serve(mock: respx.MockRouter, listing: dict[str, Any]) -> tuple[respx.Route, ...]:
    return (
        mock.get(LIST).respond(200, json=listing),
        mock.get(f"{REDMINE_BASE}/issues/1.json").respond(200, json=issue_1()),
        mock.get(f"{REDMINE_BASE}/issues/2.json").respond(200, json=issue_2()),
    )


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


async def test_the_first_poll_starts_now_and_skips_history() -> None:
    before = stamp(datetime.now(UTC))
    with respx.mock(assert_all_called=True) as mock:
        route = mock.get(LIST).respond(200, json=fixture("redmine", "issues_empty.json"))
        result = await redmine().poll(None)
    after = stamp(datetime.now(UTC))
    query = route.calls[0].request.url.params
    assert query["updated_on"].startswith(">=")
    assert before <= query["updated_on"][2:] <= after
    assert query["project_id"] == "ngi-cz" and query["status_id"] == "*"
    assert query["sort"] == "updated_on:asc,id:asc" and query["limit"] == "100"
    assert result.events == [] and result.exchanges == 1 and not result.more
    assert result.cursor == {"since": query["updated_on"][2:], "seen": {}}


async def test_a_poll_reads_each_changed_issue_once_and_makes_its_events() -> None:
    with respx.mock(assert_all_called=True) as mock:
        listing, one, two = serve(mock, listed())
        result = await redmine().poll(CURSOR)
    assert listing.calls[0].request.url.params["updated_on"] == ">=2026-11-23T10:00:00Z"
    assert (one.call_count, two.call_count) == (1, 1)
    assert one.calls[0].request.url.params["include"] == "journals"
    assert one.calls[0].request.headers["x-redmine-api-key"].startswith("5eed")
    assert result.exchanges == 3
    assert [(e.event_id, e.commands) for e in result.events] == [
        (
            "redmine:1:journal:1",
            [AddComment(remote_id="1", body="We are looking into it.", author="Redmine Admin")],
        ),
        (
            "redmine:1:journal:2",
            [
                AddComment(
                    remote_id="1",
                    body="Internal: pool p12 on dcache-se3 is offline.",
                    author="Redmine Admin",
                    visibility="internal",
                )
            ],
        ),
        (
            "redmine:1:journal:3:status",
            [
                Solve(
                    remote_id="1",
                    status="solved",
                    solution="Closed in Redmine as Resolved (no note given)",
                )
            ],
        ),
    ]


async def test_the_next_cursor_starts_at_the_newest_change_and_remembers_the_issues() -> None:
    with respx.mock(assert_all_called=True) as mock:
        serve(mock, listed())
        result = await redmine().poll(CURSOR)
    assert result.cursor == {
        "since": NEWEST,
        "seen": {"2": "2026-11-23T21:42:48Z", "1": NEWEST},
    }
    assert not result.more  # 2 issues, a page holds 100


async def test_an_idle_poll_costs_exactly_one_request() -> None:
    adapter = redmine()
    with respx.mock(assert_all_called=False) as mock:
        listing, one, two = serve(mock, listed())
        first = await adapter.poll(CURSOR)
        again = await adapter.poll(first.cursor)  # Redmine lists the same issues again
    assert listing.call_count == 2
    assert listing.calls[1].request.url.params["updated_on"] == f">={NEWEST}"
    assert (one.call_count, two.call_count) == (1, 1)  # from the first poll only
    assert again.events == [] and again.exchanges == 1
    assert again.cursor == first.cursor


async def test_an_issue_changed_again_is_read_again() -> None:
    adapter = redmine()
    newer = listed()
    newer["issues"][1]["updated_on"] = "2026-11-23T21:50:00Z"
    with respx.mock(assert_all_called=True) as mock:
        listing, one, two = serve(mock, listed())
        first = await adapter.poll(CURSOR)
        listing.respond(200, json=newer)
        second = await adapter.poll(first.cursor)
    assert (one.call_count, two.call_count) == (2, 1)
    assert second.exchanges == 2
    assert second.cursor["since"] == "2026-11-23T21:50:00Z"
    # the same journals again: the same event ids, which the hub applies once
    assert [e.event_id for e in second.events] == [e.event_id for e in first.events]


async def test_journals_the_gateways_own_user_wrote_are_skipped() -> None:
    mine = issue_1()
    mine["issue"]["journals"][0]["user"] = {"id": 5, "name": "Hub Gateway"}  # values.api_user_id
    with respx.mock(assert_all_called=True) as mock:
        serve(mock, listed())
        mock.get(f"{REDMINE_BASE}/issues/1.json").respond(200, json=mine)
        result = await redmine().poll(CURSOR)
    assert [e.event_id for e in result.events] == [
        "redmine:1:journal:2",
        "redmine:1:journal:3:status",
    ]


async def test_no_event_when_every_journal_is_the_gateways_own() -> None:
    with respx.mock(assert_all_called=True) as mock:
        serve(mock, listed())
        result = await redmine(api_user_id=1).poll(CURSOR)  # the recorded journals' author
    assert result.events == []


async def test_a_full_page_that_moved_the_cursor_asks_for_more_at_once() -> None:
    adapter = redmine(shipped_with("redmine", {"poll": {"page_size": 2}}))
    with respx.mock(assert_all_called=True) as mock:
        listing, *_ = serve(mock, listed())
        result = await adapter.poll(CURSOR)
    assert listing.calls[0].request.url.params["limit"] == "2"
    assert result.more and result.cursor["since"] == NEWEST


async def test_a_list_the_remote_refuses_fails_the_poll_typed() -> None:
    with respx.mock(assert_all_called=True) as mock:
        mock.get(LIST).respond(422, json=fixture("redmine", "issues_bad_filter_422.json"))
        with pytest.raises(PermanentError, match="HTTP 422"):
            await redmine().poll(CURSOR)
        mock.get(LIST).respond(401, headers={"WWW-Authenticate": 'Basic realm="Redmine API"'})
        with pytest.raises(AuthenticationError):
            await redmine().poll(CURSOR)


def fake_redmine(updated: dict[int, str]) -> Any:
    """GET /issues.json as Redmine answers it: updated_on >= T (to the second), sorted by
    updated_on then id, `offset` and `limit` applied."""

    def answer(request: httpx.Request) -> httpx.Response:
        params = request.url.params
        since = datetime.strptime(params["updated_on"][2:], "%Y-%m-%dT%H:%M:%SZ")
        since = since.replace(tzinfo=UTC) - timedelta(seconds=1)
        base = listed()["issues"][1]
        changed = sorted(
            (stamp_, number)
            for number, stamp_ in updated.items()
            if datetime.fromisoformat(stamp_.replace("Z", "+00:00")) > since
        )
        offset, limit = int(params.get("offset", 0)), int(params["limit"])
        page = [
            {**copy.deepcopy(base), "id": number, "updated_on": stamp_}
            for stamp_, number in changed[offset : offset + limit]
        ]
        return httpx.Response(
            200,
            json={"issues": page, "total_count": len(changed), "offset": offset, "limit": limit},
        )

    return answer


async def test_more_issues_changed_in_one_second_than_a_page_holds_are_all_read() -> None:
    adapter = redmine(shipped_with("redmine", {"poll": {"page_size": 2}}))
    bulk = {n: "2026-11-23T21:42:50Z" for n in (1, 2, 3)}  # a bulk edit of three issues
    with respx.mock(assert_all_called=False) as mock:
        mock.get(LIST).mock(side_effect=fake_redmine(bulk))
        details = mock.get(url__regex=r"/issues/\d+\.json").respond(200, json=issue_2())
        cursor: dict[str, Any] = CURSOR
        for _ in range(4):
            result = await adapter.poll(cursor)
            cursor = result.cursor
    read = {str(call.request.url.path) for call in details.calls}
    assert read == {"/issues/1.json", "/issues/2.json", "/issues/3.json"}
