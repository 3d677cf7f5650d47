"""The caller of a request and API key models."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field, model_validator

from gateway.inputs import InputModel
from gateway.support_unit.models import Level
from gateway.ticket.models import Email


class Role(StrEnum):
    ADMIN = "admin"
    UNIT = "unit"
    SUBMITTER = "submitter"


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: an admin, one support unit's staff, or someone acting for a submitter."""

    key_id: str
    name: str
    role: Role
    unit_id: int | None = None
    unit_name: str | None = None
    unit_level: Level | None = None
    submitter_email: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def sees_internal(self) -> bool:
        """Internal diary entries are for support staff only, never for a submitter's caller."""
        return self.role != Role.SUBMITTER


class ApiKeyCreate(InputModel):
    name: str = Field(min_length=1, max_length=128)
    role: Role
    support_unit: str | None = Field(
        default=None, max_length=64, description="Required for role 'unit'."
    )
    submitter_email: Email | None = Field(
        default=None, description="Required for role 'submitter'."
    )

    @model_validator(mode="after")
    def _binding_matches_role(self) -> ApiKeyCreate:
        if (self.role == Role.UNIT) != (self.support_unit is not None):
            raise ValueError("support_unit is required for role 'unit' and only allowed there")
        if (self.role == Role.SUBMITTER) != (self.submitter_email is not None):
            raise ValueError(
                "submitter_email is required for role 'submitter' and only allowed there"
            )
        return self


class ApiKey(BaseModel):
    key_id: str
    name: str
    role: Role
    support_unit: str | None
    submitter_email: str | None
    created_at: datetime


class ApiKeyCreated(ApiKey):
    key: str = Field(description="The secret; shown once, only its hash is stored.")
