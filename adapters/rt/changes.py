"""Reading what changed in RT: a TicketSQL search on `LastUpdated`, then each changed ticket's
new transactions (its history, newest first, down to the last one read), into hub commands.

The cursor is `{"since": "<YYYY-MM-DD HH:MM:SS>", "seen": {ticket: LastUpdated}, "read": {ticket:
transaction id}}`. RT compares dates to the second in the searching user's timezone (keep the
gateway's RT user at UTC) and `>=` is inclusive, so a poll lists again what changed in the second
it started from; a ticket listed before at the same `LastUpdated` is skipped without reading its
history, so an idle poll is one request. A `LastUpdated` of the last two seconds may still move
within its second, so such a ticket is read again next time (transactions already read are
not). Transaction ids are RT's own and global: the event id `rt-txn-<id>` applies each once.

What a transaction becomes (the GGUS close-only model; the sync policy decides what of it
applies): a ticket someone opened in the queue is a new hub ticket (`accepts_new_tickets`: RT
as an origin); a comment is an internal entry; a correspondence is a question to the
submitter (`correspondence: comment` for mirror: a public entry), its files come along; a move to
`resolved` or `rejected` is the solution, the last correspondence its text (a correspondence
followed at once by the resolution is the solution only, not also a question); another status
is a status; a move to a queue of `queue_units` is a reassignment. RT's own mail records and
what the gateway's RT user or RT itself did are never read back. For the requirements queue only
the state is reported.
"""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from inscriptis import get_text

from adapters.rt.client import RtClient
from adapters.rt.config import SOLVING, RtConfig, priority_from_rt
from gateway.adapter.errors import AdapterError, PermanentError
from gateway.adapter.models import (
    AddComment,
    AskSubmitter,
    AttachFile,
    Command,
    CreateTicket,
    InboundEvent,
    PollResult,
    Reassign,
    RequirementState,
    SetStatus,
    Solve,
)
from gateway.ticket.enums import Status, Visibility
from gateway.ticket.models import MAX_TEXT, Submitter, TicketCreate

log = logging.getLogger("gateway.adapters.rt")
RT_SYSTEM = "RT_System"
SETTLE_SECONDS = 2
COMMIT_LAG_SECONDS = 60
MAX_READ_KEPT = 5000
MAX_HISTORY_PAGES = 20


