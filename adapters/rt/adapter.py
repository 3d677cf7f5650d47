"""The Request Tracker adapter: tickets made in a unit's queue carrying the hub id (a custom
field) and a `RefersTo` link to the hub ticket; public entries as correspondence, files along;
changes read back by polling (RT has no webhooks: its scrip, docs/rt-scrip.pl, only says
"poll now"). A connection with `requirement_tag` is the requirements queue instead: tickets there
carry the tag, and only their state is read back.
"""

from __future__ import annotations

import base64
from typing import Any, ClassVar

from adapters.rt.changes import ChangeReader, quoted
from adapters.rt.client import RtClient, Stale, refusals
from adapters.rt.config import RtConfig
from gateway.adapter.base import Adapter, AdapterConfig
from gateway.adapter.errors import AdapterError, Exchange, InboundRejected, PermanentError
from gateway.adapter.models import (
    CheckResult,
    Delivery,
    InboundRequest,
    PollResult,
    PushResult,
    RemoteRef,
)
from gateway.inbound import signatures
from gateway.ticket.enums import RelationRole, Status

STALE_RETRIES = 3
# what a hub relation is in RT, seen from the ticket holding it
RT_LINKS = {
    RelationRole.PARENT.value: "MemberOf",
    RelationRole.MASTER.value: "RefersTo",
    RelationRole.DUPLICATE_OF.value: "RefersTo",
}


