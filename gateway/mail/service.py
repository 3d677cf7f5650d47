"""One received message: read it, decide what it is and who it is from, apply it through the one
inbound service, keep its attachments, and record what became of it, in one transaction.

The order of the checks is the order of harm: a bounce or an automatic message never opens a
ticket nor gets an answer (RFC 3834, RFC 3464); a sender over the daily cap, a message failing
the trusted server's DKIM/SPF check, or a tagged message from someone who may not write to that
ticket is quarantined (kept whole, listed, released or dropped by an admin), never lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta

from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.adapter.mail import IncomingMail, MailAdapter
from gateway.adapter.models import AddComment, CreateTicket, InboundEvent
from gateway.attachment.service import AttachmentLimits, PendingBlobs, store_attachment
from gateway.config.models import GatewayConfig
from gateway.connection.service import Connection, Connections
from gateway.database import ids
from gateway.database.base import utcnow
from gateway.delivery import metrics
from gateway.errors import (
    AttachmentTooLarge,
    Conflict,
    GatewayError,
    NotFound,
    PayloadTooLarge,
    TicketAttachmentsTooLarge,
)
from gateway.inbound import service as inbound
from gateway.mail.tables import MailMessageRow, MailSuppressionRow
from gateway.settings import get_settings
from gateway.support_unit import directory
from gateway.sync.outbox import MAIL_CHANNEL, SyncContext, enqueue, notify, notify_workers
from gateway.ticket import service as tickets
from gateway.ticket.changes import Changes
from gateway.ticket.enums import Visibility
from gateway.ticket.models import MAX_TEXT, JournalEntryCreate, Submitter, TicketCreate
from gateway.ticket.tables import TicketRow

log = logging.getLogger(__name__)

RECEIVED = "received"  # stored, answered 250, not yet read
APPLIED, IGNORED, BOUNCE, QUARANTINED = "applied", "ignored", "bounce", "quarantined"
RELEASED, DROPPED, DUPLICATE = "released", "dropped", "duplicate"
READ_BEFORE = "this Message-ID was read before"
MAIL_SYSTEM = "mail system"
SUBJECT_MAX = 255
PARSE_IN_THREAD_BYTES = 256 * 1024  # ~2 ms of parsing; larger ones go to a thread


class MailNotConfigured(Conflict):
    """Mail arrived, but no connection reads it."""


class MessageTooLarge(PayloadTooLarge):
    """Over the mail channel's `max_message_bytes` (SMTP refuses it with 552 before this)."""


@dataclass(frozen=True, slots=True)
class MailResult:
    """What became of one message (`mail_id` is its row in the mail log)."""

    mail_id: int
    outcome: str
    reason: str | None
    ticket_id: int | None


@dataclass(frozen=True, slots=True)
class Mailbox:
    """The mail channel as configured: the submitters' connection and the units' ones."""

    channel: Connection
    units: list[Connection]

    @classmethod
    def of(cls, connections: Connections) -> Mailbox:
        channel = connections.submitter_channel()
        if channel is None or not isinstance(channel.adapter, MailAdapter):
            raise MailNotConfigured(
                "no connection reads mail (an email connection with audience `submitters`)"
            )
        units = [
            c
            for c in connections
            if isinstance(c.adapter, MailAdapter) and c.adapter.unit_addresses
        ]
        return cls(channel, units)

    @property
    def adapter(self) -> MailAdapter:
        assert isinstance(self.channel.adapter, MailAdapter)
        return self.channel.adapter

    @property
    def own(self) -> frozenset[str]:
        """Addresses that are ours or a unit's: never a ticket's cc (no mail to ourselves)."""
        found = {
            address
            for unit in self.units
            if isinstance(unit.adapter, MailAdapter)
            for address in unit.adapter.unit_addresses
        }
        return frozenset(found | {self.adapter.mail_settings.address})

    def unit_of(self, sender: str) -> tuple[Connection, MailAdapter] | None:
        for unit in self.units:
            assert isinstance(unit.adapter, MailAdapter)
            if sender in unit.adapter.unit_addresses:
                return unit, unit.adapter
        return None


