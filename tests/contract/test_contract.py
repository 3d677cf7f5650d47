"""The contract every adapter passes; a newly registered adapter is covered automatically.

Each test runs once per adapter kind in the `gateway.adapters` entry points, configured and faked
as its scenario in `tests/contract/scenarios/` says.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
import yaml
from jsonschema import Draft202012Validator
from pydantic import SecretStr, ValidationError

from gateway.adapter.base import Adapter, secret_fields
from gateway.adapter.errors import (
    AdapterError,
    AuthenticationError,
    InboundRejected,
    InboundUnreadable,
    PermanentError,
    RetryableError,
)
from gateway.adapter.models import AddComment, CreateTicket, InboundRequest
from gateway.connection.service import build_connections
from gateway.errors import ConfigError
from gateway.ticket.enums import Visibility
from tests.contract.conftest import REGISTRY, config_for
from tests.contract.scenarios import SCENARIOS, Remote, Scenario
from tests.contract.tickets import make_delivery

SECRET_WORDS = ("token", "password", "secret", "key", "credential")
MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"


def adapter_sends_keys(keys: list[str | None]) -> bool:
    """Remotes that ignore keys (Redmine, Znuny, Jira) get none: a mapping may say so."""
    return any(key is not None for key in keys)


def resolved(scenario: Scenario) -> dict[str, Any]:
    """The scenario's settings with `{env: NAME}` replaced by the value, as the hub does."""

    def value(raw: Any) -> Any:
        if isinstance(raw, list):
            return [value(item) for item in raw]
        if isinstance(raw, dict) and set(raw) == {"env"}:
            return scenario.environ[raw["env"]]
        if isinstance(raw, dict):
            return {k: value(v) for k, v in raw.items()}
        return raw

    return {name: value(raw) for name, raw in scenario.settings.items()}


def assert_no_secret(scenario: Scenario, *shown: str) -> None:
    for secret in scenario.secret_values:
        for text in shown:
            assert secret not in text, f"secret shown in: {text[:200]}"


def test_every_registered_adapter_loads_and_has_a_scenario() -> None:
    assert REGISTRY.kinds, "no adapter is registered under gateway.adapters"
    assert not REGISTRY.broken, REGISTRY.broken
    covered = {scenario.kind for scenario in SCENARIOS.values()}
    missing = sorted(set(REGISTRY.kinds) - covered)
    assert not missing, f"registered without a contract scenario: {missing}"
    orphans = sorted(covered - set(REGISTRY.kinds))
    assert not orphans, f"scenario for an adapter that is not registered: {orphans}"


def test_every_shipped_mapping_has_a_scenario() -> None:
    """A mapping file in mappings/ is a product the gateway claims to speak: the suite runs it."""
    shipped = {
        p.name for p in MAPPINGS.glob("*.yaml") if "outbound" in yaml.safe_load(p.read_text())
    }  # a file without outbound is a shared part that others extend
    covered = {scenario.mapping for scenario in SCENARIOS.values()}
    assert shipped <= covered, f"mappings without a contract scenario: {shipped - covered}"


def test_config_schema_is_valid_json_schema(kind: str, scenario: Scenario) -> None:
    adapter_class = REGISTRY.get(kind)
    schema = adapter_class.config_model.model_json_schema()
    Draft202012Validator.check_schema(schema)
    errors = [e.message for e in Draft202012Validator(schema).iter_errors(resolved(scenario))]
    assert errors == [], "the schema refuses settings the adapter accepts"
    if adapter_class.mapping_model is not None:
        Draft202012Validator.check_schema(adapter_class.mapping_model.model_json_schema())


def test_secret_looking_fields_are_secret_types(kind: str) -> None:
    model = REGISTRY.get(kind).config_model
    secrets = set(secret_fields(model))
    for name in model.model_fields:
        if any(word in name.lower() for word in SECRET_WORDS):
            assert name in secrets, f"{kind}.{name} looks like a secret but is not SecretStr"


