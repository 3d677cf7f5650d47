"""The contract every adapter passes; a newly registered adapter is covered automatically."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import respx
from jsonschema import Draft202012Validator
from pydantic import SecretStr, ValidationError

from gateway.adapter.base import Adapter, secret_fields
from gateway.adapter.errors import AuthenticationError, PermanentError, RetryableError
from gateway.adapter.models import CreateTicket, InboundRequest
from gateway.connection.service import build_connections
from gateway.errors import ConfigError
from gateway.exports import SCHEMAS_DIR
from tests.contract.conftest import KINDS, REGISTRY, config_for
from tests.contract.scenarios import SCENARIOS, Scenario
from tests.support.tickets import make_delivery

SECRET_WORDS = ("token", "password", "secret", "key", "credential")


def test_every_registered_adapter_has_a_scenario() -> None:
    assert KINDS, "no adapter is registered"
    assert set(KINDS) <= set(SCENARIOS), set(KINDS) - set(SCENARIOS)
    assert not REGISTRY.broken, REGISTRY.broken


def test_config_schema_is_valid_and_exported(kind: str) -> None:
    schema = REGISTRY.get(kind).config_model.model_json_schema()
    Draft202012Validator.check_schema(schema)
    exported = json.loads((SCHEMAS_DIR / f"adapter-{kind}.schema.json").read_text(encoding="utf-8"))
    assert exported["properties"] == schema["properties"]


def test_secret_looking_fields_are_secret_types(kind: str) -> None:
    model = REGISTRY.get(kind).config_model
    secrets = set(secret_fields(model))
    for name in model.model_fields:
        if any(word in name for word in SECRET_WORDS):
            assert name in secrets, f"{kind}.{name} looks like a secret but is not SecretStr"


def test_bad_config_is_refused_naming_the_key(kind: str, scenario: Scenario) -> None:
    for settings, key in scenario.invalid:
        with pytest.raises(ConfigError) as raised:
            build_connections(
                config_for(kind, scenario, settings), REGISTRY, environ=scenario.environ
            )
        keys = [d["key"] for d in raised.value.details]
        assert f"connections[0].{key}" in keys, (settings, keys)


def test_inline_or_missing_secret_is_refused(kind: str, scenario: Scenario) -> None:
    model = REGISTRY.get(kind).config_model
    name = secret_fields(model)[0]
    settings = {**scenario.settings, name: "inline-secret"}
    if isinstance(scenario.settings.get(name), list):
        settings[name] = ["inline-secret"]
    with pytest.raises(ConfigError) as raised:
        build_connections(config_for(kind, scenario, settings), REGISTRY, environ=scenario.environ)
    assert "environment variable" in str(raised.value)
    assert "inline-secret" not in str(raised.value)
    with pytest.raises(ConfigError, match="is not set"):
        build_connections(config_for(kind, scenario), REGISTRY, environ={})


async def test_secrets_are_masked_everywhere(
    adapter: Adapter[Any], scenario: Scenario, kind: str
) -> None:
    shown = [
        repr(adapter),
        str(adapter.config),
        repr(adapter.config),
        adapter.config.model_dump_json(),
    ]
    for secret in scenario.secret_values:
        assert all(secret not in text for text in shown), secret
    values = {**scenario.settings, **{k: v for k, v in adapter.config}}
    values["timeout_seconds"] = "not a number"
    with pytest.raises(ValidationError) as raised:
        REGISTRY.get(kind).config_model.model_validate(values)
    errors = [e["msg"] for e in raised.value.errors()]  # what the hub reports
    assert all(secret not in str(errors) for secret in scenario.secret_values)
    assert all(
        isinstance(v, SecretStr) or v is None or isinstance(v, list)
        for k, v in adapter.config
        if k in secret_fields(type(adapter.config))
    )


async def test_mapping_round_trip(adapter: Adapter[Any], scenario: Scenario) -> None:
    delivery = make_delivery("create")
    with respx.mock(assert_all_called=True) as mock:
        route = scenario.create_route(mock).mock(
            return_value=httpx.Response(201, json={"id": "R-9"})
        )
        result = await adapter.push(delivery)
    assert result.remote is not None and result.remote.remote_id == "R-9"
    sent = json.loads(route.calls[0].request.content)
    [command] = adapter.translate_inbound(
        InboundRequest(headers={}, body=scenario.echo_of_create(sent, "R-9"))
    )
    assert isinstance(command, CreateTicket)
    ticket = delivery.ticket
    assert command.remote_id == "R-9"
    assert (command.ticket.subject, command.ticket.description, command.ticket.priority) == (
        ticket.subject,
        ticket.description,
        ticket.priority,
    )
    assert (command.ticket.submitter.name, command.ticket.submitter.email) == (
        ticket.submitter.name,
        ticket.submitter.email,
    )


@pytest.mark.parametrize(
    ("response", "error", "retry_after"),
    [
        (httpx.Response(400, json={"error": "bad"}), PermanentError, None),
        (httpx.Response(401), AuthenticationError, None),
        (httpx.Response(403), AuthenticationError, None),
        (httpx.Response(429, headers={"Retry-After": "7"}), RetryableError, 7.0),
        (httpx.Response(500), RetryableError, None),
        (httpx.ReadTimeout("slow"), RetryableError, None),
    ],
    ids=["400", "401", "403", "429", "500", "timeout"],
)
async def test_error_classification(
    adapter: Adapter[Any], scenario: Scenario, response: Any, error: type, retry_after: float | None
) -> None:
    with respx.mock() as mock:
        route = scenario.create_route(mock)
        route.mock(side_effect=response) if isinstance(response, Exception) else route.mock(
            return_value=response
        )
        with pytest.raises(error) as raised:
            await adapter.push(make_delivery("create"))
    assert type(raised.value) is error
    if retry_after is not None:
        assert raised.value.retry_after == retry_after
    if isinstance(response, httpx.Response):
        assert raised.value.exchange is not None
        assert raised.value.exchange.status_code == response.status_code


async def test_retried_create_does_not_make_a_second_remote_ticket(
    adapter: Adapter[Any], scenario: Scenario
) -> None:
    """The remote applies the first request but the answer is lost; the retry must not duplicate."""
    remote: dict[str, str] = {}
    keys: list[str | None] = []

    def create(request: httpx.Request) -> httpx.Response:
        key = request.headers.get("idempotency-key")
        keys.append(key)
        first = not remote
        remote.setdefault(str(key), f"R-{len(remote) + 1}")
        if first:
            raise httpx.ReadTimeout("answer lost", request=request)
        return httpx.Response(201, json={"id": remote[str(key)]})

    lookup_items = lambda request: httpx.Response(  # noqa: E731
        200, json={"items": [{"id": v} for v in remote.values()]}
    )
    delivery = make_delivery("create", key="gw-5")
    with respx.mock() as mock:
        scenario.create_route(mock).mock(side_effect=create)
        scenario.lookup_route(mock).mock(side_effect=lookup_items)
        with pytest.raises(RetryableError):
            await adapter.push(delivery)
        found = await adapter.find(delivery.ticket.id)
        result = (
            found or (await adapter.push(make_delivery("create", key="gw-5", attempt=2))).remote
        )
    assert result is not None and result.remote_id == "R-1"
    assert len(remote) == 1
    assert set(keys) == {"gw-5"}