async def accept_mail(
    session: AsyncSession, sync: SyncContext, *, raw: bytes, wake: bool = True
) -> MailResult:
    """Store one message as received and commit: what an SMTP 250 promises. A reader in the
    worker role turns it into a ticket or an entry (`read_stored`). A Message-ID stored before
    is answered as a duplicate, so an MTA's retry after a lost 250 stores nothing."""
    check_size(sync, raw)
    return (await accept_many(session, sync, raws=[raw], wake=wake))[0]


def check_size(sync: SyncContext, raw: bytes) -> None:
    """Refuse a message over the mail channel's limit (MessageTooLarge: SMTP answers 552)."""
    settings = Mailbox.of(sync.connections).adapter.mail_settings
    if len(raw) > settings.max_message_bytes:
        raise MessageTooLarge(
            f"the message has {len(raw)} bytes; the limit is {settings.max_message_bytes}"
        )


async def accept_many(
    session: AsyncSession, sync: SyncContext, *, raws: list[bytes], wake: bool = True
) -> list[MailResult]:
    """Store messages (each within the size limit: `check_size`) in one transaction, one result
    each in their order. As `accept_mail`, a Message-ID stored before, or earlier in `raws`,
    is a duplicate and stored once. One commit for a group of messages arriving together
    is what keeps a burst of mail from queueing on SQLite's one write lock."""
    mailbox = Mailbox.of(sync.connections)
    message_ids = [_stored_id(mailbox.adapter.message_id(raw)) for raw in raws]
    wanted = {message_id for message_id in message_ids if message_id is not None}
    seen: dict[str, MailResult] = {}
    if wanted:
        found = await session.execute(
            select(MailMessageRow.id, MailMessageRow.message_id, MailMessageRow.ticket_id)
            .where(MailMessageRow.message_id.in_(wanted))
            .order_by(MailMessageRow.id.desc())  # the first stored answers, as before
        )
        for mail_id, message_id, ticket_id in found:
            seen[str(message_id)] = MailResult(mail_id, DUPLICATE, READ_BEFORE, ticket_id)
    stored: dict[str, MailMessageRow] = {}
    planned: list[MailResult | MailMessageRow] = []
    async with ids.allocating(session):  # the rows go in as one INSERT, not one each
        for raw, message_id in zip(raws, message_ids, strict=True):
            if message_id is not None and message_id in seen:
                planned.append(seen[message_id])
            elif message_id is not None and message_id in stored:
                planned.append(stored[message_id])  # answered as its twin's duplicate below
            else:
                row = MailMessageRow(
                    received_at=utcnow(),
                    message_id=message_id,
                    size=len(raw),
                    connection=mailbox.channel.name,
                    outcome=RECEIVED,
                    raw=raw,
                )
                session.add(row)
                planned.append(row)
                if message_id is not None:
                    stored[message_id] = row
        await session.flush()
    if not any(isinstance(item, MailMessageRow) for item in planned):
        await session.rollback()
        return [item for item in planned if isinstance(item, MailResult)]
    await session.commit()
    results, answered = [], set()
    for item in planned:
        if isinstance(item, MailResult):
            results.append(item)
        elif item.id in answered:
            results.append(MailResult(item.id, DUPLICATE, READ_BEFORE, None))
        else:
            answered.add(item.id)
            results.append(MailResult(item.id, RECEIVED, None, None))
    if wake:
        sync.wake_mail()
        try:  # stored is stored: a lost wake-up costs a reader's poll, a 451 a second copy
            await notify(session, MAIL_CHANNEL)
        except Exception:  # noqa: BLE001
            log.warning("could not wake the mail readers", extra={"mail_ids": sorted(answered)})
    return results


def _stored_id(message_id: str | None) -> str | None:
    return message_id[:998] if message_id else None


