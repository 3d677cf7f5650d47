"""Create and verify API keys. A key is `gw_<key id>_<secret>`; only SHA-256 of the secret is kept.

The secret has 256 bits of entropy, so a fast hash is enough: nothing can be brute-forced, and
verification stays cheap on the request path.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from cachetools import TTLCache
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth.models import ApiKey, ApiKeyCreate, ApiKeyCreated, Caller, Role
from gateway.auth.tables import ApiKeyRow
from gateway.errors import InvalidInput, Unauthenticated
from gateway.support_unit import service as support_units
from gateway.support_unit.models import Level
from gateway.support_unit.tables import SupportUnitRow

PREFIX = "gw"
VERIFIED_KEY_SECONDS = 5.0


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_api_key(session: AsyncSession, *, data: ApiKeyCreate) -> ApiKeyCreated:
    """Store a new key and return it with its secret, which is never shown again."""
    unit: SupportUnitRow | None = None
    if data.support_unit is not None:
        unit = await support_units.get_by_name(session, name=data.support_unit)
        if unit is None:
            raise InvalidInput(f"support_unit '{data.support_unit}' does not exist")
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    row = ApiKeyRow(
        key_id=key_id,
        secret_hash=_hash(secret),
        name=data.name,
        role=data.role.value,
        support_unit_id=unit.id if unit else None,
        submitter_email=data.submitter_email.lower() if data.submitter_email else None,
    )
    session.add(row)
    await session.flush()
    return ApiKeyCreated(key=f"{PREFIX}_{key_id}_{secret}", **_describe(row, unit).model_dump())


def _describe(row: ApiKeyRow, unit: SupportUnitRow | None) -> ApiKey:
    return ApiKey(
        key_id=row.key_id,
        name=row.name,
        role=Role(row.role),
        support_unit=unit.name if unit else None,
        submitter_email=row.submitter_email,
        created_at=row.created_at,
    )


VERIFIED_KEYS: TTLCache[str, Caller] = TTLCache(maxsize=10_000, ttl=VERIFIED_KEY_SECONDS)


async def authenticate(session: AsyncSession, *, presented: str) -> Caller:
    """Turn a presented key into a caller, or raise without saying which part was wrong.

    A verified key is remembered for a few seconds, saving a query on every request; that is
    derived state, so a revoked key stops working everywhere within VERIFIED_KEY_SECONDS.
    """
    fingerprint = _hash(presented)
    cached = VERIFIED_KEYS.get(fingerprint)
    if cached is not None:
        return cached
    caller = await _verify(session, presented)
    VERIFIED_KEYS[fingerprint] = caller
    return caller


async def _verify(session: AsyncSession, presented: str) -> Caller:
    parts = presented.split("_", 2)
    if len(parts) != 3 or parts[0] != PREFIX:
        raise Unauthenticated("the API key is malformed; expected gw_<id>_<secret>")
    _, key_id, secret = parts
    result = await session.execute(  # plain columns: this runs on every request
        select(
            ApiKeyRow.secret_hash,
            ApiKeyRow.name,
            ApiKeyRow.role,
            ApiKeyRow.submitter_email,
            SupportUnitRow.id,
            SupportUnitRow.name,
            SupportUnitRow.level,
        )
        .outerjoin(SupportUnitRow, SupportUnitRow.id == ApiKeyRow.support_unit_id)
        .where(ApiKeyRow.key_id == key_id, ApiKeyRow.revoked_at.is_(None))
    )
    found = result.first()
    if found is None or not hmac.compare_digest(found[0], _hash(secret)):
        raise Unauthenticated("the API key is unknown or revoked")
    _, name, role, email, unit_id, unit_name, unit_level = found
    return Caller(
        key_id=key_id,
        name=name,
        role=Role(role),
        unit_id=unit_id,
        unit_name=unit_name,
        unit_level=Level(unit_level) if unit_level else None,
        submitter_email=email,
    )


async def list_api_keys(session: AsyncSession) -> list[ApiKey]:
    result = await session.execute(
        select(ApiKeyRow, SupportUnitRow)
        .outerjoin(SupportUnitRow, SupportUnitRow.id == ApiKeyRow.support_unit_id)
        .where(ApiKeyRow.revoked_at.is_(None))
        .order_by(ApiKeyRow.id)
    )
    return [_describe(row, unit) for row, unit in result.all()]
