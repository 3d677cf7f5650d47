"""Settings of one REST connection."""

from __future__ import annotations

from pydantic import Field, SecretStr

from gateway.adapter.base import AdapterConfig


class RestConfig(AdapterConfig):
    base_url: str = Field(pattern=r"^https?://[^\s/]+", description="Root of the remote REST API.")
    token: SecretStr | None = Field(default=None, description="Sent as `Authorization: Bearer`.")
    webhook_secrets: list[SecretStr] = Field(
        default_factory=list,
        description="Standard Webhooks secrets for inbound events; several allowed for rotation.",
    )
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
