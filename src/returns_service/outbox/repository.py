"""SQL for the outbox: the returns package writes events here, the relay reads them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from returns_service import appended_rows
from returns_service.models import OutboxEventRow
from returns_service.observability.request_context import current_request_id

_OUTBOX: Table = OutboxEventRow.__table__  # type: ignore[assignment]


def add_event(
    session: AsyncSession,
    *,
    shop_id: str,
    event_id: str,
    event_type: str,
    return_id: str,
    payload: dict[str, Any],
    created_at: datetime,
) -> None:
    add_events(
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


def add_events(session: AsyncSession, events: Sequence[dict[str, Any]]) -> None:
    """Queue outbox rows (`add_event`'s arguments each), written with the transaction's other
    appended rows as it commits (`appended_rows`): nothing in the transaction reads them."""
    request_id = current_request_id()
    appended_rows.append_rows(
        session,
        _OUTBOX,
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
