"""Settings of one REST connection, as written under `settings:` in the config file."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, SecretStr, field_validator

from gateway.adapter.base import AdapterConfig
from gateway.inbound.signatures import usable_secrets

# Scheme and host, then an optional path; no spaces, query or fragment (paths come from mappings).
BASE_URL_PATTERN = r"^https?://[^\s/?#@]+(/[^\s?#]*)?$"


class RestConfig(AdapterConfig):
    """Where the remote API is, the values the mapping reads, and the credentials.

    Every credential is a `SecretStr`, so reprs, logs, `model_dump_json` and error messages show
    `**********`; validation errors never echo input values (`hide_input_in_errors`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    base_url: str = Field(
        pattern=BASE_URL_PATTERN,
        description="Root of the remote REST API (http or https); mapping paths are relative.",
    )
    token: SecretStr | None = Field(
        default=None, description="Shortcut for `secrets.token` (the default mapping's bearer)."
    )
    secrets: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Named credentials the mapping's auth and headers read as `secrets.<name>`, "
        "each from an environment variable: `{env: NAME}`.",
    )
    values: dict[str, Any] = Field(
        default_factory=dict,
        description="Values the mapping reads as `values.<name>`: project, queue, custom field "
        "ids, the remote user the gateway acts as (to skip its own changes).",
    )
    webhook_secrets: list[SecretStr] = Field(
        default_factory=list,
        description="Secrets for inbound webhooks, as the mapping's `inbound.verify` uses them "
        "(Standard Webhooks `whsec_...`, an HMAC key, a token, or `user:password`); several are "
        "allowed while a secret is rotated. None: inbound webhooks are refused.",
    )
    timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="Timeout of each request to the remote, seconds."
    )

    @field_validator("webhook_secrets")
    @classmethod
    def _secrets_are_usable(cls, secrets: list[SecretStr]) -> list[SecretStr]:
        usable_secrets([secret.get_secret_value() for secret in secrets])
        return secrets

    def secret_values(self) -> dict[str, str]:
        """What templates see as `secrets` (only auth, headers and query may read them)."""
        named = {name: secret.get_secret_value() for name, secret in self.secrets.items()}
        if self.token is not None:
            named.setdefault("token", self.token.get_secret_value())
        return named

    def template_values(self) -> dict[str, Any]:
        return dict(self.values)
