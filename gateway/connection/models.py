"""A connection as written in the config file."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from gateway.support_unit.models import NAME_PATTERN


class Policy(StrEnum):
    """`close-only` (GGUS default): the origin hears only the solution; `mirror`: all changes."""

    CLOSE_ONLY = "close-only"
    MIRROR = "mirror"


class ConnectionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=NAME_PATTERN)
    adapter: str = Field(description="The adapter kind, e.g. `rest`.")
    support_unit: str | None = Field(
        default=None, description="The unit whose own system this is; assignments to it go here."
    )
    policy: Policy = Policy.CLOSE_ONLY
    mapping: str | None = Field(
        default=None, description="Mapping file, relative to the config file or to `mappings/`."
    )
    settings: dict[str, Any] = Field(
        default_factory=dict,
        description="Adapter settings (see schemas/adapter-<kind>.schema.json); "
        "secrets as `{env: VARIABLE}`.",
    )
