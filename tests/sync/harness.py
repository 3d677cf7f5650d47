"""A scriptable in-memory adapter for testing the sync engine on its own."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import TypeAdapter

from gateway.adapter.base import Adapter, AdapterConfig
from gateway.adapter.errors import AdapterError, Exchange, InboundRejected
from gateway.adapter.models import (
    CheckResult,
    Command,
    Delivery,
    InboundEvent,
    InboundRequest,
    PollResult,
    PushResult,
    RemoteRef,
)

COMMANDS = TypeAdapter(list[Command])


@dataclass
class Remote:
    """What the remote system saw, and the failures it should produce next."""

    received: list[Delivery] = field(default_factory=list)
    tickets: dict[int, str] = field(default_factory=dict)  # hub id -> remote id
    failures: list[AdapterError] = field(default_factory=list)
    fail_always_for: set[int] = field(default_factory=set)
    create_then_fail: bool = False
    check_ok: bool = True
    remote_id_for: dict[int, str] = field(default_factory=dict)  # answer with this remote id
    polls: list[PollResult | AdapterError] = field(default_factory=list)  # the next polls' answers
    polled_from: list[dict[str, Any] | None] = field(default_factory=list)  # cursors polled with

    def actions(self, ticket_id: int | None = None) -> list[str]:
        return [d.action.value for d in self.received if ticket_id in (None, d.ticket.id)]


class ScriptedConfig(AdapterConfig):
    pass


class ScriptedAdapter(Adapter[ScriptedConfig]):
    """Records every push; inbound bodies are canonical commands as JSON, signed by a header."""

    kind: ClassVar[str] = "scripted"
    config_model: ClassVar[type[AdapterConfig]] = ScriptedConfig

    def __init__(
        self,
        *,
        name: str,
        remote: Remote | None = None,
        pollable: bool = False,
        attachments: bool = False,
    ) -> None:
        super().__init__(name=name, config=ScriptedConfig())
        self.remote = remote or Remote()
        self.pollable = pollable
        self.attachments = attachments

    @property
    def carries_attachments(self) -> bool:
        return self.attachments

    async def _handle(self, delivery: Delivery) -> PushResult:
        exchange = Exchange(
            "POST", f"scripted://{self.name}/{delivery.action}", {"id": delivery.ticket.id}
        )
        if delivery.ticket.id in self.remote.fail_always_for:
            from gateway.adapter.errors import RetryableError

            raise RetryableError("remote down for this ticket", exchange=exchange)
        if self.remote.failures:
            raise self.remote.failures.pop(0)
        if delivery.action == "create" and delivery.attempt > 1:  # as the contract requires
            found = await self.find(delivery.ticket.id)
            if found is not None:
                return PushResult(found, exchange)
        self.remote.received.append(delivery)
        default = self.remote.remote_id_for.get(delivery.ticket.id, f"R{delivery.ticket.id}")
        remote_id = self.remote.tickets.setdefault(delivery.ticket.id, default)
        if delivery.action == "create" and self.remote.create_then_fail:
            self.remote.create_then_fail = False
            from gateway.adapter.errors import RetryableError

            raise RetryableError("timed out after the remote created it", exchange=exchange)
        return PushResult(
            RemoteRef(remote_id, f"https://{self.name}.example/{remote_id}"), exchange
        )

    create = update = add_entry = solve = _handle

    async def add_attachment(self, delivery: Delivery) -> PushResult:
        if not self.attachments:
            return await super().add_attachment(delivery)
        return await self._handle(delivery)

    async def find(self, hub_id: int) -> RemoteRef | None:
        remote_id = self.remote.tickets.get(hub_id)
        return RemoteRef(remote_id) if remote_id else None

    async def verify_inbound(self, request: InboundRequest) -> None:
        if request.headers.get("x-test-signature") != "ok":
            raise InboundRejected("bad test signature")

    def translate_inbound(self, request: InboundRequest) -> list[InboundEvent]:
        commands = COMMANDS.validate_python(json.loads(request.body))
        return [InboundEvent(request.headers.get("x-event-id", "no-id"), commands)]

    async def check(self) -> CheckResult:
        return CheckResult(self.remote.check_ok, "in memory")

    def can_poll(self) -> bool:
        return self.pollable

    async def poll(self, cursor: dict[str, Any] | None) -> PollResult:
        self.remote.polled_from.append(cursor)
        answer = self.remote.polls.pop(0) if self.remote.polls else PollResult([], cursor or {})
        if isinstance(answer, AdapterError):
            raise answer
        return answer
