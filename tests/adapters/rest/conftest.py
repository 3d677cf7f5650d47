"""A REST adapter on the default mapping, talking to a respx-faked remote at BASE."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from adapters.rest import RestAdapter, RestConfig, RestMapping, load_mapping

ROOT = Path(__file__).resolve().parents[3]
DEFAULT_MAPPING = ROOT / "mappings" / "rest-default.yaml"
BASE = "https://helpdesk.test/api"
TOKEN = "t0k-very-secret"


def default_mapping() -> RestMapping:
    return load_mapping(DEFAULT_MAPPING)


def make_adapter(mapping: RestMapping | None = None, **settings: Any) -> RestAdapter:
    config = RestConfig.model_validate(
        {"base_url": BASE, "token": TOKEN, "timeout_seconds": 1, **settings}
    )
    return RestAdapter(name="ngi", config=config, mapping=mapping or default_mapping())


@pytest.fixture
async def rest() -> AsyncIterator[RestAdapter]:
    adapter = make_adapter()
    yield adapter
    await adapter.aclose()
