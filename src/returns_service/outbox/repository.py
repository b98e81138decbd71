"""SQL for the outbox: the returns package writes events here, the relay reads them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.ext.asyncio import AsyncSession

from returns_service.models import OutboxEventRow
from returns_service.observability.request_context import current_request_id

_OUTBOX: Table = OutboxEventRow.__table__  # type: ignore[assignment]


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
    # Core, not the unit of work: nothing in the transaction reads the row back.
    await session.execute(
        insert(_OUTBOX),
        [
            {
                "shop_id": shop_id,
                "id": event_id,
                "type": event_type,
                "return_id": return_id,
                "payload": payload,
                "created_at": created_at,
                "request_id": current_request_id(),
            }
        ],
    )