async def claim_stored(
    session: AsyncSession, *, mail_id: int | None = None, limit: int = 1
) -> list[MailMessageRow]:
    """The oldest received messages no other reader holds (or message `mail_id`, waiting for a
    reader that holds it), locked until this transaction ends."""
    query = select(MailMessageRow).where(MailMessageRow.outcome == RECEIVED)
    if mail_id is not None:
        query = query.where(MailMessageRow.id == mail_id).with_for_update()
    else:
        query = query.order_by(MailMessageRow.id).limit(limit).with_for_update(skip_locked=True)
    return list(await session.scalars(query))


async def receive_mail(
    session: AsyncSession,
    sync: SyncContext,
    *,
    config: GatewayConfig,
    raw: bytes,
    limits: AttachmentLimits | None = None,
) -> MailResult:
    """Store one message and read it now (the admin's POST and `gateway mail-in`, which answer
    with what became of it). Should reading fail, the message stays received for the readers."""
    accepted = await accept_mail(session, sync, raw=raw, wake=False)
    if accepted.outcome != RECEIVED:
        return accepted
    claimed = await claim_stored(session, mail_id=accepted.mail_id)
    if not claimed:  # a reader in the worker role got there first and is done
        done = await session.get(MailMessageRow, accepted.mail_id, populate_existing=True)
        assert done is not None
        await session.rollback()
        return MailResult(done.id, done.outcome, done.reason, done.ticket_id)
    return await read_stored(session, sync, config=config, row=claimed[0], limits=limits)


async def read_stored(
    session: AsyncSession,
    sync: SyncContext,
    *,
    config: GatewayConfig,
    row: MailMessageRow,
    release_by: str | None = None,
    released: int | None = None,
    limits: AttachmentLimits | None = None,
) -> MailResult:
    """Read, decide and apply one claimed message; commit. `release_by` (an admin's name) applies
    the quarantined message `released` as its sender's, past the checks that held it. What a
    rule refuses is held with the reason (quarantined), not lost."""
    mailbox = Mailbox.of(sync.connections)
    mail_id = row.id
    try:
        result, added = await apply_stored(
            session, sync, config=config, row=row, release_by=release_by, limits=limits
        )
    except Duplicate:
        await session.rollback()
        return await settle_unread(
            session, mail_id, DUPLICATE, "applied before (same Message-ID)", reader=mailbox.adapter
        )
    except (GatewayError, ValidationError) as exc:
        await session.rollback()
        message = exc.message if isinstance(exc, GatewayError) else _first_error(exc)
        held = await session.get(MailMessageRow, released) if released is not None else None
        if held is not None:  # a release refused again: the message stays where it was
            held.reason = f"release by {release_by} refused: {message}"[:2000]
            await session.commit()
            return MailResult(held.id, QUARANTINED, held.reason, None)
        return await settle_unread(
            session, mail_id, QUARANTINED, f"refused: {message}", reader=mailbox.adapter
        )
    await _commit(session, sync, added)
    _count(result, row.connection or mailbox.channel.name)
    return result


async def read_batch(
    session: AsyncSession,
    sync: SyncContext,
    *,
    config: GatewayConfig,
    rows: list[MailMessageRow],
    limits: AttachmentLimits | None = None,
) -> list[MailResult]:
    """Apply several claimed messages in one transaction (one commit and one wake-up for them
    all). Should any of them fail, nothing is kept and the caller reads them one by one.

    New problems, the bulk of mail, take what they would each ask the database (the sender's
    count, whether the message was applied before) from lookups made once for the batch, and
    their rows are written together at the end, one statement per table (on SQLite with keys
    chosen in-process, `ids`): about fourteen statements a batch, however many messages, not
    thirteen a message. Any other message is read as `read_stored` reads it, after what is
    pending."""
    mailbox = Mailbox.of(sync.connections)
    mails = [await _read(mailbox.adapter, row.raw or b"") for row in rows]
    batch = await _Batch.of(session, mailbox, rows, mails)
    done: list[tuple[MailResult, str]] = []
    added = 0
    async with ids.allocating(session):  # the new rows' keys chosen here, so they insert together
        for row, mail in zip(rows, mails, strict=True):
            result, more = await apply_stored(
                session, sync, config=config, row=row, limits=limits, mail=mail, batch=batch
            )
            batch.read(mail)
            done.append((result, row.connection or ""))
            added += more
        await batch.write_pending(session)
        added += await enqueue(session, batch.changes, sync.connections)
        await session.flush()  # the outbox rows too, while their keys are chosen here
    await _commit(session, sync, added)
    for result, connection in done:
        _count(result, connection)
    return [result for result, _ in done]


