"""The shipped product mappings against the products' own shapes (tests/fixtures/*/README.md):
what their events turn into, and what each sends for create, entry, solve and find."""

from __future__ import annotations

import json
from typing import Any

import pytest
import respx

from gateway.adapter.models import AddComment, AskSubmitter, RemoteRef, Solve
from tests.adapters.rest.support import (
    JIRA_CLOUD_BASE,
    JIRA_DC_BASE,
    REDMINE_BASE,
    ZNUNY_BASE,
    fixture,
    jira,
    redmine,
    request,
    znuny,
)
from tests.contract.tickets import make_delivery

# The ticket of the fixtures: hub #42, "urgent" (Znuny "4 high", Jira "High", Redmine "High").
TICKET: dict[str, Any] = {
    "subject": "Cannot access storage element",
    "description": "Transfers to the SE at prague_cesnet_lcg2 fail since 08:00.",
    "priority": "urgent",
}
SUFFIX = "\n\n(GGUS #42, submitted by Ann Example)"


def sent(route: respx.Route, index: int = 0) -> Any:
    return json.loads(route.calls[index].request.content)


# --- Znuny ---------------------------------------------------------------------------------------


def znuny_event(name: str) -> dict[str, Any]:
    return fixture("znuny", name)


def test_znuny_an_internal_article_becomes_an_internal_comment() -> None:
    [event] = znuny().translate_inbound(request(znuny_event("event_article_create.json")))
    assert event.event_id == "znuny:4711:article:9823"
    assert event.commands == [
        AddComment(
            remote_id="4711",
            body="Internal: pool p12 on dcache-se3 is offline.",
            author="Jana Novakova",
            visibility="internal",
        )
    ]


def test_znuny_a_customer_visible_article_becomes_a_public_comment() -> None:
    payload = znuny_event("event_article_create.json")
    payload["Ticket"]["Article"]["IsVisibleForCustomer"] = "1"  # ids and flags come as text too
    [event] = znuny().translate_inbound(request(payload))
    assert event.commands[0].visibility == "public"


def test_znuny_an_article_the_gateways_agent_wrote_is_skipped() -> None:
    payload = znuny_event("event_article_create.json")
    payload["Ticket"]["Article"]["CreateBy"] = 7  # values.agent_user_id
    assert znuny().translate_inbound(request(payload)) == []


def test_znuny_a_ticket_set_to_a_closed_state_is_solved() -> None:
    [event] = znuny().translate_inbound(request(znuny_event("event_ticket_state_update.json")))
    assert event.event_id == "znuny:4711:state:2:2026-11-23 12:30:04"
    [solve] = event.commands
    assert isinstance(solve, Solve) and (solve.remote_id, solve.status) == ("4711", "solved")


def test_znuny_closed_unsuccessful_is_unsolved() -> None:
    payload = znuny_event("event_ticket_state_update.json")
    payload["Ticket"].update(State="closed unsuccessful", StateID=3)
    [event] = znuny().translate_inbound(request(payload))
    assert event.commands[0].status == "unsolved"


def test_znuny_the_solution_is_never_the_gateways_own_article() -> None:
    [event] = znuny().translate_inbound(request(znuny_event("event_ticket_state_update.json")))
    assert event.commands[0].solution == "Closed in Znuny as closed successful"


def test_znuny_a_state_change_by_the_gateway_is_skipped() -> None:
    payload = znuny_event("event_ticket_state_update.json")
    payload["Ticket"]["ChangeBy"] = 7
    assert znuny().translate_inbound(request(payload)) == []


def test_znuny_pending_reminder_asks_the_submitter() -> None:
    payload = znuny_event("event_ticket_state_update.json")
    payload["Ticket"].update(State="pending reminder", StateID=6, StateType="pending reminder")
    payload["Ticket"]["Articles"][1].update(IsVisibleForCustomer=1, Body="Which SE?")
    [event] = znuny().translate_inbound(request(payload))
    assert event.commands == [AskSubmitter(remote_id="4711", body="Which SE?")]


async def test_znuny_create_sends_the_documented_ticket_create() -> None:
    documented = fixture("znuny", "ticket_create_request.json")
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(f"{ZNUNY_BASE}/Ticket").respond(
            200, json=fixture("znuny", "ticket_create_response.json")
        )
        result = await znuny().create(make_delivery(**TICKET))
    assert result.remote == RemoteRef("4711")
    body = sent(route)
    assert set(body) == set(documented) - {"UserLogin", "Password"}  # those go in headers
    assert body["Ticket"] == documented["Ticket"]
    article = {k: v for k, v in documented["Article"].items() if k not in ("From", "Body")}
    assert {k: v for k, v in body["Article"].items() if k != "Body"} == article
    assert body["Article"]["Body"].startswith(TICKET["description"] + "\n\n(GGUS #42")
    assert body["DynamicField"] == documented["DynamicField"]


