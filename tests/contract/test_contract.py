"""The contract every adapter passes; a newly registered adapter is covered automatically.

Each test runs once per adapter kind in the `gateway.adapters` entry points, configured and faked
as its scenario in `tests/contract/scenarios/` says.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr
from pathlib import Path
from typing import Any, Literal, TypeVar

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
from gateway.adapter.mail import MailAdapter
from gateway.adapter.models import AddComment, CreateTicket, InboundRequest
from gateway.connection.service import build_connections
from gateway.errors import ConfigError
from gateway.ticket.enums import Visibility
from tests.contract.conftest import REGISTRY, adapter_at, config_for, resolved
from tests.contract.scenarios import SCENARIOS, Remote, Scenario
from tests.contract.smtp import SmtpSink, Stage, closed_port, silent_server
from tests.contract.tickets import make_delivery

SECRET_WORDS = ("token", "password", "secret", "key", "credential")
MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"


T = TypeVar("T", bound=Callable[..., Any])


def per_transport(argnames: str, **cases: list[Any]) -> Callable[[T], T]:
    """Parametrise a test with the cases of each scenario's transport, e.g.
    `http=[pytest.param(...)], smtp=[...]`; a transport without cases fails the collection."""

    def mark(test: T) -> T:
        test.per_transport = (argnames, cases)  # type: ignore[attr-defined]
        return test

    return mark


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    spec = getattr(metafunc.function, "per_transport", None)
    if spec is None:
        return
    argnames, cases = spec
    params = []
    for name in sorted(SCENARIOS):
        scenario = SCENARIOS[name]
        if scenario.transport not in cases:
            raise pytest.UsageError(f"{metafunc.function.__name__}: no {scenario.transport} cases")
        for case in cases[scenario.transport]:
            params.append(
                pytest.param(scenario, *case.values, id=f"{name}-{case.id}", marks=case.marks)
            )
    metafunc.parametrize(["scenario", *argnames.split(",")], params)


@dataclass(frozen=True)
class SmtpFailure:
    """How the mail remote fails: an answer at a stage of the transaction (`AUTH`: a refused
    login), a closed port, or a server that never answers; `ok`: it does not fail."""

    at: Literal["ok", "AUTH", "RCPT", "DATA", "refused", "timeout"]
    reply: str = ""

    @property
    def code(self) -> int | None:
        if self.at == "AUTH":
            return 535
        return int(self.reply[:3]) if self.reply else None


STAGES: dict[str, Stage] = {"AUTH": "AUTH", "RCPT": "RCPT", "DATA": "DATA"}


@asynccontextmanager
async def unreachable(scenario: Scenario, failure: SmtpFailure) -> AsyncIterator[Adapter[Any]]:
    """The scenario's adapter, pointed at a closed port or at a server that never greets."""
    if failure.at == "refused":
        async with adapter_at(scenario, closed_port()) as adapter:
            yield adapter
        return
    async with silent_server() as port, adapter_at(scenario, port) as adapter:
        yield adapter


def sink(smtp: SmtpSink | None) -> SmtpSink:
    assert smtp is not None, "an smtp scenario runs with its SMTP server"
    return smtp


def mail_from_remote(scenario: Scenario, remote: Remote, *, subject: str, body: str) -> bytes:
    """A message the remote's people send to the gateway's address (the same one each time)."""
    message = EmailMessage()
    message["From"] = formataddr((remote.submitter_name, remote.submitter_email))
    message["To"] = resolved(scenario)["sender"]
    message["Subject"] = subject
    message["Message-ID"] = f"<{remote.remote_id}.{len(body)}@remote.example.org>"
    message["Date"] = "Mon, 23 Nov 2026 21:42:50 +0000"
    message.set_content(body)
    return bytes(message)


async def assert_webhooks_refused(adapter: Adapter[Any], scenario: Scenario, body: bytes) -> None:
    """A mail connection takes no webhook: any request is refused, and would carry nothing."""
    for headers in ({}, {k.lower(): v for k, v in scenario.forged.items()}):
        request = InboundRequest(headers=headers, body=body)
        with pytest.raises(InboundRejected):
            await adapter.verify_inbound(request)
        assert adapter.translate_inbound(request) == []


def adapter_sends_keys(keys: list[str | None]) -> bool:
    """Remotes that ignore keys (Redmine, Znuny, Jira) get none: a mapping may say so."""
    return any(key is not None for key in keys)


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
    """What the remote reports of a ticket opened there (webhook, poll or mail) is that ticket."""
    remote = Remote(remote_id="9")
    if scenario.inbound == "mail":
        await _opened_by_mail(adapter, scenario, remote)
        return
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


