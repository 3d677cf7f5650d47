"""Attachment routes: upload (multipart), list and download a ticket's files.

Who may see a ticket's files is the journal's rule: the ticket must be visible to the key (else
404), and internal files are for support staff only. Downloads are always `attachment`s, never
rendered: active content types (HTML, SVG, XML, scripts) are sent as application/octet-stream,
with `nosniff` and a sandboxing Content-Security-Policy.
"""

from __future__ import annotations

import re
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Path, Response, UploadFile, status

from gateway.api.deps import AppSettings, CurrentCaller, Session, Sync, TicketId
from gateway.api.middleware import BodyLimit
from gateway.attachment import access, service
from gateway.attachment.models import Attachment
from gateway.attachment.service import FALLBACK_FILENAME, OCTET_STREAM, AttachmentLimits
from gateway.errors import AttachmentTooLarge
from gateway.inputs import MAX_DB_INT, Omittable, RecordId
from gateway.settings import Settings
from gateway.sync.outbox import commit
from gateway.ticket import service as tickets
from gateway.ticket.changes import Changes
from gateway.ticket.enums import Visibility

router = APIRouter(prefix="/api/v1/tickets", tags=["attachments"])

MULTIPART_OVERHEAD = 64 * 1024  # part headers, boundaries and the form fields around the files
UPLOAD_PATH = re.compile(r"/api/v1/tickets/[^/]+/attachments")
INLINE_SAFE_TEXT = frozenset({"text/plain", "text/csv"})
PASSIVE_MAIN_TYPES = frozenset({"image", "audio", "video", "font", "application"})
ACTIVE_MARKERS = ("html", "xml", "script", "svg", "flash", "x-shockwave", "java-archive")

AttachmentId = Annotated[int, Path(ge=1, le=MAX_DB_INT, description="The attachment's id.")]


def upload_body_limit(settings: Settings) -> BodyLimit:
    """Upload bodies may carry files up to `attachment_max_bytes` (other routes keep theirs)."""
    max_bytes = max(settings.max_body_bytes, settings.attachment_max_bytes + MULTIPART_OVERHEAD)
    return BodyLimit("POST", UPLOAD_PATH, max_bytes)


def served_content_type(stored: str) -> str:
    """The stored type, unless a browser could run it (HTML, SVG, XML, scripts, ...)."""
    main, _, sub = stored.partition("/")
    if stored in INLINE_SAFE_TEXT:
        return stored
    if main not in PASSIVE_MAIN_TYPES or any(marker in sub for marker in ACTIVE_MARKERS):
        return OCTET_STREAM
    return stored


def content_disposition(filename: str) -> str:
    """`attachment` with an ASCII fallback name and the exact name in RFC 5987 `filename*`."""
    fallback = "".join(c if " " <= c <= "~" and c not in '"\\%;' else "_" for c in filename)
    encoded = quote(filename, safe="", encoding="utf-8", errors="replace")
    return f"attachment; filename=\"{fallback or FALLBACK_FILENAME}\"; filename*=UTF-8''{encoded}"


DOWNLOAD_HEADERS: dict[str, Any] = {
    "Content-Disposition": {
        "description": "`attachment; filename=\"...\"; filename*=UTF-8''...` (RFC 6266)",
        "schema": {"type": "string"},
        "required": True,
    },
    "X-Content-Type-Options": {
        "description": "`nosniff`",
        "schema": {"type": "string"},
        "required": True,
    },
    "Content-Security-Policy": {
        "description": "`sandbox`: nothing in the file runs",
        "schema": {"type": "string"},
        "required": True,
    },
}


@router.post(
    "/{ticket_id}/attachments",
    response_model=list[Attachment],
    status_code=status.HTTP_201_CREATED,
    responses={
        201: {
            "links": {
                "get_attachment": {
                    "operationId": "get_attachment",
                    "parameters": {
                        "ticket_id": "$request.path.ticket_id",
                        "attachment_id": "$response.body#/0/id",
                    },
                },
                "list_attachments": {
                    "operationId": "list_attachments",
                    "parameters": {"ticket_id": "$request.path.ticket_id"},
                },
            }
        },
        403: {"description": "An internal file by a submitter key"},
        413: {
            "description": "A file over `attachment_max_bytes`, the ticket's files over "
            "`attachment_ticket_max_bytes`, or the body over the upload limit; the message "
            "names the limit"
        },
        422: {"description": "No `file` part, a bad `visibility`, or an unknown `entry_id`"},
    },
)
async def add_attachments(
    ticket_id: TicketId,
    session: Session,
    caller: CurrentCaller,
    settings: AppSettings,
    sync: Sync,
    file: Annotated[
        list[UploadFile],
        File(min_length=1, description="One or more files (repeat the `file` part)"),
    ],
    visibility: Annotated[
        Visibility, Form(description="Default `public`; a file on an internal entry is internal")
    ] = Visibility.PUBLIC,
    entry_id: Annotated[
        Omittable[RecordId], Form(description="The journal entry of this ticket they belong to")
    ] = None,
) -> list[Attachment]:
    """Attach files to a ticket (multipart/form-data); all are stored, or none."""
    access.check_upload(caller, visibility)
    row = await tickets.load_ticket(session, ticket_id=ticket_id, caller=caller, for_update=True)
    if entry_id is not None:
        await service.load_entry(
            session, ticket_id=row.id, entry_id=entry_id, internal=caller.sees_internal
        )
    limits = AttachmentLimits.from_settings(settings)
    changes = Changes()  # public files travel to connections that carry them
    stored = []
    for upload in file:
        name = service.sanitize_filename(upload.filename)
        if upload.size is not None and upload.size > limits.max_bytes:
            raise AttachmentTooLarge(filename=name, size=upload.size, limit=limits.max_bytes)
        stored.append(
            await service.store_attachment(
                session,
                ticket_id=row.id,
                filename=upload.filename,
                content_type=upload.content_type,
                data=await upload.read(),
                visibility=visibility,
                author=caller.name,
                source="api",
                entry_id=entry_id,
                limits=limits,
                changes=changes,
            )
        )
    await commit(session, sync, changes)
    return [Attachment.from_row(attachment) for attachment in stored]


@router.get("/{ticket_id}/attachments", response_model=list[Attachment])
async def list_attachments(
    ticket_id: TicketId, session: Session, caller: CurrentCaller
) -> list[Attachment]:
    """The ticket's files in the order they were added (internal ones for support staff)."""
    row = await tickets.load_ticket(session, ticket_id=ticket_id, caller=caller)
    rows = await service.list_attachments(session, ticket_id=row.id, internal=caller.sees_internal)
    return [Attachment.from_row(attachment) for attachment in rows]


@router.get(
    "/{ticket_id}/attachments/{attachment_id}",
    response_class=Response,
    responses={
        200: {
            "description": "The file's bytes, to be saved, never rendered",
            "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
            "headers": DOWNLOAD_HEADERS,
        }
    },
)
async def get_attachment(
    ticket_id: TicketId, attachment_id: AttachmentId, session: Session, caller: CurrentCaller
) -> Response:
    """Download one file; 404 when the ticket or the file is not visible to this key."""
    row = await tickets.load_ticket(session, ticket_id=ticket_id, caller=caller)
    attachment = await service.load_attachment(
        session, ticket_id=row.id, attachment_id=attachment_id, internal=caller.sees_internal
    )
    data = await service.fetch_content(session, row=attachment)
    return Response(
        content=data,
        media_type=served_content_type(attachment.content_type),
        headers={
            "Content-Disposition": content_disposition(attachment.filename),
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "sandbox",
        },
    )
