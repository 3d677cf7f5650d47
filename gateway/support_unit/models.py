"""Support unit request and response models."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from gateway.inputs import InputModel, Omittable

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"


class Level(StrEnum):
    FIRST = "first"
    SECOND = "second"
    THIRD = "third"


class SupportUnitCreate(InputModel):
    name: str = Field(min_length=1, max_length=64, pattern=NAME_PATTERN)
    level: Level
    description: str = Field(default="", max_length=4000)
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")


class SupportUnitUpdate(InputModel):
    """The fields given change; `email: null` removes the unit's address."""

    level: Omittable[Level] = None
    description: Omittable[str] = Field(default=None, max_length=4000)
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")


class SupportUnit(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    level: Level
    description: str
    email: str | None
    created_at: datetime
    updated_at: datetime
