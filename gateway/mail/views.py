"""Mail for admins: hand in a raw message, list the quarantine, release or drop what it holds."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Request, status
from pydantic import BaseModel, Field

from gateway.api.deps import AdminCaller, AppSettings, Config, Session, Sync
from gateway.api.middleware import BodyLimit
from gateway.api.openapi import ADMIN_ONLY
from gateway.attachment.service import AttachmentLimits
from gateway.connection.service import Connections
from gateway.errors import BadRequest
from gateway.inputs import MAX_DB_INT, InputModel
from gateway.mail import service

router = APIRouter(prefix="/api/v1/mail", tags=["mail"])
MailId = Annotated[int, Path(ge=1, le=MAX_DB_INT, description="The received message's id.")]
RAW_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "message/rfc822": {"schema": {"type": "string", "format": "binary"}},
            "text/plain": {"schema": {"type": "string", "minLength": 1}},
        },
    }
}


def raw_mail_body_limit(connections: Connections) -> list[BodyLimit]:
    """A raw message may be as large as the mail channel accepts (the SMTP listener's limit)."""
    try:
        settings = service.Mailbox.of(connections).adapter.mail_settings
    except service.MailNotConfigured:
        return []
    return [BodyLimit("POST", re.compile(r"^/api/v1/mail$"), settings.max_message_bytes)]


class MailReceived(BaseModel):
    """What became of one message: `applied` (a ticket or an entry), `quarantined` (held, see
    `reason`), `bounce` (filed on the ticket whose mail bounced), `ignored` (automatic mail, or
    nothing to apply), `duplicate` (this Message-ID was read before)."""

    mail_id: int
    outcome: str
    reason: str | None
    ticket_id: int | None


class QuarantinedMail(BaseModel):
    id: int
    received_at: datetime
    sender: str | None
    subject: str
    message_id: str | None
    size: int
    reason: str | None = Field(description="Why it is held")


class DropRequest(InputModel):
    reason: str = Field(min_length=1, max_length=2000, description="Kept with the message's record")


def _result(result: service.MailResult) -> MailReceived:
    return MailReceived(
        mail_id=result.mail_id,
        outcome=result.outcome,
        reason=result.reason,
        ticket_id=result.ticket_id,
    )


@router.post(
    "",
    response_model=MailReceived,
    status_code=status.HTTP_202_ACCEPTED,
    responses={
        **ADMIN_ONLY,
        400: {"description": "The body is empty"},
        409: {"description": "No mail channel is configured"},
        413: {"description": "Larger than the mail channel's max_message_bytes"},
    },
    openapi_extra=RAW_BODY,
)
async def receive_raw(
    request: Request,
    session: Session,
    sync: Sync,
    config: Config,
    settings: AppSettings,
    _: AdminCaller,
) -> MailReceived:
    """Store one raw message (RFC 5322, as received) as the SMTP listener does, and read it at
    once, answering with what became of it (the listener leaves the reading to the mail
    readers)."""
    raw = await request.body()
    if not raw.strip():
        raise BadRequest("the body is empty; send the message as received (message/rfc822)")
    limits = AttachmentLimits.from_settings(settings)
    return _result(await service.receive_mail(session, sync, config=config, raw=raw, limits=limits))


@router.get("/quarantine", response_model=list[QuarantinedMail], responses=ADMIN_ONLY)
async def list_quarantine(session: Session, _: AdminCaller) -> list[QuarantinedMail]:
    """Messages held back, oldest first, each with the reason."""
    rows = await service.quarantined(session)
    return [
        QuarantinedMail(
            id=r.id,
            received_at=r.received_at,
            sender=r.sender,
            subject=r.subject,
            message_id=r.message_id,
            size=r.size,
            reason=r.reason,
        )
        for r in rows
    ]


@router.post(
    "/quarantine/{mail_id}/release",
    response_model=MailReceived,
    responses={**ADMIN_ONLY, 404: {"description": "No such quarantined message"}},
)
async def release(
    mail_id: MailId,
    session: Session,
    sync: Sync,
    config: Config,
    settings: AppSettings,
    caller: AdminCaller,
) -> MailReceived:
    """Apply a held message as its sender's, past the check that held it (the admin vouches)."""
    limits = AttachmentLimits.from_settings(settings)
    result = await service.release(
        session, sync, config=config, mail_id=mail_id, admin=caller.name, limits=limits
    )
    return _result(result)


@router.post(
    "/quarantine/{mail_id}/drop",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**ADMIN_ONLY, 404: {"description": "No such quarantined message"}},
)
async def drop(mail_id: MailId, body: DropRequest, session: Session, caller: AdminCaller) -> None:
    """Discard a held message for good; its record and the reason stay."""
    await service.drop(session, mail_id=mail_id, admin=caller.name, reason=body.reason)


class Suppression(BaseModel):
    address: str
    created_at: datetime
    reason: str = Field(description="The bounce that stopped mail to it")
    ticket_id: int | None


@router.get("/suppressions", response_model=list[Suppression], responses=ADMIN_ONLY)
async def list_suppressions(session: Session, _: AdminCaller) -> list[Suppression]:
    """Addresses no mail goes to any more, because mail to them bounced for good."""
    return [
        Suppression(
            address=r.address, created_at=r.created_at, reason=r.reason, ticket_id=r.ticket_id
        )
        for r in await service.suppressions(session)
    ]


@router.delete(
    "/suppressions/{address}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={**ADMIN_ONLY, 404: {"description": "Mail to that address is not suppressed"}},
)
async def lift_suppression(
    address: Annotated[str, Path(min_length=3, max_length=254)], session: Session, _: AdminCaller
) -> None:
    """Mail that address again."""
    await service.lift_suppression(session, address=address)
