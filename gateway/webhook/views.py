"""`POST /api/v1/webhooks/{connection}`: verify, translate, hand to the inbound service.

No remote system is called here; deliveries the event causes are written to the outbox and
sent by the worker.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from gateway.adapter.errors import InboundRejected
from gateway.adapter.models import InboundRequest
from gateway.api.deps import Config, Session, Sync
from gateway.api.middleware import BodyLimit
from gateway.connection import state as connection_state
from gateway.delivery import metrics
from gateway.errors import GatewayError
from gateway.inbound import signatures
from gateway.inbound.service import receive
from gateway.settings import Settings

log = logging.getLogger(__name__)
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
    poll_requested: bool = Field(
        default=False,
        description="The call was a trigger (RT's scrip): the hub reads the remote itself, soon",
    )


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
        if target.adapter.polls_on_inbound and target.poll_interval is not None:
            metrics.INBOUND_EVENTS.labels(connection, "poll_trigger").inc()
            poll_soon(request.app, connection)
            return InboundResult(events=[], poll_requested=True)
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


# RT calls its scrip inside its own transaction, before it commits (tests/fixtures/rt/README.md):
# a poll at once would not see the change yet.
POLL_DELAYS_SECONDS = (0.3, 1.0)


def poll_soon(app: Any, name: str) -> None:
    """Ask for polls of `name` shortly (whichever instance holds its poller takes them); one
    lost with this process is no loss: the next regular poll reads the same changes."""
    if name in _scheduled:  # a burst of RT transactions asks once, not once per transaction
        return
    _scheduled.add(name)
    loop = asyncio.get_running_loop()
    for index, delay in enumerate(POLL_DELAYS_SECONDS):
        last = index == len(POLL_DELAYS_SECONDS) - 1

        def start(last: bool = last) -> None:
            if last:
                _scheduled.discard(name)
            _tasks.add(loop.create_task(_request_poll(app, name)))

        loop.call_later(delay, start)


_tasks: set[asyncio.Task[None]] = set()
_scheduled: set[str] = set()  # connections with polls asked for soon, in this process


async def _request_poll(app: Any, name: str) -> None:
    try:
        async with app.state.sessionmaker() as session:
            await connection_state.request_poll(session, name=name)
            await session.commit()
        if getattr(app.state, "poller", None) is not None:
            app.state.poller.wake()
    except Exception:  # the regular poll is the safety net
        log.warning("could not ask for a poll", extra={"connection": name}, exc_info=True)
    finally:
        task = asyncio.current_task()
        if task is not None:
            _tasks.discard(task)
