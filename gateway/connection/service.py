"""Build the running connections from the config file, reporting every problem by key."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr, ValidationError

from gateway.adapter.base import Adapter, secret_fields
from gateway.adapter.errors import AdapterConfigError
from gateway.adapter.registry import AdapterRegistry, RegistryError
from gateway.config.loader import key_path
from gateway.config.models import GatewayConfig
from gateway.connection.models import ConnectionConfig, Policy
from gateway.errors import ConfigError

PROJECT_MAPPINGS = Path(__file__).resolve().parents[2] / "mappings"


@dataclass
class Connection:
    name: str
    support_unit: str | None
    policy: Policy
    adapter: Adapter[Any]
    poll_interval: float | None = None  # seconds; None: not polled


class Connections:
    """The running connections, by name and by the support unit they serve."""

    def __init__(self, items: list[Connection]) -> None:
        self._by_name = {c.name: c for c in items}
        self._by_unit = {c.support_unit: c for c in items if c.support_unit}
        self._submitters = next((c for c in items if c.adapter.notifies_submitters), None)

    def get(self, name: str) -> Connection | None:
        return self._by_name.get(name)

    def for_unit(self, unit: str | None) -> Connection | None:
        return self._by_unit.get(unit) if unit else None

    def submitter_channel(self) -> Connection | None:
        """The connection that mails submitters and reads their mail (at most one)."""
        return self._submitters

    def __iter__(self) -> Iterator[Connection]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    async def aclose(self) -> None:
        for connection in self:
            await connection.adapter.aclose()


def build_connections(
    config: GatewayConfig,
    registry: AdapterRegistry,
    *,
    base_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Connections:
    """Instantiate every configured connection, or raise ConfigError listing all problems."""
    env = os.environ if environ is None else environ
    units = {u.name for u in config.support_units}
    problems: list[dict[str, str]] = []
    built: list[Connection] = []
    seen_units: dict[str, str] = {}
    for index, spec in enumerate(config.connections):
        key = f"connections[{index}]"
        if spec.support_unit is not None:
            if spec.support_unit not in units:
                problems.append(
                    _p(
                        f"{key}.support_unit",
                        f"'{spec.support_unit}' is not a configured support unit",
                    )
                )
            elif spec.support_unit in seen_units:
                other = seen_units[spec.support_unit]
                message = f"'{spec.support_unit}' already has connection '{other}'"
                problems.append(_p(f"{key}.support_unit", message))
            seen_units.setdefault(spec.support_unit, spec.name)
        connection = _build_one(spec, key, registry, base_dir, env, problems)
        if connection is not None:
            built.append(connection)
            if connection.adapter.requirement_tag is not None and spec.support_unit:
                message = "a requirements queue serves no unit: ordinary tickets would go there"
                problems.append(_p(f"{key}.support_unit", message))
    channels = [c.name for c in built if c.adapter.notifies_submitters]
    if len(channels) > 1:
        message = f"only one connection may mail submitters, not {', '.join(channels)}"
        problems.append(_p("connections", message))
    names = [c.name for c in config.connections]
    for index, name in enumerate(names):
        if names.index(name) != index:
            problems.append(_p(f"connections[{index}].name", f"duplicate '{name}'"))
    if problems:
        raise ConfigError(f"connections have {len(problems)} problem(s)", details=problems)
    return Connections(built)


def _build_one(
    spec: ConnectionConfig,
    key: str,
    registry: AdapterRegistry,
    base_dir: Path | None,
    env: Mapping[str, str],
    problems: list[dict[str, str]],
) -> Connection | None:
    try:
        kind = registry.get(spec.adapter)
    except RegistryError as exc:
        problems.append(_p(f"{key}.adapter", str(exc)))
        return None
    before = len(problems)
    config = resolve_settings(kind.config_model, spec.settings, f"{key}.settings", env, problems)
    mapping = None
    if spec.mapping is not None:
        mapping = _load_mapping(kind, spec.mapping, f"{key}.mapping", base_dir, problems)
    elif kind.mapping_model is not None:
        problems.append(_p(f"{key}.mapping", f"adapter '{spec.adapter}' needs a mapping file"))
    if config is None or len(problems) > before:
        return None
    try:
        adapter = kind(name=spec.name, config=config, mapping=mapping)
    except (ValueError, AdapterConfigError) as exc:  # e.g. auth the mapping cannot render
        problems.append(_p(f"{key}.settings", str(exc)))
        return None
    if spec.poll_interval_seconds is not None and not adapter.can_poll():
        problems.append(
            _p(f"{key}.poll_interval_seconds", f"adapter '{spec.adapter}' cannot be polled here")
        )
        return None
    return Connection(
        spec.name, spec.support_unit, spec.policy, adapter, spec.poll_interval_seconds
    )


def resolve_settings(
    model: type[BaseModel],
    raw: dict[str, Any],
    key: str,
    env: Mapping[str, str],
    problems: list[dict[str, str]],
) -> BaseModel | None:
    """Replace `{env: NAME}` with the variable's value and validate; secrets must come from env."""
    secrets = set(secret_fields(model))
    values: dict[str, Any] = {}
    before = len(problems)
    for name, value in raw.items():
        values[name] = _resolve(value, f"{key}.{name}", name in secrets, env, problems)
    if len(problems) > before:
        return None
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        for error in exc.errors():  # never str(exc): it would print the input, secrets included
            problems.append(_p(_join(key, key_path(error["loc"])), error["msg"]))
        return None


def _resolve(
    value: Any, key: str, secret: bool, env: Mapping[str, str], problems: list[dict[str, str]]
) -> Any:
    if isinstance(value, list):
        return [_resolve(v, f"{key}[{i}]", secret, env, problems) for i, v in enumerate(value)]
    if isinstance(value, dict) and set(value) in ({"env"}, {"env", "default"}):
        name = str(value["env"])
        if name in env:
            return env[name]
        if "default" in value and not secret:  # a secret has no default in a file
            return value["default"]
        problems.append(_p(key, f"environment variable {name} is not set"))
        return None
    if isinstance(value, dict):  # named secrets, or values given by the environment
        return {k: _resolve(v, f"{key}.{k}", secret, env, problems) for k, v in value.items()}
    if secret and not isinstance(value, SecretStr):
        problems.append(_p(key, "a secret must come from an environment variable: {env: NAME}"))
        return None
    return value


def _load_mapping(
    kind: type[Adapter[Any]],
    name: str,
    key: str,
    base_dir: Path | None,
    problems: list[dict[str, str]],
) -> BaseModel | None:
    candidates = [base_dir / name] if base_dir else []
    candidates += [PROJECT_MAPPINGS / name, Path(name)]
    path = next((c for c in candidates if c.is_file()), None)
    if path is None:
        problems.append(_p(key, f"mapping file '{name}' not found"))
        return None
    try:
        return kind.load_mapping(path)
    except AdapterConfigError as exc:
        problems.extend(_p(f"{key}({name}): {p['key']}", p["message"]) for p in exc.problems)
        return None


def _p(key: str, message: str) -> dict[str, str]:
    return {"key": key, "message": message}


def _join(base: str, key: str) -> str:
    return f"{base}.{key}" if key else base