async def _opened_by_mail(adapter: Adapter[Any], scenario: Scenario, remote: Remote) -> None:
    """No webhook opens a ticket; the hub's mail service reads a new message with the adapter
    (priority does not travel by mail; the Message-ID is what dedupes it)."""
    report = {"type": "ticket.created", "ticket": {"id": "9", "title": remote.subject}}
    await assert_webhooks_refused(adapter, scenario, json.dumps(report).encode())
    assert isinstance(adapter, MailAdapter)
    raw = mail_from_remote(scenario, remote, subject=remote.subject, body=remote.description)
    mail = adapter.read_mail(raw)
    assert mail.problems == []
    assert mail.hub_id is None, "a new message names no ticket"
    assert mail.subject == remote.subject
    assert mail.text.startswith(remote.description)
    assert (mail.sender_name, mail.sender) == (remote.submitter_name, remote.submitter_email)
    again = adapter.read_mail(
        mail_from_remote(scenario, remote, subject=remote.subject, body=remote.description)
    )
    assert mail.message_id is not None and again.message_id == mail.message_id


async def test_an_internal_note_at_the_remote_stays_internal(
    adapter: Adapter[Any], scenario: Scenario
) -> None:
    remote = Remote(remote_id="9")
    if scenario.inbound == "mail":
        await _note_by_mail(adapter, scenario, remote)
        return
    with respx.mock(assert_all_called=False) as mock:
        events = await scenario.internal_note(adapter, mock, remote)
    comments = [c for e in events for c in e.commands if isinstance(c, AddComment)]
    assert [(c.body, c.visibility) for c in comments] == [(remote.note, Visibility.INTERNAL)]


async def _note_by_mail(adapter: Adapter[Any], scenario: Scenario, remote: Remote) -> None:
    """No webhook carries a note. By mail there is no internal diary: only a unit's own addresses
    act as the unit, and what its reply says (beyond commands) is a public entry."""
    note = {"type": "ticket.commented", "comment": {"body": remote.note, "internal": True}}
    await assert_webhooks_refused(adapter, scenario, json.dumps(note).encode())
    assert isinstance(adapter, MailAdapter)
    unit = sorted(adapter.unit_addresses)
    assert unit == sorted(a.lower() for a in resolved(scenario).get("unit_addresses", []))
    if not unit:
        return  # the submitters' channel: nobody writes to it as a unit
    member = Remote(remote_id="9", submitter_name="Eve Unit", submitter_email=unit[0])
    raw = mail_from_remote(scenario, member, subject="Re: [GGUS #42] SRM", body=remote.note)
    mail = adapter.read_mail(raw)
    assert (mail.hub_id, mail.sender) == (42, unit[0])
    commands = adapter.unit_commands(mail, "Eve Unit")
    assert [
        (type(c), getattr(c, "body", None), getattr(c, "visibility", None)) for c in commands
    ] == [(AddComment, remote.note, Visibility.PUBLIC)]


async def test_a_create_sends_the_ticket_and_keeps_the_remote_id(
    adapter: Adapter[Any], scenario: Scenario, smtp: SmtpSink | None
) -> None:
    if scenario.transport == "smtp":
        await _create_by_mail(adapter, scenario, sink(smtp))
        return
    with respx.mock(assert_all_called=False) as mock:
        route = scenario.create_route(mock).mock(return_value=scenario.created("9"))
        scenario.also_on_create(mock)
        result = await adapter.push(make_delivery("create", priority="urgent"))
    assert result.remote is not None and result.remote.remote_id == "9"
    sent = route.calls[0].request.content.decode()
    assert "SRM at DESY refuses writes" in sent and "42" in sent, "subject and hub id are sent"


async def _create_by_mail(adapter: Adapter[Any], scenario: Scenario, smtp: SmtpSink) -> None:
    """One message to the scenario's recipients; its Message-ID is the remote id, and the next
    message about the ticket replies to it."""
    settings = resolved(scenario)
    result = await adapter.push(make_delivery("create", priority="urgent"))
    [sent] = smtp.received
    assert result.remote is not None and result.remote.remote_id == sent.message_id
    assert sent.message_id.startswith("<") and sent.message_id.endswith(">")
    assert sorted(sent.recipients) == sorted(scenario.mail_to)
    assert sent.sender == settings["sender"]
    assert "SRM at DESY refuses writes" in sent.text and "42" in sent.text
    assert smtp.logins == [(settings["smtp_username"], settings["smtp_password"])]
    await adapter.push(make_delivery("entry", key="gw-2", remote=result.remote))
    reply = smtp.received[1].message
    assert reply["In-Reply-To"] == result.remote.remote_id
    assert reply["Message-ID"] != result.remote.remote_id