def test_bad_config_is_refused_naming_the_key(kind: str, scenario: Scenario) -> None:
    assert scenario.invalid, "a scenario must list invalid settings"
    for settings, key in scenario.invalid:
        with pytest.raises(ConfigError) as raised:
            build_connections(
                config_for(kind, scenario, settings), REGISTRY, environ=scenario.environ
            )
        keys = [d["key"] for d in raised.value.details]
        assert f"connections[0].{key}" in keys, (settings, keys)


def test_secrets_must_come_from_the_environment(kind: str, scenario: Scenario) -> None:
    model = REGISTRY.get(kind).config_model
    names = secret_fields(model)
    if not names:
        pytest.skip(f"{kind} has no secret settings")
    for name in names:
        inline = (
            ["inline-s3cret"] if isinstance(scenario.settings.get(name), list) else "inline-s3cret"
        )
        settings = {**scenario.settings, name: inline}
        with pytest.raises(ConfigError) as raised:
            build_connections(
                config_for(kind, scenario, settings), REGISTRY, environ=scenario.environ
            )
        assert "environment variable" in str(raised.value)
        assert "inline-s3cret" not in str(raised.value)
    with pytest.raises(ConfigError, match="is not set"):
        build_connections(config_for(kind, scenario), REGISTRY, environ={})


async def test_secrets_are_masked_everywhere(
    adapter: Adapter[Any], scenario: Scenario, kind: str
) -> None:
    config = adapter.config
    assert_no_secret(
        scenario,
        repr(adapter),
        str(adapter),
        repr(config),
        str(config),
        config.model_dump_json(),
        json.dumps(config.model_dump(mode="json")),
    )
    for name in secret_fields(type(config)):
        value = getattr(config, name)
        values = (
            list(value.values())
            if isinstance(value, dict)
            else value
            if isinstance(value, list)
            else [value]
        )
        assert all(isinstance(v, SecretStr) for v in values if v is not None), name
    # The hub's own refusal of a bad connection, with the real secrets in the environment.
    settings, _ = scenario.invalid[0]
    with pytest.raises(ConfigError) as refused:
        build_connections(
            config_for(kind, scenario, {**scenario.settings, **settings}),
            REGISTRY,
            environ=scenario.environ,
        )
    assert_no_secret(scenario, str(refused.value), repr(refused.value.details))
    # A traceback of the model's own validation error: a bad neighbour, then a bad secret.
    model = REGISTRY.get(kind).config_model
    with pytest.raises(ValidationError) as neighbour:
        model.model_validate({**resolved(scenario), "no_such_setting": 1})
    assert_no_secret(scenario, str(neighbour.value), repr(neighbour.value.errors()))
    for name in secret_fields(model):
        with pytest.raises(ValidationError) as bad_secret:
            model.model_validate(
                {**resolved(scenario), name: [{"wrapped": scenario.secret_values[0]}]}
            )
        assert_no_secret(scenario, str(bad_secret.value))


async def test_a_ticket_opened_at_the_remote_reads_as_the_same_ticket(
    adapter: Adapter[Any], scenario: Scenario
) -> None:
    """What the remote reports of a ticket opened there (webhook or poll) is that ticket."""
    remote = Remote(remote_id="9")
    with respx.mock(assert_all_called=False) as mock:
        events = await scenario.opened_remotely(adapter, mock, remote)
    [event] = events
    [command] = event.commands
    assert isinstance(command, CreateTicket)
    assert command.remote_id == "9"
    assert command.ticket.subject == remote.subject
    assert command.ticket.description.startswith(remote.description)
    assert command.ticket.priority == remote.priority
    assert command.ticket.submitter.name == remote.submitter_name
    again = await _events_again(scenario, adapter, remote)
    assert [e.event_id for e in again] == [event.event_id], "the same report, the same event id"


async def _events_again(scenario: Scenario, adapter: Adapter[Any], remote: Remote) -> list[Any]:
    with respx.mock(assert_all_called=False) as mock:
        return await scenario.opened_remotely(adapter, mock, remote)