async def test_znuny_solve_closes_with_a_customer_visible_article() -> None:
    documented = fixture("znuny", "ticket_update_request.json")
    solution = documented["Article"]["Body"]
    delivery = make_delivery(
        "solve", remote=RemoteRef("4711"), status="solved", solution=solution, **TICKET
    )
    with respx.mock(assert_all_called=True) as mock:
        route = mock.patch(f"{ZNUNY_BASE}/Ticket/4711").respond(
            200, json=fixture("znuny", "ticket_update_response.json")
        )
        await znuny().solve(delivery)
    body = sent(route)
    assert body["Ticket"] == documented["Ticket"]
    assert {k: v for k, v in body["Article"].items() if k != "Subject"} == {
        k: v for k, v in documented["Article"].items() if k != "Subject"
    }


async def test_znuny_entry_adds_an_article_only() -> None:
    with respx.mock(assert_all_called=True) as mock:
        route = mock.patch(f"{ZNUNY_BASE}/Ticket/4711").respond(200, json={"TicketID": "4711"})
        await znuny().add_entry(make_delivery("entry", remote=RemoteRef("4711"), **TICKET))
    body = sent(route)
    assert set(body) == {"Article"}
    assert body["Article"]["Body"] == "Eve wrote:\n\nPlease send the log"
    assert body["Article"]["IsVisibleForCustomer"] == 1


async def test_znuny_find_searches_by_the_dynamic_field_and_checks_the_ticket() -> None:
    with respx.mock(assert_all_called=True) as mock:
        search = mock.post(f"{ZNUNY_BASE}/TicketSearch").respond(
            200, json=fixture("znuny", "ticket_search_response.json")
        )
        get = mock.get(f"{ZNUNY_BASE}/Ticket/4711", params={"DynamicFields": "1"}).respond(
            200, json=fixture("znuny", "ticket_get_response.json")
        )
        assert await znuny().find(42) == RemoteRef("4711")
        assert await znuny().find(43) is None  # Znuny ignored the filter: not our ticket
    assert sent(search) == {"DynamicField": {"Name": "HubID", "Equals": "42"}}
    assert get.call_count == 2


async def test_znuny_find_with_nothing_found_asks_once() -> None:
    with respx.mock(assert_all_called=False) as mock:
        search = mock.post(f"{ZNUNY_BASE}/TicketSearch").respond(
            200, json=fixture("znuny", "ticket_search_empty.json")
        )
        get = mock.get(url__startswith=ZNUNY_BASE)
        assert await znuny().find(42) is None
    assert search.call_count == 1 and not get.called


# --- Jira ----------------------------------------------------------------------------------------


def jira_event(name: str) -> dict[str, Any]:
    return fixture("jira", name)


def test_jira_a_public_comment_becomes_a_public_comment() -> None:
    [event] = jira("cloud").translate_inbound(request(jira_event("webhook_comment_created.json")))
    assert event.event_id == "jira:10042:comment:10100"
    assert event.commands == [
        AddComment(remote_id="NGI-12", body="We are looking into it.", author="Jana Novakova")
    ]


def test_jira_an_internal_service_management_comment_stays_internal() -> None:
    payload = jira_event("webhook_comment_created_internal.json")
    [event] = jira("cloud").translate_inbound(request(payload))
    assert event.commands[0].visibility == "internal"


def test_jira_a_comment_restricted_by_visibility_stays_internal() -> None:
    payload = jira_event("webhook_comment_created.json")
    payload["comment"]["visibility"] = {"type": "role", "value": "Developers"}
    [event] = jira("dc").translate_inbound(request(payload))
    assert event.commands[0].visibility == "internal"


def test_jira_a_comment_by_the_gateways_account_is_skipped() -> None:
    payload = jira_event("webhook_comment_created.json")
    payload["comment"]["author"]["accountId"] = "712020:5f0c2a1e-8d3b-4c7e-9a21-3b6f0d4e7a10"
    assert jira("cloud").translate_inbound(request(payload)) == []


