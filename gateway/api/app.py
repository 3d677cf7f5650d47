"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway import __version__
from gateway.adapter.registry import AdapterRegistry
from gateway.api import openapi
from gateway.api.errors import install_error_handlers, route_methods
from gateway.api.health import router as health_router
from gateway.api.middleware import RequestContextMiddleware, RequestLimitsMiddleware
from gateway.attachment.service import AttachmentLimits
from gateway.attachment.views import router as attachment_router
from gateway.attachment.views import upload_body_limit
from gateway.auth.views import router as api_key_router
from gateway.config.models import GatewayConfig
from gateway.connection.service import Connections, build_connections
from gateway.connection.views import router as connection_router
from gateway.database.engine import (
    Engines,
    create_engines,
    create_sessionmaker,
    create_worker_engines,
    is_sqlite,
)
from gateway.delivery.views import router as delivery_router
from gateway.delivery.worker import Worker
from gateway.digest.views import router as digest_router
from gateway.inbound.poller import Poller
from gateway.instance.presence import Presence
from gateway.instance.views import router as instance_router
from gateway.mail.listener import start_listener
from gateway.mail.reader import MailReader
from gateway.mail.views import raw_mail_body_limit
from gateway.mail.views import router as mail_router
from gateway.metrics.views import router as metrics_router
from gateway.relation.views import router as relation_router
from gateway.release.views import router as release_router
from gateway.requirement.views import router as requirement_router
from gateway.routing.views import router as routing_router
from gateway.scheduler.registry import process_jobs
from gateway.scheduler.service import Scheduler
from gateway.scheduler.views import router as scheduler_router
from gateway.settings import Settings
from gateway.support_unit import service as support_units
from gateway.support_unit.views import router as support_unit_router
from gateway.sync.outbox import MAIL_CHANNEL, SyncContext
from gateway.ticket.views import router as ticket_router
from gateway.webhook.views import router as webhook_router
from gateway.webhook.views import webhook_body_limit

DESCRIPTION = (
    "One canonical ticket with one hub id, routed to the support unit that solves it. "
    "Authenticate with `Authorization: Bearer <API key>`. Errors are JSON: "
    '`{"error": {"code", "message", "details"}}`.'
)
ROUTERS = (
    health_router,
    ticket_router,
    attachment_router,
    delivery_router,
    webhook_router,
    support_unit_router,
    api_key_router,
    instance_router,
    connection_router,
    mail_router,
    requirement_router,
    scheduler_router,
    digest_router,
    routing_router,
    release_router,
    relation_router,
    metrics_router,
)


def connections_for(settings: Settings, config: GatewayConfig) -> Connections:
    """Build the configured connections; raises ConfigError naming every bad key."""
    base_dir = settings.config_file.parent if settings.config_file else None
    return build_connections(config, AdapterRegistry.from_entry_points(), base_dir=base_dir)


def make_presence(settings: Settings, engines: Engines, *, role: str) -> Presence:
    return Presence(
        sessionmaker=create_sessionmaker(engines.write),
        database_url=settings.resolved_database_url(),
        role=role,
        heartbeat_seconds=settings.instance_heartbeat_seconds,
        dead_after=settings.instance_dead_after_seconds,
    )


def make_worker(
    settings: Settings, engines: Engines, connections: Connections, *, presence: Presence
) -> Worker:
    """A delivery worker whose claims belong to this instance (and move on when it dies)."""
    worker = Worker(
        name=presence.id,
        sessionmaker=create_sessionmaker(engines.write),
        read_sessionmaker=(
            create_sessionmaker(engines.read) if engines.read is not engines.write else None
        ),
        connections=connections,
        database_url=settings.resolved_database_url(),
        concurrency=settings.worker_concurrency,
        lease_seconds=settings.worker_lease_seconds,
        poll_interval=settings.worker_poll_interval,
        max_attempts=settings.worker_max_attempts,
        pause_check_seconds=settings.connection_check_seconds,
    )
    presence.wakers.append(worker.wake)
    return worker


def make_poller(
    engines: Engines,
    connections: Connections,
    config: GatewayConfig,
    sync: SyncContext,
    *,
    presence: Presence,
) -> Poller:
    """Polls the connections that have an interval, when this instance holds their lease."""
    return Poller(
        sessionmaker=create_sessionmaker(engines.write),
        connections=connections,
        config=config,
        sync=sync,
        instance_id=presence.id,
    )


