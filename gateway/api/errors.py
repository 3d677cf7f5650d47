"""Turn every error into the same JSON body: `{"error": {"code", "message", "details"?}}`."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

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
        return JSONResponse(exc.body(), status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        error = validation_error(exc)
        return JSONResponse(error.body(), status_code=error.status_code)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "http_error")
        body = {"error": {"code": code, "message": str(exc.detail)}}
        return JSONResponse(body, status_code=exc.status_code, headers=exc.headers)

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

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", extra={"error_type": type(exc).__name__})
        body = {"error": {"code": "internal", "message": "internal error; see the gateway log"}}
        return JSONResponse(body, status_code=500)
