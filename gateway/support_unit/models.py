"""Support unit request and response models."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"


class Level(StrEnum):
    FIRST = "first"
    SECOND = "second"
    THIRD = "third"


class SupportUnitCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=NAME_PATTERN)
    level: Level
    description: str = Field(default="", max_length=4000)
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")


class SupportUnitUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: Level | None = None
    description: str | None = Field(default=None, max_length=4000)
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")


class SupportUnit(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    level: Level
    description: str
    email: str | None
    created_at: datetime
    updated_at: datetime
