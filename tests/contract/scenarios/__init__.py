"""Contract scenarios: how the suite configures each adapter (with each shipped mapping) and fakes
its remote, for pushes and for what comes back (a signed webhook, or a poll).

To opt a new adapter or mapping in, add a module here defining `SCENARIOS = [Scenario(...)]`;
it is found automatically. A registered adapter kind without a scenario fails the suite.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

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


@dataclass(frozen=True)
class Scenario:
    name: str  # test id
    kind: str  # adapter kind
    settings: dict[str, Any]  # as in the config file: secrets as {"env": NAME}
    environ: dict[str, str]  # the environment the secrets come from
    secret_values: list[str]  # every secret value in `environ`: must never be shown
    mapping: str | None  # mapping file name (under mappings/) or None
    invalid: list[tuple[dict[str, Any], str]]  # (settings, key the refusal must name)
    create_route: Routes  # where a create goes
    created: Callable[[str], httpx.Response]  # the remote's answer to a create: remote id
    check_route: Routes  # what check() calls
    # serve a look-up for hub id 42 that finds the remote ids the callable returns (None: none)
    mock_lookup: Callable[[respx.MockRouter, Callable[[], list[str]]], None] | None
    # the remote's own report of a ticket opened there (`Remote`), as the adapter reads it
    opened_remotely: Callable[
        [Adapter[Any], respx.MockRouter, Remote], Awaitable[list[InboundEvent]]
    ]
    # the remote's report of an internal note on a ticket it knows
    internal_note: Callable[[Adapter[Any], respx.MockRouter, Remote], Awaitable[list[InboundEvent]]]
    inbound: str = "webhook"  # or "poll"
    forged: dict[str, str] = field(default_factory=dict)  # headers of a forged webhook
    also_on_create: Callable[[respx.MockRouter], None] = lambda mock: None  # e.g. a link


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
