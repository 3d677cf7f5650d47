"""Read a YAML or JSON config file, check it against its JSON Schema and report every error."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from pydantic import ValidationError as PydanticValidationError

from gateway.config.models import CheatSheet, GatewayConfig
from gateway.errors import ConfigError


@cache
def config_schema() -> dict[str, Any]:
    """The config file's JSON Schema (also exported to `schemas/config.schema.json`)."""
    return GatewayConfig.model_json_schema()


def load_config(path: Path) -> GatewayConfig:
    """Load and validate; raise ConfigError listing each problem with the key it concerns."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML or JSON: {exc}") from None
    config = parse_config(raw if raw is not None else {}, source=str(path))
    if config.routing.cheat_sheet is None:
        return config
    sheet = load_cheat_sheet(path.parent / config.routing.cheat_sheet)
    routing = config.routing.model_copy(update={"rules": [*sheet.rules, *config.routing.rules]})
    config = config.model_copy(update={"routing": routing})
    problems = routing_problems(config, key=f"routing.cheat_sheet ({config.routing.cheat_sheet})")
    if problems:
        raise ConfigError(f"{path} has {len(problems)} problem(s)", details=problems)
    return config


def load_cheat_sheet(path: Path) -> CheatSheet:
    """The TPM cheat sheet file: `rules:`, each a RoutingRule."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the cheat sheet {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"the cheat sheet {path} is not valid YAML: {exc}") from None
    try:
        return CheatSheet.model_validate(raw or {})
    except PydanticValidationError as exc:
        details = [
            {"key": f"{path.name}:" + key_path(e["loc"]), "message": e["msg"]} for e in exc.errors()
        ]
        raise ConfigError(
            f"the cheat sheet {path} has {len(details)} problem(s)", details=details
        ) from None


def routing_problems(config: GatewayConfig, *, key: str = "routing.rules") -> list[dict[str, str]]:
    """Cheat-sheet rules and sites must name configured units (when units are configured)."""
    units = {unit.name for unit in config.support_units}
    if not units:
        return []
    problems = [
        {
            "key": f"{key}[{index}].support_unit",
            "message": f"'{rule.support_unit}' is not a configured support unit",
        }
        for index, rule in enumerate(config.routing.rules)
        if rule.support_unit not in units
    ]
    problems += [
        {
            "key": f"routing.sites.{name}.support_unit",
            "message": f"'{site.support_unit}' is not a configured support unit",
        }
        for name, site in config.routing.sites.items()
        if site.support_unit not in units
    ]
    return problems


def parse_config(raw: Any, *, source: str = "config") -> GatewayConfig:
    """Validate already-parsed config data."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: the top level must be a mapping")
    problems = schema_problems(raw, config_schema()) or semantic_problems(raw)
    if problems:
        raise ConfigError(f"{source} has {len(problems)} problem(s)", details=problems)
    try:
        config = GatewayConfig.model_validate(raw)
    except PydanticValidationError as exc:  # what a schema cannot say (a rule matching nothing)
        details = [{"key": key_path(e["loc"]), "message": e["msg"]} for e in exc.errors()]
        raise ConfigError(f"{source} has {len(details)} problem(s)", details=details) from None
    problems = routing_problems(config)
    if problems:
        raise ConfigError(f"{source} has {len(problems)} problem(s)", details=problems)
    return config


def schema_problems(data: Any, schema: dict[str, Any]) -> list[dict[str, str]]:
    """Every schema violation, each with the dotted key it concerns."""
    validator = Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    return [problem for error in errors for problem in _describe(error)]


def _describe(error: ValidationError) -> list[dict[str, str]]:
    base = key_path(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        return [
            {"key": _join(base, extra), "message": "unknown key"}
            for extra in error.instance
            if extra not in allowed
        ]
    if error.validator == "required" and isinstance(error.validator_value, list):
        missing = [k for k in error.validator_value if k not in error.instance]
        return [{"key": _join(base, k), "message": "is required"} for k in missing]
    return [{"key": base or "(top level)", "message": error.message}]


def key_path(parts: Any) -> str:
    out = ""
    for part in parts:
        out = f"{out}[{part}]" if isinstance(part, int) else _join(out, str(part))
    return out


def _join(base: str, key: str) -> str:
    return f"{base}.{key}" if base else key


def semantic_problems(raw: dict[str, Any]) -> list[dict[str, str]]:
    """Rules a schema cannot say: unique unit names, routing naming a configured unit."""
    problems: list[dict[str, str]] = []
    seen: set[str] = set()
    for index, unit in enumerate(raw.get("support_units", [])):
        if unit["name"] in seen:
            problems.append(
                {"key": f"support_units[{index}].name", "message": f"duplicate '{unit['name']}'"}
            )
        seen.add(unit["name"])
    for component, unit in raw.get("routing", {}).get("components", {}).items():
        if unit not in seen:
            problems.append(
                {
                    "key": f"routing.components.{component}",
                    "message": f"'{unit}' is not a configured support unit",
                }
            )
    default = raw.get("routing", {}).get("default_support_unit")
    if default is not None and default not in seen:
        problems.append(
            {
                "key": "routing.default_support_unit",
                "message": f"'{default}' is not a configured support unit",
            }
        )
    return problems


def dump_schema(path: Path) -> None:
    path.write_text(json.dumps(config_schema(), indent=2, sort_keys=True) + "\n", encoding="utf-8")
