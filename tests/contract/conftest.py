"""Fixtures of the contract suite: every registered adapter, built as the hub builds it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from gateway.adapter.base import Adapter
from gateway.adapter.registry import AdapterRegistry
from gateway.config.models import GatewayConfig
from gateway.connection.service import build_connections
from tests.contract.scenarios import SCENARIOS, Scenario
from tests.contract.smtp import SmtpSink, serve

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


def resolved(scenario: Scenario, settings: dict[str, Any] | None = None) -> dict[str, Any]:
    """The scenario's settings with `{env: NAME}` replaced by the value, as the hub does."""

    def value(raw: Any) -> Any:
        if isinstance(raw, list):
            return [value(item) for item in raw]
        if isinstance(raw, dict) and set(raw) == {"env"}:
            return scenario.environ[raw["env"]]
        if isinstance(raw, dict):
            return {k: value(v) for k, v in raw.items()}
        return raw

    given = scenario.settings if settings is None else settings
    return {name: value(raw) for name, raw in given.items()}


@pytest.fixture
async def smtp(scenario: Scenario) -> AsyncIterator[SmtpSink | None]:
    """The SMTP server of a mail scenario, serving in the test's loop (None for HTTP remotes)."""
    if scenario.transport != "smtp":
        yield None
        return
    settings = resolved(scenario)
    sink = SmtpSink(username=settings["smtp_username"], password=settings["smtp_password"])
    async with serve(sink):
        yield sink


@asynccontextmanager
async def adapter_at(scenario: Scenario, port: int | None = None) -> AsyncIterator[Adapter[Any]]:
    """The scenario's adapter, built as the hub builds it; with `port`, for a remote there."""
    settings = None
    if port is not None:
        assert scenario.settings_at is not None, "this scenario's remote has no port to choose"
        settings = scenario.settings_at(port)
    config = config_for(scenario.kind, scenario, settings)
    connections = build_connections(config, REGISTRY, environ=scenario.environ)
    built = connections.get("contract")
    assert built is not None
    try:
        yield built.adapter
    finally:
        await connections.aclose()


@pytest.fixture
async def adapter(
    kind: str, scenario: Scenario, smtp: SmtpSink | None
) -> AsyncIterator[Adapter[Any]]:
    async with adapter_at(scenario, None if smtp is None else smtp.port) as built:
        yield built
