"""Turn the ticket changes of a unit of work into outbox rows, in the same transaction.

Whoever changes tickets passes a `Changes` log to the ticket service and finishes with
`commit(session, sync, changes)`: the policy decides who must hear of each change, one outbox
row per delivery is added, and all of it commits with the change itself.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from gateway.connection.service import Connections
from gateway.support_unit import directory
from gateway.sync.policy import ChangeFacts, targets
from gateway.sync.tables import OutboxRow
from gateway.ticket.changes import Changes
from gateway.ticket.enums import LinkRole, RelationKind
from gateway.ticket.tables import LinkRow, RelationRow, TicketChangeRow, TicketRow

NOTIFY_CHANNEL = "gateway_outbox"
MAIL_CHANNEL = "gateway_mail"  # a message was stored for the mail readers


@dataclass
class SyncContext:
    """What the write side needs: the connections, and ways to wake an in-process worker and
    mail reader."""

    connections: Connections
    wakers: list[Callable[[], None]] = field(default_factory=list)
    mail_wakers: list[Callable[[], None]] = field(default_factory=list)

    def wake(self) -> None:
        for waker in self.wakers:
            waker()

    def wake_mail(self) -> None:
        for waker in self.mail_wakers:
            waker()


async def enqueue(session: AsyncSession, changes: Changes, connections: Connections) -> int:
    """Write one outbox row per connection that must hear of each recorded change."""
    recorded = changes.take()
    if not recorded or not len(connections):
        return 0
    known: dict[int, _TicketFacts] = {}
    told = await _told_through_parent(session, {ticket.id: ticket for ticket, _ in recorded})
    planned = []
    for ticket, change in recorded:
        facts = known.get(ticket.id)
        if facts is None:
            facts = known[ticket.id] = await _TicketFacts.of(session, ticket, ticket.id in told)
        origin = await facts.origin(session) if change.action != "created" else None
        for target in targets(facts.about(change, origin), connections):
            planned.append((ticket, change, target))
    if planned:
        await session.flush()  # the change rows' ids
    for ticket, change, target in planned:
        entry = change.changes.get("entry")
        session.add(
            OutboxRow(
                ticket_id=ticket.id,
                connection=target.connection,
                action=target.action.value,
                rule=target.rule,
                change_id=change.id,
                entry_id=entry["id"] if entry else None,
            )
        )
    return len(planned)


_PARENT = aliased(TicketRow)  # built once: an alias made per call costs a millisecond to compile
_UNREAD = object()


@dataclass
class _TicketFacts:
    """What the policy asks of a ticket, read once per unit of work however many changes it
    has (they all see the ticket as it is now)."""

    ticket: TicketRow
    support_unit: str | None
    told_through_parent: bool
    _origin: object = _UNREAD

    @classmethod
    async def of(
        cls, session: AsyncSession, ticket: TicketRow, told_through_parent: bool
    ) -> _TicketFacts:
        units = await directory.names_by_id(session, ids=[ticket.support_unit_id or 0])
        return cls(ticket, units.get(ticket.support_unit_id or 0), told_through_parent)

    async def origin(self, session: AsyncSession) -> str | None:
        """The connection the ticket came from (a new ticket's origin hears nothing of its
        creation, so only other changes ask)."""
        if self._origin is _UNREAD:
            self._origin = await session.scalar(
                select(LinkRow.connection).where(
                    LinkRow.ticket_id == self.ticket.id, LinkRow.role == LinkRole.ORIGIN.value
                )
            )
        return self._origin  # type: ignore[return-value]

    def about(self, change: TicketChangeRow, origin: str | None) -> ChangeFacts:
        return ChangeFacts(
            action=change.action,
            changes=change.changes,
            source=change.source,
            support_unit=self.support_unit,
            origin=origin,
            category=self.ticket.category,
            told_through_parent=self.told_through_parent,
        )


async def _told_through_parent(session: AsyncSession, tickets: dict[int, TicketRow]) -> set[int]:
    """The child tickets (of `tickets`, by id) whose submitter is their parent's: the parent
    speaks to them. One query for the whole unit of work (a batch of mail: many tickets)."""
    rows = await session.execute(
        select(RelationRow.ticket_id, _PARENT.submitter_email)
        .join(_PARENT, RelationRow.related_id == _PARENT.id)
        .where(
            RelationRow.ticket_id.in_(list(tickets)),
            RelationRow.kind == RelationKind.CHILD_OF.value,
        )
    )
    return {
        child
        for child, parent_email in rows
        if parent_email.lower() == tickets[child].submitter_email.lower()
    }


async def commit(session: AsyncSession, sync: SyncContext, changes: Changes) -> None:
    """Enqueue, commit, then wake workers (after the commit, so they see the rows)."""
    added = await enqueue(session, changes, sync.connections)
    await session.commit()
    if added:
        sync.wake()
        await notify_workers(session)


async def notify_workers(session: AsyncSession) -> None:
    """Wake workers in other processes on PostgreSQL, in a transaction of its own.

    A NOTIFY in the change's own transaction would hold PostgreSQL's global notify lock through
    that commit's WAL flush, so concurrent changes would commit one disk flush after another
    (measured: commits queued for 100-400 ms). Alone, with an asynchronous commit, it holds the
    lock only briefly. Should this process die between the two commits, the rows are still in
    the outbox and a worker's poll finds them.
    """
    await notify(session, NOTIFY_CHANNEL)


async def notify(session: AsyncSession, channel: str) -> None:
    """NOTIFY `channel` on PostgreSQL after a commit (see notify_workers); nothing elsewhere."""
    if session.get_bind().dialect.name != "postgresql":
        return
    await session.execute(text("SET LOCAL synchronous_commit = off"))
    await session.execute(text(f"SELECT pg_notify('{channel}', '')"))
    await session.commit()