def rt_time(moment: datetime) -> str:
    """A time as TicketSQL reads it (UTC; a `Z` suffix would be read as midnight)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def parse_rt_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


@dataclass
class Transaction:
    id: int
    ticket: str
    type: str
    field: str
    old: str
    new: str
    creator: str

    @classmethod
    def of(cls, ticket: str, item: dict[str, Any]) -> Transaction:
        creator = item.get("Creator")
        name = creator.get("id") if isinstance(creator, dict) else creator
        return cls(
            id=int(item["id"]),
            ticket=ticket,
            type=str(item.get("Type") or ""),
            field=str(item.get("Field") or ""),
            old=str(item.get("OldValue") or ""),
            new=str(item.get("NewValue") or ""),
            creator=str(name or ""),
        )


@dataclass
class Message:
    text: str
    files: list[AttachFile] = field(default_factory=list)


class ChangeReader:
    """Reads RT for one connection; keeps queue names it has looked up."""

    def __init__(self, client: RtClient, config: RtConfig) -> None:
        self.client = client
        self.config = config
        self.own = {config.user.lower(), RT_SYSTEM.lower()}
        self._queue_names: dict[str, str] = {}

    def queues(self) -> list[str]:
        return [self.config.queue, *sorted(set(self.config.queue_units) - {self.config.queue})]

    def query(self, since: str) -> str:
        """Tickets of our queues, and every ticket carrying a hub id (one of ours moved to a
        queue we do not map is still followed: it is in the cursor's `read`)."""
        which = " OR ".join(f"Queue = '{quoted(q)}'" for q in self.queues())
        field = quoted(self.config.hub_id_field)
        return f"({which} OR 'CF.{{{field}}}' IS NOT NULL) AND LastUpdated >= '{since}'"

    async def poll(self, cursor: dict[str, Any] | None) -> PollResult:
        now = datetime.now(UTC)
        if not cursor or "since" not in cursor:
            cursor = {"since": rt_time(now), "seen": {}, "read": {}}
        page_no = int(cursor.get("page") or 1)
        page, _ = await self.client.search(
            self.query(str(cursor["since"])),
            fields="LastUpdated,Queue",
            expand={"fields[Queue]": "Name"},
            page=page_no,
            order=("LastUpdated", "id"),
        )
        requests = 1
        queues = set(self.queues())
        seen: dict[str, str] = dict(cursor.get("seen") or {})
        read: dict[str, int] = {k: int(v) for k, v in (cursor.get("read") or {}).items()}
        listed: list[tuple[str, str]] = []
        failed: list[str] = []  # versions of tickets that could not be read this time
        events: list[InboundEvent] = []
        for item in page["items"]:
            ticket, version = str(item["id"]), str(item.get("LastUpdated") or "")
            queue = item.get("Queue")
            name = queue.get("Name") if isinstance(queue, dict) else None
            if name not in queues and ticket not in read:
                continue  # another connection's ticket
            if seen.get(ticket) == version:
                listed.append((ticket, version))
                continue
            try:
                transactions, calls = await self._new_transactions(ticket, read.get(ticket, 0))
                requests += calls
                found, calls = await self._events(ticket, transactions)
                requests += calls
            except AdapterError as error:  # the others go on; this one is read next time
                log.warning(
                    "an RT ticket could not be read",
                    extra={"ticket": ticket, "error": error.message},
                )
                requests += 1
                if version:
                    failed.append(version)
                continue
            listed.append((ticket, version))
            events += found
            if transactions:
                read[ticket] = transactions[-1].id
        settled_before = now - timedelta(seconds=SETTLE_SECONDS)
        newest = max([parse_rt_time(v) for _, v in listed if v], default=None)
        # RT stamps a change before it commits it (its scrips run in between), so a change can
        # appear with an older LastUpdated than one already listed: stay a while behind
        floor = [rt_time(now - timedelta(seconds=COMMIT_LAG_SECONDS))]
        candidates = floor + [rt_time(parse_rt_time(v)) for v in failed]
        if newest is not None:
            candidates.append(rt_time(newest))
        since = max(str(cursor["since"]), min(candidates))
        after: dict[str, Any] = {
            "since": since,
            "seen": {t: v for t, v in listed if v and parse_rt_time(v) < settled_before},
            "read": dict(sorted(read.items(), key=lambda kv: kv[1])[-MAX_READ_KEPT:]),
        }
        more = page.get("next_page") is not None
        if more and since == cursor["since"]:  # a full page within the window: page on in it
            after["page"] = page_no + 1
            after["seen"] = {**seen, **after["seen"]}
        return PollResult(events, after, more=more, exchanges=requests)

    async def _new_transactions(self, ticket: str, after: int) -> tuple[list[Transaction], int]:
        """The ticket's transactions newer than `after`, oldest first; and the requests made."""
        found: list[Transaction] = []
        calls = 0
        for page_no in range(1, MAX_HISTORY_PAGES + 1):
            page, _ = await self.client.history(ticket, page=page_no)
            calls += 1
            items = [Transaction.of(ticket, i) for i in page["items"]]
            newer = [t for t in items if t.id > after]
            found += newer
            if len(newer) < len(items) or page.get("next_page") is None:
                break
        return sorted(found, key=lambda t: t.id), calls

    async def _events(
        self, ticket: str, transactions: list[Transaction]
    ) -> tuple[list[InboundEvent], int]:
        calls = 0
        events: list[InboundEvent] = []
        theirs = [t for t in transactions if t.creator.lower() not in self.own]
        if self.config.requirement_tag is not None:
            # RT's own status moves count here (a reply opens a new ticket by RT's scrip)
            ours = self.config.user.lower()
            for t in (t for t in transactions if t.creator.lower() != ours):
                if t.type == "Status":
                    state = RequirementState(remote_id=ticket, state=t.new[:64], previous=t.old)
                    events.append(InboundEvent(f"rt-txn-{t.id}", [state]))
            return events, calls
        for index, t in enumerate(theirs):
            commands: list[Command] = []
            if t.type == "Correspond":
                if self._solved_next(theirs, index):
                    continue  # read as the solution of the resolution that follows
                message = await self._message(t)
                calls += 1 + len(message.files)
                commands += self._reply(ticket, message)
            elif t.type == "Comment":  # internal at the hub; close-only leaves it in RT
                message = await self._message(t, with_files=False)
                calls += 1
                if message.text.strip():
                    commands.append(
                        AddComment(
                            remote_id=ticket,
                            body=message.text.strip()[:MAX_TEXT],
                            visibility=Visibility.INTERNAL,
                        )
                    )
            elif t.type == "Create" and self.config.accepts_new_tickets:
                opened, more = await self._opened(ticket, t)
                calls += more
                commands += opened
            elif t.type == "Status":
                status = self.config.from_rt(t.new)
                if status in SOLVING:
                    solution, more = await self._solution(ticket, t, transactions)
                    calls += more
                    commands.append(
                        Solve(remote_id=ticket, status=Status(status), solution=solution.text)
                    )
                    commands += solution.files
                elif status is not None:
                    commands.append(SetStatus(remote_id=ticket, status=Status(status)))
            elif t.type == "Set" and t.field == "Queue":
                name = await self.queue_name(t.new)
                calls += 1
                unit = self.config.queue_units.get(name)
                if unit is not None and name != self.config.queue:
                    commands.append(Reassign(remote_id=ticket, support_unit=unit))
            if commands:
                events.append(InboundEvent(f"rt-txn-{t.id}", commands))
        return events, calls

    async def _opened(self, ticket: str, t: Transaction) -> tuple[list[Command], int]:
        """A ticket someone opened in RT, unless it carries a hub id (then it is ours)."""
        body, _ = await self.client.json("GET", f"/ticket/{ticket}")
        if not isinstance(body, dict):
            return [], 1
        for custom in body.get("CustomFields") or []:
            if custom.get("name") == self.config.hub_id_field and custom.get("values"):
                return [], 1
        message = await self._message(t, with_files=False)
        requestors = [r.get("id") for r in body.get("Requestor") or [] if isinstance(r, dict)]
        email = next((r for r in requestors if isinstance(r, str) and "@" in r), None)
        creator = body.get("Creator")
        name = creator.get("id") if isinstance(creator, dict) else None
        data = TicketCreate(
            subject=str(body.get("Subject") or "(no subject)")[:255] or "(no subject)",
            description=message.text.strip()[:MAX_TEXT] or "(no description)",
            priority=priority_from_rt(str(body.get("Priority") or "0")),
            submitter=Submitter(
                name=str(name or email or "RT user")[:255],
                email=email or f"{self.config.user}@rt.invalid",
            ),
        )
        url = f"{self.config.url.rstrip('/')}/Ticket/Display.html?id={ticket}"
        return [CreateTicket(remote_id=ticket, ticket=data, remote_url=url)], 2

    def _solved_next(self, theirs: list[Transaction], index: int) -> bool:
        for later in theirs[index + 1 :]:
            if later.type == "Correspond":
                return False
            if later.type == "Status":
                return self.config.from_rt(later.new) in SOLVING
        return False

    def _reply(self, ticket: str, message: Message) -> list[Command]:
        body = message.text.strip()[:MAX_TEXT]
        commands: list[Command] = []
        if body:
            if self.config.correspondence == "question":
                commands.append(AskSubmitter(remote_id=ticket, body=body))
            else:
                commands.append(AddComment(remote_id=ticket, body=body))
        return commands + message.files

    async def _solution(
        self, ticket: str, status: Transaction, read: list[Transaction]
    ) -> tuple[Message, int]:
        """The last correspondence before the resolution, with its files, if someone wrote it
        after the hub's own last one (an older question is no solution)."""
        calls = 0
        candidates = [t for t in read if t.id < status.id]
        if not any(t.type == "Correspond" for t in candidates):
            older, calls = await self._new_transactions(ticket, 0)
            candidates = [t for t in older if t.id < status.id]
        for t in reversed(candidates):
            if t.type != "Correspond":
                continue
            if t.creator.lower() in self.own:
                break  # the hub wrote last: nothing since is a solution
            message = await self._message(t)
            calls += 1 + len(message.files)
            if message.text.strip():
                return Message(message.text.strip()[:MAX_TEXT], message.files), calls
        word = "resolved" if status.new == "resolved" else f"set to {status.new}"
        return Message(f"{word} in Request Tracker (no reply was written there)"), calls

    async def _message(self, t: Transaction, *, with_files: bool = True) -> Message:
        parts = await self.client.parts(str(t.id))
        texts: list[str] = []
        files: list[AttachFile] = []
        for part in parts:
            kind = str(part.get("ContentType") or "").lower()
            name = part.get("Filename")
            if name:
                if with_files:
                    file = await self._file(t.ticket, str(part["id"]), str(name), kind)
                    files += [file] if file is not None else []
            elif kind == "text/plain":
                texts.append(str(part.get("Content") or ""))
            elif kind == "text/html":
                texts.append(get_text(str(part.get("Content") or "")))
        return Message("\n\n".join(t.strip("\n") for t in texts if t.strip()), files)

    async def _file(
        self, ticket: str, attachment_id: str, name: str, kind: str
    ) -> AttachFile | None:
        body = await self.client.attachment(attachment_id)
        data = "".join(str(body.get("Content") or "").split())
        try:
            base64.b64decode(data, validate=True)
        except ValueError:
            raise PermanentError(f"RT's attachment {attachment_id} is not base64") from None
        if not data:  # an empty file carries nothing
            return None
        return AttachFile(
            remote_id=ticket,
            filename=name[:1024],
            content_type=kind[:255] or None,
            data=data,
            visibility=Visibility.PUBLIC,
        )

    async def queue_name(self, queue_id: str) -> str:
        if queue_id not in self._queue_names:
            body, _ = await self.client.json("GET", f"/queue/{queue_id}")
            self._queue_names[queue_id] = str(body.get("Name") or queue_id)
        return self._queue_names[queue_id]


def quoted(value: str) -> str:
    """A value inside TicketSQL's single quotes."""
    return value.replace("\\", "\\\\").replace("'", "\\'")