async def test_an_internal_note_at_the_remote_stays_internal(
    adapter: Adapter[Any], scenario: Scenario
) -> None:
    remote = Remote(remote_id="9")
    with respx.mock(assert_all_called=False) as mock:
        events = await scenario.internal_note(adapter, mock, remote)
    comments = [c for e in events for c in e.commands if isinstance(c, AddComment)]
    assert [(c.body, c.visibility) for c in comments] == [(remote.note, Visibility.INTERNAL)]


async def test_a_create_sends_the_ticket_and_keeps_the_remote_id(
    adapter: Adapter[Any], scenario: Scenario
) -> None:
    with respx.mock(assert_all_called=False) as mock:
        route = scenario.create_route(mock).mock(return_value=scenario.created("9"))
        scenario.also_on_create(mock)
        result = await adapter.push(make_delivery("create", priority="urgent"))
    assert result.remote is not None and result.remote.remote_id == "9"
    sent = route.calls[0].request.content.decode()
    assert "SRM at DESY refuses writes" in sent and "42" in sent, "subject and hub id are sent"


@pytest.mark.parametrize(
    ("answer", "error", "retry_after"),
    [
        (httpx.Response(400, json={"error": "bad"}), PermanentError, None),
        (httpx.Response(401), AuthenticationError, None),
        (httpx.Response(403), AuthenticationError, None),
        (httpx.Response(429, headers={"Retry-After": "7"}), RetryableError, 7.0),
        (httpx.Response(500), RetryableError, None),
        (httpx.Response(503, headers={"Retry-After": "120"}), RetryableError, 120.0),
        (httpx.ReadTimeout("slow"), RetryableError, None),
    ],
    ids=["400", "401", "403", "429", "500", "503", "timeout"],
)
async def test_error_classification(
    adapter: Adapter[Any],
    scenario: Scenario,
    answer: httpx.Response | Exception,
    error: type[Exception],
    retry_after: float | None,
) -> None:
    with respx.mock(assert_all_called=False) as mock:
        route = scenario.create_route(mock)
        scenario.also_on_create(mock)
        if isinstance(answer, Exception):
            route.mock(side_effect=answer)
        else:
            route.mock(return_value=answer)
        with pytest.raises(error) as raised:
            await adapter.push(make_delivery("create"))
    failure = raised.value
    assert type(failure) is error
    if isinstance(failure, RetryableError):
        assert failure.retry_after == retry_after
    assert isinstance(failure, PermanentError | RetryableError)
    assert failure.exchange is not None, "the dead letter must show what was exchanged"
    if isinstance(answer, httpx.Response):
        assert failure.exchange.status_code == answer.status_code
    assert_no_secret(scenario, str(failure), json.dumps(failure.exchange.as_dict(), default=str))


@pytest.mark.parametrize("remote_honours_keys", [True, False], ids=["keyed-remote", "plain-remote"])
async def test_create_retried_after_a_lost_answer_makes_one_remote_ticket(
    adapter: Adapter[Any], scenario: Scenario, remote_honours_keys: bool
) -> None:
    """The remote creates the ticket but the answer is lost; the retry must not duplicate it."""
    if not remote_honours_keys and scenario.mock_lookup is None:
        pytest.skip("this remote cannot be searched for our hub id")
    tickets: dict[str, str] = {}  # remote id -> the key that created it (all carry hub id 42)
    keys: list[str | None] = []

    def create(request: httpx.Request) -> httpx.Response:
        key = request.headers.get("idempotency-key")
        keys.append(key)
        if remote_honours_keys and key in tickets.values():
            return scenario.created(next(r for r, k in tickets.items() if k == key))
        remote_id = str(len(tickets) + 1)
        tickets[remote_id] = str(key)
        if len(keys) == 1:
            raise httpx.ReadTimeout("answer lost", request=request)
        return scenario.created(remote_id)

    with respx.mock(assert_all_called=False) as mock:
        scenario.create_route(mock).mock(side_effect=create)
        scenario.also_on_create(mock)
        if scenario.mock_lookup is not None:
            scenario.mock_lookup(mock, lambda: list(tickets))
        with pytest.raises(RetryableError):
            await adapter.push(make_delivery("create", key="gw-5", attempt=1))
        try:
            result = await adapter.push(make_delivery("create", key="gw-5", attempt=2))
        except PermanentError as refused:  # neither searchable nor keyed: it must say so
            assert scenario.mock_lookup is None and "second ticket" in refused.message
            return
    assert result.remote is not None and result.remote.remote_id == "1"
    assert list(tickets) == ["1"]
    if adapter_sends_keys(keys):
        assert set(keys) == {"gw-5"}, "every try of one delivery carries its key"


