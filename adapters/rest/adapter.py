"""The declarative REST adapter: every request, answer, event and poll is shaped by the mapping.

One adapter serves any remote a mapping file can describe: the reference helpdesk
(`rest-default.yaml`), Redmine (polled), Znuny (errors inside 200 answers, a token header on
its events), Jira Data Center and Cloud (transitions read then posted, HMAC-signed webhooks).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from pydantic import BaseModel

from adapters.rest import inbound
from adapters.rest.config import RestConfig
from adapters.rest.mapping import Action, RestMapping, load_mapping
from adapters.rest.outbound import Speaker, delivery_context, now_iso
from adapters.rest.poll import poll
from adapters.rest.templates import Templates
from gateway.adapter.base import Adapter, AdapterConfig
from gateway.adapter.errors import (
    AdapterError,
    InboundRejected,
    InboundUnreadable,
    PermanentError,
)
from gateway.adapter.models import (
    CheckResult,
    Delivery,
    InboundEvent,
    InboundRequest,
    PollResult,
    PushResult,
    RemoteRef,
)
from gateway.inbound import signatures
from gateway.inputs import load_json


class RestAdapter(Adapter[RestConfig]):
    """Any remote with a JSON HTTP API, described by a mapping file."""

    kind: ClassVar[str] = "rest"
    config_model: ClassVar[type[AdapterConfig]] = RestConfig
    mapping_model: ClassVar[type[BaseModel] | None] = RestMapping

    def __init__(self, *, name: str, config: RestConfig, mapping: BaseModel | None = None) -> None:
        if not isinstance(mapping, RestMapping):
            raise TypeError(f"connection {name}: the rest adapter needs a RestMapping")
        super().__init__(name=name, config=config, mapping=mapping)
        self.rest_mapping = mapping
        self.templates = Templates(mapping.maps)
        self.values = config.template_values()
        self.speaker = Speaker(mapping, config, self.templates)

    @classmethod
    def load_mapping(cls, path: Path) -> BaseModel | None:
        return load_mapping(path)

    @property
    def carries_attachments(self) -> bool:
        """Files are sent when the mapping says how (`outbound.attach`)."""
        return self.rest_mapping.outbound.attach is not None

    # --- outbound ---------------------------------------------------------------------------

    async def create(self, delivery: Delivery) -> PushResult:
        """Create remotely; a retry first looks for the ticket the lost attempt may have made."""
        if delivery.attempt > 1:
            found = await self._before_retried_create(delivery)
            if found is not None:
                return found
        action = self.rest_mapping.outbound.create
        context, exchange = await self.speaker.run(
            action, delivery_context(delivery, self.values), key=delivery.idempotency_key
        )
        remote = self.speaker.remote_ref(action, context, exchange)
        if remote is None:
            raise PermanentError(
                "the create was answered without a remote ticket id where the mapping's "
                "outbound.create.result says",
                exchange=exchange,
            )
        return PushResult(remote, exchange)

    async def update(self, delivery: Delivery) -> PushResult:
        return await self._simple(self.rest_mapping.outbound.update, delivery)

    async def add_entry(self, delivery: Delivery) -> PushResult:
        return await self._simple(self.rest_mapping.outbound.entry, delivery)

    async def solve(self, delivery: Delivery) -> PushResult:
        return await self._simple(self.rest_mapping.outbound.solve, delivery)

    async def add_attachment(self, delivery: Delivery) -> PushResult:
        action = self.rest_mapping.outbound.attach
        if action is None:
            return await super().add_attachment(delivery)
        if delivery.attachment is None:
            raise PermanentError(f"an attach delivery for #{delivery.ticket.id} without a file")
        _, exchange = await self.speaker.run(
            action,
            delivery_context(delivery, self.values),
            key=delivery.idempotency_key,
            file=delivery.attachment,
        )
        return PushResult(delivery.remote, exchange)

    async def find(self, hub_id: int) -> RemoteRef | None:
        action = self.rest_mapping.outbound.find
        if action is None:
            return None
        context = {"hub_id": hub_id, "values": self.values, "now": now_iso()}
        after, exchange = await self.speaker.run(action, context)
        return self.speaker.remote_ref(action, after, exchange)

    async def check(self) -> CheckResult:
        """One cheap request; never raises, the detail says what went wrong."""
        request = self.rest_mapping.outbound.check
        if request is None:
            return CheckResult(True, "the mapping has no check request")
        try:
            answer = await self.speaker.send(request, {"values": self.values, "now": now_iso()})
        except AdapterError as exc:
            return CheckResult(False, exc.message)
        return CheckResult(True, f"{request.method} {request.path}: HTTP {answer.status}")

    async def aclose(self) -> None:
        await self.speaker.aclose()

    async def _before_retried_create(self, delivery: Delivery) -> PushResult | None:
        """A create may have reached the remote although its answer was lost. Look for it; a
        remote that can neither be searched nor applies keys once cannot be retried blind."""
        if self.rest_mapping.outbound.find is not None:
            found = await self.find(delivery.ticket.id)
            return PushResult(found) if found is not None else None
        if self.rest_mapping.remote_honours_idempotency:
            return None
        raise PermanentError(
            f"a retried create could make a second ticket at {self.name}: its mapping has no "
            "outbound.find and the remote does not apply a repeated Idempotency-Key once. Check "
            f"the remote for hub ticket #{delivery.ticket.id}, then replay or discard this "
            "delivery"
        )

    async def _simple(self, action: Action, delivery: Delivery) -> PushResult:
        _, exchange = await self.speaker.run(
            action, delivery_context(delivery, self.values), key=delivery.idempotency_key
        )
        return PushResult(delivery.remote, exchange)

    # --- inbound ----------------------------------------------------------------------------

    async def verify_inbound(self, request: InboundRequest) -> None:
        verify = self.rest_mapping.inbound.verify
        secrets = [secret.get_secret_value() for secret in self.config.webhook_secrets]
        if verify is None or not secrets:
            raise InboundRejected(f"connection {self.name} does not accept webhooks")
        headers = request.headers
        if verify.type == "standard-webhooks":
            signatures.verify(secrets, headers, request.body)
        elif verify.type == "hmac-sha256":
            signatures.verify_hmac_sha256(
                secrets,
                headers.get((verify.header or "").lower()),
                request.body,
                prefix=verify.prefix,
                encoding=verify.encoding,
            )
        elif verify.type == "token":
            signatures.verify_token(secrets, headers.get((verify.header or "").lower()))
        else:
            signatures.verify_basic(secrets, headers.get("authorization"))

    def translate_inbound(self, request: InboundRequest) -> list[InboundEvent]:
        try:
            payload = load_json(request.body)
        except ValueError as exc:
            raise InboundUnreadable(f"payload is not JSON: {exc}") from None
        return inbound.events(
            self.rest_mapping, self.templates, payload, headers=request.headers, values=self.values
        )

    def can_poll(self) -> bool:
        return self.rest_mapping.poll is not None

    async def poll(self, cursor: dict[str, Any] | None) -> PollResult:
        return await poll(self.speaker, self.rest_mapping, self.templates, cursor, self.values)
