"""Errors raised while accepting inbound requests."""

from __future__ import annotations

from gateway.errors import GatewayError


class InboundRejected(GatewayError):
    """Unsigned, badly signed or replayed outside the tolerance: 401, nothing changes."""

    status_code = 401
    code = "signature_invalid"


class InboundUnreadable(GatewayError):
    """Authentic, but the payload cannot be translated: 422 naming the problem."""

    status_code = 422
    code = "payload_invalid"
