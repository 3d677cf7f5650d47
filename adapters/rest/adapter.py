"""The generic REST adapter: every request and every inbound event is shaped by the mapping file."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel

from adapters.rest import inbound
from adapters.rest.config import RestConfig
from adapters.rest.mapping import RequestSpec, RestMapping, load_mapping
from adapters.rest.outbound import context, remote_ref, render_request
from gateway.adapter import http
from gateway.adapter.base import Adapter, AdapterConfig
from gateway.adapter.errors import AdapterError, Exchange, InboundRejected, PermanentError
from gateway.adapter.models import (
    CheckResult,
    Command,
    Delivery,
    InboundRequest,
    PushResult,
    RemoteRef,
)
from gateway.inbound import signatures as standard

DEFAULT_CHECK = RequestSpec(method="GET", path="/")


class RestAdapter(Adapter[RestConfig]):
    """Any helpdesk with a JSON REST API and Standard Webhooks, described by a mapping file."""

    kind: ClassVar[str] = "rest"
    config_model: ClassVar[type[AdapterConfig]] = RestConfig
    mapping_model: ClassVar[type[BaseModel] | None] = RestMapping

    def __init__(self, *, name: str, config: RestConfig, mapping: BaseModel | None = None) -> None:
        if not isinstance(mapping, RestMapping):
            raise TypeError(f"connection {name}: the rest adapter needs a RestMapping")
        super().__init__(name=name, config=config, mapping=mapping)
        self.rest_mapping = mapping
        headers = {"Accept": "application/json", "User-Agent": "ticket-gateway"}
        if config.token is not None:
            headers["Authorization"] = f"Bearer {config.token.get_secret_value()}"
        self._client = httpx.AsyncClient(
            base_url=config.base_url, headers=headers, timeout=config.timeout_seconds
        )

    @classmethod
    def load_mapping(cls, path: Path) -> BaseModel | None:
        return load_mapping(path)

    async def create(self, delivery: Delivery) -> PushResult:
        """Create remotely; on a retry, first look for the ticket the lost attempt may have made."""
        if delivery.attempt > 1:
            found, exchange = await self._lookup(delivery.ticket.id)
            if found is not None:
                return PushResult(found, exchange)
        spec = self.rest_mapping.outbound.create
        response, exchange = await self._send(spec, context(delivery), delivery.idempotency_key)
        remote = remote_ref(spec, exchange.response_body)
        if remote is None:
            raise PermanentError(
                f"{spec.method} {spec.path} answered HTTP {response.status_code} without a "
                f"remote id at {spec.remote_id}",
                exchange=exchange,
            )
        return PushResult(remote, exchange)

    async def update(self, delivery: Delivery) -> PushResult:
        return await self._simple(self.rest_mapping.outbound.update, delivery)

    async def add_entry(self, delivery: Delivery) -> PushResult:
        return await self._simple(self.rest_mapping.outbound.entry, delivery)

    async def solve(self, delivery: Delivery) -> PushResult:
        return await self._simple(self.rest_mapping.outbound.solve, delivery)

    async def find(self, hub_id: int) -> RemoteRef | None:
        found, _ = await self._lookup(hub_id)
        return found

    async def check(self) -> CheckResult:
        """One cheap GET; never raises, the detail says what went wrong."""
        spec = self.rest_mapping.outbound.check or DEFAULT_CHECK
        try:
            response, _ = await self._send(spec, {}, None)
        except AdapterError as exc:
            return CheckResult(False, exc.message)
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return CheckResult(False, f"{spec.method} {spec.path}: {type(exc).__name__}: {exc}")
        return CheckResult(True, f"{spec.method} {spec.path}: HTTP {response.status_code}")

    async def verify_inbound(self, request: InboundRequest) -> None:
        secrets = [secret.get_secret_value() for secret in self.config.webhook_secrets]
        if not secrets:
            raise InboundRejected(f"connection {self.name} has no webhook secret configured")
        standard.verify(secrets, request.headers, request.body)

    def event_id(self, request: InboundRequest) -> str | None:
        return inbound.event_id(self.rest_mapping, request.headers, request.body)

    def translate_inbound(self, request: InboundRequest) -> list[Command]:
        return inbound.translate(self.rest_mapping, request.body)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _lookup(self, hub_id: int) -> tuple[RemoteRef | None, Exchange | None]:
        """The remote ticket carrying our hub id, via the mapping's `lookup` (if it has one)."""
        spec = self.rest_mapping.outbound.lookup
        if spec is None:
            return None, None
        _, exchange = await self._send(spec, {"hub_id": hub_id}, None)
        return remote_ref(spec, exchange.response_body), exchange

    async def _simple(self, spec: RequestSpec, delivery: Delivery) -> PushResult:
        _, exchange = await self._send(spec, context(delivery), delivery.idempotency_key)
        return PushResult(delivery.remote, exchange)

    async def _send(
        self, spec: RequestSpec, values: dict[str, Any], idempotency_key: str | None
    ) -> tuple[httpx.Response, Exchange]:
        """Render and send one request; a delivery's requests carry its Idempotency-Key.

        Reads outside a delivery (look-up, check) carry none: a key reused for a different
        request is an error at remotes that implement the IETF Idempotency-Key draft.
        """
        request = render_request(spec, values, self.rest_mapping.outbound_maps())
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return await http.call(
            self._client, request.method, request.path, json_body=request.body, headers=headers
        )