@dataclass
class _Batch:
    """What a batch's new problems look up once (see `read_batch`), kept current as it reads."""

    known: inbound.Known
    sent: Counter[str]  # per sender: messages within 24 hours, the batch's read ones included
    changes: Changes = field(default_factory=Changes)  # its new problems', enqueued at the end
    blobs: PendingBlobs = field(default_factory=PendingBlobs)  # their files' contents

    @classmethod
    async def of(
        cls,
        session: AsyncSession,
        mailbox: Mailbox,
        rows: list[MailMessageRow],
        mails: list[IncomingMail],
    ) -> _Batch:
        senders = {mail.sender for mail in mails if mail.sender is not None}
        sent: Counter[str] = Counter()
        if senders:
            counts = await session.execute(
                select(MailMessageRow.sender, func.count(MailMessageRow.id))
                .where(
                    MailMessageRow.sender.in_(senders),
                    MailMessageRow.received_at >= utcnow() - timedelta(days=1),
                    MailMessageRow.id.not_in([row.id for row in rows]),
                )
                .group_by(MailMessageRow.sender)
            )
            sent.update({str(sender): int(n) for sender, n in counts})
        event_ids = [
            _event_id(mail, row.raw or b"")
            for row, mail in zip(rows, mails, strict=True)
            if _opens_ticket(mail)
        ]
        known = await inbound.Known.of(
            session, connection=mailbox.channel.name, event_ids=event_ids
        )
        return cls(known, sent)

    async def write_pending(self, session: AsyncSession) -> None:
        """Write what its new problems left pending: the files' contents, then their rows."""
        await self.blobs.insert(session)
        await session.flush()

    def read(self, mail: IncomingMail) -> None:
        """`mail` was read: later messages from its sender count it, whatever became of it."""
        if mail.sender is not None:
            self.sent[mail.sender] += 1


def _opens_ticket(mail: IncomingMail) -> bool:
    """Whether the message would open a ticket, unless quarantined (what a batch defers)."""
    return (
        mail.hub_id is None
        and mail.bounce is None
        and mail.automatic is None
        and mail.sender is not None
    )


def _event_id(mail: IncomingMail, raw: bytes) -> str:
    return (mail.message_id or "sha256:" + hashlib.sha256(raw).hexdigest())[:255]


class Duplicate(Exception):
    """Another instance applied the same message at the same time (its inbound event is there)."""


async def apply_stored(
    session: AsyncSession,
    sync: SyncContext,
    *,
    config: GatewayConfig,
    row: MailMessageRow,
    release_by: str | None = None,
    limits: AttachmentLimits | None = None,
    mail: IncomingMail | None = None,
    batch: _Batch | None = None,
) -> tuple[MailResult, int]:
    """Read and apply one claimed message within the caller's transaction; the result and how
    many outbox rows it wrote (not committed). Raises what a rule refuses, and `Duplicate`.
    In a `batch` (`mail` read already), a new problem's rows and changes stay pending for
    `read_batch` to write at the end."""
    mailbox = Mailbox.of(sync.connections)
    raw = row.raw or b""
    mail = mail or await _read(mailbox.adapter, raw)
    event_id = _event_id(mail, raw)
    deferred = batch if batch is not None and _opens_ticket(mail) else None
    changes = deferred.changes if deferred is not None else Changes()
    limits = limits or AttachmentLimits.from_settings(get_settings())
    verdict = _Verdict()
    reader = _Reader(
        session, mailbox, config, mail, raw, event_id, row, verdict, changes, limits, deferred
    )
    try:
        if deferred is None and batch is not None:
            await batch.write_pending(session)  # before this message asks the database
        with session.sync_session.no_autoflush if deferred else contextlib.nullcontext():
            await reader.decide(release_by)
        # the record, once: its facts and what became of it (the ticket holds the .eml)
        row.message_id = mail.message_id[:998] if mail.message_id else None
        row.sender, row.subject = mail.sender, mail.subject[:SUBJECT_MAX]
        verdict.write(row)
        added = 0
        if deferred is None:
            added = await enqueue(session, changes, sync.connections)
            await session.flush()
    except IntegrityError:  # the same message applied at once by another instance?
        acting = verdict.connection or mailbox.channel.name
        await session.rollback()
        if await inbound.event_seen(session, connection=acting, event_id=event_id):
            raise Duplicate(event_id) from None
        raise
    return MailResult(row.id, row.outcome, row.reason, row.ticket_id), added


