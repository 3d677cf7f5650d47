"""Fixtures of the contract suite: every registered adapter, built as the hub builds it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from gateway.adapter.base import Adapter
from gateway.adapter.registry import AdapterRegistry
from gateway.config.models import GatewayConfig
from gateway.connection.service import build_connections
from tests.contract.scenarios import SCENARIOS, Scenario

REGISTRY = AdapterRegistry.from_entry_points()
KINDS = sorted({*REGISTRY.kinds, *REGISTRY.broken})


@pytest.fixture(params=KINDS)
def kind(request: pytest.FixtureRequest) -> str:
    name = str(request.param)
    if name in REGISTRY.broken:
        pytest.fail(f"adapter '{name}' failed to load: {REGISTRY.broken[name]}", pytrace=False)
    return name


@pytest.fixture
def scenario(kind: str) -> Scenario:
    if kind not in SCENARIOS:
        pytest.fail(
            f"adapter '{kind}' is registered but has no contract scenario "
            "(add tests/contract/scenarios/<module>.py defining SCENARIO)",
            pytrace=False,
        )
    return SCENARIOS[kind]


def config_for(
    kind: str, scenario: Scenario, settings: dict[str, Any] | None = None
) -> GatewayConfig:
    """A config file with one connection of this kind, serving one unit."""
    return GatewayConfig.model_validate(
        {
            "support_units": [{"name": "UNIT", "level": "second"}],
            "connections": [
                {
                    "name": "contract",
                    "adapter": kind,
                    "support_unit": "UNIT",
                    "mapping": scenario.mapping,
                    "settings": scenario.settings if settings is None else settings,
                }
            ],
        }
    )


@pytest.fixture
async def adapter(kind: str, scenario: Scenario) -> AsyncIterator[Adapter[Any]]:
    connections = build_connections(config_for(kind, scenario), REGISTRY, environ=scenario.environ)
    built = connections.get("contract")
    assert built is not None
    yield built.adapter
    await connections.aclose()
