"""API key routes (admin only); the secret is in the creation response and nowhere else."""

from __future__ import annotations

from fastapi import APIRouter, status

from gateway.api.deps import AdminCaller, Session
from gateway.api.openapi import ADMIN_ONLY
from gateway.auth import service
from gateway.auth.models import ApiKey, ApiKeyCreate, ApiKeyCreated

router = APIRouter(prefix="/api/v1/api-keys", tags=["api keys"])


@router.post(
    "",
    response_model=ApiKeyCreated,
    status_code=status.HTTP_201_CREATED,
    responses=ADMIN_ONLY,
)
async def create_api_key(data: ApiKeyCreate, session: Session, _: AdminCaller) -> ApiKeyCreated:
    """Create a key for an admin, a support unit or a submitter; the secret is shown once."""
    created = await service.create_api_key(session, data=data)
    await session.commit()
    return created


@router.get("", response_model=list[ApiKey], responses=ADMIN_ONLY)
async def list_api_keys(session: Session, _: AdminCaller) -> list[ApiKey]:
    """Active keys, without their secrets."""
    return await service.list_api_keys(session)
