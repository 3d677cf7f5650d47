"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from gateway import __version__
from gateway.api.errors import install_error_handlers
from gateway.api.health import router as health_router
from gateway.api.middleware import BodySizeLimitMiddleware, RequestContextMiddleware
from gateway.auth.views import router as api_key_router
from gateway.config.models import GatewayConfig
from gateway.database.engine import create_engine, create_sessionmaker
from gateway.settings import Settings
from gateway.support_unit import service as support_units
from gateway.support_unit.views import router as support_unit_router
from gateway.ticket.views import router as ticket_router

DESCRIPTION = (
    "One canonical ticket with one hub id, routed to the support unit that solves it. "
    "Authenticate with `Authorization: Bearer <API key>`. Errors are JSON: "
    '`{"error": {"code", "message", "details"}}`.'
)


def create_app(settings: Settings | None = None, config: GatewayConfig | None = None) -> FastAPI:
    """Build the app; the database engine is opened in the lifespan, not at import."""
    settings = settings or Settings()
    config = config or GatewayConfig()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.resolved_database_url(), pool_size=settings.db_pool_size)
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        if config.support_units:
            async with app.state.sessionmaker() as session:
                await support_units.ensure_units(session, units=config.support_units)
                await session.commit()
        try:
            yield
        finally:
            await engine.dispose()

    app = FastAPI(
        title="Ticket gateway",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.config = config
    install_error_handlers(app)
    for router in (health_router, ticket_router, support_unit_router, api_key_router):
        app.include_router(router)
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware)
    return app