def make_scheduler(
    engines: Engines, config: GatewayConfig, sync: SyncContext, *, presence: Presence
) -> Scheduler:
    """This instance's part of the periodic jobs (each due run happens in one process); they
    look for what is due through the read engine (SQLite: no write lock while they scan)."""
    return Scheduler(
        sessionmaker=create_sessionmaker(engines.write),
        read_sessionmaker=create_sessionmaker(engines.read),
        sync=sync,
        config=config,
        jobs=process_jobs(config),
        owner=presence.id,
    )


def make_mail_reader(
    settings: Settings, engine: AsyncEngine, config: GatewayConfig, sync: SyncContext
) -> MailReader:
    """The mail readers of this instance, woken when this process stores a message; its
    engine commits synchronously (a ticket made from mail is as durable as one from the API)."""
    reader = MailReader(
        sessionmaker=create_sessionmaker(engine),
        sync=sync,
        config=config,
        limits=AttachmentLimits.from_settings(settings),
        readers=1 if is_sqlite(settings.resolved_database_url()) else settings.mail_readers,
        poll_interval=settings.worker_poll_interval,
    )
    sync.mail_wakers.append(reader.wake)
    return reader


def create_app(
    settings: Settings | None = None,
    config: GatewayConfig | None = None,
    *,
    connections: Connections | None = None,
    run_worker: bool = False,
) -> FastAPI:
    """Build the app; connections are checked now, the database is opened in the lifespan."""
    settings = settings or Settings()
    config = config or GatewayConfig()
    connections = connections if connections is not None else connections_for(settings, config)
    sync = SyncContext(connections)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engines = create_engines(settings.resolved_database_url(), pool_size=settings.db_pool_size)
        app.state.engine = engines.write
        app.state.sessionmaker = create_sessionmaker(engines.write)
        app.state.read_sessionmaker = (
            create_sessionmaker(engines.read)
            if engines.read is not engines.write
            else app.state.sessionmaker
        )
        if config.support_units:
            async with app.state.sessionmaker() as session:
                await support_units.ensure_units(session, units=config.support_units)
                await session.commit()
        presence = make_presence(settings, engines, role="api+worker" if run_worker else "api")
        await presence.start()
        app.state.presence = presence
        mail_server = await start_listener(app.state.sessionmaker, sync)
        stop = asyncio.Event()
        tasks = []
        worker_engines = None
        app.state.poller = None
        if run_worker:
            url = settings.resolved_database_url()
            worker_engines = None if is_sqlite(url) else create_worker_engines(url)
            worker = make_worker(
                settings, worker_engines or engines, connections, presence=presence
            )
            sync.wakers.append(worker.wake)
            poller = make_poller(engines, connections, config, sync, presence=presence)
            app.state.poller = poller
            reader = make_mail_reader(settings, engines.write, config, sync)
            worker.also_listen[MAIL_CHANNEL] = reader.wake
            app.state.mail_reader = reader
            scheduler = make_scheduler(engines, config, sync, presence=presence)
            app.state.scheduler = scheduler
            tasks = [
                asyncio.create_task(scheduler.run(stop)),
                asyncio.create_task(worker.run(stop)),
                asyncio.create_task(poller.run(stop)),
                asyncio.create_task(reader.run(stop)),
            ]
        try:
            yield
        finally:  # a graceful stop: requests are done; finish or hand back deliveries, leave
            if mail_server is not None:  # no new mail; a message being read is finished
                mail_server.close()
                await mail_server.wait_closed()
            await presence.stopping()
            stop.set()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await presence.leave()
            await connections.aclose()
            await engines.dispose()
            if worker_engines is not None:
                await worker_engines.dispose()

    app = FastAPI(
        title="Ticket gateway",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        generate_unique_id_function=openapi.operation_id,
    )
    openapi.install(app)
    app.state.settings = settings
    app.state.config = config
    app.state.sync = sync
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    app.state.route_methods = route_methods(route for r in ROUTERS for route in r.routes)
    app.add_middleware(
        RequestLimitsMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_header_bytes=settings.max_header_bytes,
        body_limits=[
            upload_body_limit(settings),
            webhook_body_limit(settings),
            *raw_mail_body_limit(connections),
        ],
    )
    app.add_middleware(RequestContextMiddleware)
    return app