def test_jira_dc_users_are_known_by_name() -> None:
    payload = jira_event("webhook_comment_created.json")
    payload["comment"]["author"] = {"name": "hub-gateway", "displayName": "Ticket Gateway"}
    assert jira("dc", account="hub-gateway").translate_inbound(request(payload)) == []
    assert len(jira("dc", account="someone-else").translate_inbound(request(payload))) == 1


def test_jira_an_issue_moved_to_a_done_status_is_solved() -> None:
    payload = jira_event("webhook_issue_updated_status.json")
    [event] = jira("cloud").translate_inbound(request(payload))
    assert event.event_id == "jira:10042:changelog:10231"
    assert event.commands == [
        Solve(remote_id="NGI-12", status="solved", solution="Resolved in Jira as Done")
    ]


def test_jira_done_as_wont_do_is_unsolved() -> None:
    payload = jira_event("webhook_issue_updated_status.json")
    payload["issue"]["fields"]["resolution"]["name"] = "Won't Do"
    [event] = jira("dc").translate_inbound(request(payload))
    assert event.commands[0].status == "unsolved"


def test_jira_an_update_without_a_status_change_makes_no_event() -> None:
    payload = jira_event("webhook_issue_updated_status.json")
    payload["changelog"]["items"] = [payload["changelog"]["items"][0]]  # resolution only
    assert jira("cloud").translate_inbound(request(payload)) == []


def test_jira_a_transition_by_the_gateways_account_is_skipped() -> None:
    payload = jira_event("webhook_issue_updated_status.json")
    payload["user"]["accountId"] = "712020:5f0c2a1e-8d3b-4c7e-9a21-3b6f0d4e7a10"
    assert jira("cloud").translate_inbound(request(payload)) == []


async def test_jira_dc_create_sends_v2_fields_with_the_hub_id_field() -> None:
    documented = fixture("jira", "create_issue_request_v2.json")["fields"]
    with respx.mock(assert_all_called=True) as mock:
        create = mock.post(f"{JIRA_DC_BASE}/rest/api/2/issue").respond(
            201, json=fixture("jira", "create_issue_response.json")
        )
        mock.post(f"{JIRA_DC_BASE}/rest/api/2/issue/NGI-12/remotelink").respond(201, json={})
        await jira("dc").create(make_delivery(**TICKET))
    fields = sent(create)["fields"]
    assert set(fields) == set(documented) - {"labels"}
    for key in ("project", "summary", "issuetype", "priority"):
        assert fields[key] == documented[key]
    assert fields["description"] == documented["description"] + SUFFIX
    assert fields["customfield_10050"] == 42  # a Number field, so JQL `cf[10050] = 42` works


async def test_jira_cloud_create_sends_the_description_as_adf() -> None:
    documented = fixture("jira", "create_issue_request_v3.json")["fields"]
    with respx.mock(assert_all_called=True) as mock:
        create = mock.post(f"{JIRA_CLOUD_BASE}/rest/api/3/issue").respond(
            201, json=fixture("jira", "create_issue_response.json")
        )
        link = mock.post(f"{JIRA_CLOUD_BASE}/rest/api/3/issue/NGI-12/remotelink").respond(201)
        result = await jira("cloud").create(make_delivery(**TICKET))
    fields = sent(create)["fields"]
    description = fields["description"]
    assert {k: v for k, v in description.items() if k != "content"} == {"type": "doc", "version": 1}
    assert description["content"][0] == documented["description"]["content"][0]
    assert description["content"][1]["content"][0]["text"] == SUFFIX.strip()
    assert fields["project"] == {"key": "NGI"} and fields["customfield_10050"] == 42
    assert sent(link)["object"]["url"] == "https://hub.example.org/api/v1/tickets/42"
    assert result.remote == RemoteRef("NGI-12", "https://ngi-example.atlassian.net/browse/NGI-12")


async def test_jira_cloud_comments_are_adf() -> None:
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(f"{JIRA_CLOUD_BASE}/rest/api/3/issue/NGI-12/comment").respond(201)
        await jira("cloud").add_entry(make_delivery("entry", remote=RemoteRef("NGI-12")))
    assert sent(route)["body"]["content"] == [
        {"type": "paragraph", "content": [{"type": "text", "text": "Eve wrote:"}]},
        {"type": "paragraph", "content": [{"type": "text", "text": "Please send the log"}]},
    ]