async def _read(reader: MailAdapter, raw: bytes) -> IncomingMail:
    if len(raw) > PARSE_IN_THREAD_BYTES:  # a big message must not stall the loop's other work
        return await asyncio.to_thread(reader.read_mail, raw)
    return reader.read_mail(raw)


async def _commit(session: AsyncSession, sync: SyncContext, added: int) -> None:
    """Commit, then wake the workers when outbox rows were written (as sync.outbox.commit)."""
    await session.commit()
    if added:
        sync.wake()
        await notify_workers(session)


def _count(result: MailResult, connection: str) -> None:
    metrics.INBOUND_EVENTS.labels(connection or "mail", result.outcome).inc()
    log.info(
        "mail received",
        extra={"mail_id": result.mail_id, "outcome": result.outcome, "ticket_id": result.ticket_id},
    )


async def settle_unread(
    session: AsyncSession,
    mail_id: int,
    outcome: str,
    reason: str,
    *,
    reader: MailAdapter | None = None,
) -> MailResult:
    """After a rollback: record why a received message was not applied (with its sender and
    subject, read again by `reader`: the per-sender cap counts it, the quarantine shows it); a
    quarantined one keeps its bytes for an admin. Nothing, if another reader settled it
    meanwhile."""
    claimed = await claim_stored(session, mail_id=mail_id)
    if not claimed:
        await session.rollback()
        done = await session.get(MailMessageRow, mail_id)
        if done is None:
            return MailResult(mail_id, outcome, reason, None)
        return MailResult(done.id, done.outcome, done.reason, done.ticket_id)
    row = claimed[0]
    if reader is not None and row.raw is not None and row.sender is None:
        mail = await _read(reader, row.raw)
        row.message_id = mail.message_id[:998] if mail.message_id else None
        row.sender, row.subject = mail.sender, mail.subject[:SUBJECT_MAX]
    row.outcome, row.reason = outcome, reason[:2000]
    if outcome != QUARANTINED:
        row.raw = None
    await session.commit()
    result = MailResult(row.id, outcome, row.reason, None)
    _count(result, row.connection or "")
    return result


def _first_error(exc: ValidationError) -> str:
    error = exc.errors(include_input=False)[0]
    return f"{'.'.join(map(str, error['loc']))}: {error['msg']}"


@dataclass
class _Verdict:
    """What becomes of a message, written to its record once, when the reader is done."""

    outcome: str = IGNORED
    reason: str | None = None
    raw: bytes | None = None  # kept only while held
    ticket_id: int | None = None
    connection: str | None = None

    def write(self, row: MailMessageRow) -> None:
        row.outcome, row.reason, row.raw = self.outcome, self.reason, self.raw
        row.ticket_id, row.connection = self.ticket_id, self.connection or row.connection


