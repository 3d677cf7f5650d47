"""The ticket changes of one unit of work, handed explicitly from the ticket service to the sync
engine: whoever changes tickets creates a `Changes`, passes it to each service call, and commits
with `gateway.sync.outbox.commit(session, sync, changes)`, which writes one outbox row per
connection that must hear of each change, in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.ticket.tables import TicketChangeRow, TicketRow


@dataclass
class Changes:
    """Recorded (ticket, change) pairs, in the order they were made."""

    recorded: list[tuple[TicketRow, TicketChangeRow]] = field(default_factory=list)

    def add(self, ticket: TicketRow, change: TicketChangeRow) -> None:
        self.recorded.append((ticket, change))

    def take(self) -> list[tuple[TicketRow, TicketChangeRow]]:
        """Everything recorded so far, emptying this log (each change is enqueued once)."""
        taken, self.recorded = self.recorded, []
        return taken
