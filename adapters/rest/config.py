"""Settings of one REST connection, as written under `settings:` in the config file."""

from __future__ import annotations

import binascii

from pydantic import ConfigDict, Field, SecretStr, field_validator

from gateway.adapter.base import AdapterConfig
from gateway.inbound.signatures import SECRET_PREFIX, secret_bytes

# Scheme and host, then an optional path; no spaces, query or fragment (paths come from mappings).
BASE_URL_PATTERN = r"^https?://[^\s/?#@]+(/[^\s?#]*)?$"


class RestConfig(AdapterConfig):
    """Where the remote API is and the credentials for both directions.

    Every credential is a `SecretStr`, so reprs, logs, `model_dump_json` and error messages show
    `**********`; validation errors never echo input values (`hide_input_in_errors`).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    base_url: str = Field(
        pattern=BASE_URL_PATTERN,
        description="Root of the remote REST API (http or https); mapping paths are relative.",
    )
    token: SecretStr | None = Field(
        default=None, description="Sent as `Authorization: Bearer <token>` on every request."
    )
    webhook_secrets: list[SecretStr] = Field(
        default_factory=list,
        description="Standard Webhooks secrets (`whsec_<base64>` or plain) for inbound events; "
        "several are allowed while a secret is rotated. None: inbound events are refused.",
    )
    timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="Timeout of each request to the remote, seconds."
    )

    @field_validator("webhook_secrets")
    @classmethod
    def _secrets_are_usable(cls, secrets: list[SecretStr]) -> list[SecretStr]:
        """A bad secret must fail at start-up, not as a 500 on the first webhook."""
        for index, secret in enumerate(secrets):
            value = secret.get_secret_value()
            if not value.strip():
                raise ValueError(f"secret [{index}] is empty")
            if value.startswith(SECRET_PREFIX):
                try:
                    decoded = secret_bytes(value)
                except (binascii.Error, ValueError):
                    decoded = b""
                if not decoded:
                    raise ValueError(f"secret [{index}] starts with whsec_ but is not base64")
        return secrets