@per_transport(
    "answer,error,retry_after",
    http=[
        pytest.param(httpx.Response(400, json={"error": "bad"}), PermanentError, None, id="400"),
        pytest.param(httpx.Response(401), AuthenticationError, None, id="401"),
        pytest.param(httpx.Response(403), AuthenticationError, None, id="403"),
        pytest.param(
            httpx.Response(429, headers={"Retry-After": "7"}), RetryableError, 7.0, id="429"
        ),
        pytest.param(httpx.Response(500), RetryableError, None, id="500"),
        pytest.param(
            httpx.Response(503, headers={"Retry-After": "120"}), RetryableError, 120.0, id="503"
        ),
        pytest.param(httpx.ReadTimeout("slow"), RetryableError, None, id="timeout"),
    ],
    smtp=[
        pytest.param(SmtpFailure("DATA", "554 5.6.0 refused"), PermanentError, None, id="554"),
        pytest.param(SmtpFailure("RCPT", "550 5.1.1 no such user"), PermanentError, None, id="550"),
        pytest.param(SmtpFailure("AUTH"), AuthenticationError, None, id="535"),
        pytest.param(SmtpFailure("DATA", "451 4.3.0 try later"), RetryableError, None, id="451"),
        pytest.param(SmtpFailure("RCPT", "450 4.2.1 busy"), RetryableError, None, id="450"),
        pytest.param(SmtpFailure("DATA", "421 4.3.2 closing"), RetryableError, None, id="421"),
        pytest.param(SmtpFailure("refused"), RetryableError, None, id="refused"),
        pytest.param(SmtpFailure("timeout"), RetryableError, None, id="timeout"),
    ],
)
async def test_error_classification(
    adapter: Adapter[Any],
    scenario: Scenario,
    smtp: SmtpSink | None,
    answer: httpx.Response | Exception | SmtpFailure,
    error: type[Exception],
    retry_after: float | None,
) -> None:
    failure: Exception
    if isinstance(answer, SmtpFailure):
        failure = await _mail_failure(adapter, scenario, sink(smtp), answer, error)
    else:
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
    if isinstance(answer, SmtpFailure):
        assert failure.exchange.status_code == answer.code
    assert_no_secret(scenario, str(failure), json.dumps(failure.exchange.as_dict(), default=str))


async def _mail_failure(
    adapter: Adapter[Any],
    scenario: Scenario,
    smtp: SmtpSink,
    answer: SmtpFailure,
    error: type[Exception],
) -> AdapterError:
    if answer.at in ("refused", "timeout"):
        async with unreachable(scenario, answer) as elsewhere:
            with pytest.raises(error) as raised:
                await elsewhere.push(make_delivery("create"))
    else:
        smtp.fail_next(STAGES[answer.at], answer.reply)
        with pytest.raises(error) as raised:
            await adapter.push(make_delivery("create"))
        assert smtp.received == [], "the server kept no message"
    assert isinstance(raised.value, AdapterError)
    return raised.value


@pytest.mark.parametrize("remote_honours_keys", [True, False], ids=["keyed-remote", "plain-remote"])
async def test_create_retried_after_a_lost_answer_makes_one_remote_ticket(
    adapter: Adapter[Any], scenario: Scenario, smtp: SmtpSink | None, remote_honours_keys: bool
) -> None:
    """The remote creates the ticket but the answer is lost; the retry must not duplicate it."""
    if scenario.transport == "smtp":
        await _mail_lost_answer(adapter, sink(smtp), remote_honours_keys)
        return
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


async def _mail_lost_answer(adapter: Adapter[Any], smtp: SmtpSink, dedupes: bool) -> None:
    """Mail cannot be searched: the retry sends the message again, with the same Message-ID.
    A recipient that dedupes by Message-ID keeps one; one that does not shows the same message
    twice, threaded as one."""
    smtp.fail_next("LOSE")  # the server keeps the message and never answers
    with pytest.raises(RetryableError):
        await adapter.push(make_delivery("create", key="gw-5", attempt=1))
    result = await adapter.push(make_delivery("create", key="gw-5", attempt=2))
    assert result.remote is not None
    first, second = smtp.received
    if dedupes:
        assert {m.message_id for m in smtp.received} == {result.remote.remote_id}
    else:
        assert first.message_id == second.message_id == result.remote.remote_id
        assert (first.recipients, first.text) == (second.recipients, second.text)


