"""The backlog an operator watches, counted with indexed queries (for /metrics)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from returns_service.models import OutboxEventRow, ReturnRow, WebhookDeliveryRow
from returns_service.relay.repository import PARKED, PENDING


@dataclass(frozen=True)
class BacklogCounts:
    deadlines_overdue: int
    outbox_pending: int
    deliveries_pending: int
    deliveries_parked: int


async def backlog_counts(session: AsyncSession, now: datetime) -> BacklogCounts:
    """Each count runs on an index: ix_returns_deadline_due_at, ix_outbox_events_fan_out,
    ix_webhook_deliveries_due (status first). They span every shop: under Citus, one count
    per shard, summed by the coordinator."""

    overdue = select(func.count()).where(ReturnRow.deadline_due_at <= now)
    outbox = select(func.count()).where(OutboxEventRow.fanned_out_at.is_(None))
    pending = select(func.count()).where(WebhookDeliveryRow.status == PENDING)
    parked = select(func.count()).where(WebhookDeliveryRow.status == PARKED)
    return BacklogCounts(
        deadlines_overdue=(await session.execute(overdue)).scalar_one(),
        outbox_pending=(await session.execute(outbox)).scalar_one(),
        deliveries_pending=(await session.execute(pending)).scalar_one(),
        deliveries_parked=(await session.execute(parked)).scalar_one(),
    )
