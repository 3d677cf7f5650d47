"""Contract scenarios: how the suite configures each adapter (with each shipped mapping) and fakes
its remote, for pushes and for what comes back (a signed webhook, a poll, or mail).

A remote is faked by its transport: `http` (the default) with respx, through the callables that
take a `respx.MockRouter`; `smtp` with a real SMTP server the test starts
(`tests/contract/smtp.py`), whose port the scenario's `settings_at` puts into the settings. A
scenario leaves the callables of a transport it does not use unset; calling one fails the test.

To opt a new adapter or mapping in, add a module here defining `SCENARIOS = [Scenario(...)]`;
it is found automatically. A registered adapter kind without a scenario fails the suite.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal, NoReturn

import httpx
import respx

from gateway.adapter.base import Adapter
from gateway.adapter.models import InboundEvent, InboundRequest

Routes = Callable[[respx.MockRouter], respx.Route]


@dataclass(frozen=True)
class Remote:
    """What the remote would report of a ticket: its id and the fields a person gave it there."""

    remote_id: str
    subject: str = "Cannot access storage element"
    description: str = "Transfers fail since 08:00."
    priority: str = "very urgent"  # the hub's name; each scenario writes it the remote's way
    submitter_name: str = "Ann Example"
    submitter_email: str = "ann@example.org"
    note: str = "Internal: pool p12 is offline."


def _not_http(*_: Any) -> NoReturn:
    raise AssertionError("this scenario's remote is not HTTP: its transport has its own fake")


@dataclass(frozen=True, kw_only=True)
class Scenario:
    name: str  # test id
    kind: str  # adapter kind
    settings: dict[str, Any]  # as in the config file: secrets as {"env": NAME}
    environ: dict[str, str]  # the environment the secrets come from
    secret_values: list[str]  # every secret value in `environ`: must never be shown
    mapping: str | None  # mapping file name (under mappings/) or None
    invalid: list[tuple[dict[str, Any], str]]  # (settings, key the refusal must name)
    # An HTTP remote, faked with respx:
    create_route: Routes = _not_http  # where a create goes
    created: Callable[[str], httpx.Response] = _not_http  # the answer to a create: remote id
    check_route: Routes = _not_http  # what check() calls
    # serve a look-up for hub id 42 that finds the remote ids the callable returns (None: none)
    mock_lookup: Callable[[respx.MockRouter, Callable[[], list[str]]], None] | None = None
    # the remote's own report of a ticket opened there (`Remote`), as the adapter reads it
    opened_remotely: Callable[
        [Adapter[Any], respx.MockRouter, Remote], Awaitable[list[InboundEvent]]
    ] = _not_http
    # the remote's report of an internal note on a ticket it knows
    internal_note: Callable[
        [Adapter[Any], respx.MockRouter, Remote], Awaitable[list[InboundEvent]]
    ] = _not_http
    # "webhook", "poll", or "mail": no webhooks (every request refused), mail comes in through
    # the hub's mail service, which reads it with the adapter (`read_mail`, `unit_commands`)
    inbound: Literal["webhook", "poll", "mail"] = "webhook"
    forged: dict[str, str] = field(default_factory=dict)  # headers of a forged webhook
    also_on_create: Callable[[respx.MockRouter], None] = lambda mock: None  # e.g. a link
    # answer the requests that add a file to remote ticket "77" (adapters carrying attachments)
    mock_attach: Callable[[respx.MockRouter], None] = _not_http
    transport: Literal["http", "smtp"] = "http"
    # A remote the test starts: the settings when it listens on this port (`settings` is then
    # the same with a placeholder port, for the tests that only validate settings).
    settings_at: Callable[[int], dict[str, Any]] | None = None
    mail_to: tuple[str, ...] = ()  # smtp: whom a message about ticket #42 must be sent to


def webhook(adapter: Adapter[Any], body: bytes, headers: dict[str, str]) -> InboundRequest:
    return InboundRequest(headers={k.lower(): v for k, v in headers.items()}, body=body)


async def through_webhook(
    adapter: Adapter[Any], body: bytes, headers: dict[str, str]
) -> list[InboundEvent]:
    """What the hub's webhook route does with an authentic request: verify, then translate."""
    request = webhook(adapter, body, headers)
    await adapter.verify_inbound(request)
    return adapter.translate_inbound(request)


def _discover() -> dict[str, Scenario]:
    found: dict[str, Scenario] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        for scenario in getattr(module, "SCENARIOS", []):
            if scenario.name in found:
                raise RuntimeError(f"two contract scenarios named '{scenario.name}'")
            found[scenario.name] = scenario
    return found


SCENARIOS: dict[str, Scenario] = _discover()
