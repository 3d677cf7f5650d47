"""Files out (base64 in JSON, multipart/form-data, a raw upload then a reference) and in."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import respx

from adapters.rest import RestAdapter
from adapters.rest.checks import mapping_problems
from adapters.rest.mapping import merge, parse_mapping
from gateway.adapter.errors import AdapterConfigError, PermanentError
from gateway.adapter.models import AttachFile, RemoteRef
from tests.adapters.rest.conftest import BASE, make_adapter
from tests.adapters.rest.support import (
    JIRA_CLOUD_BASE,
    JIRA_DC_BASE,
    MINIMAL,
    REDMINE_BASE,
    ZNUNY_BASE,
    build,
    form_parts,
    jira,
    redmine,
    request,
    znuny,
)
from tests.contract.tickets import make_delivery, make_file

FILE = make_file()
ENCODED = base64.b64encode(FILE.data).decode()


def attach(remote: str = "77") -> Any:
    return make_delivery("attach", remote=RemoteRef(remote), attachment=FILE)


async def push(adapter: RestAdapter, remote: str = "77") -> Any:
    try:
        return await adapter.push(attach(remote))
    finally:
        await adapter.aclose()


# --- declaring -------------------------------------------------------------------------------


def test_a_mapping_with_an_attach_action_carries_attachments() -> None:
    assert make_adapter().carries_attachments  # rest-default
    assert not make_adapter(build()).carries_attachments


async def test_a_connection_without_attach_refuses_an_attach_delivery() -> None:
    with pytest.raises(PermanentError, match="does not carry attachments"):
        await push(make_adapter(build()))


# --- out: base64 in JSON -----------------------------------------------------------------------


async def test_the_default_mapping_sends_the_file_as_base64_json_and_keeps_no_bytes() -> None:
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(f"{BASE}/tickets/77/attachments").respond(201, json={"id": 1})
        result = await push(make_adapter())
    assert json.loads(route.calls[0].request.content) == {
        "filename": "srm.log",
        "content_type": "text/plain",
        "content": ENCODED,
    }
    assert result.remote == RemoteRef("77")
    recorded = result.exchange.as_dict()["request_body"]
    assert recorded["content"] == f"<base64 of srm.log, {FILE.size} bytes>"


async def test_znuny_adds_an_article_carrying_the_file_in_base64() -> None:
    with respx.mock(assert_all_called=True) as mock:
        route = mock.patch(f"{ZNUNY_BASE}/Ticket/4711").respond(
            200, json={"TicketID": "4711", "ArticleID": "99"}
        )
        await push(znuny(), "4711")
    body = json.loads(route.calls[0].request.content)
    assert body["Attachment"] == [
        {"Content": ENCODED, "ContentType": "text/plain", "Filename": "srm.log"}
    ]
    assert body["Article"]["Subject"] == "Attachment: srm.log"


# --- out: multipart/form-data ------------------------------------------------------------------


def multipart_mapping(**multipart: Any) -> Any:
    return build(
        {
            "outbound": {
                "attach": {
                    "steps": [
                        {
                            "method": "POST",
                            "path": "/tickets/{{ remote.remote_id }}/files",
                            "multipart": multipart,
                        }
                    ]
                }
            }
        }
    )


async def test_a_multipart_step_sends_the_bytes_the_filename_and_templated_fields() -> None:
    mapping = multipart_mapping(
        file_field="upload",
        fields={
            "comment": "GGUS #{{ hub_id }}: {{ attachment.filename }}",
            "size": "{{ attachment.size }}",
            "left_out": "{{ none }}",
        },
    )
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(f"{BASE}/tickets/77/files").respond(201, json={})
        result = await push(make_adapter(mapping))
    parts = form_parts(route.calls[0].request)
    assert parts == {
        "comment": "GGUS #42: srm.log",
        "size": str(FILE.size),
        "upload": {"filename": "srm.log", "content_type": "text/plain", "content": FILE.data},
    }
    assert result.exchange.as_dict()["request_body"] == {
        "multipart": {
            "comment": "GGUS #42: srm.log",
            "size": str(FILE.size),
            "upload": f"<srm.log, {FILE.size} bytes>",
        }
    }


@pytest.mark.parametrize(
    ("flavour", "base", "api"), [("dc", JIRA_DC_BASE, 2), ("cloud", JIRA_CLOUD_BASE, 3)]
)
async def test_jira_posts_the_file_as_multipart_with_the_xsrf_header(
    flavour: str, base: str, api: int
) -> None:
    with respx.mock(assert_all_called=True) as mock:
        route = mock.post(f"{base}/rest/api/{api}/issue/NGI-12/attachments").respond(
            200, json=[{"id": "10001", "filename": "srm.log", "size": FILE.size}]
        )
        await push(jira(flavour), "NGI-12")
    sent = route.calls[0].request
    assert sent.headers["x-atlassian-token"] == "no-check"
    assert form_parts(sent)["file"] == {
        "filename": "srm.log",
        "content_type": "text/plain",
        "content": FILE.data,
    }
    assert FILE.data in sent.content and b'filename="srm.log"' in sent.content


# --- out: a raw upload, then a reference (Redmine) ---------------------------------------------


async def test_redmine_uploads_the_bytes_then_attaches_the_token_to_the_issue() -> None:
    """As Redmine's REST API documents it: POST /uploads.json?filename=... with the bytes as
    application/octet-stream answers 201 {"upload": {"id", "token"}}; PUT /issues/:id.json with
    `uploads: [{token, filename, content_type}]` attaches it (204)."""
    token = "7.ed32257a2ab0f7526c0d72c32994c58b131bb2c0775f7aa84aae01ea8397ea54"
    with respx.mock(assert_all_called=True) as mock:
        upload = mock.post(f"{REDMINE_BASE}/uploads.json").respond(
            201, json={"upload": {"id": 7, "token": token}}
        )
        issue = mock.put(f"{REDMINE_BASE}/issues/77.json").respond(204)
        result = await push(redmine())
    raw = upload.calls[0].request
    assert raw.url.params["filename"] == "srm.log"
    assert raw.headers["content-type"] == "application/octet-stream"
    assert raw.headers["x-redmine-api-key"]
    assert raw.content == FILE.data
    assert json.loads(issue.calls[0].request.content) == {
        "issue": {
            "notes": "File attached at the hub: srm.log",
            "uploads": [{"token": token, "filename": "srm.log", "content_type": "text/plain"}],
        }
    }
    assert result.exchange is not None and result.exchange.url.endswith("/issues/77.json")


async def test_a_refused_upload_stops_before_the_issue_update() -> None:
    with respx.mock(assert_all_called=False) as mock:
        mock.post(f"{REDMINE_BASE}/uploads.json").respond(422, json={"errors": ["too big"]})
        issue = mock.put(f"{REDMINE_BASE}/issues/77.json").respond(204)
        with pytest.raises(PermanentError) as raised:
            await push(redmine())
    assert not issue.called
    assert raised.value.exchange is not None
    assert raised.value.exchange.request_body == f"<srm.log, {FILE.size} bytes>"


# --- the mapping's rules for file steps -------------------------------------------------------


def test_file_steps_belong_to_attach_and_have_one_body() -> None:
    raw = merge(
        MINIMAL,
        {
            "outbound": {
                "entry": {"steps": [{"method": "POST", "path": "/x", "body_raw": "attachment"}]}
            }
        },
    )
    assert mapping_problems(parse_mapping(raw)) == [
        {
            "key": "outbound.entry.steps[0].body_raw",
            "message": "only the steps of outbound.attach send files",
        }
    ]
    both = {"method": "POST", "path": "/x", "body": {}, "multipart": {}}
    with pytest.raises(AdapterConfigError) as raised:
        parse_mapping(merge(MINIMAL, {"outbound": {"attach": {"steps": [both]}}}))
    assert "one body" in str(raised.value.problems)


def test_only_attach_templates_may_read_the_attachment() -> None:
    body = {"name": "{{ attachment.filename }}"}
    raw = merge(
        MINIMAL,
        {"outbound": {"entry": {"steps": [{"method": "POST", "path": "/x", "body": body}]}}},
    )
    assert mapping_problems(parse_mapping(raw)) == [
        {
            "key": "outbound.entry.steps[0].body",
            "message": "template reads attachment, not available here",
        }
    ]


# --- in ---------------------------------------------------------------------------------------


def test_a_file_added_at_the_reference_helpdesk_becomes_an_attach_command() -> None:
    adapter = make_adapter()
    payload = {
        "type": "ticket.attached",
        "ticket": {"id": "77", "external_id": 42, "title": "t", "body": "b"},
        "attachment": {
            "filename": "dump.txt",
            "content_type": "text/plain",
            "content": ENCODED,
            "author": "Jan",
        },
    }
    [event] = adapter.translate_inbound(request(payload, **{"webhook-id": "msg_9"}))
    assert event.event_id == "msg_9"
    assert event.commands == [
        AttachFile(
            remote_id="77",
            hub_id=42,
            filename="dump.txt",
            content_type="text/plain",
            data=ENCODED,
            author="Jan",
        )
    ]
    assert event.commands[0].content() == FILE.data  # type: ignore[union-attr]


def test_the_files_of_a_znuny_article_come_in_one_event_each() -> None:
    adapter = znuny()
    mime = "\n".join(ENCODED[i : i + 16] for i in range(0, len(ENCODED), 16))  # Perl's lines
    article = {
        "ArticleID": "99",
        "CreateBy": "3",
        "IsVisibleForCustomer": "0",
        "From": "agent@znuny.example.org",
        "Body": "see files",
        "Attachment": [
            {"Filename": "a.log", "ContentType": "text/plain", "Content": mime, "FileID": 1},
            {"Filename": "b.log", "ContentType": "text/plain", "Content": ENCODED, "FileID": 2},
        ],
    }
    payload = {
        "Event": {"Event": "ArticleCreate", "TicketID": "4711", "ArticleID": "99"},
        "Ticket": {"TicketID": "4711", "Article": article},
    }
    events = adapter.translate_inbound(request(payload))
    files = [(e.event_id, c) for e in events for c in e.commands if isinstance(c, AttachFile)]
    assert [event_id for event_id, _ in files] == [
        "znuny:4711:article:99:file:1",
        "znuny:4711:article:99:file:2",
    ]
    assert {c.filename: (c.content(), c.visibility.value) for _, c in files} == {
        "a.log": (FILE.data, "internal"),
        "b.log": (FILE.data, "internal"),
    }


def test_an_attach_command_with_content_that_is_not_base64_is_unreadable() -> None:
    with pytest.raises(ValueError, match="base64"):
        AttachFile(remote_id="1", filename="x", data="not base64!")
