"""Documents exported from the code: the OpenAPI document and the JSON Schemas in `schemas/`.

Tests compare the committed files with these functions, so the files cannot drift from the app.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from gateway.adapter.registry import AdapterRegistry
from gateway.config.loader import config_schema
from gateway.ticket.models import (
    JournalEntry,
    JournalEntryCreate,
    Ticket,
    TicketCreate,
    TicketPatch,
)

ROOT = Path(__file__).resolve().parent.parent
OPENAPI_PATH = ROOT / "openapi" / "openapi.json"
SCHEMAS_DIR = ROOT / "schemas"
SCHEMA_BASE_URI = "https://ticket-gateway.invalid/schemas/"

MODEL_SCHEMAS: dict[str, tuple[type[BaseModel], str]] = {
    "ticket.schema.json": (Ticket, "serialization"),
    "ticket-create.schema.json": (TicketCreate, "validation"),
    "ticket-patch.schema.json": (TicketPatch, "validation"),
    "journal-entry.schema.json": (JournalEntry, "serialization"),
    "journal-entry-create.schema.json": (JournalEntryCreate, "validation"),
}


def render_json(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def openapi_document() -> dict[str, Any]:
    from gateway.api.app import create_app

    return create_app().openapi()


def json_schemas() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema (draft 2020-12) for every exported document."""
    out: dict[str, dict[str, Any]] = {}
    for name, (model, mode) in MODEL_SCHEMAS.items():
        out[name] = _with_header(name, model.model_json_schema(mode=mode))  # type: ignore[arg-type]
    out["config.schema.json"] = _with_header("config.schema.json", config_schema())
    for kind, adapter in sorted(AdapterRegistry.from_entry_points().kinds.items()):
        name = f"adapter-{kind}.schema.json"
        out[name] = _with_header(name, adapter.config_model.model_json_schema())
        if adapter.mapping_model is not None:
            name = f"mapping-{kind}.schema.json"
            out[name] = _with_header(name, adapter.mapping_model.model_json_schema())
    return out


def _with_header(name: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_BASE_URI + name,
        **schema,
    }


def write_all(openapi_path: Path = OPENAPI_PATH, schemas_dir: Path = SCHEMAS_DIR) -> list[Path]:
    written = []
    openapi_path.parent.mkdir(parents=True, exist_ok=True)
    openapi_path.write_text(render_json(openapi_document()), encoding="utf-8")
    written.append(openapi_path)
    schemas_dir.mkdir(parents=True, exist_ok=True)
    for name, schema in json_schemas().items():
        (schemas_dir / name).write_text(render_json(schema), encoding="utf-8")
        written.append(schemas_dir / name)
    return written
