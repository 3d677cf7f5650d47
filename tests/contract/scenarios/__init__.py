"""One scenario per registered adapter: how the contract suite configures and fakes its remote."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import respx

from tests.contract.scenarios import rest


@dataclass(frozen=True)
class Scenario:
    settings: dict[str, Any]  # secrets as {"env": NAME}
    environ: dict[str, str]
    secret_values: list[str]
    mapping: str | None
    invalid: list[tuple[dict[str, Any], str]]  # (settings, key the error must name)
    create_route: Callable[[respx.MockRouter], respx.Route]
    lookup_route: Callable[[respx.MockRouter], respx.Route]
    echo_of_create: Callable[[Any, str], bytes]  # (body we sent, remote id) -> inbound payload
    extra: dict[str, Any] = field(default_factory=dict)


SCENARIOS: dict[str, Scenario] = {
    "rest": Scenario(**rest.SCENARIO),
}
