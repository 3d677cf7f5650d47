"""Typed errors of the hub.

Every error carries an HTTP status, a stable machine code and a message that names the problem, so
the API layer can turn any of them into the same JSON body without guessing.
"""

from __future__ import annotations

from typing import Any, ClassVar


class GatewayError(Exception):
    """Base of every error the hub raises on purpose."""

    status_code: int = 400
    code: str = "bad_request"
    headers: ClassVar[dict[str, str]] = {}

    def __init__(self, message: str, *, details: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []

    def body(self) -> dict[str, Any]:
        """The JSON error body shared by every route."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": error}


class BadRequest(GatewayError):
    status_code = 400
    code = "bad_request"


class Unauthenticated(GatewayError):
    status_code = 401
    code = "unauthenticated"
    headers: ClassVar[dict[str, str]] = {"WWW-Authenticate": 'Bearer realm="ticket-gateway"'}


class Forbidden(GatewayError):
    status_code = 403
    code = "forbidden"


class NotFound(GatewayError):
    status_code = 404
    code = "not_found"


class Conflict(GatewayError):
    status_code = 409
    code = "conflict"


class PreconditionFailed(GatewayError):
    status_code = 412
    code = "precondition_failed"


class PayloadTooLarge(GatewayError):
    status_code = 413
    code = "payload_too_large"


class HeadersTooLarge(GatewayError):
    status_code = 431
    code = "headers_too_large"


class InvalidInput(GatewayError):
    """The request is well-formed but breaks a rule of the domain (422)."""

    status_code = 422
    code = "invalid"


class ConfigError(GatewayError):
    """The configuration file is invalid; `details` lists every problem with its key."""

    code = "invalid_config"

    def __str__(self) -> str:
        lines = [self.message] + [f"  - {d['key']}: {d['message']}" for d in self.details]
        return "\n".join(lines)


class AttachmentTooLarge(PayloadTooLarge):
    """One file is over the per-file limit (`attachment_max_bytes`)."""

    code = "attachment_too_large"

    def __init__(self, *, filename: str, size: int, limit: int) -> None:
        self.filename, self.size, self.limit = filename, size, limit
        super().__init__(
            f"file '{filename}' is {size} bytes, over the limit of {limit} bytes per file",
            details=[{"field": "file", "message": f"over {limit} bytes", "limit": limit}],
        )


class TicketAttachmentsTooLarge(PayloadTooLarge):
    """The ticket's files would total more than the per-ticket limit."""

    code = "ticket_attachments_too_large"

    def __init__(self, *, ticket_id: int, filename: str, size: int, used: int, limit: int) -> None:
        self.ticket_id, self.filename, self.size, self.used, self.limit = (
            ticket_id,
            filename,
            size,
            used,
            limit,
        )
        super().__init__(
            f"file '{filename}' ({size} bytes) would bring the files of ticket #{ticket_id} to "
            f"{used + size} bytes, over the limit of {limit} bytes per ticket",
            details=[
                {"field": "file", "message": f"over {limit} bytes per ticket", "limit": limit}
            ],
        )
