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


@pytest.fixture(params=sorted(SCENARIOS))
def scenario(request: pytest.FixtureRequest) -> Scenario:
    return SCENARIOS[str(request.param)]


@pytest.fixture
def kind(scenario: Scenario) -> str:
    if scenario.kind in REGISTRY.broken:
        pytest.fail(
            f"adapter '{scenario.kind}' failed to load: {REGISTRY.broken[scenario.kind]}",
            pytrace=False,
        )
    return scenario.kind


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
