"""One scenario per adapter kind: how the contract suite configures it and fakes its remote.

To opt a new adapter in, add a module here that defines `SCENARIO = Scenario(kind=..., ...)`;
it is found automatically. A registered adapter without one fails the suite.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import respx


@dataclass(frozen=True)
class Scenario:
    kind: str
    settings: dict[str, Any]  # as in the config file: secrets as {"env": NAME}
    environ: dict[str, str]  # the environment the secrets come from
    secret_values: list[str]  # every secret value in `environ`: must never be shown
    mapping: str | None  # mapping file name (under mappings/) or None
    invalid: list[tuple[dict[str, Any], str]]  # (settings, key the refusal must name)
    create_route: Callable[[respx.MockRouter], respx.Route]  # where a create goes
    created: Callable[[str], httpx.Response]  # the remote's answer to a create: remote id
    lookup_route: Callable[[respx.MockRouter], respx.Route] | None  # None: no look-up
    found: Callable[[Sequence[str]], httpx.Response]  # look-up answer listing these remote ids
    check_route: Callable[[respx.MockRouter], respx.Route]  # what check() calls
    echo_of_create: Callable[[Any, str], bytes]  # (body we sent, remote id) -> inbound create


def _discover() -> dict[str, Scenario]:
    found: dict[str, Scenario] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        scenario = getattr(module, "SCENARIO", None)
        if isinstance(scenario, Scenario):
            if scenario.kind in found:
                raise RuntimeError(f"two contract scenarios for adapter '{scenario.kind}'")
            found[scenario.kind] = scenario
    return found


SCENARIOS: dict[str, Scenario] = _discover()
