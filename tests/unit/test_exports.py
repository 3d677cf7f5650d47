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


def test_every_operation_documents_its_error_answers() -> None:
    """Clients are generated from the document: each error it can give, with the error body."""
    document = openapi_document()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            where = f"{method.upper()} {path}"
            assert {"400", "431"} <= set(responses), where
            if operation.get("security"):
                assert "401" in responses, where
            if "{" in path:
                assert "404" in responses, where
            if "requestBody" in operation:
                assert {"413", "422"} <= set(responses), where
            for code, response in responses.items():
                assert "X-Request-ID" in response["headers"], (where, code)
                if code[0] in "45":
                    schema = response["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (where, code)
