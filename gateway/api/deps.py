"""Dependencies shared by the routers: one session per request, the caller, the configuration."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth import service as auth
from gateway.auth.models import Caller
from gateway.config.models import GatewayConfig
from gateway.errors import Forbidden, Unauthenticated
from gateway.inputs import MAX_DB_INT
from gateway.settings import Settings
from gateway.sync.outbox import SyncContext

bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer gw_...`")


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

TicketId = Annotated[int, Path(ge=1, le=MAX_DB_INT, description="The hub id (`#1234` is 1234).")]
DeliveryId = Annotated[int, Path(ge=1, le=MAX_DB_INT, description="The delivery (outbox row) id.")]


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request; authentication and the work share its transaction.

    Reads get a read session (concurrent on SQLite); anything else a write session.
    """
    read = request.method in READ_METHODS
    factory = request.app.state.read_sessionmaker if read else request.app.state.sessionmaker
    async with factory() as session:
        yield session


Session = Annotated[AsyncSession, Depends(get_session)]


async def get_caller(
    session: Session,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    if credentials is None:
        raise Unauthenticated("an API key is required: send 'Authorization: Bearer <key>'")
    return await auth.authenticate(session, presented=credentials.credentials)


CurrentCaller = Annotated[Caller, Depends(get_caller)]


async def require_admin(caller: CurrentCaller) -> Caller:
    if not caller.is_admin:
        raise Forbidden("this route needs an admin key")
    return caller


AdminCaller = Annotated[Caller, Depends(require_admin)]


# Plain lookups are `async def` on purpose: FastAPI runs a sync dependency in a thread pool,
# a thread hand-off per request for nothing.
async def get_config(request: Request) -> GatewayConfig:
    config: GatewayConfig = request.app.state.config
    return config


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_sync(request: Request) -> SyncContext:
    sync: SyncContext = request.app.state.sync
    return sync


async def get_instance_id(request: Request) -> str:
    """This process's id in the instance registry (it owns the idempotency keys it claims)."""
    instance_id: str = request.app.state.presence.id
    return instance_id


Config = Annotated[GatewayConfig, Depends(get_config)]
InstanceId = Annotated[str, Depends(get_instance_id)]
Sync = Annotated[SyncContext, Depends(get_sync)]
AppSettings = Annotated[Settings, Depends(get_settings)]
