"""`POST /api/v1/webhooks/{connection}`: verify, translate, hand to the inbound service.

No remote system is called here; deliveries the event causes are written to the outbox and
sent by the worker.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel

from gateway.adapter.errors import InboundRejected
from gateway.adapter.models import InboundEvent, InboundRequest
from gateway.api.deps import Config, Session, Sync
from gateway.delivery import metrics
from gateway.errors import GatewayError
from gateway.inbound import signatures
from gateway.inbound.service import receive

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])


class InboundResult(BaseModel):
    event_id: str
    duplicate: bool
    applied: list[dict[str, Any]]
    ignored: list[dict[str, Any]]


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
        commands = target.adapter.translate_inbound(inbound)
    except InboundRejected:
        metrics.INBOUND_EVENTS.labels(connection, "rejected").inc()
        raise
    except GatewayError:
        metrics.INBOUND_EVENTS.labels(connection, "invalid").inc()
        raise
    event_id = target.adapter.event_id(inbound) or hashlib.sha256(inbound.body).hexdigest()
    outcome = await receive(
        session,
        sync,
        connection=target,
        event=InboundEvent(event_id=event_id, commands=commands),
        config=config,
    )
    return InboundResult(
        event_id=event_id,
        duplicate=outcome.duplicate,
        applied=outcome.applied,
        ignored=outcome.ignored,
    )
