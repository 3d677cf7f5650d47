"""Claim, complete and release idempotency keys.

A key is claimed (committed as `in_flight`) before the work starts, and completed with the
response in the same transaction as the work itself, so a stored response always describes
work that really happened. A claim left behind by a crashed process expires.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.database.base import utcnow
from gateway.errors import Conflict, InvalidInput
from gateway.idempotency.tables import IdempotencyKeyRow

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
    session: AsyncSession, *, caller: str, key: str, fingerprint: str, in_flight_seconds: int
) -> StoredResponse | None:
    """Claim the key and commit; return the stored response instead if the work is done."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise InvalidInput(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} characters")
    existing = await _find(session, caller, key)
    if existing is None:
        session.add(
            IdempotencyKeyRow(caller=caller, key=key, request_hash=fingerprint, state=IN_FLIGHT)
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
    if utcnow() - existing.created_at < timedelta(seconds=in_flight_seconds):
        raise Conflict("a request with this Idempotency-Key is still in flight")
    existing.created_at = utcnow()  # abandoned by a crashed request: take it over
    await session.commit()
    return None


async def complete(
    session: AsyncSession, *, caller: str, key: str, status_code: int, body: dict[str, Any]
) -> None:
    """Store the response in the caller's transaction (the one that did the work)."""
    row = await _find(session, caller, key)
    if row is not None:
        row.state = COMPLETED
        row.response_status = status_code
        row.response_body = body


async def release(session: AsyncSession, *, caller: str, key: str) -> None:
    """Forget an in-flight claim whose work failed, so the client can retry with the same key."""
    await session.rollback()
    await session.execute(
        delete(IdempotencyKeyRow).where(
            IdempotencyKeyRow.caller == caller,
            IdempotencyKeyRow.key == key,
            IdempotencyKeyRow.state == IN_FLIGHT,
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
