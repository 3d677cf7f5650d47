"""REST connection settings: what is accepted, what is refused, and secrets never shown."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from adapters.rest import RestConfig

SECRET = "whsec_c2VjcmV0LWZvci1jb25maWc="


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8081", "https://helpdesk.example.org", "https://h.example/api/v2/"]
)
def test_http_and_https_base_urls_are_accepted(url: str) -> None:
    config = RestConfig(base_url=url)
    assert config.timeout_seconds == 10
    assert config.token is None and config.webhook_secrets == []


@pytest.mark.parametrize(
    ("settings", "field"),
    [
        ({"base_url": "ftp://h.example"}, "base_url"),
        ({"base_url": "h.example"}, "base_url"),
        ({"base_url": "https://h example.org"}, "base_url"),
        ({"base_url": "https://h.example/?q=1"}, "base_url"),
        ({"base_url": "https://user:pw@h.example"}, "base_url"),
        ({"base_url": "https://h.example", "timeout_seconds": 0}, "timeout_seconds"),
        ({"base_url": "https://h.example", "timeout_seconds": 120.5}, "timeout_seconds"),
        ({"base_url": "https://h.example", "webhook_secrets": ["whsec_%%%"]}, "webhook_secrets"),
        ({"base_url": "https://h.example", "webhook_secrets": ["whsec_abc"]}, "webhook_secrets"),
        ({"base_url": "https://h.example", "webhook_secrets": ["  "]}, "webhook_secrets"),
        ({"base_url": "https://h.example", "verify": False}, "verify"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(settings: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        RestConfig.model_validate(settings)
    assert [e["loc"][0] for e in raised.value.errors()] == [field]


def test_a_bad_secret_is_refused_without_showing_it() -> None:
    secret = "whsec_this-is-not-base64!"
    with pytest.raises(ValidationError) as raised:
        RestConfig.model_validate(
            {"base_url": "https://h.example", "token": "tok-123", "webhook_secrets": [secret]}
        )
    assert "not base64" in str(raised.value)
    assert secret not in str(raised.value) and "tok-123" not in str(raised.value)


def test_secrets_are_masked_but_usable() -> None:
    config = RestConfig(
        base_url="https://h.example", token="tok-123", webhook_secrets=[SECRET, "plain-secret"]
    )
    shown = repr(config) + str(config) + config.model_dump_json()
    assert "tok-123" not in shown and SECRET not in shown and "plain-secret" not in shown
    assert config.token is not None and config.token.get_secret_value() == "tok-123"
    assert [s.get_secret_value() for s in config.webhook_secrets] == [SECRET, "plain-secret"]