async def test_create_retried_after_a_refusal_creates_the_ticket_once(
    adapter: Adapter[Any], scenario: Scenario
) -> None:
    tickets: list[str] = []
    answers = iter([httpx.Response(503)])

    def create(request: httpx.Request) -> httpx.Response:
        refused = next(answers, None)
        if refused is not None:
            return refused
        tickets.append(str(len(tickets) + 1))
        return scenario.created(tickets[-1])

    with respx.mock(assert_all_called=False) as mock:
        scenario.create_route(mock).mock(side_effect=create)
        scenario.also_on_create(mock)
        if scenario.mock_lookup is not None:
            scenario.mock_lookup(mock, lambda: list(tickets))
        with pytest.raises(RetryableError):
            await adapter.push(make_delivery("create", key="gw-6", attempt=1))
        result = await adapter.push(make_delivery("create", key="gw-6", attempt=2))
    assert result.remote is not None and result.remote.remote_id == "1"
    assert tickets == ["1"]


@pytest.mark.parametrize(
    ("answer", "ok"),
    [
        (httpx.Response(200, json={"items": []}), True),
        (httpx.Response(401), False),
        (httpx.Response(500), False),
        (httpx.ConnectError("refused"), False),
        (httpx.ReadTimeout("slow"), False),
    ],
    ids=["200", "401", "500", "refused", "timeout"],
)
async def test_check_reports_without_raising(
    adapter: Adapter[Any], scenario: Scenario, answer: httpx.Response | Exception, ok: bool
) -> None:
    with respx.mock() as mock:
        route = scenario.check_route(mock)
        if isinstance(answer, Exception):
            route.mock(side_effect=answer)
        else:
            route.mock(return_value=answer)
        result = await adapter.check()
    assert route.called
    assert result.ok is ok
    assert result.detail
    if isinstance(answer, httpx.Response) and not ok:
        assert str(answer.status_code) in result.detail
    assert_no_secret(scenario, result.detail)


async def test_unsigned_inbound_request_is_rejected(
    adapter: Adapter[Any], scenario: Scenario
) -> None:
    """A webhook that does not prove its origin changes nothing (a polled remote takes none)."""
    body = b'{"type": "ticket.solved"}'
    with pytest.raises(InboundRejected):
        await adapter.verify_inbound(InboundRequest(headers={}, body=body))
    forged = {k.lower(): v for k, v in scenario.forged.items()}
    with pytest.raises(InboundRejected):
        await adapter.verify_inbound(InboundRequest(headers=forged, body=body))


@pytest.mark.parametrize("body", [b"\xff\xfe not json", b"", b"[1, 2]", b'"text"', b"{}"])
async def test_unreadable_inbound_payload_is_refused_cleanly(
    adapter: Adapter[Any], body: bytes
) -> None:
    """Garbage becomes a 422 naming the problem (or is ignored), never a crash of the endpoint."""
    try:
        events = adapter.translate_inbound(InboundRequest(headers={}, body=body))
    except InboundUnreadable as exc:
        assert exc.message
    else:
        assert events == []


async def test_a_poll_answered_with_garbage_is_an_adapter_error(
    adapter: Adapter[Any], scenario: Scenario
) -> None:
    if scenario.inbound != "poll":
        pytest.skip("this remote pushes")
    with respx.mock(assert_all_called=False) as mock:
        mock.route().mock(return_value=httpx.Response(200, text="<html>maintenance</html>"))
        with pytest.raises(AdapterError):
            await adapter.poll({"since": "2026-11-23T21:00:00Z", "seen": {}})