class RtAdapter(Adapter[RtConfig]):
    kind: ClassVar[str] = "rt"
    config_model: ClassVar[type[AdapterConfig]] = RtConfig

    def __init__(self, *, name: str, config: RtConfig, mapping: Any = None) -> None:
        super().__init__(name=name, config=config, mapping=mapping)
        self.client = RtClient(config)
        self.reader = ChangeReader(self.client, config)

    @property
    def carries_attachments(self) -> bool:
        return self.config.requirement_tag is None

    @property
    def polls_on_inbound(self) -> bool:
        return True

    @property
    def requirement_tag(self) -> str | None:
        return self.config.requirement_tag

    @property
    def requirements_for_change_requests(self) -> bool:
        return self.config.auto_for_change_requests

    async def aclose(self) -> None:
        await self.client.aclose()

    def _ref(self, ticket_id: str) -> RemoteRef:
        return RemoteRef(
            ticket_id, f"{self.config.url.rstrip('/')}/Ticket/Display.html?id={ticket_id}"
        )

    # --- outbound ---------------------------------------------------------------------------

    async def create(self, delivery: Delivery) -> PushResult:
        """Make the ticket in the queue, unless one there carries the hub id already: on a retry,
        the one a lost answer made; on a reassignment, one staff moved here from another unit's
        queue (it is adopted)."""
        reassigned = isinstance(delivery.changes.get("support_unit"), dict)
        if delivery.attempt > 1 or reassigned:
            found = await self.find(delivery.ticket.id)
            if found is not None:
                return PushResult(found)
        ticket = delivery.ticket
        fields: dict[str, Any] = {self.config.hub_id_field: str(ticket.id)}
        if self.config.requirement_tag is not None:
            fields[self.config.tag_field] = self.config.requirement_tag
        body: dict[str, Any] = {
            "Queue": self.config.queue,
            "Subject": ticket.subject,
            "Content": _description(delivery),
            "ContentType": "text/plain",
            "CustomFields": fields,
            "Priority": self.config.to_rt_priority(ticket.priority.value),
        }
        if self.config.hub_ticket_url:
            body["RefersTo"] = self.config.hub_ticket_url.format(id=ticket.id)
        parent = next((r.ticket for r in ticket.relations if r.role == RelationRole.PARENT), None)
        if parent in delivery.related and self.config.requirement_tag is None:
            body["MemberOf"] = delivery.related[parent].remote_id  # a child opened for many units
        if self.config.requestor:
            body["Requestor"] = self.config.requestor
        answer, exchange = await self.client.json("POST", "/ticket", body=body)
        remote_id = str(answer.get("id") or "") if isinstance(answer, dict) else ""
        if not remote_id:
            raise PermanentError("RT answered the create without a ticket id", exchange=exchange)
        return PushResult(self._ref(remote_id), exchange)

    async def update(self, delivery: Delivery) -> PushResult:
        """Subject and status as at the hub, with `If-Match`; a stale ETag is read again."""
        assert delivery.remote is not None
        fields: dict[str, Any] = {"Subject": delivery.ticket.subject}
        if self.config.requirement_tag is None:
            fields["Status"] = self.config.to_rt(delivery.ticket.status.value)
            fields.update(self._relation_links(delivery))
        exchange = await self._put(delivery.remote.remote_id, fields)
        return PushResult(delivery.remote, exchange)

    def _relation_links(self, delivery: Delivery) -> dict[str, list[str]]:
        """A relation added or removed at the hub as RT's own link, from the side that holds it
        (RT shows the other side by itself): a parent as `MemberOf`, a master or an original as
        `RefersTo`; to the RT ticket when the other is in this queue too, else to the hub's."""
        out: dict[str, list[str]] = {}
        relations = delivery.changes.get("relations", {})
        for how, prefix in (("added", "Add"), ("removed", "Delete")):
            for item in relations.get(how, []) if isinstance(relations, dict) else []:
                link_type = RT_LINKS.get(str(item.get("role")))
                other = item.get("ticket")
                target = self._link_target(delivery, other) if isinstance(other, int) else None
                if link_type is not None and target is not None:
                    out.setdefault(prefix + link_type, []).append(target)
        return out

    def _link_target(self, delivery: Delivery, hub_id: int) -> str | None:
        if hub_id in delivery.related:
            return delivery.related[hub_id].remote_id
        return self.config.hub_ticket_url.format(id=hub_id) if self.config.hub_ticket_url else None

    async def add_entry(self, delivery: Delivery) -> PushResult:
        assert delivery.remote is not None and delivery.entry is not None
        entry = delivery.entry
        text = f"{entry.author} wrote at the hub (#{delivery.ticket.id}):\n\n{entry.body}"
        exchange = await self._correspond(delivery.remote.remote_id, {"Content": text})
        return PushResult(delivery.remote, exchange)

    async def solve(self, delivery: Delivery) -> PushResult:
        """RT as the origin: the solution as correspondence, and the ticket resolved/rejected."""
        assert delivery.remote is not None
        ticket = delivery.ticket
        status = self.config.to_rt(ticket.status.value)
        if ticket.status not in (Status.SOLVED, Status.UNSOLVED):
            status = self.config.to_rt(Status.SOLVED.value)
        content = f"Solved at the hub (#{ticket.id}):\n\n{ticket.solution or '(no solution text)'}"
        exchange = await self._correspond(
            delivery.remote.remote_id, {"Content": content, "Status": status}
        )
        return PushResult(delivery.remote, exchange)

    async def add_attachment(self, delivery: Delivery) -> PushResult:
        assert delivery.remote is not None and delivery.attachment is not None
        file = delivery.attachment
        body = {
            "Content": f"File added at the hub (#{delivery.ticket.id}): {file.filename}",
            "Attachments": [
                {
                    "FileName": file.filename,
                    "FileType": file.content_type,
                    "FileContent": base64.b64encode(file.data).decode(),
                }
            ],
        }
        shown = {**body, "Attachments": [{"FileName": file.filename, "size": file.size}]}
        exchange = await self._correspond(delivery.remote.remote_id, body, shown=shown)
        return PushResult(delivery.remote, exchange)

    async def link_requirement(self, delivery: Delivery) -> PushResult:
        """An existing ticket of the queue becomes this hub ticket's requirement: the hub id,
        the tag and a `RefersTo` link to the hub ticket (adding a link twice is harmless)."""
        assert delivery.remote is not None
        remote_id = delivery.remote.remote_id
        ticket, exchange = await self.client.json("GET", f"/ticket/{remote_id}")
        queue = ticket.get("Queue") if isinstance(ticket, dict) else None
        name = (
            await self.reader.queue_name(str(queue.get("id"))) if isinstance(queue, dict) else None
        )
        if name != self.config.queue:  # the gateway's RT rights must not reach other queues
            raise PermanentError(
                f"RT ticket {remote_id} is in queue {name!r}, not {self.config.queue!r}: "
                "only a ticket of the requirements queue can be linked",
                exchange=exchange,
            )
        exchange = await self._put(remote_id, self._marks(delivery.ticket.id))
        return PushResult(self._ref(remote_id), exchange)

    async def unlink_requirement(self, delivery: Delivery) -> PushResult:
        assert delivery.remote is not None
        fields: dict[str, Any] = {"CustomFields": {self.config.hub_id_field: None}}
        if self.config.hub_ticket_url:
            fields["DeleteRefersTo"] = self.config.hub_ticket_url.format(id=delivery.ticket.id)
        exchange = await self._put(delivery.remote.remote_id, fields)
        return PushResult(None, exchange)

    def _marks(self, hub_id: int) -> dict[str, Any]:
        custom = {self.config.hub_id_field: str(hub_id)}
        if self.config.requirement_tag is not None:
            custom[self.config.tag_field] = self.config.requirement_tag
        fields: dict[str, Any] = {"CustomFields": custom}
        if self.config.hub_ticket_url:
            fields["AddRefersTo"] = self.config.hub_ticket_url.format(id=hub_id)
        return fields

    async def _correspond(
        self, ticket_id: str, body: dict[str, Any], *, shown: Any = None
    ) -> Exchange:
        body = {**body, "ContentType": "text/plain"}
        shown = {**shown, "ContentType": "text/plain"} if shown is not None else None
        # never If-Match here: RT answers 412 to any but `*` on correspond
        messages, exchange = await self.client.json(
            "POST", f"/ticket/{ticket_id}/correspond", body=body, shown_body=shown
        )
        refused = refusals(messages)  # e.g. the Status of a solution RT's lifecycle refuses
        if refused:
            raise PermanentError(f"RT refused: {'; '.join(refused)}", exchange=exchange)
        return exchange

    async def _put(self, ticket_id: str, fields: dict[str, Any]) -> Exchange:
        """PUT with the ticket's ETag (its newest transaction); 412: read it again, retry."""
        for attempt in range(1, STALE_RETRIES + 1):
            response, _ = await self.client.request("GET", f"/ticket/{ticket_id}")
            try:
                return await self.client.update(
                    ticket_id, fields, etag=response.headers.get("etag")
                )
            except Stale:
                if attempt == STALE_RETRIES:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def find(self, hub_id: int) -> RemoteRef | None:
        field, queue = quoted(self.config.hub_id_field), quoted(self.config.queue)
        query = f"'CF.{{{field}}}' = '{int(hub_id)}' AND Queue = '{queue}'"
        page, _ = await self.client.search(query, fields="id")
        items = page["items"]
        return self._ref(str(items[0]["id"])) if items else None

    # --- inbound ----------------------------------------------------------------------------

    async def verify_inbound(self, request: InboundRequest) -> None:
        """The scrip's call, signed the Standard Webhooks way; its content is only a trigger."""
        secrets = [s.get_secret_value() for s in self.config.webhook_secrets]
        if not secrets:
            raise InboundRejected(f"connection {self.name} takes no webhooks (no webhook_secrets)")
        signatures.verify(secrets, request.headers, request.body)

    def can_poll(self) -> bool:
        return True

    async def poll(self, cursor: dict[str, Any] | None) -> PollResult:
        return await self.reader.poll(cursor)

    async def check(self) -> CheckResult:
        """RT answers, the queue exists, and the hub id field applies there (RT drops a value
        for a field that does not, without a word)."""
        try:
            queue, _ = await self.client.json("GET", f"/queue/{self.config.queue}")
        except AdapterError as error:
            return CheckResult(False, error.message)
        fields = queue.get("TicketCustomFields") if isinstance(queue, dict) else None
        if not isinstance(fields, list):
            return CheckResult(True, f"RT answers for queue {self.config.queue}")
        names = {str(f.get("name")) for f in fields if isinstance(f, dict)}
        wanted = [self.config.hub_id_field]
        if self.config.requirement_tag is not None:
            wanted.append(self.config.tag_field)
        missing = [name for name in wanted if name not in names]
        if missing:
            return CheckResult(
                False,
                f"custom field(s) {', '.join(missing)} do not apply to queue "
                f"{self.config.queue}: RT would drop their values",
            )
        return CheckResult(True, f"RT queue {self.config.queue} is ready")


def _description(delivery: Delivery) -> str:
    ticket = delivery.ticket
    lines = [
        ticket.description,
        "",
        f"Hub ticket #{ticket.id}, submitted by {ticket.submitter.name}",
    ]
    for label, value in (("VO", ticket.vo), ("Site", ticket.affected_site)):
        if value:
            lines.append(f"{label}: {value}")
    return "\n".join(lines)
