"""Pure ASGI middleware: the request's id, its one access-log line, and the limits at the edge.

`RequestContextMiddleware` is the outermost layer we own, so it is also where an unexpected
exception ends: logged once with the request id (no personal data, see gateway.logging) and
answered with the JSON error body and the `X-Request-ID` the caller can quote.
`RequestLimitsMiddleware` refuses, before any route runs, what no route could store or should
read: oversized headers (431) and bodies (413), and NUL characters in the path or query (400).
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.errors import BadRequest, GatewayError, HeadersTooLarge, PayloadTooLarge
from gateway.logging import request_id_var

log = logging.getLogger("gateway.access")
errors_log = logging.getLogger("gateway.api")
SAFE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")
INTERNAL_ERROR = {"error": {"code": "internal", "message": "internal error; see the gateway log"}}


class RequestContextMiddleware:
    """Give every request an id (or keep the caller's), echo it, and log one line at the end.

    Only method, path, status and duration are logged: never headers or query strings, which
    may carry credentials.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = _header(scope, b"x-request-id")
        request_id = incoming if incoming and SAFE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            errors_log.exception("unhandled error", extra={"path": scope["path"]})
            if response_started:
                raise  # the server closes the connection: the answer is already half sent
            await _send_json(send_with_id, 500, INTERNAL_ERROR)
        finally:
            log.info(
                "request",
                extra={
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            request_id_var.reset(token)


@dataclass(frozen=True, slots=True)
class BodyLimit:
    """Another body limit for one route (method and whole path), e.g. file uploads."""

    method: str
    path: re.Pattern[str]
    max_bytes: int


class RequestLimitsMiddleware:
    """Refuse oversized headers and bodies, and NUL characters in the URL, before routing."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        max_header_bytes: int,
        body_limits: Sequence[BodyLimit] = (),
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_header_bytes = max_header_bytes
        self.body_limits = tuple(body_limits)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._body_limit(scope)
        refusal = self._refusal(scope, limit)
        if refusal is not None:
            await _send_json(send, refusal.status_code, refusal.body())
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # FastAPI re-raises HTTPException from body parsing (anything else becomes 400)
                    raise HTTPException(413, self._too_large(limit).message)
            return message

        await self.app(scope, limited_receive, send)

    def _body_limit(self, scope: Scope) -> int:
        for special in self.body_limits:
            if scope["method"] == special.method and special.path.fullmatch(scope["path"]):
                return special.max_bytes
        return self.max_body_bytes

    def _refusal(self, scope: Scope, limit: int) -> GatewayError | None:
        headers = scope.get("headers", [])
        size = sum(len(name) + len(value) for name, value in headers)
        if size > self.max_header_bytes:
            return HeadersTooLarge(
                f"request headers total {size} bytes, over the limit of {self.max_header_bytes}"
            )
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return self._too_large(limit)
        if "\x00" in scope["path"]:
            return BadRequest("the path must not contain NUL characters (%00)")
        if b"\x00" in unquote_to_bytes(scope.get("query_string", b"")):
            return BadRequest("the query string must not contain NUL characters (%00)")
        return None

    def _too_large(self, limit: int) -> PayloadTooLarge:
        return PayloadTooLarge(f"request body is larger than the limit of {limit} bytes")


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin-1"))
    return None


async def _send_json(send: Send, status: int, body: Mapping[str, object]) -> None:
    payload = json.dumps(body).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