async def test_an_attachment_goes_out_only_where_the_adapter_carries_files(
    adapter: Adapter[Any], scenario: Scenario, smtp: SmtpSink | None
) -> None:
    """An adapter that declares `carries_attachments` sends an `attach` delivery (the file's
    bytes, or their base64, reach the remote); one that does not refuses it for good."""
    delivery = make_delivery("attach")
    assert delivery.attachment is not None
    if not adapter.carries_attachments:
        with pytest.raises(PermanentError, match="does not carry attachments"):
            await adapter.push(delivery)
        assert smtp is None or smtp.received == []
        return
    if scenario.transport == "smtp":  # a unit that works by mail: the file rides on a message
        result = await adapter.push(delivery)
        [mail] = sink(smtp).received
        sent = mail.raw.replace(b"\r\n", b"")
        assert list(mail.recipients) == list(scenario.mail_to)
        assert result.remote is None  # the thread's first message stays the remote id
    else:
        with respx.mock(assert_all_called=True) as mock:
            scenario.mock_attach(mock)
            result = await adapter.push(delivery)
            sent = b"".join(call.request.content for call in mock.calls)
        assert result.remote == delivery.remote
    data = delivery.attachment.data
    assert data in sent or base64.b64encode(data) in sent
    assert_no_secret(scenario, json.dumps(result.exchange.as_dict() if result.exchange else {}))


async def test_create_retried_after_a_refusal_creates_the_ticket_once(
    adapter: Adapter[Any], scenario: Scenario, smtp: SmtpSink | None
) -> None:
    if scenario.transport == "smtp":
        mail = sink(smtp)
        mail.fail_next("DATA", "451 4.7.1 greylisted, try again later")
        with pytest.raises(RetryableError):
            await adapter.push(make_delivery("create", key="gw-6", attempt=1))
        result = await adapter.push(make_delivery("create", key="gw-6", attempt=2))
        [sent] = mail.received
        assert result.remote is not None and result.remote.remote_id == sent.message_id
        return
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


@per_transport(
    "answer,ok",
    http=[
        pytest.param(httpx.Response(200, json={"items": []}), True, id="200"),
        pytest.param(httpx.Response(401), False, id="401"),
        pytest.param(httpx.Response(500), False, id="500"),
        pytest.param(httpx.ConnectError("refused"), False, id="refused"),
        pytest.param(httpx.ReadTimeout("slow"), False, id="timeout"),
    ],
    smtp=[
        pytest.param(SmtpFailure("ok"), True, id="250"),
        pytest.param(SmtpFailure("AUTH"), False, id="535"),
        pytest.param(SmtpFailure("refused"), False, id="refused"),
        pytest.param(SmtpFailure("timeout"), False, id="timeout"),
    ],
)
async def test_check_reports_without_raising(
    adapter: Adapter[Any],
    scenario: Scenario,
    smtp: SmtpSink | None,
    answer: httpx.Response | Exception | SmtpFailure,
    ok: bool,
) -> None:
    if isinstance(answer, SmtpFailure):
        result = await _mail_check(adapter, scenario, sink(smtp), answer)
    else:
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


async def _mail_check(
    adapter: Adapter[Any], scenario: Scenario, smtp: SmtpSink, answer: SmtpFailure
) -> Any:
    if answer.at in ("refused", "timeout"):
        async with unreachable(scenario, answer) as elsewhere:
            return await elsewhere.check()
    if answer.at == "AUTH":
        smtp.fail_next("AUTH")
    result = await adapter.check()
    settings = resolved(scenario)
    assert set(smtp.logins) == {(settings["smtp_username"], settings["smtp_password"])}
    if answer.at == "AUTH":
        assert "credentials" in result.detail
    return result


async def test_unsigned_inbound_request_is_rejected(
    adapter: Adapter[Any], scenario: Scenario
) -> None:
    """A webhook that does not prove its origin changes nothing (a polled remote takes none, a
    mail connection none at all)."""
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
    if scenario.inbound == "mail":  # mail comes in by the listener: nothing to poll
        assert not adapter.can_poll()
        with pytest.raises(NotImplementedError):
            await adapter.poll({"since": "2026-11-23T21:00:00Z", "seen": {}})
        return
    if scenario.inbound != "poll":
        pytest.skip("this remote pushes")
    with respx.mock(assert_all_called=False) as mock:
        mock.route().mock(return_value=httpx.Response(200, text="<html>maintenance</html>"))
        with pytest.raises(AdapterError):
            await adapter.poll({"since": "2026-11-23T21:00:00Z", "seen": {}})
