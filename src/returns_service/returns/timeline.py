"""Every change of a return writes its timeline event in the same transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from returns_service.auth import Caller
from returns_service.models import ReturnEventRow, ReturnRow
from returns_service.models.base import utcnow
from returns_service.outbox.writer import write_outbox_event
from returns_service.returns import repository


async def record_event(
    session: AsyncSession,
    row: ReturnRow,
    event_type: str,
    actor: Caller,
    *,
    from_status: str | None,
    to_status: str | None,
    data: dict[str, Any] | None = None,
) -> ReturnEventRow:
    """Append an event to the return's timeline, and its outbox event for subscribers.

    The caller holds the return's row lock (or SQLite's write lock), so the sequence number
    it takes cannot be taken twice.
    """
    seq = await repository.next_event_seq(session, row.shop_id, row.id)
    event = ReturnEventRow(
        shop_id=row.shop_id,
        return_id=row.id,
        seq=seq,
        type=event_type,
        from_status=from_status,
        to_status=to_status,
        actor_role=actor.role.value,
        actor_id=actor.id,
        data=data or {},
        at=utcnow(),
    )
    session.add(event)
    await session.flush()
    # The outbox row rides the same commit: subscribers hear of exactly what was committed.
    await write_outbox_event(session, row, event)
    return event
