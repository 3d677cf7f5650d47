"""Claim, complete and release idempotency keys.

A key is claimed (committed as `in_flight`, owned by this instance) before the work starts, and
completed with the response in the same transaction as the work itself, so a stored response
always describes work that really happened. A claim left behind by a dead instance is released
when the others notice (gateway.instance) or taken over by the client's retry; one without an
owner expires.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.database.base import utcnow
from gateway.errors import Conflict, InvalidInput
from gateway.idempotency.tables import IdempotencyKeyRow
from gateway.instance.tables import DEAD, InstanceRow

IN_FLIGHT = "in_flight"
COMPLETED = "completed"
MAX_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status_code: int
    body: dict[str, Any]


def request_hash(payload: Any) -> str:
    """Hash of the parsed request, so key order and whitespace do not make it a new request."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def claim(
    session: AsyncSession,
    *,
    caller: str,
    key: str,
    fingerprint: str,
    in_flight_seconds: int,
    owner: str,
) -> StoredResponse | None:
    """Claim the key for this instance and commit; or return the stored response if done.

    A key in flight at a dead instance (the registry says so) is taken over at once; one in
    flight at a live instance answers 409; one abandoned without an owner expires.
    """
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters")
    existing = await _find(session, caller, key)
    if existing is None:
        session.add(
            IdempotencyKeyRow(
                caller=caller, key=key, request_hash=fingerprint, state=IN_FLIGHT, owner=owner
            )
        )
        try:
            await session.commit()
            return None
        except IntegrityError:
            await session.rollback()
            existing = await _find(session, caller, key)
            if existing is None:  # released in between; the client may simply retry
                raise Conflict("a request with this Idempotency-Key is still in flight") from None
    if existing.request_hash != fingerprint:
        raise InvalidInput("Idempotency-Key was already used with a different request body")
    if existing.state == COMPLETED and existing.response_status is not None:
        return StoredResponse(existing.response_status, existing.response_body or {})
    if not await _abandoned(session, existing, in_flight_seconds):
        raise Conflict("a request with this Idempotency-Key is still in flight")
    taken = await session.execute(
        update(IdempotencyKeyRow)
        .where(
            IdempotencyKeyRow.id == existing.id,
            IdempotencyKeyRow.state == IN_FLIGHT,
            IdempotencyKeyRow.created_at == existing.created_at,
        )
        .values(owner=owner, created_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    await session.commit()
    if not taken.rowcount:  # type: ignore[attr-defined]
        raise Conflict("a request with this Idempotency-Key is still in flight") from None
    return None


async def _abandoned(session: AsyncSession, row: IdempotencyKeyRow, in_flight_seconds: int) -> bool:
    """Whether no live request holds this key: its instance is gone, or it is very old."""
    if utcnow() - row.created_at >= timedelta(seconds=in_flight_seconds):
        return True
    if row.owner is None:
        return False
    state = await session.scalar(select(InstanceRow.state).where(InstanceRow.id == row.owner))
    return state in (None, DEAD)


async def complete(
    session: AsyncSession,
    *,
    caller: str,
    key: str,
    status_code: int,
    body: dict[str, Any],
    owner: str,
) -> None:
    """Store the response in the transaction that did the work, if this instance still holds it.

    Had the key been taken over (this instance was judged dead while working), the work must not
    land as well: the Conflict rolls it back, and the client's retry gets the other answer.
    """
    stored = await session.execute(
        update(IdempotencyKeyRow)
        .where(
            IdempotencyKeyRow.caller == caller,
            IdempotencyKeyRow.key == key,
            IdempotencyKeyRow.state == IN_FLIGHT,
            IdempotencyKeyRow.owner == owner,
        )
        .values(state=COMPLETED, response_status=status_code, response_body=body, owner=None)
        .execution_options(synchronize_session=False)
    )
    if not stored.rowcount:  # type: ignore[attr-defined]
        raise Conflict("this request's Idempotency-Key was taken over meanwhile; retry it")


async def release(session: AsyncSession, *, caller: str, key: str, owner: str) -> None:
    """Forget an in-flight claim whose work failed, so the client can retry with the same key."""
    await session.rollback()
    await session.execute(
        delete(IdempotencyKeyRow).where(
            IdempotencyKeyRow.caller == caller,
            IdempotencyKeyRow.key == key,
            IdempotencyKeyRow.state == IN_FLIGHT,
            IdempotencyKeyRow.owner == owner,
        )
    )
    await session.commit()


async def _find(session: AsyncSession, caller: str, key: str) -> IdempotencyKeyRow | None:
    result = await session.execute(
        select(IdempotencyKeyRow).where(
            IdempotencyKeyRow.caller == caller, IdempotencyKeyRow.key == key
        )
    )
    return result.scalar_one_or_none()
