"""The `gateway` command: serve, migrate, create API keys, export documents, check config."""

from __future__ import annotations

import asyncio
import gc
import json
from pathlib import Path
from typing import Annotated

import typer

from gateway.adapter.registry import RegistryError
from gateway.api.app import connections_for
from gateway.auth import service as auth
from gateway.auth.models import ApiKeyCreate, ApiKeyCreated, Role
from gateway.config.loader import load_config
from gateway.config.models import GatewayConfig
from gateway.connection.service import Connections
from gateway.database import migrate as migrations
from gateway.database.engine import (
    create_engine,
    create_engines,
    create_sessionmaker,
    create_worker_engines,
    is_sqlite,
)
from gateway.errors import ConfigError, GatewayError
from gateway.settings import Settings
from gateway.support_unit import service as support_units

app = typer.Typer(help="Ticket integration gateway.", no_args_is_help=True, add_completion=False)

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Config file (YAML/JSON); default $GATEWAY_CONFIG_FILE."),
]


def _load(config_path: Path | None) -> tuple[Settings, GatewayConfig]:
    settings = Settings()
    path = config_path or settings.config_file
    if path is not None:
        settings = settings.model_copy(update={"config_file": path})
    try:
        config = load_config(path) if path else GatewayConfig()
    except ConfigError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    return settings, config


