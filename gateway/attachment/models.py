"""Attachment response models: what the API shows of a file on a ticket."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from gateway.attachment.tables import AttachmentRow
from gateway.ticket.enums import Visibility


def download_path(ticket_id: int, attachment_id: int) -> str:
    return f"/api/v1/tickets/{ticket_id}/attachments/{attachment_id}"


class Attachment(BaseModel):
    """A file on a ticket; its bytes are at `download_url`."""

    id: int
    ticket_id: int
    filename: str = Field(description="Sanitised: no directories, no control characters")
    content_type: str = Field(description="`type/subtype` as uploaded, or application/octet-stream")
    size: int = Field(description="In bytes")
    sha256: str = Field(description="Hex digest of the content; equal files share one copy")
    visibility: Visibility
    entry_id: int | None = Field(description="The journal entry it belongs to, if any")
    author: str
    source: str = Field(description="`api` or the connection it came from")
    created_at: datetime
    download_url: str = Field(description="GET it for the bytes (same API key)")

    @classmethod
    def from_row(cls, row: AttachmentRow) -> Attachment:
        return cls(
            id=row.id,
            ticket_id=row.ticket_id,
            filename=row.filename,
            content_type=row.content_type,
            size=row.size,
            sha256=row.sha256,
            visibility=Visibility(row.visibility),
            entry_id=row.entry_id,
            author=row.author,
            source=row.source,
            created_at=row.created_at,
            download_url=download_path(row.ticket_id, row.id),
        )
