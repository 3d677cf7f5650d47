"""`POST /api/v1/webhooks/{connection}`: verify, translate, hand to the inbound service.

No remote system is called here; deliveries the event causes are written to the outbox and
sent by the worker.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from gateway.adapter.errors import InboundRejected
from gateway.adapter.models import InboundRequest
from gateway.api.deps import Config, Session, Sync
from gateway.api.middleware import BodyLimit
from gateway.delivery import metrics
from gateway.errors import GatewayError
from gateway.inbound import signatures
from gateway.inbound.service import receive
from gateway.settings import Settings

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])
WEBHOOK_PATH = re.compile(r"^/api/v1/webhooks/[^/]+$")


def webhook_body_limit(settings: Settings) -> BodyLimit:
    """An event may carry a file (base64: 4/3 of its size) up to the attachment limit."""
    max_bytes = max(settings.max_body_bytes, settings.attachment_max_bytes * 4 // 3 + 65_536)
    return BodyLimit("POST", WEBHOOK_PATH, max_bytes)


class EventResult(BaseModel):
    event_id: str
    duplicate: bool = Field(description="Seen before: applied the first time, not again")
    applied: list[dict[str, Any]]
    ignored: list[dict[str, Any]] = Field(description="Each with the reason it was ignored")


class InboundResult(BaseModel):
    """What became of each event the payload carried (none: nothing in it concerns the hub)."""

    events: list[EventResult]


@router.post(
    "/{connection}",
    response_model=InboundResult,
    status_code=202,
    responses={
        401: {"description": "unsigned, badly signed, or no such connection (the same answer)"},
        422: {"description": "authentic, but the payload cannot be translated"},
    },
)
async def receive_webhook(
    connection: Annotated[str, Path(max_length=64)],
    request: Request,
    session: Session,
    sync: Sync,
    config: Config,
) -> InboundResult:
    """Accept a signed event from a connection's system (how it is signed is the adapter's)."""
    inbound = InboundRequest(
        headers={k.lower(): v for k, v in request.headers.items()}, body=await request.body()
    )
    target = sync.connections.get(connection)
    if target is None:  # answered as a bad signature, so connection names cannot be probed
        signatures.verify((), inbound.headers, inbound.body)
        raise InboundRejected("no webhook-signature matches a configured secret")
    try:
        await target.adapter.verify_inbound(inbound)
        events = target.adapter.translate_inbound(inbound)
    except InboundRejected:
        metrics.INBOUND_EVENTS.labels(connection, "rejected").inc()
        raise
    except GatewayError:
        metrics.INBOUND_EVENTS.labels(connection, "invalid").inc()
        raise
    results = []
    for event in events:  # each in its own transaction, applied once by its id
        outcome = await receive(session, sync, connection=target, event=event, config=config)
        results.append(
            EventResult(
                event_id=event.event_id,
                duplicate=outcome.duplicate,
                applied=outcome.applied,
                ignored=outcome.ignored,
            )
        )
    return InboundResult(events=results)