def _connections(settings: Settings, config: GatewayConfig) -> Connections:
    try:
        return connections_for(settings, config)
    except (ConfigError, RegistryError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None


async def _prepare_database(settings: Settings, config: GatewayConfig) -> None:
    engine = create_engine(settings.resolved_database_url())
    try:
        await migrations.upgrade(engine)
        async with create_sessionmaker(engine)() as session:
            await support_units.ensure_units(session, units=config.support_units)
            await session.commit()
    finally:
        await engine.dispose()


def freeze_heap() -> None:
    """Exempt what start-up built (modules, models, mappings) from the cyclic garbage collector.

    Otherwise each full collection walks all of it (about 140,000 objects): pauses of 85-100 ms,
    measured in `serve` and `worker`, that land on deliveries in flight (the p99 of webhook-to-push
    latency). Frozen, a full collection takes well under a millisecond.
    """
    gc.collect()
    gc.freeze()


@app.command()
def serve(
    config: ConfigOption = None,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8080,
    migrate: Annotated[bool, typer.Option(help="Apply migrations before serving.")] = True,
    worker: Annotated[
        bool, typer.Option(help="Run a delivery worker in this process too (embedded default).")
    ] = True,
) -> None:
    """Serve the REST API (migrating the database first unless --no-migrate)."""
    import uvicorn

    from gateway.api.app import create_app
    from gateway.logging import configure_logging

    settings, gateway_config = _load(config)
    configure_logging(settings.log_level)
    connections = _connections(settings, gateway_config)
    if migrate:
        asyncio.run(_prepare_database(settings, gateway_config))
    application = create_app(settings, gateway_config, connections=connections, run_worker=worker)
    freeze_heap()
    uvicorn.run(
        application,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
        timeout_keep_alive=settings.keep_alive_seconds,
    )


@app.command()
def migrate(config: ConfigOption = None) -> None:
    """Apply database migrations and create the configured support units."""
    settings, gateway_config = _load(config)
    asyncio.run(_prepare_database(settings, gateway_config))
    typer.echo(f"database at revision {', '.join(sorted(migrations.head_revisions()))}")


@app.command("create-key")
def create_key(
    name: Annotated[str, typer.Option(help="Who the key is for, shown in history.")],
    role: Annotated[Role, typer.Option(help="admin, unit or submitter.")] = Role.ADMIN,
    support_unit: Annotated[str | None, typer.Option(help="The unit, for role 'unit'.")] = None,
    submitter_email: Annotated[str | None, typer.Option(help="For role 'submitter'.")] = None,
    config: ConfigOption = None,
) -> None:
    """Create an API key and print it once; only its hash is stored."""
    settings, gateway_config = _load(config)
    try:
        data = ApiKeyCreate(
            name=name, role=role, support_unit=support_unit, submitter_email=submitter_email
        )
        created = asyncio.run(_create_key(settings, gateway_config, data))
    except (GatewayError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(created.key)


async def _create_key(
    settings: Settings, config: GatewayConfig, data: ApiKeyCreate
) -> ApiKeyCreated:
    await _prepare_database(settings, config)
    engine = create_engine(settings.resolved_database_url())
    try:
        async with create_sessionmaker(engine)() as session:
            created = await auth.create_api_key(session, data=data)
            await session.commit()
            return created
    finally:
        await engine.dispose()


@app.command("worker")
def run_worker(
    config: ConfigOption = None,
    concurrency: Annotated[int | None, typer.Option(help="Deliveries in flight at once.")] = None,
    lease_seconds: Annotated[float | None, typer.Option(help="Claim lease.")] = None,
    poll_interval: Annotated[float | None, typer.Option(help="Polling fallback (s).")] = None,
    metrics_port: Annotated[int | None, typer.Option(help="Serve /metrics on this port.")] = None,
) -> None:
    """Deliver outbox rows until SIGTERM/SIGINT; run several, on several machines, on PostgreSQL."""
    from gateway.logging import configure_logging

    settings, gateway_config = _load(config)
    overrides = {
        "worker_concurrency": concurrency,
        "worker_lease_seconds": lease_seconds,
        "worker_poll_interval": poll_interval,
    }
    settings = settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    configure_logging(settings.log_level)
    connections = _connections(settings, gateway_config)
    if metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr="127.0.0.1")
    asyncio.run(_work(settings, gateway_config, connections))


async def _work(settings: Settings, config: GatewayConfig, connections: Connections) -> None:
    import signal

    from gateway.api.app import (
        make_mail_reader,
        make_poller,
        make_presence,
        make_scheduler,
        make_worker,
    )
    from gateway.sync.outbox import MAIL_CHANNEL, SyncContext

    url = settings.resolved_database_url()
    engines = create_worker_engines(url)
    # what polls and mail change (tickets, inbound events) commits synchronously, as in the API
    inbound = engines if is_sqlite(url) else create_engines(url, pool_size=settings.mail_readers)
    if not await migrations.is_current(engines.write):
        await engines.dispose()
        await inbound.dispose()
        typer.echo(
            "error: the database is not at the current migration; run `gateway migrate`", err=True
        )
        raise typer.Exit(2)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    presence = make_presence(settings, engines, role="worker")
    await presence.start()
    try:
        worker = make_worker(settings, engines, connections, presence=presence)
        sync = SyncContext(connections, wakers=[worker.wake])
        poller = make_poller(inbound, connections, config, sync, presence=presence)
        reader = make_mail_reader(settings, inbound.write, config, sync)
        worker.also_listen[MAIL_CHANNEL] = reader.wake
        scheduler = make_scheduler(inbound, config, sync, presence=presence)
        freeze_heap()
        await asyncio.gather(
            worker.run(stop), poller.run(stop), reader.run(stop), scheduler.run(stop)
        )
    finally:  # stopped: finish or hand back deliveries, leave the registry
        await presence.leave()
        await connections.aclose()
        await engines.dispose()
        if inbound is not engines:
            await inbound.dispose()


dead_letters_app = typer.Typer(help="List and replay dead letters.", no_args_is_help=True)
app.add_typer(dead_letters_app, name="dead-letters")


@dead_letters_app.command("list")
def list_dead_letters(
    config: ConfigOption = None,
    connection: Annotated[str | None, typer.Option(help="Only this connection.")] = None,
) -> None:
    """Print dead letters as JSON lines: the request, the response, the rule, the error."""
    from gateway.delivery import service as deliveries

    settings, _ = _load(config)

    async def run() -> list[str]:
        engine = create_engine(settings.resolved_database_url())
        try:
            async with create_sessionmaker(engine)() as session:
                rows = await deliveries.dead_letters(session, connection=connection, limit=10_000)
                return [row.model_dump_json() for row in rows]
        finally:
            await engine.dispose()

    for line in asyncio.run(run()):
        typer.echo(line)


@dead_letters_app.command("replay")
def replay_dead_letters(
    ids: Annotated[list[int], typer.Argument(help="Delivery ids to queue again.")],
    config: ConfigOption = None,
) -> None:
    """Queue dead letters again, due now, with a fresh retry budget."""
    from gateway.delivery import service as deliveries
    from gateway.sync.outbox import notify_workers

    settings, _ = _load(config)

    async def run() -> None:
        engine = create_engine(settings.resolved_database_url())
        try:
            async with create_sessionmaker(engine)() as session:
                for outbox_id in ids:
                    await deliveries.replay(session, outbox_id=outbox_id)
                await session.commit()
                await notify_workers(session)
        finally:
            await engine.dispose()

    try:
        asyncio.run(run())
    except GatewayError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"replayed {len(ids)} delivery(ies)")


# sysexits.h, as MTAs read a pipe's exit: delivered, refuse for good (the MTA bounces), later.
EX_OK, EX_DATAERR, EX_TEMPFAIL = 0, 65, 75


@app.command("mail-in")
def mail_in(config: ConfigOption = None) -> None:
    """Read one message on standard input into the gateway (an MTA's pipe transport).

    Exit 0 when it is stored (applied, quarantined, filed or a duplicate), 65 when it is refused
    for good (too large: the MTA bounces it), 75 when it cannot be stored now (the MTA keeps it and
    tries again later).
    """
    import sys

    from gateway.logging import configure_logging

    settings, gateway_config = _load(config)
    configure_logging(settings.log_level)
    connections = _connections(settings, gateway_config)
    raw = sys.stdin.buffer.read()
    try:
        code = asyncio.run(_mail_in(settings, gateway_config, connections, raw))
    except Exception as exc:  # noqa: BLE001 (whatever it was, the MTA must keep the message)
        typer.echo(f"mail-in: cannot store the message now ({type(exc).__name__})", err=True)
        code = EX_TEMPFAIL
    raise typer.Exit(code)


