"""The committed OpenAPI document and JSON Schemas match the code."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator

from gateway.exports import OPENAPI_PATH, SCHEMAS_DIR, json_schemas, openapi_document, render_json


def test_openapi_document_matches_the_app() -> None:
    committed = OPENAPI_PATH.read_text(encoding="utf-8")
    assert committed == render_json(openapi_document()), (
        "openapi/openapi.json drifted from the app; run `gateway export-openapi`"
    )


@pytest.mark.parametrize("name", sorted(json_schemas()))
def test_json_schema_matches_the_models(name: str) -> None:
    committed = (SCHEMAS_DIR / name).read_text(encoding="utf-8")
    assert committed == render_json(json_schemas()[name]), (
        f"schemas/{name} drifted; run `gateway export-schemas`"
    )
    Draft202012Validator.check_schema(json.loads(committed))


def test_no_stray_schema_files() -> None:
    on_disk = {p.name for p in SCHEMAS_DIR.glob("*.json")}
    assert on_disk <= set(json_schemas()), on_disk - set(json_schemas())
