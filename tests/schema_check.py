"""Validate real API documents against the committed JSON Schemas in `schemas/`."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

SCHEMAS = Path(__file__).resolve().parent.parent / "schemas"


@cache
def validator(name: str) -> Draft202012Validator:
    schema = json.loads((SCHEMAS / name).read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def assert_valid(document: Any, schema_name: str) -> None:
    errors = [
        f"{list(e.absolute_path)}: {e.message}"
        for e in validator(schema_name).iter_errors(document)
    ]
    assert not errors, f"{schema_name}: {errors}"
