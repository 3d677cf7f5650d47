"""`GET /api/v1/instances` (admin): every gateway process, its heartbeat and what it holds."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.api.deps import AdminCaller, Session
from gateway.api.openapi import ADMIN_ONLY
from gateway.instance import service
from gateway.instance.models import Held, Instance

router = APIRouter(prefix="/api/v1/instances", tags=["instances"])


@router.get("", response_model=list[Instance], responses=ADMIN_ONLY)
async def list_instances(session: Session, _: AdminCaller) -> list[Instance]:
    """Live, stopping and recently dead instances, oldest first."""
    return [
        Instance(
            id=row.id,
            role=row.role,
            version=row.version,
            host=row.host,
            pid=row.pid,
            state=row.state,
            started_at=row.started_at,
            heartbeat_at=row.heartbeat_at,
            ended_at=row.ended_at,
            held=Held(
                deliveries=held.deliveries, idempotency_keys=held.idempotency_keys, leases=leases
            ),
        )
        for row, held, leases in await service.listing(session)
    ]
