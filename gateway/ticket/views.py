"""Ticket routes: thin wrappers that check access, call the service and commit once."""

from __future__ import annotations

import contextlib
import logging
import re
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status
from fastapi.responses import JSONResponse

from gateway.api.deps import (
    AppSettings,
    Config,
    CurrentCaller,
    InstanceId,
    Session,
    Sync,
    TicketId,
)
from gateway.api.openapi import ticket_links
from gateway.auth.models import Caller
from gateway.config.models import GatewayConfig
from gateway.errors import BadRequest, PreconditionFailed
from gateway.idempotency import service as idempotency
from gateway.inputs import IsoDateTime
from gateway.routing import service as routing
from gateway.routing.service import Assigner
from gateway.support_unit import directory
from gateway.sync.outbox import SyncContext, commit
from gateway.ticket import access, service
from gateway.ticket.changes import Changes
from gateway.ticket.enums import Status
from gateway.ticket.models import (
    HistoryEntry,
    JournalEntry,
    JournalEntryCreate,
    Ticket,
    TicketCreate,
    TicketPage,
    TicketPatch,
)
from gateway.ticket.tables import TicketRow

router = APIRouter(prefix="/api/v1/tickets", tags=["tickets"])
log = logging.getLogger("gateway.api")


VERSION = re.compile(r"[0-9]{1,10}")
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=idempotency.MAX_KEY_LENGTH,
        description="Same key and body: the first answer again, never a second ticket.",
    ),
]
IfMatch = Annotated[
    str | None,
    Header(alias="If-Match", max_length=64, description='The ETag you read, e.g. "3"; or *'),
]


def etag(version: int) -> str:
    return f'"{version}"'


def parse_if_match(value: str) -> int | None:
    """`"3"`, `W/"3"` or `3` -> 3; `*` -> None (any version)."""
    value = value.strip()
    if value == "*":
        return None
    value = value.removeprefix("W/").strip('"')
    if not VERSION.fullmatch(value):
        raise BadRequest('If-Match must be the ticket\'s version or ETag, e.g. "3"')
    return int(value)


async def _render_one(session: Session, row: TicketRow, caller: Caller) -> Ticket:
    return (await service.render(session, rows=[row], internal=caller.sees_internal))[0]


