"""Expired idempotency keys go with every sweep."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from returns_service.idempotency.repository import delete_expired_idempotency_keys
from returns_service.models.base import utcnow


async def remove_expired_idempotency_keys(
    sessionmaker: async_sessionmaker[AsyncSession], now: datetime | None = None
) -> int:
    """Remove every key past its expiry in one short transaction; answer how many."""
    async with sessionmaker() as session, session.begin():
        return await delete_expired_idempotency_keys(session, now or utcnow())
