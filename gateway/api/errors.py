"""Turn every error into the same JSON body: `{"error": {"code", "message", "details"?}}`."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Route

from gateway.errors import BadRequest, GatewayError, InvalidInput

log = logging.getLogger("gateway.api")

HTTP_CODES = {
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
}


def field_name(loc: tuple[Any, ...] | list[Any]) -> str:
    """`("body", "submitter", "email")` -> `submitter.email`; the location kind is dropped."""
    parts = (
        [str(p) for p in loc[1:]]
        if loc and loc[0] in ("body", "query", "path", "header")
        else list(map(str, loc))
    )
    return ".".join(parts) or str(loc[0] if loc else "body")


def validation_error(exc: RequestValidationError) -> GatewayError:
    errors = exc.errors()
    for error in errors:
        if error.get("type") == "json_invalid":
            reason = error.get("ctx", {}).get("error", "")
            return BadRequest(f"malformed JSON in the request body: {reason}".rstrip(": "))
    details = []
    for error in errors:
        loc = tuple(error.get("loc", ()))
        message = str(error.get("msg", "invalid"))
        if loc == ("body",) and error.get("type") in ("model_attributes_type", "dict_type"):
            message = "the request body must be a JSON object (Content-Type: application/json)"
        elif error.get("type") == "extra_forbidden":
            message = "unknown field"
        elif error.get("type") == "missing":
            message = "field required"
        message = message.removeprefix("Value error, ")
        details.append({"field": field_name(loc), "message": message})
    first = details[0] if details else {"field": "body", "message": "invalid"}
    return InvalidInput(f"{first['field']}: {first['message']}", details=details)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(GatewayError)
    async def _gateway_error(_: Request, exc: GatewayError) -> JSONResponse:
        return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        error = validation_error(exc)
        return JSONResponse(error.body(), status_code=error.status_code)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "http_error")
        headers = dict(exc.headers or {})
        message = str(exc.detail)
        if exc.status_code == 405:
            allowed = allowed_methods(request)
            headers["Allow"] = ", ".join(allowed)
            message = f"{request.method} is not allowed here; allowed: {', '.join(allowed)}"
        body = {"error": {"code": code, "message": message}}
        return JSONResponse(body, status_code=exc.status_code, headers=headers)

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    @app.exception_handler(OSError)
    async def _database_unavailable(_: Request, exc: Exception) -> JSONResponse:
        # a restarted or unreachable database; idempotency keys and event ids make a retry safe
        log.warning("database unavailable", extra={"error": f"{type(exc).__name__}: {exc}"})
        body = {
            "error": {
                "code": "unavailable",
                "message": "the database is unavailable; retry shortly (a retry with the same "
                "Idempotency-Key or webhook id is never applied twice)",
            }
        }
        return JSONResponse(body, status_code=503, headers={"Retry-After": "1"})

    # Anything else ends in RequestContextMiddleware: logged with the request id, answered 500.


def route_methods(routes: Iterable[BaseRoute]) -> list[tuple[re.Pattern[str], set[str]]]:
    """Each route's path pattern and methods, for answering 405 (built once, with the app)."""
    return [
        (route.path_regex, set(route.methods))
        for route in routes
        if isinstance(route, APIRoute | Route) and route.methods
    ]


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    path = request.scope["path"]
    methods: set[str] = set()
    for pattern, served in request.app.state.route_methods:
        if pattern.match(path):
            methods |= served
    return sorted(methods)