@dataclass
class _Reader:
    session: AsyncSession
    mailbox: Mailbox
    config: GatewayConfig
    mail: IncomingMail
    raw: bytes
    event_id: str
    row: MailMessageRow
    verdict: _Verdict
    changes: Changes
    limits: AttachmentLimits
    batch: _Batch | None = None  # a new problem in a batch: its lookups, made once

    async def decide(self, release_by: str | None) -> None:
        mail, settings = self.mail, self.mailbox.adapter.mail_settings
        hub_id = mail.hub_id
        over_cap = (
            release_by is None
            and mail.sender is not None
            and await self._sent_today() >= settings.daily_cap_per_sender
        )
        if over_cap:  # first: a flood of anything, bounces and auto-replies too, is held
            return self._quarantine(
                f"{mail.sender} sent more than {settings.daily_cap_per_sender} "
                "messages within 24 hours"
            )
        if mail.bounce is not None:
            return await self._bounce()
        if mail.automatic is not None:
            return await self._automatic(hub_id)
        if mail.sender is None:
            return self._quarantine("no valid From address")
        if release_by is None and mail.auth_failure is not None:
            return self._quarantine(f"the receiving server reports {mail.auth_failure}")
        if hub_id is None:
            return await self._open_ticket()
        ticket = await self.session.get(TicketRow, hub_id)
        if ticket is None:
            return self._quarantine(f"it names ticket #{hub_id}, which does not exist")
        await self._reply(ticket, release_by)

    async def _sent_today(self) -> int:
        if self.batch is not None and self.mail.sender is not None:
            return self.batch.sent[self.mail.sender]
        since = utcnow() - timedelta(days=1)
        count = await self.session.scalar(
            select(func.count(MailMessageRow.id)).where(
                MailMessageRow.sender == self.mail.sender,
                MailMessageRow.received_at >= since,
                MailMessageRow.id != self.row.id,
            )
        )
        return count or 0

    def _quarantine(self, reason: str) -> None:
        self.verdict.outcome, self.verdict.reason, self.verdict.raw = QUARANTINED, reason, self.raw

    def _ignore(self, reason: str) -> None:
        self.verdict.outcome, self.verdict.reason = IGNORED, reason

    async def _bounce(self) -> None:
        """File a bounce of our own mail on its ticket; a permanent failure stops mail to those
        of the ticket's addresses it names. A bounce of anything else changes nothing."""
        bounce = self.mail.bounce
        assert bounce is not None
        ticket = await self.session.get(TicketRow, bounce.hub_id) if bounce.hub_id else None
        if ticket is None:
            return self._ignore("a bounce of no message of ours")
        self.verdict.outcome, self.verdict.ticket_id = BOUNCE, ticket.id
        kind = "permanently" if bounce.permanent else "for now"
        who = ", ".join(bounce.recipients) or "a recipient"
        self.verdict.reason = f"mail to {who} failed {kind}" + (
            f": {bounce.detail}" if bounce.detail else ""
        )
        await self._internal_note(ticket, f"Mail could not be delivered. {self.verdict.reason}")
        if not bounce.permanent:
            return
        for address in sorted(_people(ticket) & set(bounce.recipients)):
            if await self.session.get(MailSuppressionRow, address) is None:
                self.session.add(
                    MailSuppressionRow(
                        address=address,
                        created_at=utcnow(),
                        reason=self.verdict.reason[:2000],
                        ticket_id=ticket.id,
                    )
                )

    async def _automatic(self, hub_id: int | None) -> None:
        reason = f"automatic mail ({self.mail.automatic}): never opens a ticket, never answered"
        self._ignore(reason)
        ticket = await self.session.get(TicketRow, hub_id) if hub_id else None
        if ticket is not None and await self._may_write(ticket):  # worth seeing, internally
            self.verdict.ticket_id = ticket.id
            sender = self.mail.sender or "an unknown sender"
            body = f"Automatic reply from {sender}: {self.mail.subject}\n\n{self.mail.reply_text}"
            await self._internal_note(ticket, body)

    async def _may_write(self, ticket: TicketRow) -> bool:
        """The ticket's submitter, a cc, or the responsible unit's address."""
        sender = self.mail.sender
        if sender is None:
            return False
        if sender in _people(ticket):
            return True
        acting = self.mailbox.unit_of(sender)
        return acting is not None and acting[0].support_unit == await _unit_name(
            self.session, ticket
        )

    async def _internal_note(self, ticket: TicketRow, body: str) -> None:
        actor = tickets.Actor(name=MAIL_SYSTEM, source=self.mailbox.channel.name)
        entry = JournalEntryCreate(
            body=body[:MAX_TEXT] or "(empty)", visibility=Visibility.INTERNAL, author=MAIL_SYSTEM
        )
        await tickets.add_entry(
            self.session, row=ticket, entry=entry, actor=actor, changes=self.changes
        )

    async def _open_ticket(self) -> None:
        mail = self.mail
        assert mail.sender is not None
        subject = mail.subject.strip()[:SUBJECT_MAX] or "(no subject)"
        ticket = TicketCreate(
            subject=subject,
            description=mail.text.strip()[:MAX_TEXT] or "(the message had no text)",
            submitter=Submitter(name=(mail.sender_name or mail.sender)[:255], email=mail.sender),
            cc=[a for a in mail.cc if a != mail.sender and a not in self.mailbox.own][:20],
        )
        event = InboundEvent(self.event_id, [CreateTicket(ticket=ticket, remote_id=self.event_id)])
        outcome = await inbound.apply_event(
            self.session,
            connection=self.mailbox.channel,
            event=event,
            config=self.config,
            changes=self.changes,
            known=self.batch.known if self.batch is not None else None,
        )
        await self._settle(outcome, public=True, opened=True)

    async def _reply(self, ticket: TicketRow, release_by: str | None) -> None:
        mail = self.mail
        assert mail.sender is not None
        sender = mail.sender
        acting = self.mailbox.unit_of(sender)
        author = mail.sender_name or sender
        if acting is not None:
            unit, adapter = acting
            responsible = await _unit_name(self.session, ticket)
            if responsible != unit.support_unit and release_by is None:
                return self._quarantine(
                    f"{sender} acts for {unit.support_unit}, which is not responsible for "
                    f"#{ticket.id}"
                )
            commands = adapter.unit_commands(mail, author)
            connection = unit
            actor = tickets.Actor(name=author, source=unit.name)
        else:
            allowed = _people(ticket)
            if sender not in allowed and release_by is None:
                return self._quarantine(
                    f"{sender} is not the submitter, a cc or the unit of #{ticket.id}"
                )
            body = mail.reply_text.strip() or "(the reply had no text)"
            if release_by is not None and sender not in allowed:
                author = f"{author} (released by {release_by})"
            commands = [AddComment(body=body[:MAX_TEXT], author=author[:255])]
            connection = self.mailbox.channel
            actor = tickets.Actor(
                name=author, source=connection.name, is_submitter=sender in allowed
            )
        self.verdict.connection = connection.name
        outcome = await inbound.apply_event(
            self.session,
            connection=connection,
            event=InboundEvent(self.event_id, commands),
            config=self.config,
            changes=self.changes,
            vouched=inbound.Vouched(ticket.id, actor),
        )
        await self._settle(outcome, public=True)

    async def _settle(
        self, outcome: inbound.InboundOutcome, *, public: bool, opened: bool = False
    ) -> None:
        """Record the outcome; keep the attachments and the original message on the ticket
        (`opened`: the ticket this message just opened)."""
        if outcome.duplicate:
            self._ignore("seen before (same Message-ID)")
            return
        ticket_id = next((i["ticket_id"] for i in outcome.applied if i["ticket_id"]), None)
        if ticket_id is None:
            reasons = "; ".join(i.get("reason", "") for i in outcome.ignored)
            self._ignore(reasons or "nothing to apply")
            return
        self.verdict.outcome, self.verdict.ticket_id = APPLIED, ticket_id
        if outcome.ignored:
            self.verdict.reason = "; ".join(i.get("reason", "") for i in outcome.ignored)
        author = self.mail.sender or MAIL_SYSTEM
        source = self.verdict.connection or self.mailbox.channel.name
        visibility = Visibility.PUBLIC if public else Visibility.INTERNAL
        files = [(p.filename, p.content_type, p.data, visibility) for p in self.mail.attachments]
        # the message as received, for support staff
        eml = f"mail-{self.row.received_at:%Y%m%d-%H%M%S}.eml"
        files.append((eml, "message/rfc822", self.raw, Visibility.INTERNAL))
        not_kept = []
        new_ticket = (
            ids.pending(self.session, TicketRow, ticket_id)
            or await self.session.get(TicketRow, ticket_id)
            if opened
            else None
        )
        used = 0
        for filename, content_type, data, seen_by in files:
            try:
                await store_attachment(
                    self.session,
                    ticket_id=ticket_id,
                    filename=filename,
                    content_type=content_type,
                    data=data,
                    visibility=seen_by,
                    author=author,
                    source=source,
                    changes=self.changes,  # public files travel on, like their entry
                    limits=self.limits,
                    created=(new_ticket, used) if new_ticket is not None else None,
                    pending=self.batch.blobs if self.batch is not None else None,
                )
                used += len(data)
            except (AttachmentTooLarge, TicketAttachmentsTooLarge) as exc:
                not_kept.append(f"{filename} ({exc.message})")  # the mail itself still counts
        if not_kept:
            note = "files not kept: " + "; ".join(not_kept)
            self.verdict.reason = "; ".join(r for r in (self.verdict.reason, note) if r)[:2000]


