"""The generic REST adapter: every request is shaped by the connection's mapping file."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel

from adapters.rest.config import RestConfig
from adapters.rest.inbound import translate
from adapters.rest.mapping import RequestSpec, RestMapping, load_mapping
from adapters.rest.pointer import PointerMissing, resolve
from adapters.rest.template import TemplateError, render
from gateway.adapter import http
from gateway.adapter.base import Adapter, AdapterConfig
from gateway.adapter.errors import AdapterError, Exchange, PermanentError
from gateway.adapter.models import (
    CheckResult,
    Command,
    Delivery,
    InboundRequest,
    PushResult,
    RemoteRef,
)
from gateway.webhook import standard
from gateway.webhook.errors import InboundRejected


class RestAdapter(Adapter[RestConfig]):
    kind: ClassVar[str] = "rest"
    config_model: ClassVar[type[AdapterConfig]] = RestConfig
    mapping_model: ClassVar[type[BaseModel] | None] = RestMapping

    def __init__(self, *, name: str, config: RestConfig, mapping: BaseModel | None = None) -> None:
        if not isinstance(mapping, RestMapping):
            raise TypeError("the rest adapter needs a RestMapping")
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
        spec = self.rest_mapping.outbound.create
        response, exchange = await self._send(spec, _context(delivery), delivery.idempotency_key)
        remote = _remote(spec, response, exchange)
        if remote is None:
            raise PermanentError(
                f"create answered without a remote id at {spec.remote_id}", exchange=exchange
            )
        return PushResult(remote, exchange)

    async def update(self, delivery: Delivery) -> PushResult:
        return await self._simple(self.rest_mapping.outbound.update, delivery)

    async def add_entry(self, delivery: Delivery) -> PushResult:
        return await self._simple(self.rest_mapping.outbound.entry, delivery)

    async def solve(self, delivery: Delivery) -> PushResult:
        return await self._simple(self.rest_mapping.outbound.solve, delivery)

    async def find(self, hub_id: int) -> RemoteRef | None:
        spec = self.rest_mapping.outbound.lookup
        if spec is None:
            return None
        response, exchange = await self._send(spec, {"hub_id": hub_id}, f"gw-lookup-{hub_id}")
        return _remote(spec, response, exchange)

    async def check(self) -> CheckResult:
        spec = self.rest_mapping.outbound.check or RequestSpec(method="GET", path="/")
        try:
            response, _ = await self._send(spec, {}, None)
        except AdapterError as exc:
            return CheckResult(False, exc.message)
        return CheckResult(True, f"{spec.method} {spec.path}: HTTP {response.status_code}")

    async def verify_inbound(self, request: InboundRequest) -> None:
        secrets = [secret.get_secret_value() for secret in self.config.webhook_secrets]
        if not secrets:
            raise InboundRejected(f"connection {self.name} has no webhook secret configured")
        standard.verify(secrets, request.headers, request.body)

    def event_id(self, request: InboundRequest) -> str | None:
        return request.headers.get("webhook-id")

    def translate_inbound(self, request: InboundRequest) -> list[Command]:
        return translate(self.rest_mapping, request.body)

    async def aclose(self) -> None:
        await self._client.aclose()

    async def _simple(self, spec: RequestSpec, delivery: Delivery) -> PushResult:
        _, exchange = await self._send(spec, _context(delivery), delivery.idempotency_key)
        return PushResult(delivery.remote, exchange)

    async def _send(
        self, spec: RequestSpec, context: dict[str, Any], key: str | None
    ) -> tuple[httpx.Response, Exchange]:
        maps = {name: table.outbound for name, table in self.rest_mapping.maps.items()}
        try:
            path = render(spec.path, context, maps, in_url=True)
            body = render(spec.body, context, maps)
        except TemplateError as exc:  # the mapping cannot express this ticket: retrying won't help
            raise PermanentError(
                f"mapping: {exc}", exchange=Exchange(spec.method, spec.path)
            ) from None
        headers = {"Idempotency-Key": key} if key else None
        return await http.call(self._client, spec.method, path, json_body=body, headers=headers)


def _context(delivery: Delivery) -> dict[str, Any]:
    remote = delivery.remote
    return {
        "ticket": delivery.ticket.model_dump(mode="json"),
        "entry": delivery.entry.model_dump(mode="json") if delivery.entry else None,
        "remote": {"remote_id": remote.remote_id, "remote_url": remote.remote_url}
        if remote
        else None,
        "hub_id": delivery.ticket.id,
        "changes": delivery.changes,
    }


def _remote(spec: RequestSpec, response: httpx.Response, exchange: Exchange) -> RemoteRef | None:
    if spec.remote_id is None:
        return None
    body = exchange.response_body
    try:
        remote_id = resolve(body, spec.remote_id)
    except PointerMissing:
        return None
    url = None
    if spec.remote_url is not None:
        try:
            url = str(resolve(body, spec.remote_url))
        except PointerMissing:
            url = None
    return RemoteRef(str(remote_id), url)