async def test_jira_cloud_find_uses_the_enhanced_search_on_the_hub_id_field() -> None:
    with respx.mock(assert_all_called=True) as mock:
        route = mock.get(f"{JIRA_CLOUD_BASE}/rest/api/3/search/jql").respond(
            200, json=fixture("jira", "search_jql_response_cloud.json")
        )
        assert await jira("cloud").find(42) == RemoteRef("NGI-12")
    params = route.calls[0].request.url.params
    assert params["jql"] == "project = NGI AND cf[10050] = 42" and params["fields"] == "key"


async def test_jira_dc_find_looks_for_the_remote_link() -> None:
    with respx.mock(assert_all_called=True) as mock:
        route = mock.get(f"{JIRA_DC_BASE}/rest/api/2/search").respond(
            200, json=fixture("jira", "search_response.json")
        )
        assert await jira("dc").find(42) == RemoteRef("NGI-12")
    assert route.calls[0].request.url.params["jql"] == (
        'issue in issuesWithRemoteLinksByGlobalId("ticket-gateway:https://hub.example.org:42")'
    )


# --- Redmine -------------------------------------------------------------------------------------


async def test_redmine_create_sends_the_recorded_issue_shape() -> None:
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(f"{REDMINE_BASE}/issues.json").respond(
            201, json=fixture("redmine", "create_issue_201.json")
        )
        result = await redmine().create(make_delivery(**TICKET))
    assert sent(route) == {
        "issue": {
            "project_id": "ngi-cz",  # no tracker_id: not configured, so left out (null)
            "subject": TICKET["subject"],
            "description": TICKET["description"] + SUFFIX,
            "priority_id": 3,
            "custom_fields": [{"id": 1, "value": "42"}],
        }
    }
    assert result.remote == RemoteRef("1", "https://redmine.example.org/issues/1")


async def test_redmine_solve_sets_the_status_id_with_a_note() -> None:
    delivery = make_delivery("solve", remote=RemoteRef("1"), status="solved", solution="Fixed")
    with respx.mock(assert_all_called=True) as mock:
        route = mock.put(f"{REDMINE_BASE}/issues/1.json").respond(204)
        await redmine().solve(delivery)
    assert sent(route) == {"issue": {"status_id": 3, "notes": "Solved at the hub:\n\nFixed"}}


async def test_redmine_entry_is_a_note() -> None:
    with respx.mock(assert_all_called=True) as mock:
        route = mock.put(f"{REDMINE_BASE}/issues/1.json").respond(204)
        await redmine().add_entry(make_delivery("entry", remote=RemoteRef("1")))
    assert sent(route) == {"issue": {"notes": "Eve wrote:\n\nPlease send the log"}}


async def test_redmine_find_filters_by_the_custom_field_and_checks_the_value() -> None:
    everything = fixture("redmine", "issues_updated_since.json")  # what an ignored filter gives
    with respx.mock(assert_all_called=True) as mock:
        route = mock.get(f"{REDMINE_BASE}/issues.json").respond(
            200, json=fixture("redmine", "issues_by_hub_id.json")
        )
        assert await redmine().find(42) == RemoteRef("1")
        route.respond(200, json=everything)
        assert await redmine().find(44) is None
    assert dict(route.calls[0].request.url.params) == {"cf_1": "42", "status_id": "*"}


@pytest.mark.parametrize(
    ("status", "values", "chosen"),
    [
        ("solved", {}, "31"),  # the first transition to a done status
        ("solved", {"solve_transition": "Close as fixed"}, "41"),
        (
            "unsolved",
            {"solve_transition": "Close as fixed", "unsolved_transition": "Won't fix"},
            "51",
        ),
    ],
)
async def test_jira_solve_transitions_by_name_or_to_done(
    status: str, values: dict[str, Any], chosen: str
) -> None:
    transitions = fixture("jira", "transitions.json")
    done = transitions["transitions"][-1]
    for transition_id, name in (("41", "Close as fixed"), ("51", "Won't fix")):
        transitions["transitions"].append({**done, "id": transition_id, "name": name})
    delivery = make_delivery(
        "solve", remote=RemoteRef("NGI-12"), status=status, solution="Replaced the disk"
    )
    with respx.mock(assert_all_called=True) as mock:
        mock.get(f"{JIRA_DC_BASE}/rest/api/2/issue/NGI-12/transitions").respond(
            200, json=transitions
        )
        post = mock.post(f"{JIRA_DC_BASE}/rest/api/2/issue/NGI-12/transitions").respond(204)
        await jira("dc", **values).solve(delivery)
    assert sent(post)["transition"] == {"id": chosen}
