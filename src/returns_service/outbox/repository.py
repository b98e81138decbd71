"""SQL for the outbox: the returns package writes events here, the relay reads them."""

from __future__ import annotations

from collections.abc import Sequence
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
    await add_events(
        session,
        [
            {
                "shop_id": shop_id,
                "event_id": event_id,
                "event_type": event_type,
                "return_id": return_id,
                "payload": payload,
                "created_at": created_at,
            }
        ],
    )


async def add_events(session: AsyncSession, events: Sequence[dict[str, Any]]) -> None:
    """Insert outbox rows (`add_event`'s arguments each) in one statement."""
    request_id = current_request_id()
    await session.execute(
        insert(_OUTBOX),
        [
            {
                "shop_id": event["shop_id"],
                "id": event["event_id"],
                "type": event["event_type"],
                "return_id": event["return_id"],
                "payload": event["payload"],
                "created_at": event["created_at"],
                "request_id": request_id,
            }
            for event in events
        ],
    )
