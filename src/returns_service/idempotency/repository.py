"""Every SQL statement on idempotency keys."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from returns_service.models import IdempotencyKeyRow

IN_PROGRESS = "in_progress"
COMPLETED = "completed"


def _insert_for(session: AsyncSession) -> Insert:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(IdempotencyKeyRow).on_conflict_do_nothing(
            index_elements=["scope", "key"]
        )
    return sqlite.insert(IdempotencyKeyRow).on_conflict_do_nothing(index_elements=["scope", "key"])


async def insert_claim(
    session: AsyncSession,
    *,
    scope: str,
    key: str,
    shop_id: str | None,
    fingerprint: str,
    claim_token: str,
    now: datetime,
    lease_until: datetime,
    expires_at: datetime,
) -> bool:
    """Claim a key nobody holds; False when the key already exists (nothing is written)."""
    statement = (
        _insert_for(session)
        .values(
            scope=scope,
            key=key,
            shop_id=shop_id,
            fingerprint=fingerprint,
            status=IN_PROGRESS,
            claim_token=claim_token,
            lease_until=lease_until,
            created_at=now,
            expires_at=expires_at,
        )
        .returning(IdempotencyKeyRow.key)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def get_key(session: AsyncSession, scope: str, key: str) -> IdempotencyKeyRow | None:
    statement = select(IdempotencyKeyRow).where(
        IdempotencyKeyRow.scope == scope, IdempotencyKeyRow.key == key
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def take_over_claim(
    session: AsyncSession,
    *,
    scope: str,
    key: str,
    old_token: str | None,
    new_token: str,
    now: datetime,
    lease_until: datetime,
) -> bool:
    """Take a claim whose lease ran out (its request died before committing anything)."""
    statement = (
        update(IdempotencyKeyRow)
        .where(
            IdempotencyKeyRow.scope == scope,
            IdempotencyKeyRow.key == key,
            IdempotencyKeyRow.status == IN_PROGRESS,
            IdempotencyKeyRow.claim_token == old_token,
            IdempotencyKeyRow.lease_until < now,
        )
        .values(claim_token=new_token, lease_until=lease_until)
        .returning(IdempotencyKeyRow.key)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def store_response(
    session: AsyncSession,
    *,
    scope: str,
    key: str,
    claim_token: str,
    status: int,
    headers: dict[str, Any],
    body: bytes,
) -> bool:
    """Write the answer into a claim this request still holds; False if it lost the claim."""
    statement = (
        update(IdempotencyKeyRow)
        .where(
            IdempotencyKeyRow.scope == scope,
            IdempotencyKeyRow.key == key,
            IdempotencyKeyRow.status == IN_PROGRESS,
            IdempotencyKeyRow.claim_token == claim_token,
        )
        .values(
            status=COMPLETED,
            claim_token=None,
            lease_until=None,
            response_status=status,
            response_headers=headers,
            response_body=body,
        )
        .returning(IdempotencyKeyRow.key)
        .execution_options(synchronize_session=False)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def delete_claim(session: AsyncSession, *, scope: str, key: str, claim_token: str) -> None:
    """Give a claim back (its request changed nothing), unless another request holds it now."""
    await session.execute(
        delete(IdempotencyKeyRow)
        .where(
            IdempotencyKeyRow.scope == scope,
            IdempotencyKeyRow.key == key,
            IdempotencyKeyRow.status == IN_PROGRESS,
            IdempotencyKeyRow.claim_token == claim_token,
        )
        .execution_options(synchronize_session=False)
    )


async def delete_expired_key(session: AsyncSession, *, scope: str, key: str, now: datetime) -> None:
    await session.execute(
        delete(IdempotencyKeyRow)
        .where(
            IdempotencyKeyRow.scope == scope,
            IdempotencyKeyRow.key == key,
            IdempotencyKeyRow.expires_at <= now,
        )
        .execution_options(synchronize_session=False)
    )


async def delete_expired_idempotency_keys(session: AsyncSession, now: datetime) -> int:
    """Remove every key past its expiry; answer how many. The caller commits."""
    statement = (
        delete(IdempotencyKeyRow)
        .where(IdempotencyKeyRow.expires_at <= now)
        .returning(IdempotencyKeyRow.key)
        .execution_options(synchronize_session=False)
    )
    return len((await session.execute(statement)).all())