async def _mail_in(
    settings: Settings, config: GatewayConfig, connections: Connections, raw: bytes
) -> int:
    from gateway.attachment.service import AttachmentLimits
    from gateway.mail.service import receive_mail
    from gateway.sync.outbox import SyncContext

    engine = create_engine(settings.resolved_database_url())
    sync = SyncContext(connections)
    try:
        if not await migrations.is_current(engine):
            typer.echo("mail-in: the database is not at the current migration", err=True)
            return EX_TEMPFAIL
        async with create_sessionmaker(engine)() as session:
            await support_units.ensure_units(session, units=config.support_units)
            await session.commit()  # a pipe may run before any `serve` has written the units
            try:
                limits = AttachmentLimits.from_settings(settings)
                result = await receive_mail(session, sync, config=config, raw=raw, limits=limits)
            except GatewayError as exc:
                typer.echo(f"mail-in: {exc.message}", err=True)
                return EX_DATAERR if exc.status_code == 413 else EX_TEMPFAIL
        ticket = f" (#{result.ticket_id})" if result.ticket_id else ""
        reason = f": {result.reason}" if result.reason else ""
        typer.echo(f"{result.outcome} as mail {result.mail_id}{ticket}{reason}")
        return EX_OK
    finally:
        await connections.aclose()
        await engine.dispose()


@app.command("translate")
def translate(
    connection: Annotated[str, typer.Argument(help="The connection whose adapter translates.")],
    payload: Annotated[Path, typer.Argument(help="A sample inbound payload (JSON file).")],
    config: ConfigOption = None,
    header: Annotated[
        list[str], typer.Option(help="A header the payload came with, `Name: value`.")
    ] = [],  # noqa: B006 (typer reads the default)
) -> None:
    """Show the events (ids and canonical commands) a sample payload becomes, applying nothing."""
    from gateway.adapter.models import InboundRequest

    settings, gateway_config = _load(config)
    target = _connections(settings, gateway_config).get(connection)
    if target is None:
        typer.echo(f"error: no connection named '{connection}'", err=True)
        raise typer.Exit(2)
    headers = dict(h.split(":", 1) for h in header)
    try:
        events = target.adapter.translate_inbound(
            InboundRequest(
                headers={k.strip().lower(): v.strip() for k, v in headers.items()},
                body=payload.read_bytes(),
            )
        )
    except GatewayError as exc:
        typer.echo(f"error: {exc.message}", err=True)
        raise typer.Exit(2) from None
    shown = [
        {"event_id": e.event_id, "commands": [c.model_dump(mode="json") for c in e.commands]}
        for e in events
    ]
    typer.echo(json.dumps(shown, indent=2))


@app.command("upgrade-mapping")
def upgrade_mapping(
    path: Annotated[Path, typer.Argument(help="A version 1 mapping file of the rest adapter.")],
    write: Annotated[bool, typer.Option(help="Replace the file (else print the result).")] = False,
) -> None:
    """Upgrade a version 1 REST mapping file to version 2 (version 1 files also load as they
    are; this writes the upgraded form out to edit further)."""
    import yaml

    from adapters.rest.mapping import load_mapping
    from adapters.rest.upgrade import upgrade_v1
    from gateway.adapter.errors import AdapterConfigError

    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict) or raw.get("version") != 1:
        typer.echo(f"error: {path} is not a version 1 mapping", err=True)
        raise typer.Exit(2)
    text = yaml.safe_dump(upgrade_v1(raw), sort_keys=False, allow_unicode=True, width=100)
    if not write:
        typer.echo(text)
        return
    backup = path.with_name(path.name + ".v1")
    backup.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    try:
        load_mapping(path)
    except AdapterConfigError as exc:
        typer.echo(f"upgraded, but: {exc} {exc.problems}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"upgraded {path} (the original is kept as {backup.name})")


@app.command("export-openapi")
def export_openapi(
    output: Annotated[Path, typer.Option(help="Where to write the document.")] = Path(
        "openapi/openapi.json"
    ),
) -> None:
    """Write the OpenAPI document of the app (a test fails when the committed one drifts)."""
    from gateway.exports import openapi_document, render_json

    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_json(openapi_document()), encoding="utf-8")
    typer.echo(f"wrote {output}")


@app.command("export-schemas")
def export_schemas(
    output: Annotated[Path, typer.Option(help="Folder for the JSON Schemas.")] = Path("schemas"),
) -> None:
    """Write the JSON Schemas of the ticket, requests, journal entries and config file."""
    from gateway.exports import json_schemas, render_json

    output.mkdir(parents=True, exist_ok=True)
    for name, schema in json_schemas().items():
        (output / name).write_text(render_json(schema), encoding="utf-8")
        typer.echo(f"wrote {output / name}")


@app.command("check-config")
def check_config(path: Annotated[Path, typer.Argument(help="The config file to check.")]) -> None:
    """Validate a config file and its connections, listing every problem with its key."""
    _, config = _load(path)
    settings = Settings().model_copy(update={"config_file": path})
    connections = _connections(settings, config)
    summary = {
        "support_units": [u.name for u in config.support_units],
        "connections": [c.name for c in connections],
    }
    typer.echo(f"{path}: ok {json.dumps(summary)}")


if __name__ == "__main__":
    app()
