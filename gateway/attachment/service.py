"""Database functions for attachments: store (content kept once, by sha256), list and fetch.

Nothing here commits: `store_attachment` works inside the caller's transaction, so a mail that
creates a ticket and its attachments, or an upload of several files, is stored whole or not at
all. Permission checks live in `access.py`; the limits and the entry rule hold whoever stores.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Table, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.attachment.tables import AttachmentRow, BlobRow
from gateway.database.base import utcnow
from gateway.errors import AttachmentTooLarge, InvalidInput, NotFound, TicketAttachmentsTooLarge
from gateway.settings import Settings, get_settings
from gateway.ticket.changes import Changes
from gateway.ticket.enums import Visibility
from gateway.ticket.tables import JournalEntryRow, TicketChangeRow, TicketRow

MAX_FILENAME = 255
FALLBACK_FILENAME = "attachment"
OCTET_STREAM = "application/octet-stream"
TOKEN = r"[A-Za-z0-9!#$&^_.+\-]{1,127}"  # RFC 6838 restricted-name characters
CONTENT_TYPE = re.compile(rf"^({TOKEN})/({TOKEN})$")
UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})  # controls, bidi, ...


@dataclass(frozen=True, slots=True)
class AttachmentLimits:
    """Largest file, and largest total of all files on one ticket, in bytes."""

    max_bytes: int
    ticket_max_bytes: int

    @classmethod
    def from_settings(cls, settings: Settings) -> AttachmentLimits:
        return cls(settings.attachment_max_bytes, settings.attachment_ticket_max_bytes)


class PendingBlobs:
    """Contents a batch stores with one statement: whoever flushes the batch's rows inserts
    them first (its files' rows refer to them)."""

    def __init__(self) -> None:
        self._values: dict[str, dict[str, Any]] = {}

    def add(self, *, sha256: str, size: int, data: bytes, at: Any) -> None:
        values = {"sha256": sha256, "size": size, "data": data, "created_at": at}
        self._values.setdefault(sha256, values)

    async def insert(self, session: AsyncSession) -> None:
        if self._values:
            with session.sync_session.no_autoflush:  # before the rows that refer to them
                await session.execute(_insert_blobs(session), list(self._values.values()))
            self._values.clear()


def sanitize_filename(name: str | None) -> str:
    """A name safe to store and to send back: no directories, no control or format characters
    (CR, LF, NUL, bidi overrides), no broken Unicode, at most 255 characters (the extension
    kept), never empty."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(c for c in name if unicodedata.category(c) not in UNSAFE_CATEGORIES)
    name = name.strip().strip(".")
    name = " ".join(name.split())
    if len(name) > MAX_FILENAME:
        stem, dot, ext = name.rpartition(".")
        if dot and 0 < len(ext) <= 16:
            name = stem[: MAX_FILENAME - len(ext) - 1] + "." + ext
        else:
            name = name[:MAX_FILENAME]
    return name or FALLBACK_FILENAME


def normalize_content_type(value: str | None) -> str:
    """`type/subtype` in lower case (parameters dropped), or application/octet-stream."""
    essence = (value or "").split(";", 1)[0].strip().lower()
    return essence if CONTENT_TYPE.match(essence) else OCTET_STREAM


async def load_entry(
    session: AsyncSession, *, ticket_id: int, entry_id: int, internal: bool
) -> JournalEntryRow:
    """The journal entry of this ticket (a public one unless `internal`), or 422 naming it."""
    query = select(JournalEntryRow).where(
        JournalEntryRow.id == entry_id, JournalEntryRow.ticket_id == ticket_id
    )
    if not internal:
        query = query.where(JournalEntryRow.visibility == Visibility.PUBLIC.value)
    entry = (await session.execute(query)).scalar_one_or_none()
    if entry is None:
        raise InvalidInput(
            f"entry_id: ticket #{ticket_id} has no journal entry {entry_id}",
            details=[{"field": "entry_id", "message": f"no journal entry {entry_id} here"}],
        )
    return entry


async def attached_bytes(session: AsyncSession, *, ticket_id: int) -> int:
    """The total size of every file on the ticket (public and internal)."""
    total = await session.scalar(
        select(func.coalesce(func.sum(AttachmentRow.size), 0)).where(
            AttachmentRow.ticket_id == ticket_id
        )
    )
    return int(total or 0)


async def store_attachment(
    session: AsyncSession,
    *,
    ticket_id: int,
    filename: str | None,
    content_type: str | None,
    data: bytes,
    visibility: Visibility,
    author: str,
    source: str,
    entry_id: int | None = None,
    limits: AttachmentLimits | None = None,
    changes: Changes | None = None,
    created: tuple[TicketRow, int] | None = None,
    pending: PendingBlobs | None = None,
) -> AttachmentRow:
    """Attach a file to a ticket within the caller's transaction (it never commits).

    The content is stored once per sha256 (an insert that ignores a concurrent twin), the file
    on an internal entry is internal, and the limits raise `AttachmentTooLarge` or
    `TicketAttachmentsTooLarge` (413) before anything is written. The ticket row is locked so
    concurrent uploads cannot pass the per-ticket limit together. `created` is a ticket this
    transaction made, with the bytes already attached to it: nobody else sees it yet, so it is
    neither locked nor summed again (a mail's files, on the ticket that mail opens). With
    `pending` the content is inserted with the batch's others, when they are flushed.

    A public file is kept in the ticket's history (`attachment_added`); with `changes` (the unit
    of work's log, committed by `gateway.sync.outbox.commit`) the sync policy also sends it to
    the connections that carry files.
    """
    limits = limits or AttachmentLimits.from_settings(get_settings())
    name = sanitize_filename(filename)
    size = len(data)
    if size > limits.max_bytes:
        raise AttachmentTooLarge(filename=name, size=size, limit=limits.max_bytes)
    if created is None:
        locked = await session.execute(
            select(TicketRow).where(TicketRow.id == ticket_id).with_for_update()
        )
        found = locked.scalar_one_or_none()
        if found is None:
            raise NotFound(f"ticket #{ticket_id} not found")
        ticket = found
    else:
        ticket = created[0]
    if entry_id is not None:
        entry = await load_entry(session, ticket_id=ticket_id, entry_id=entry_id, internal=True)
        if entry.visibility == Visibility.INTERNAL.value:
            visibility = Visibility.INTERNAL
    used = await attached_bytes(session, ticket_id=ticket_id) if created is None else created[1]
    if used + size > limits.ticket_max_bytes:
        raise TicketAttachmentsTooLarge(
            ticket_id=ticket_id, filename=name, size=size, used=used, limit=limits.ticket_max_bytes
        )
    digest = hashlib.sha256(data).hexdigest()
    now = utcnow()
    blobs = pending if pending is not None else PendingBlobs()
    blobs.add(sha256=digest, size=size, data=data, at=now)
    if pending is None:
        await blobs.insert(session)
    row = AttachmentRow(
        ticket_id=ticket_id,
        entry_id=entry_id,
        filename=name,
        content_type=normalize_content_type(content_type),
        size=size,
        sha256=digest,
        visibility=Visibility(visibility).value,
        author=author,
        source=source,
        created_at=now,
    )
    session.add(row)
    if row.visibility == Visibility.PUBLIC.value:
        if pending is not None:
            await pending.insert(session)
        await session.flush()  # its id, for the history (an internal one gets it later)
        # the history filter hides only internal *entries* from submitters, so an internal
        # file is not written there (its row keeps who added it, from where and when)
        change = TicketChangeRow(
            ticket_id=ticket_id,
            version=ticket.version,
            action="attachment_added",
            actor=author,
            source=source,
            changes={"attachment": _summary(row)},
            at=now,
        )
        session.add(change)
        if changes is not None:
            changes.add(ticket, change)
    return row


def _insert_blobs(session: AsyncSession) -> Any:
    """INSERT contents unless they are there (the values come with the execution, one or
    many): ON CONFLICT DO NOTHING (PostgreSQL waits for a concurrent twin and then skips), INSERT
    OR IGNORE on SQLite (one writer at a time)."""
    table = cast(Table, BlobRow.__table__)  # Core: executemany, no ORM bookkeeping
    if session.get_bind().dialect.name == "postgresql":
        return pg_insert(table).on_conflict_do_nothing(index_elements=["sha256"])
    return sqlite_insert(table).on_conflict_do_nothing()


def _summary(row: AttachmentRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "filename": row.filename,
        "size": row.size,
        "visibility": row.visibility,
        "entry_id": row.entry_id,
    }


async def list_attachments(
    session: AsyncSession, *, ticket_id: int, internal: bool
) -> Sequence[AttachmentRow]:
    """The ticket's files in the order they were added; internal ones only if asked."""
    query = select(AttachmentRow).where(AttachmentRow.ticket_id == ticket_id)
    if not internal:
        query = query.where(AttachmentRow.visibility == Visibility.PUBLIC.value)
    return list((await session.execute(query.order_by(AttachmentRow.id))).scalars())


async def load_attachment(
    session: AsyncSession, *, ticket_id: int, attachment_id: int, internal: bool
) -> AttachmentRow:
    """One file of the ticket; 404 when it is not there or is internal and not `internal`."""
    query = select(AttachmentRow).where(
        AttachmentRow.id == attachment_id, AttachmentRow.ticket_id == ticket_id
    )
    if not internal:
        query = query.where(AttachmentRow.visibility == Visibility.PUBLIC.value)
    row = (await session.execute(query)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"attachment {attachment_id} of ticket #{ticket_id} not found")
    return row


async def fetch_content(session: AsyncSession, *, row: AttachmentRow) -> bytes:
    """The bytes of an attachment."""
    data = await session.scalar(select(BlobRow.data).where(BlobRow.sha256 == row.sha256))
    if data is None:  # the foreign key makes this impossible; say so rather than send nothing
        raise NotFound(f"the content of attachment {row.id} is missing")
    return bytes(data)