def _people(ticket: TicketRow) -> set[str]:
    """The ticket's submitter and cc, as mail compares them (lower case)."""
    return {ticket.submitter_email.lower(), *(a.lower() for a in ticket.cc or [])}


async def _unit_name(session: AsyncSession, ticket: TicketRow) -> str | None:
    names = await directory.names_by_id(session, ids=[ticket.support_unit_id or 0])
    return names.get(ticket.support_unit_id or 0)


async def quarantined(session: AsyncSession, *, limit: int = 100) -> list[MailMessageRow]:
    rows = await session.scalars(
        select(MailMessageRow)
        .where(MailMessageRow.outcome == QUARANTINED)
        .order_by(MailMessageRow.id)
        .limit(limit)
    )
    return list(rows)


async def release(
    session: AsyncSession,
    sync: SyncContext,
    *,
    config: GatewayConfig,
    mail_id: int,
    admin: str,
    limits: AttachmentLimits | None = None,
) -> MailResult:
    """Apply a quarantined message as if it had passed the checks that held it (as a record of
    its own; the held one is marked released)."""
    row = await _held(session, mail_id)
    raw = row.raw or b""
    row.outcome, row.raw, row.decided_by, row.decided_at = RELEASED, None, admin, utcnow()
    fresh = MailMessageRow(
        received_at=utcnow(),
        size=len(raw),
        connection=row.connection,
        outcome=RECEIVED,
        raw=raw,
    )
    session.add(fresh)
    await session.flush()
    return await read_stored(
        session, sync, config=config, row=fresh, release_by=admin, released=mail_id, limits=limits
    )


async def drop(session: AsyncSession, *, mail_id: int, admin: str, reason: str) -> None:
    row = await _held(session, mail_id)
    row.outcome, row.raw, row.decided_by, row.decided_at = DROPPED, None, admin, utcnow()
    row.reason = f"{row.reason}; dropped: {reason}"[:2000]
    await session.commit()


async def _held(session: AsyncSession, mail_id: int) -> MailMessageRow:
    row = await session.get(MailMessageRow, mail_id, with_for_update=True)
    if row is None or row.outcome != QUARANTINED:
        raise NotFound(f"no quarantined message {mail_id}")
    return row


async def suppressions(session: AsyncSession, *, limit: int = 500) -> list[MailSuppressionRow]:
    rows = await session.scalars(
        select(MailSuppressionRow).order_by(MailSuppressionRow.created_at).limit(limit)
    )
    return list(rows)


async def lift_suppression(session: AsyncSession, *, address: str) -> None:
    """Mail that address again (it was fixed, or the bounce was not to be trusted)."""
    row = await session.get(MailSuppressionRow, address.lower())
    if row is None:
        raise NotFound(f"mail to {address!r} is not suppressed")
    await session.delete(row)
    await session.commit()
