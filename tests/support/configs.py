"""Config-file pieces the tests and benchmarks build gateways from."""

from __future__ import annotations

from typing import Any


def rest_connection(
    name: str,
    unit: str,
    base_url: str,
    *,
    token_env: str | None = None,
    secret_env: str | None = None,
    **settings: Any,
) -> dict[str, Any]:
    """One `rest` connection with the default mapping; secrets by environment variable name."""
    if token_env:
        settings["token"] = {"env": token_env}
    if secret_env:
        settings["webhook_secrets"] = [{"env": secret_env}]
    return {
        "name": name,
        "adapter": "rest",
        "support_unit": unit,
        "mapping": "rest-default.yaml",
        "settings": {"base_url": base_url, **settings},
    }
