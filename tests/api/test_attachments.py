"""Attachments: upload, list, download; stored once by content; limits; who sees which file."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.attachment.service import (
    AttachmentLimits,
    normalize_content_type,
    sanitize_filename,
    store_attachment,
)
from gateway.attachment.tables import AttachmentRow, BlobRow
from gateway.auth.models import Role
from gateway.errors import AttachmentTooLarge
from gateway.settings import Settings
from gateway.ticket.enums import Visibility
from gateway.ticket.tables import TicketChangeRow
from tests.conftest import new_ticket

MAX_FILE = 100_000
MAX_TICKET = 250_000


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        max_body_bytes=64 * 1024,
        attachment_max_bytes=MAX_FILE,
        attachment_ticket_max_bytes=MAX_TICKET,
    )


@pytest.fixture
async def ann(keys) -> dict[str, str]:
    return await keys.headers(Role.SUBMITTER, email="ann@example.org")


async def _ticket(client, headers, **overrides: Any) -> int:
    created = await client.post("/api/v1/tickets", json=new_ticket(**overrides), headers=headers)
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


async def _upload(client, headers, ticket_id: int, *files: tuple[str, bytes, str], **form: Any):  # type: ignore[no-untyped-def]
    return await client.post(
        f"/api/v1/tickets/{ticket_id}/attachments",
        files=[("file", f) for f in files],
        data=form,
        headers=headers,
    )


async def _count(app, table) -> int:  # type: ignore[no-untyped-def]
    async with app.state.sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(table)) or 0)


async def test_upload_list_download_roundtrip(client, admin) -> None:
    ticket = await _ticket(client, admin)
    data = bytes(range(256)) * 40
    uploaded = await _upload(
        client, admin, ticket, ("srm.log", data, "text/plain"), ("trace.bin", b"\x00\x01", "")
    )
    assert uploaded.status_code == 201, uploaded.text
    first, second = uploaded.json()
    assert first["filename"] == "srm.log"
    assert first["content_type"] == "text/plain"
    assert first["size"] == len(data)
    assert first["sha256"] == hashlib.sha256(data).hexdigest()
    assert first["visibility"] == "public"
    assert first["author"] == "admin:root" and first["source"] == "api"
    assert second["content_type"] == "application/octet-stream"

    listed = await client.get(f"/api/v1/tickets/{ticket}/attachments", headers=admin)
    assert listed.status_code == 200
    assert [a["id"] for a in listed.json()] == [first["id"], second["id"]]
    url = listed.json()[0]["download_url"]
    assert url == f"/api/v1/tickets/{ticket}/attachments/{first['id']}"

    downloaded = await client.get(url, headers=admin)
    assert downloaded.status_code == 200
    assert downloaded.content == data
    assert downloaded.headers["content-type"].startswith("text/plain")
    history = (await client.get(f"/api/v1/tickets/{ticket}/history", headers=admin)).json()
    assert history[-1]["action"] == "attachment_added"
    assert history[-1]["changes"]["attachment"]["filename"] == "trace.bin"


async def test_same_content_is_stored_once(client, admin, app) -> None:
    one, two = await _ticket(client, admin), await _ticket(client, admin)
    for ticket in (one, two, one):
        uploaded = await _upload(client, admin, ticket, ("same.txt", b"same bytes", "text/plain"))
        assert uploaded.status_code == 201
    assert await _count(app, BlobRow) == 1
    assert await _count(app, AttachmentRow) == 3
    second = await client.get(f"/api/v1/tickets/{two}/attachments", headers=admin)
    assert (await client.get(second.json()[0]["download_url"], headers=admin)).content == (
        b"same bytes"
    )


async def test_a_file_over_the_limit_is_413_and_nothing_is_stored(client, admin, app) -> None:
    ticket = await _ticket(client, admin)
    small = ("ok.txt", b"fine", "text/plain")
    over = await _upload(client, admin, ticket, small, ("big.bin", b"x" * (MAX_FILE + 1), ""))
    assert over.status_code == 413
    error = over.json()["error"]
    assert error["code"] == "attachment_too_large"
    assert str(MAX_FILE) in error["message"] and "big.bin" in error["message"]
    assert error["details"][0]["limit"] == MAX_FILE
    # far over: refused while the body is read, by the upload route's body limit
    huge = await _upload(client, admin, ticket, ("huge.bin", b"x" * (4 * MAX_FILE), ""))
    assert huge.status_code == 413
    assert huge.json()["error"]["code"] == "payload_too_large"
    assert await _count(app, AttachmentRow) == 0
    assert await _count(app, BlobRow) == 0
    # other routes keep the ordinary body limit
    entry = await client.post(
        f"/api/v1/tickets/{ticket}/entries", json={"body": "x" * 70_000}, headers=admin
    )
    assert entry.status_code == 413


async def test_the_ticket_total_is_limited(client, admin, app) -> None:
    ticket = await _ticket(client, admin)
    for n in range(3):  # 3 x 80 kB = 240 kB, under 250 kB
        uploaded = await _upload(client, admin, ticket, (f"{n}.bin", bytes([n]) * 80_000, ""))
        assert uploaded.status_code == 201
    over = await _upload(client, admin, ticket, ("3.bin", b"\x03" * 20_000, ""))
    assert over.status_code == 413
    assert over.json()["error"]["code"] == "ticket_attachments_too_large"
    assert str(MAX_TICKET) in over.json()["error"]["message"]
    assert await _count(app, AttachmentRow) == 3
    other = await _ticket(client, admin)
    assert (await _upload(client, admin, other, ("3.bin", b"\x03" * 20_000, ""))).status_code == 201


async def test_internal_files_are_for_support_staff_only(client, admin, ann) -> None:
    ticket = await _ticket(client, ann)
    public = await _upload(client, ann, ticket, ("mine.txt", b"mine", "text/plain"))
    assert public.status_code == 201
    refused = await _upload(client, ann, ticket, ("x.txt", b"x", ""), visibility="internal")
    assert refused.status_code == 403
    internal = await _upload(
        client, admin, ticket, ("notes.txt", b"secret", "text/plain"), visibility="internal"
    )
    assert internal.status_code == 201
    internal_id = internal.json()[0]["id"]
    entry = await client.post(
        f"/api/v1/tickets/{ticket}/entries",
        json={"body": "for staff", "visibility": "internal"},
        headers=admin,
    )
    on_entry = await _upload(
        client, admin, ticket, ("dump.txt", b"dump", ""), entry_id=str(entry.json()["id"])
    )
    assert on_entry.json()[0]["visibility"] == "internal"  # the entry's visibility wins
    assert on_entry.json()[0]["entry_id"] == entry.json()["id"]

    seen = await client.get(f"/api/v1/tickets/{ticket}/attachments", headers=ann)
    assert [a["filename"] for a in seen.json()] == ["mine.txt"]
    staff = await client.get(f"/api/v1/tickets/{ticket}/attachments", headers=admin)
    assert [a["filename"] for a in staff.json()] == ["mine.txt", "notes.txt", "dump.txt"]
    hidden = await client.get(f"/api/v1/tickets/{ticket}/attachments/{internal_id}", headers=ann)
    assert hidden.status_code == 404
    assert hidden.json()["error"]["code"] == "not_found"
    # a submitter cannot attach to an internal entry (it does not exist for them)
    on_internal = await _upload(
        client, ann, ticket, ("y.txt", b"y", ""), entry_id=str(entry.json()["id"])
    )
    assert on_internal.status_code == 422
    history = (await client.get(f"/api/v1/tickets/{ticket}/history", headers=ann)).json()
    assert "notes.txt" not in str(history) and "dump.txt" not in str(history)


async def test_other_units_and_submitters_get_404(client, admin, keys) -> None:
    dmsu = await keys.headers(Role.UNIT, unit="DMSU")
    ngi = await keys.headers(Role.UNIT, unit="NGI_DE")
    bob = await keys.headers(Role.SUBMITTER, email="bob@example.org")
    ticket = await _ticket(client, admin, support_unit="DMSU")
    uploaded = await _upload(client, dmsu, ticket, ("dmsu.txt", b"ours", "text/plain"))
    assert uploaded.status_code == 201
    url = uploaded.json()[0]["download_url"]
    for headers in (ngi, bob):
        assert (
            await client.get(f"/api/v1/tickets/{ticket}/attachments", headers=headers)
        ).status_code == 404
        assert (await client.get(url, headers=headers)).status_code == 404
        refused = await _upload(client, headers, ticket, ("x.txt", b"x", ""))
        assert refused.status_code == 404
    assert (await client.get(url, headers=dmsu)).content == b"ours"
    assert (await client.get(url.replace(f"/{ticket}/", "/999/"), headers=admin)).status_code == 404
    other = await _ticket(client, admin)
    moved = url.replace(f"/tickets/{ticket}/", f"/tickets/{other}/")
    assert (await client.get(moved, headers=admin)).status_code == 404  # not that ticket's file
    assert (await client.get(url)).status_code == 401


async def test_download_headers_make_it_a_download(client, admin) -> None:
    ticket = await _ticket(client, admin)
    files = [
        ("Prüfbericht «März» 日本.txt", b"hello", "text/plain"),
        ("page.html", b"<script>alert(1)</script>", "text/html; charset=utf-8"),
        ("logo.svg", b"<svg onload='alert(1)'/>", "image/svg+xml"),
        ("x.xhtml", b"<html/>", "application/xhtml+xml"),
        ("a.js", b"alert(1)", "application/javascript"),
        ("photo.png", b"\x89PNG", "image/png"),
    ]
    uploaded = (await _upload(client, admin, ticket, *files)).json()
    served = []
    for attachment in uploaded:
        response = await client.get(attachment["download_url"], headers=admin)
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["content-security-policy"] == "sandbox"
        assert response.headers["content-disposition"].startswith("attachment;")
        served.append(response.headers["content-type"].split(";")[0])
    assert served == [
        "text/plain",
        "application/octet-stream",
        "application/octet-stream",
        "application/octet-stream",
        "application/octet-stream",
        "image/png",
    ]
    assert uploaded[1]["content_type"] == "text/html"  # kept as given, only served safely
    first = await client.get(uploaded[0]["download_url"], headers=admin)
    disposition = first.headers["content-disposition"]
    assert "filename*=UTF-8''Pr%C3%BCfbericht%20%C2%ABM%C3%A4rz%C2%BB%20%E6%97%A5%E6%9C%AC.txt" in (
        disposition
    )
    assert disposition.isascii()


async def test_filenames_are_sanitised(client, admin, app) -> None:
    ticket = await _ticket(client, admin)
    uploaded = await _upload(
        client,
        admin,
        ticket,
        ("../../etc/passwd", b"a", "text/plain"),
        ("C:\\Users\\ann\\report.pdf", b"b", "application/pdf"),
        ("..", b"c", "not a type"),
    )
    assert uploaded.status_code == 201, uploaded.text
    names = [a["filename"] for a in uploaded.json()]
    assert names == ["passwd", "report.pdf", "attachment"]
    assert uploaded.json()[2]["content_type"] == "application/octet-stream"
    # a bare CR and LF inside the quoted name of a hand-made part (clients encode them)
    boundary = "b0undary"
    body = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="a\rb\nc/../de.txt"\r\n'
        "Content-Type: text/plain\r\n\r\nraw\r\n"
        f"--{boundary}--\r\n"
    ).encode()
    raw = await client.post(
        f"/api/v1/tickets/{ticket}/attachments",
        content=body,
        headers={**admin, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert raw.status_code == 400  # the multipart parser refuses them: nothing is stored
    assert raw.json()["error"]["message"]
    assert (
        len((await client.get(f"/api/v1/tickets/{ticket}/attachments", headers=admin)).json()) == 3
    )
    # the mail path hands over any name it decoded: CR, LF, NUL and directories go
    async with app.state.sessionmaker() as session:
        row = await store_attachment(
            session,
            ticket_id=ticket,
            filename="/tmp/../x\r\nSet-Cookie: a=b\x00.txt",
            content_type="text/plain\r\nX: y",
            data=b"d",
            visibility=Visibility.PUBLIC,
            author="mail",
            source="mailbox",
        )
        await session.commit()
        assert row.filename == "xSet-Cookie: a=b.txt"
        assert row.content_type == "application/octet-stream"
    listed = await client.get(f"/api/v1/tickets/{ticket}/attachments", headers=admin)
    response = await client.get(listed.json()[-1]["download_url"], headers=admin)
    assert "set-cookie" not in response.headers
    assert response.headers["content-disposition"].isascii()


def test_sanitising_rules() -> None:
    assert sanitize_filename(None) == "attachment"
    assert sanitize_filename("   ") == "attachment"
    assert sanitize_filename("a\x00b\u202ec.txt") == "abc.txt"
    long = sanitize_filename("x" * 300 + ".tar.gz")
    assert len(long) == 255 and long.endswith(".gz")
    assert normalize_content_type("Text/Plain; charset=UTF-8") == "text/plain"
    assert normalize_content_type("text") == "application/octet-stream"
    assert normalize_content_type("a/b/c") == "application/octet-stream"
    assert normalize_content_type(None) == "application/octet-stream"


async def test_upload_needs_a_file_and_valid_fields(client, admin) -> None:
    ticket = await _ticket(client, admin)
    url = f"/api/v1/tickets/{ticket}/attachments"
    assert (await client.post(url, data={"visibility": "public"}, headers=admin)).status_code == 422
    assert (await client.post(url, json={"file": "x"}, headers=admin)).status_code == 422
    bad = await _upload(client, admin, ticket, ("a.txt", b"a", ""), visibility="secret")
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid"
    unknown = await _upload(client, admin, ticket, ("a.txt", b"a", ""), entry_id="12345")
    assert unknown.status_code == 422
    assert unknown.json()["error"]["details"][0]["field"] == "entry_id"


async def test_store_in_a_rolled_back_transaction_leaves_nothing(client, admin, app) -> None:
    ticket = await _ticket(client, admin)
    changes_before = await _count(app, TicketChangeRow)
    limits = AttachmentLimits(max_bytes=MAX_FILE, ticket_max_bytes=MAX_TICKET)
    async with app.state.sessionmaker() as session:
        row = await store_attachment(
            session,
            ticket_id=ticket,
            filename="in-transaction.txt",
            content_type="text/plain",
            data=b"rolled back",
            visibility=Visibility.PUBLIC,
            author="mail",
            source="mailbox",
            limits=limits,
        )
        assert row.id is not None and row.sha256 == hashlib.sha256(b"rolled back").hexdigest()
        assert session.in_transaction()
        with pytest.raises(AttachmentTooLarge) as refused:
            await store_attachment(
                session,
                ticket_id=ticket,
                filename="big",
                content_type=None,
                data=b"x" * (MAX_FILE + 1),
                visibility=Visibility.PUBLIC,
                author="mail",
                source="mailbox",
                limits=limits,
            )
        assert refused.value.limit == MAX_FILE and refused.value.status_code == 413
        await session.rollback()
    assert await _count(app, AttachmentRow) == 0
    assert await _count(app, BlobRow) == 0
    assert await _count(app, TicketChangeRow) == changes_before


async def test_concurrent_stores_of_the_same_content_keep_one_blob(client, admin, app) -> None:
    one, two = await _ticket(client, admin), await _ticket(client, admin)
    data = b"the same log, mailed twice at once"

    async def store(ticket: int, first_done: asyncio.Event | None) -> None:
        async with app.state.sessionmaker() as session:
            await store_attachment(
                session,
                ticket_id=ticket,
                filename="log.txt",
                content_type="text/plain",
                data=data,
                visibility=Visibility.PUBLIC,
                author="mail",
                source="mailbox",
            )
            if first_done is not None:
                first_done.set()
                await asyncio.sleep(0.3)  # the other transaction meets our uncommitted blob
            await session.commit()

    stored = asyncio.Event()
    first = asyncio.create_task(store(one, stored))
    await stored.wait()
    await asyncio.wait_for(asyncio.gather(first, store(two, None)), timeout=30)
    assert await _count(app, BlobRow) == 1
    assert await _count(app, AttachmentRow) == 2
