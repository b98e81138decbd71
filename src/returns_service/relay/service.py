"""What operators do with deliveries: list them (parked ones, say) and replay one."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from returns_service.auth import Caller
from returns_service.errors import Conflict, NotFound
from returns_service.models import WebhookDeliveryRow
from returns_service.models.base import utcnow
from returns_service.pagination import (
    decode_position,
    encode_position,
)
from returns_service.relay import repository
from returns_service.relay.repository import PARKED, PENDING, DeliveryFilters
from returns_service.relay.schemas import WebhookDeliveryOut, WebhookDeliveryPage
from returns_service.rules.vocabulary import Role


def delivery_view(row: WebhookDeliveryRow) -> WebhookDeliveryOut:
    return WebhookDeliveryOut(
        id=row.id,
        shop_id=row.shop_id,
        subscription_id=row.subscription_id,
        event_id=row.event_id,
        event_type=row.event_type,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_attempt_at=row.last_attempt_at,
        last_status_code=row.last_status_code,
        last_error=row.last_error,
        delivered_at=row.delivered_at,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def list_deliveries(
    session: AsyncSession,
    caller: Caller,
    filters: DeliveryFilters,
    cursor: str | None,
    limit: int,
) -> WebhookDeliveryPage:
    caller.require(Role.PLATFORM)
    rows = await repository.list_newest_first(
        session, filters, decode_position(cursor, "created_at"), limit + 1
    )
    page, more = rows[:limit], len(rows) > limit
    next_cursor = encode_position("created_at", page[-1].created_at, page[-1].id) if more else None
    return WebhookDeliveryPage(items=[delivery_view(row) for row in page], next_cursor=next_cursor)


async def replay_delivery(
    session: AsyncSession, caller: Caller, delivery_id: str
) -> WebhookDeliveryRow:
    """Give a parked delivery a fresh set of attempts, starting now, under the same
    webhook-id."""
    caller.require(Role.PLATFORM)
    row = await repository.find_delivery(session, delivery_id, for_update=True)
    if row is None:
        raise NotFound(f"no webhook delivery {delivery_id}")
    if row.status != PARKED:
        raise Conflict(f"only parked deliveries are replayed; this one is {row.status}")
    subscription = await repository.find_subscription(session, row.subscription_id)
    if subscription is None or not subscription.enabled:
        raise Conflict("the subscription of this delivery is disabled")
    now = utcnow()
    row.status = PENDING
    row.attempts = 0
    row.next_attempt_at = now
    row.claimed_until = None
    row.claim_token = None
    row.updated_at = now
    await session.flush()
    return row
