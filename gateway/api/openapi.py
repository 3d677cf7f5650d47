"""The OpenAPI document states every answer a route can give, so clients can be generated from it.

Routes declare what is theirs (403, 409, 412, links); what follows from the route's shape is added
here once: 400 and 431 anywhere (a malformed request, a NUL in the URL, oversized headers), 401
where a key is needed, 404 where the path names something, 413 where there is a body, 422 where
anything is validated, 503 where the database is needed; the error body everywhere; and the
`X-Request-ID` every answer carries.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field

NO_DATABASE = frozenset({"healthz"})
DEFAULT_DESCRIPTIONS = {
    "400": "Malformed request: unreadable JSON, a NUL character in the URL, a tampered cursor",
    "401": "No API key, or one that is unknown or revoked",
    "403": "This key may not do this; the message names the rule",
    "404": "Not found, or not visible to this key",
    "409": "Conflicts with the current state",
    "412": "If-Match names an older version",
    "413": "The request body is over the size limit",
    "422": "A field is invalid; `details` names each one",
    "431": "The request headers are over the size limit",
    "503": "The database is unavailable; retry (the same Idempotency-Key is applied once)",
}
REQUEST_ID = {
    "description": "The request's id (the caller's, or generated); quote it when reporting",
    "schema": {"type": "string"},
}


ADMIN_ONLY: dict[int | str, dict[str, Any]] = {403: {"description": "Needs an admin key"}}
ETAG = {
    "ETag": {
        "description": 'The ticket\'s version, e.g. "3", for If-Match',
        "schema": {"type": "string"},
    }
}


def ticket_links(*, status: str) -> dict[int | str, dict[str, Any]]:
    """Links from an answer carrying a ticket to what can be done with it next."""
    ticket_id = {"ticket_id": "$response.body#/id"}
    operations = ("get_ticket", "patch_ticket", "add_entry", "ticket_history", "ticket_deliveries")
    links = {op: {"operationId": op, "parameters": ticket_id} for op in operations}
    return {int(status): {"links": links, "headers": dict(ETAG)}}


class ErrorInfo(BaseModel):
    code: str = Field(description="Stable machine-readable code, e.g. `invalid`, `not_found`")
    message: str = Field(description="Names the problem, for people")
    details: list[dict[str, Any]] | None = Field(
        default=None, description="One item per problem: the `field` (or `key`) and a `message`"
    )


class ErrorBody(BaseModel):
    """Every error answer of the API."""

    error: ErrorInfo


def operation_id(route: APIRoute) -> str:
    """The route function's name: `get_ticket`, `create_ticket`, ... (unique across the API)."""
    return route.name


def install(app: FastAPI) -> None:
    """Make `app.openapi()` return the document with every answer described."""
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe_answers(plain())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def describe_answers(document: dict[str, Any]) -> dict[str, Any]:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):  # FastAPI's; our 422 has ErrorBody
        schemas.pop(name, None)
    schemas.update(_model_schemas(ErrorBody))
    for operation in _operations(document):
        responses = operation["responses"]
        for code in _implied_codes(operation):
            responses.setdefault(code, {})
        for code, response in responses.items():
            if response.get("description") in (None, "Validation Error"):  # FastAPI's default
                response["description"] = DEFAULT_DESCRIPTIONS.get(code, "Error")
            if code[0] in "45":
                response["content"] = {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}
                }
            response.setdefault("headers", {})["X-Request-ID"] = REQUEST_ID
        if "401" in responses:
            responses["401"]["headers"]["WWW-Authenticate"] = {
                "description": "Present when an API key is missing or wrong",
                "schema": {"type": "string"},
            }
        if "503" in responses:
            responses["503"]["headers"]["Retry-After"] = {
                "description": "Seconds to wait before retrying",
                "schema": {"type": "string"},
            }
    return document


def _implied_codes(operation: dict[str, Any]) -> list[str]:
    codes = ["400", "431"]
    if operation.get("security"):
        codes.append("401")
    parameters = operation.get("parameters", [])
    if any(p["in"] == "path" for p in parameters):
        codes.append("404")
    if "requestBody" in operation:
        codes.append("413")
    if parameters or "requestBody" in operation:
        codes.append("422")
    if operation.get("operationId") not in NO_DATABASE:
        codes.append("503")
    return codes


def _operations(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        operation
        for path in document.get("paths", {}).values()
        for method, operation in path.items()
        if method in ("get", "put", "post", "patch", "delete", "head", "options")
    ]


def _model_schemas(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions: dict[str, Any] = schema.pop("$defs", {})
    return {**definitions, model.__name__: schema}
