"""What every input must satisfy before it reaches the store, stated once for the whole gateway.

PostgreSQL cannot store a NUL character or half a UTF-16 surrogate pair in text, its integers
stop at 2**31 - 1, and a datetime near year 1 overflows when moved to UTC. Checking these at the
edge (request models, commands from adapters, path and query parameters) turns what would be a
database error and a 500 into a 4xx that names the field.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    field_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

MAX_DB_INT = 2**31 - 1  # PostgreSQL `integer`, the type of every id column
MAX_JSON_DEPTH = 64  # far beyond any real helpdesk payload, far below Python's recursion limit
UNSTORABLE_TEXT = re.compile("[\x00\ud800-\udfff]")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")

T = TypeVar("T")

RecordId = Annotated[int, Field(ge=1, le=MAX_DB_INT)]
"""An id of a stored row (a hub id, a delivery id): positive and within the database's range."""


def text_problem(value: str) -> str | None:
    """Why the database could not store this text, or None if it can."""
    found = UNSTORABLE_TEXT.search(value)
    if found is None:
        return None
    if found.group() == "\x00":
        return "must not contain NUL characters"
    return "must be valid Unicode text (it holds half of a surrogate pair)"


def check_storable(value: Any) -> Any:
    """Refuse unstorable text anywhere in a value (strings, lists, mappings)."""
    if isinstance(value, str):
        problem = text_problem(value)
        if problem is not None:
            raise ValueError(problem)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            check_storable(item)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            check_storable(key)
            check_storable(item)
    return value


class NotNull:
    """Marks an optional field that may be left out but not sent as `null`.

    A PATCH leaves out what it does not change; `null` would mean "clear it", which is only
    meaningful for fields the ticket may lack (component, eta, ...). The JSON Schema says so too,
    so generated clients and the fuzzer know.
    """

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(_refuse_none, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        generated = handler(schema)
        branches = [b for b in generated.get("anyOf", []) if b.get("type") != "null"]
        if len(branches) == 1 and "anyOf" in generated:
            rest = {k: v for k, v in generated.items() if k != "anyOf"}
            return {**branches[0], **rest}
        return generated


def _refuse_none(value: Any) -> Any:
    if value is None:
        raise ValueError("may be left out, but not null")
    return value


Omittable = Annotated[T | None, NotNull()]
"""A field a change may leave out, but may not set to null."""


def _drop_null_defaults(schema: dict[str, Any]) -> None:
    """`default: null` on a property that cannot be null would contradict itself; drop it."""
    for prop in schema.get("properties", {}).values():
        nullable = prop.get("type") == "null" or any(
            b.get("type") == "null" for b in prop.get("anyOf", [])
        )
        if "default" in prop and prop["default"] is None and not nullable:
            del prop["default"]


class InputModel(BaseModel):
    """Base of every model that carries outside input: request bodies and adapters' commands."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_drop_null_defaults)

    @field_validator("*", mode="after")
    @classmethod
    def _storable(cls, value: Any) -> Any:
        return check_storable(value)


def _iso_datetime(value: Any) -> Any:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not ISO_DATETIME.match(value):
        raise ValueError("must be an ISO 8601 date and time, e.g. 2026-11-23T09:00:00Z")
    return value


def _as_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except OverflowError:
        raise ValueError("is outside the range of dates the gateway stores") from None


def _iso_date(value: Any) -> Any:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not ISO_DATE.match(value):
        raise ValueError("must be an ISO 8601 date, e.g. 2026-11-23")
    return value


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_datetime), AfterValidator(_as_utc)]
"""A timestamp written as ISO 8601 (numbers are not times), kept in UTC; naive means UTC."""

IsoDate = Annotated[date, BeforeValidator(_iso_date)]
"""A calendar date written as ISO 8601 (`2026-11-23`); numbers are not dates."""


def load_json(body: bytes | str) -> Any:
    """Parse a JSON document from outside; ValueError names what is wrong with it.

    Deep nesting is refused: the parser itself survives 10,000 levels, but every recursive walk
    after it (templates, pointers, validation) would not.
    """
    try:
        value = json.loads(body)
    except RecursionError:
        raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(item, dict):
            pending.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)
    return value
