"""Typed errors of the adapter contract.

Outbound: the class decides retry, pause or dead letter, and carries what was exchanged.
Inbound: a request is refused as unauthentic (401) or unreadable (422).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gateway.errors import GatewayError

MAX_BODY_CHARS = 4000


@dataclass(frozen=True, slots=True)
class Exchange:
    """One request to a remote system and its response, as kept on a delivery and a dead letter."""

    method: str
    url: str
    request_body: Any = None
    status_code: int | None = None
    response_body: Any = None
    response_headers: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "url": self.url,
            "request_body": _clip(self.request_body),
            "status_code": self.status_code,
            "response_body": _clip(self.response_body),
            "response_headers": self.response_headers,
        }


def _clip(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_BODY_CHARS:
        return value[:MAX_BODY_CHARS] + f"... ({len(value)} chars)"
    return value


class AdapterError(Exception):
    """Base of every delivery failure; `exchange` is what we sent and what came back."""

    outcome = "failed"

    def __init__(self, message: str, *, exchange: Exchange | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.exchange = exchange


class RetryableError(AdapterError):
    """Worth trying again later: timeouts, connection failures, 429, 5xx."""

    outcome = "retry"

    def __init__(
        self, message: str, *, exchange: Exchange | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, exchange=exchange)
        self.retry_after = retry_after


class PermanentError(AdapterError):
    """Retrying cannot help (a 4xx other than 408/429): straight to dead letter."""

    outcome = "dead"


class AuthenticationError(PermanentError):
    """The remote refused our credentials (401/403): dead letter, and a configuration problem."""


class AdapterConfigError(Exception):
    """The connection's settings or mapping are invalid; `problems` names each key."""

    def __init__(self, message: str, problems: list[dict[str, str]]) -> None:
        super().__init__(message)
        self.problems = problems


RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


def error_for_status(status_code: int) -> type[AdapterError] | None:
    """The error class for an HTTP status, or None for success. Adapters may override."""
    if status_code < 400:
        return None
    if status_code in (401, 403):
        return AuthenticationError
    if status_code in RETRYABLE_STATUS or status_code >= 500:
        return RetryableError
    return PermanentError


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    from datetime import UTC, datetime

    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class InboundRejected(GatewayError):
    """Inbound: unsigned, badly signed or outside the time tolerance: 401, nothing changes."""

    status_code = 401
    code = "signature_invalid"


class InboundUnreadable(GatewayError):
    """Inbound: authentic, but the payload cannot be translated: 422 naming the problem."""

    status_code = 422
    code = "payload_invalid"