@router.post(
    "",
    response_model=Ticket,
    status_code=status.HTTP_201_CREATED,
    responses={
        **ticket_links(status="201"),
        403: {"description": "A submitter key filing for someone else, or an assignment rule"},
        409: {"description": "The same Idempotency-Key is still in flight"},
    },
)
async def create_ticket(
    data: TicketCreate,
    session: Session,
    caller: CurrentCaller,
    config: Config,
    settings: AppSettings,
    sync: Sync,
    instance: InstanceId,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create a ticket; a repeated `Idempotency-Key` with the same body returns the first answer."""
    access.check_create(caller, data)
    if idempotency_key is not None:
        stored = await idempotency.claim(
            session,
            caller=caller.key_id,
            key=idempotency_key,
            fingerprint=idempotency.request_hash(data.model_dump(mode="json")),
            in_flight_seconds=settings.idempotency_in_flight_seconds,
            owner=instance,
        )
        if stored is not None:
            return JSONResponse(
                stored.body,
                status_code=stored.status_code,
                headers={
                    "Idempotent-Replayed": "true",
                    "ETag": etag(stored.body.get("version", 0)),
                },
            )
    try:
        return await _create(
            session, data, caller, config, sync, key=idempotency_key, instance=instance
        )
    except Exception:  # any failure: the client's honest retry with this key must go through
        if idempotency_key is not None:
            await _release(session, caller, idempotency_key, instance)
        raise


async def _release(session: Session, caller: Caller, key: str, instance: str) -> None:
    """Free the key after a failed create; if even that fails, its claim expires on its own."""
    try:
        await idempotency.release(session, caller=caller.key_id, key=key, owner=instance)
    except Exception:
        log.warning("could not release an idempotency key; it expires", exc_info=True)
        with contextlib.suppress(Exception):
            await session.rollback()


async def _create(
    session: Session,
    data: TicketCreate,
    caller: Caller,
    config: GatewayConfig,
    sync: SyncContext,
    *,
    key: str | None,
    instance: str,
) -> Response:
    unit = await routing.unit_for_new_ticket(
        session, data=data, routing=config.routing, assigner=Assigner.for_caller(caller)
    )
    actor = service.Actor.from_caller(caller)
    changes = Changes()
    row = await service.create_ticket(
        session,
        data=data,
        actor=actor,
        support_unit=unit,
        changes=changes,
        origin_unit_id=caller.unit_id,
    )
    routing.announce_created(session, row=row, data=data, routing=config.routing, changes=changes)
    ticket = service.render_created(
        row,
        data=data,
        actor=actor,
        support_unit=unit.name if unit else None,
        origin_unit=caller.unit_name,
    )
    body = ticket.model_dump(mode="json")
    if key is not None:
        await idempotency.complete(
            session, caller=caller.key_id, key=key, status_code=201, body=body, owner=instance
        )
    await commit(session, sync, changes)
    return JSONResponse(
        body,
        status_code=201,
        headers={"ETag": etag(row.version), "Location": f"/api/v1/tickets/{row.id}"},
    )


@router.get("", response_model=TicketPage)
async def list_tickets(
    session: Session,
    caller: CurrentCaller,
    status_: Annotated[list[Status] | None, Query(alias="status")] = None,
    support_unit: Annotated[str | None, Query(max_length=64)] = None,
    updated_since: Annotated[
        IsoDateTime | None, Query(description="ISO 8601; without a zone it is UTC")
    ] = None,
    q: Annotated[
        str | None, Query(max_length=255, description="Text in subject or description")
    ] = None,
    cursor: Annotated[
        str | None, Query(max_length=64, description="`next_cursor` of the previous page")
    ] = None,
    link: Annotated[
        str | None,
        Query(
            max_length=320,
            pattern=r"^[^:]{1,64}:.{1,255}$",
            description="`<connection>:<external id>`: the ticket linked to that remote ticket",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> TicketPage:
    """Tickets this caller may see, filtered, in hub-id order, one page at a time."""
    filters = service.TicketFilter(
        status=status_ or (),
        support_unit=support_unit,
        updated_since=updated_since,
        text=q,
        link=tuple(link.split(":", 1)) if link else None,  # type: ignore[arg-type]
    )
    rows, next_cursor = await service.list_tickets(
        session, caller=caller, filters=filters, cursor=cursor, limit=limit
    )
    items = await service.render(session, rows=rows, internal=caller.sees_internal)
    return TicketPage(items=items, next_cursor=next_cursor)


@router.get("/{ticket_id}", response_model=Ticket, responses=ticket_links(status="200"))
async def get_ticket(
    ticket_id: TicketId, session: Session, caller: CurrentCaller, response: Response
) -> Ticket:
    """One ticket; 404 when it does not exist or this caller may not see it."""
    row = await service.load_ticket(session, ticket_id=ticket_id, caller=caller)
    response.headers["ETag"] = etag(row.version)
    return await _render_one(session, row, caller)


@router.patch(
    "/{ticket_id}",
    response_model=Ticket,
    responses={
        **ticket_links(status="200"),
        403: {"description": "A field or status this key may not set, or an assignment rule"},
        412: {"description": "If-Match names an older version: reload and retry"},
    },
)
async def patch_ticket(
    ticket_id: TicketId,
    patch: TicketPatch,
    session: Session,
    caller: CurrentCaller,
    config: Config,
    sync: Sync,
    response: Response,
    if_match: IfMatch = None,
) -> Ticket:
    """Change status, priority, unit, involved, cc, ETA, solution; `If-Match` refuses stale."""
    access.check_patch(caller, patch)
    expected = parse_if_match(if_match) if if_match is not None else None
    row = await service.load_ticket(session, ticket_id=ticket_id, caller=caller, for_update=True)
    if expected is not None and expected != row.version:
        raise PreconditionFailed(
            f"ticket #{ticket_id} is at version {row.version}, not {expected}; reload and retry"
        )
    if "eta" in patch.model_fields_set:
        holder = await directory.names_by_id(session, ids=[row.support_unit_id or 0])
        access.check_eta(caller, row, holder.get(row.support_unit_id or 0))
    new_unit = None
    if patch.support_unit is not None:
        new_unit = await routing.unit_for_reassignment(
            session,
            name=patch.support_unit,
            current_unit_id=row.support_unit_id,
            routing=config.routing,
            assigner=Assigner.for_caller(caller),
        )
    changes = Changes()
    await service.update_ticket(
        session,
        row=row,
        patch=patch,
        actor=service.Actor.from_caller(caller),
        changes=changes,
        new_unit=new_unit,
    )
    rendered = await _render_one(session, row, caller)
    await commit(session, sync, changes)
    response.headers["ETag"] = etag(row.version)
    return rendered


@router.post(
    "/{ticket_id}/entries",
    response_model=JournalEntry,
    status_code=status.HTTP_201_CREATED,
    responses={403: {"description": "An internal entry or another author by a submitter key"}},
)
async def add_entry(
    ticket_id: TicketId,
    entry: JournalEntryCreate,
    session: Session,
    caller: CurrentCaller,
    sync: Sync,
) -> JournalEntry:
    """Add a public or internal journal entry."""
    access.check_entry(caller, entry)
    row = await service.load_ticket(session, ticket_id=ticket_id, caller=caller, for_update=True)
    changes = Changes()
    journal = await service.add_entry(
        session, row=row, entry=entry, actor=service.Actor.from_caller(caller), changes=changes
    )
    await commit(session, sync, changes)
    return JournalEntry.model_validate(journal)


@router.get("/{ticket_id}/history", response_model=list[HistoryEntry])
async def ticket_history(
    ticket_id: TicketId, session: Session, caller: CurrentCaller
) -> list[HistoryEntry]:
    """Every change with who made it, when and from which source."""
    row = await service.load_ticket(session, ticket_id=ticket_id, caller=caller)
    return await service.history(session, row=row, caller=caller)
