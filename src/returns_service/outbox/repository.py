"""SQL for the outbox: the returns package writes events here, the relay reads them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from returns_service.models import OutboxEventRow
from returns_service.observability.request_context import current_request_id


async def add_event(
    session: AsyncSession,
    *,
    shop_id: str,
    event_id: str,
    event_type: str,
    return_id: str,
    payload: dict[str, Any],
    created_at: datetime,
) -> None:
    session.add(
        OutboxEventRow(
            shop_id=shop_id,
            id=event_id,
            type=event_type,
            return_id=return_id,
            payload=payload,
            created_at=created_at,
            request_id=current_request_id(),
        )
    )
    await session.flush()
