"""What the REST adapter sends, and how each answer reaches the delivery worker as a typed error."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
import respx

from adapters.rest import RestAdapter
from gateway.adapter.errors import AuthenticationError, PermanentError, RetryableError
from gateway.adapter.models import RemoteRef
from tests.adapters.rest.conftest import BASE, make_adapter
from tests.adapters.rest.support import (
    JIRA_CLOUD_BASE,
    JIRA_DC_BASE,
    REDMINE_BASE,
    ZNUNY_BASE,
    build,
    fixture,
    jira,
    redmine,
    shipped,
    znuny,
)
from tests.contract.tickets import make_delivery

JIRA_REMOTE = RemoteRef("NGI-12", f"{JIRA_DC_BASE}/browse/NGI-12")


def sent(route: respx.Route, index: int = 0) -> Any:
    return json.loads(route.calls[index].request.content)


# --- authentication and headers ----------------------------------------------------------------


async def test_bearer_auth_sends_the_token() -> None:
    with respx.mock(assert_all_called=True) as mock:
        route = mock.get(f"{JIRA_DC_BASE}/rest/api/2/myself").respond(200, json={})
        assert (await jira("dc").check()).ok
    assert route.calls[0].request.headers["authorization"] == "Bearer jira-pat"


async def test_basic_auth_sends_user_and_password_from_values_and_secrets() -> None:
    with respx.mock(assert_all_called=True) as mock:
        route = mock.get(f"{JIRA_CLOUD_BASE}/rest/api/3/myself").respond(200, json={})
        assert (await jira("cloud").check()).ok
    expected = base64.b64encode(b"gateway@example.org:jira-api-token").decode()
    assert route.calls[0].request.headers["authorization"] == f"Basic {expected}"


async def test_header_auth_sends_the_named_header_and_no_authorization() -> None:
    with respx.mock(assert_all_called=True) as mock:
        route = mock.get(f"{REDMINE_BASE}/users/current.json").respond(200, json={})
        assert (await redmine().check()).ok
    headers = route.calls[0].request.headers
    assert headers["x-redmine-api-key"] == "5eed0c1c0ffee5eed0c1c0ffee5eed0c1c0ffee0"
    assert "authorization" not in headers


QUERY_AUTH = {"auth": {"type": "query", "name": "api_key", "value": "{{ secrets.key }}"}}


async def test_query_auth_sends_the_token_as_a_parameter_but_never_shows_it() -> None:
    adapter = make_adapter(build(QUERY_AUTH), secrets={"key": "S3CRET-KEY"})
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(f"{BASE}/tickets").respond(500)
        with pytest.raises(RetryableError) as caught:
            await adapter.create(make_delivery())
    assert route.calls[0].request.url.params["api_key"] == "S3CRET-KEY"
    error = caught.value
    assert error.exchange is not None
    assert "S3CRET" not in error.exchange.url and "S3CRET" not in str(error)
    assert "S3CRET" not in repr(error.exchange.as_dict())


async def test_query_auth_is_shown_as_stars_in_the_record() -> None:
    adapter = make_adapter(build(QUERY_AUTH), secrets={"key": "S3CRET-KEY"})
    with respx.mock(assert_all_called=True) as mock:
        mock.post(f"{BASE}/tickets").respond(500)
        with pytest.raises(RetryableError) as caught:
            await adapter.create(make_delivery())
    assert caught.value.exchange is not None
    assert caught.value.exchange.url == "/tickets?api_key=***"


def test_an_adapter_whose_auth_cannot_be_rendered_does_not_start() -> None:
    with pytest.raises(ValueError, match="secrets"):
        make_adapter(shipped("redmine"), values={})  # no secrets.api_key


async def test_mapping_headers_go_on_every_request() -> None:
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(f"{ZNUNY_BASE}/TicketSearch").respond(200, json={})
        assert (await znuny().check()).ok
    headers = route.calls[0].request.headers
    assert headers["x-otrs-header-userlogin"] == "hub-gateway"
    assert headers["x-otrs-header-password"] == "not-a-real-password"


async def test_per_request_headers_and_query_are_rendered_and_null_parameters_left_out() -> None:
    mapping = build(
        {
            "query": {"tenant": "{{ values.tenant }}"},
            "outbound": {
                "entry": {
                    "steps": [
                        {
                            "method": "POST",
                            "path": "/tickets/{{ remote.remote_id }}/notes",
                            "headers": {"X-Author": "{{ entry.author }}"},
                            "query": {"notify": "{{ hub_id }}", "eta": "{{ ticket.eta }}"},
                        }
                    ]
                }
            },
        }
    )
    adapter = make_adapter(mapping, values={"tenant": "ngi"})
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(f"{BASE}/tickets/77/notes").respond(201)
        await adapter.add_entry(make_delivery("entry"))
    request = route.calls[0].request
    assert request.headers["x-author"] == "Eve"
    assert dict(request.url.params) == {"tenant": "ngi", "notify": "42"}


async def test_every_request_of_a_delivery_carries_its_idempotency_key(rest: RestAdapter) -> None:
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(f"{BASE}/tickets/77/comments").respond(201)
        await rest.add_entry(make_delivery("entry", key="gw-7"))
    assert route.calls[0].request.headers["idempotency-key"] == "gw-7"


async def test_a_mapping_without_an_idempotency_header_sends_none() -> None:
    with respx.mock(assert_all_called=True) as mock:
        route = mock.put(f"{REDMINE_BASE}/issues/77.json").respond(204)
        await redmine().add_entry(make_delivery("entry"))
    assert "idempotency-key" not in route.calls[0].request.headers


# --- actions of several steps --------------------------------------------------------------------


async def test_jira_solve_reads_the_transitions_and_posts_the_one_to_done() -> None:
    path = f"{JIRA_DC_BASE}/rest/api/2/issue/NGI-12"
    with respx.mock(assert_all_called=False) as mock:
        read = mock.get(f"{path}/transitions").respond(
            200, json=fixture("jira", "transitions.json")
        )
        post = mock.post(f"{path}/transitions").respond(204)
        comment = mock.post(f"{path}/comment")
        delivery = make_delivery("solve", remote=JIRA_REMOTE, status="solved", solution="Fixed")
        result = await jira("dc").solve(delivery)
    assert read.call_count == 1 and not comment.called
    assert sent(post) == {
        "transition": {"id": "31"},
        "update": {"comment": [{"add": {"body": "Solved at the hub:\n\nFixed"}}]},
    }
    assert result.remote == JIRA_REMOTE
    assert result.exchange is not None and result.exchange.url.endswith("/transitions")


async def test_jira_solve_without_a_transition_to_done_says_so_in_a_comment() -> None:
    path = f"{JIRA_DC_BASE}/rest/api/2/issue/NGI-12"
    transitions = fixture("jira", "transitions.json")
    transitions["transitions"] = transitions["transitions"][:2]  # To Do, In Progress
    with respx.mock(assert_all_called=False) as mock:
        mock.get(f"{path}/transitions").respond(200, json=transitions)
        post = mock.post(f"{path}/transitions").respond(204)
        comment = mock.post(f"{path}/comment").respond(201, json={"id": "10200"})
        delivery = make_delivery("solve", remote=JIRA_REMOTE, status="unsolved", solution="No")
        await jira("dc").solve(delivery)
    assert not post.called
    assert sent(comment)["body"] == (
        "Unsolved at the hub (no transition to a done status is available here):\n\nNo"
    )


async def test_jira_create_saves_the_key_for_the_remote_link_and_the_result() -> None:
    with respx.mock(assert_all_called=True) as mock:
        mock.post(f"{JIRA_DC_BASE}/rest/api/2/issue").respond(
            201, json=fixture("jira", "create_issue_response.json")
        )
        link = mock.post(f"{JIRA_DC_BASE}/rest/api/2/issue/NGI-12/remotelink").respond(
            201, json=fixture("jira", "remotelink_response.json")
        )
        result = await jira("dc").create(make_delivery())
    assert result.remote == RemoteRef("NGI-12", "https://ngi-example.atlassian.net/browse/NGI-12")
    assert sent(link)["globalId"] == "ticket-gateway:https://hub.example.org:42"


async def test_a_step_that_cannot_read_its_answer_stops_the_action_as_permanent() -> None:
    with respx.mock(assert_all_called=False) as mock:
        mock.post(f"{JIRA_DC_BASE}/rest/api/2/issue").respond(201, json={"id": "10042"})
        link = mock.post(url__regex=r".*/remotelink$")
        with pytest.raises(
            PermanentError, match="cannot read the answer of POST /rest/api/2/issue"
        ):
            await jira("dc").create(make_delivery())
    assert not link.called


# --- judging answers -----------------------------------------------------------------------------


async def test_a_znuny_auth_failure_inside_a_200_pauses_the_connection() -> None:
    with respx.mock(assert_all_called=True) as mock:
        mock.post(f"{ZNUNY_BASE}/Ticket").respond(
            200, json=fixture("znuny", "error_auth_fail.json")
        )
        with pytest.raises(AuthenticationError, match=r"TicketCreate\.AuthFail"):
            await znuny().create(make_delivery())


async def test_any_other_znuny_error_inside_a_200_is_permanent_with_its_message() -> None:
    answer = fixture("znuny", "error_missing_parameter.json")
    with respx.mock(assert_all_called=True) as mock:
        mock.post(f"{ZNUNY_BASE}/Ticket").respond(200, json=answer)
        with pytest.raises(PermanentError) as caught:
            await znuny().create(make_delivery())
    assert type(caught.value) is PermanentError
    assert "TicketCreate: Ticket->Title parameter is missing!" in str(caught.value)
    assert caught.value.exchange is not None and caught.value.exchange.response_body == answer


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, AuthenticationError),
        (403, AuthenticationError),
        (404, PermanentError),
        (409, PermanentError),
        (422, PermanentError),
        (503, RetryableError),
    ],
)
async def test_the_default_status_table(
    rest: RestAdapter, status: int, error: type[Exception]
) -> None:
    with respx.mock(assert_all_called=True) as mock:
        mock.patch(f"{BASE}/tickets/77").respond(status, json={})
        with pytest.raises(error) as caught:
            await rest.update(make_delivery("update"))
    assert type(caught.value) is error


async def test_a_redirect_is_not_taken_for_success(rest: RestAdapter) -> None:
    with respx.mock(assert_all_called=True) as mock:
        mock.patch(f"{BASE}/tickets/77").respond(301, headers={"Location": "https://other/"})
        with pytest.raises((PermanentError, RetryableError)):
            await rest.update(make_delivery("update"))


async def test_a_mapping_can_override_a_status_jira_409_is_retried() -> None:
    with respx.mock(assert_all_called=True) as mock:
        mock.put(f"{JIRA_DC_BASE}/rest/api/2/issue/NGI-12").respond(409, json={})
        with pytest.raises(RetryableError, match="HTTP 409"):
            await jira("dc").update(make_delivery("update", remote=JIRA_REMOTE))


async def test_429_is_retried_after_the_time_the_remote_asks(rest: RestAdapter) -> None:
    with respx.mock(assert_all_called=True) as mock:
        mock.patch(f"{BASE}/tickets/77").respond(429, headers={"Retry-After": "120"})
        with pytest.raises(RetryableError) as caught:
            await rest.update(make_delivery("update"))
    assert caught.value.retry_after == 120


@pytest.mark.parametrize("answer", [{"status": "queued"}, {"id": ""}, {"id": None}, "Created"])
async def test_a_create_answered_without_an_id_is_permanent(answer: Any) -> None:
    adapter = make_adapter(build())  # result: {{ response.id | default(none) }}
    with respx.mock(assert_all_called=True) as mock:
        mock.post(f"{BASE}/tickets").respond(201, json=answer)
        with pytest.raises(PermanentError, match="without a remote ticket id") as caught:
            await adapter.create(make_delivery())
    assert caught.value.exchange is not None and caught.value.exchange.status_code == 201


async def test_a_create_answer_the_result_template_cannot_read_is_permanent(
    rest: RestAdapter,
) -> None:
    with respx.mock(assert_all_called=True) as mock:
        mock.post(f"{BASE}/tickets").respond(201, json={"status": "queued"})
        with pytest.raises(PermanentError, match=r"response\.id"):
            await rest.create(make_delivery())


async def test_a_ticket_the_mapping_cannot_render_is_permanent_and_sends_nothing() -> None:
    mapping = build(
        {
            "maps": {"priority": {"outbound": {"urgent": "normal"}, "inbound": {}}},
            "outbound": {
                "create": {
                    "steps": [
                        {
                            "method": "POST",
                            "path": "/tickets",
                            "body": {"priority": "{{ ticket.priority | to_remote('priority') }}"},
                        }
                    ]
                }
            },
        }
    )
    with respx.mock(assert_all_called=False) as mock:
        route = mock.post(f"{BASE}/tickets")
        with pytest.raises(PermanentError, match="'very urgent' has no outbound entry"):
            await make_adapter(mapping).create(make_delivery())
    assert not route.called


# --- a retried create ----------------------------------------------------------------------------


async def test_a_retried_create_finds_the_ticket_the_lost_attempt_made(rest: RestAdapter) -> None:
    with respx.mock(assert_all_called=False) as mock:
        find = mock.get(f"{BASE}/tickets", params={"external_id": "42"}).respond(
            200, json={"items": [{"id": "77", "url": "https://h/77"}]}
        )
        create = mock.post(f"{BASE}/tickets")
        result = await rest.create(make_delivery(attempt=2))
    assert result.remote == RemoteRef("77", "https://h/77")
    assert find.called and not create.called


async def test_a_retried_create_that_finds_nothing_creates_with_the_same_key(
    rest: RestAdapter,
) -> None:
    with respx.mock(assert_all_called=True) as mock:
        mock.get(f"{BASE}/tickets").respond(200, json={"items": []})
        create = mock.post(f"{BASE}/tickets").respond(201, json={"id": 78})
        result = await rest.create(make_delivery(attempt=3, key="gw-9"))
    assert result.remote == RemoteRef("78", None)
    assert create.calls[0].request.headers["idempotency-key"] == "gw-9"


async def test_a_retried_create_without_find_or_idempotency_is_refused_saying_why() -> None:
    adapter = make_adapter(build({"remote_honours_idempotency": False}))
    with respx.mock(assert_all_called=False) as mock:
        create = mock.post(f"{BASE}/tickets")
        with pytest.raises(PermanentError) as caught:
            await adapter.create(make_delivery(attempt=2))
    assert not create.called
    message = str(caught.value)
    assert "no outbound.find" in message and "Idempotency-Key" in message
    assert "#42" in message


async def test_a_retried_create_to_a_remote_honouring_keys_is_resent_with_the_same_key() -> None:
    adapter = make_adapter(build({"remote_honours_idempotency": True}))
    with respx.mock(assert_all_called=True) as mock:
        create = mock.post(f"{BASE}/tickets").respond(201, json={"id": 5})
        result = await adapter.create(make_delivery(attempt=2, key="gw-1"))
    assert result.remote == RemoteRef("5", None)
    assert create.calls[0].request.headers["idempotency-key"] == "gw-1"


async def test_a_first_create_never_looks_up(rest: RestAdapter) -> None:
    with respx.mock(assert_all_called=False) as mock:
        find = mock.get(f"{BASE}/tickets")
        mock.post(f"{BASE}/tickets").respond(201, json={"id": 5})
        await rest.create(make_delivery(attempt=1))
    assert not find.called


# --- check ---------------------------------------------------------------------------------------


async def test_check_reports_the_status_of_its_request(rest: RestAdapter) -> None:
    with respx.mock(assert_all_called=True) as mock:
        mock.get(f"{BASE}/tickets", params={"external_id": "0"}).respond(200, json={"items": []})
        result = await rest.check()
    assert result.ok and "HTTP 200" in result.detail


@pytest.mark.parametrize(
    ("answer", "detail"),
    [
        (httpx.Response(503), "HTTP 503"),
        (httpx.Response(401), "HTTP 401"),
        (httpx.ConnectError("refused"), "ConnectError"),
    ],
)
async def test_check_never_raises_and_says_what_went_wrong(
    rest: RestAdapter, answer: httpx.Response | Exception, detail: str
) -> None:
    with respx.mock(assert_all_called=True) as mock:
        route = mock.get(f"{BASE}/tickets")
        if isinstance(answer, Exception):
            route.side_effect = answer
        else:
            route.return_value = answer
        result = await rest.check()
    assert not result.ok and detail in result.detail


async def test_check_sees_an_error_inside_a_200() -> None:
    with respx.mock(assert_all_called=True) as mock:
        mock.post(f"{ZNUNY_BASE}/TicketSearch").respond(
            200, json={"Error": {"ErrorCode": "TicketSearch.AuthFail", "ErrorMessage": "no"}}
        )
        result = await znuny().check()
    assert not result.ok and "TicketSearch.AuthFail" in result.detail


async def test_check_without_a_check_request_is_ok() -> None:
    result = await make_adapter(build()).check()
    assert result.ok and "no check request" in result.detail
