"""SQL for the relay: events to fan out, deliveries to claim, outcomes to record, settled
events to remove."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, delete, exists, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from returns_service.models import OutboxEventRow, WebhookDeliveryRow, WebhookSubscriptionRow

PENDING = "pending"
DELIVERED = "delivered"
PARKED = "parked"
CANCELLED = "cancelled"
# A delivery in one of these states is finished for good: no relay and no replay touches it.
SETTLED = (DELIVERED, CANCELLED)


async def events_to_fan_out(session: AsyncSession, limit: int) -> Sequence[OutboxEventRow]:
    """The oldest events no relay has fanned out yet, locked; rows another relay holds are
    skipped rather than waited for."""
    statement = (
        select(OutboxEventRow)
        .where(OutboxEventRow.fanned_out_at.is_(None))
        .order_by(OutboxEventRow.created_at, OutboxEventRow.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (await session.execute(statement)).scalars().all()


async def enabled_subscriptions_for(
    session: AsyncSession, shop_ids: Collection[str]
) -> Sequence[WebhookSubscriptionRow]:
    statement = select(WebhookSubscriptionRow).where(
        WebhookSubscriptionRow.enabled.is_(True),
        or_(
            WebhookSubscriptionRow.shop_id.is_(None),
            WebhookSubscriptionRow.shop_id.in_(list(shop_ids)),
        ),
    )
    return (await session.execute(statement)).scalars().all()


async def add_deliveries(session: AsyncSession, rows: Sequence[WebhookDeliveryRow]) -> None:
    session.add_all(rows)
    await session.flush()


async def due_deliveries(
    session: AsyncSession, now: datetime, limit: int
) -> Sequence[WebhookDeliveryRow]:
    """Pending deliveries whose time has come and that no live claim holds, locked, skipping
    those another relay is claiming at this moment."""
    statement = (
        select(WebhookDeliveryRow)
        .where(
            WebhookDeliveryRow.status == PENDING,
            WebhookDeliveryRow.next_attempt_at <= now,
            or_(
                WebhookDeliveryRow.claimed_until.is_(None),
                WebhookDeliveryRow.claimed_until <= now,
            ),
        )
        .order_by(WebhookDeliveryRow.next_attempt_at, WebhookDeliveryRow.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return (await session.execute(statement)).scalars().all()


async def events_by_id(
    session: AsyncSession, event_ids: Collection[str]
) -> dict[str, OutboxEventRow]:
    statement = select(OutboxEventRow).where(OutboxEventRow.id.in_(list(event_ids)))
    return {row.id: row for row in (await session.execute(statement)).scalars().all()}


async def subscriptions_by_id(
    session: AsyncSession, subscription_ids: Collection[str]
) -> dict[str, WebhookSubscriptionRow]:
    statement = select(WebhookSubscriptionRow).where(
        WebhookSubscriptionRow.id.in_(list(subscription_ids))
    )
    return {row.id: row for row in (await session.execute(statement)).scalars().all()}


async def claimed_delivery(
    session: AsyncSession, shop_id: str, delivery_id: str, claim_token: str
) -> WebhookDeliveryRow | None:
    """The delivery, locked, if this claim still holds it."""
    statement = (
        select(WebhookDeliveryRow)
        .where(
            WebhookDeliveryRow.shop_id == shop_id,
            WebhookDeliveryRow.id == delivery_id,
            WebhookDeliveryRow.claim_token == claim_token,
            WebhookDeliveryRow.status == PENDING,
        )
        .with_for_update()
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def find_subscription(
    session: AsyncSession, subscription_id: str, *, for_update: bool = False
) -> WebhookSubscriptionRow | None:
    statement = select(WebhookSubscriptionRow).where(WebhookSubscriptionRow.id == subscription_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def cancel_pending(
    session: AsyncSession, subscription_id: str, reason: str, now: datetime
) -> None:
    """Give up every delivery of the subscription not yet made."""
    await session.execute(
        update(WebhookDeliveryRow)
        .where(
            WebhookDeliveryRow.subscription_id == subscription_id,
            WebhookDeliveryRow.status == PENDING,
        )
        .values(
            status=CANCELLED,
            claimed_until=None,
            claim_token=None,
            last_error=reason,
            updated_at=now,
        )
    )


async def find_delivery(
    session: AsyncSession, delivery_id: str, *, for_update: bool = False
) -> WebhookDeliveryRow | None:
    statement = select(WebhookDeliveryRow).where(WebhookDeliveryRow.id == delivery_id).limit(1)
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


@dataclass(frozen=True)
class DeliveryFilters:
    status: str | None = None
    subscription_id: str | None = None
    shop_id: str | None = None
    event_type: str | None = None


async def list_newest_first(
    session: AsyncSession,
    filters: DeliveryFilters,
    after: tuple[datetime, str] | None,
    limit: int,
) -> Sequence[WebhookDeliveryRow]:
    statement = select(WebhookDeliveryRow)
    if filters.status is not None:
        statement = statement.where(WebhookDeliveryRow.status == filters.status)
    if filters.subscription_id is not None:
        statement = statement.where(WebhookDeliveryRow.subscription_id == filters.subscription_id)
    if filters.shop_id is not None:
        statement = statement.where(WebhookDeliveryRow.shop_id == filters.shop_id)
    if filters.event_type is not None:
        statement = statement.where(WebhookDeliveryRow.event_type == filters.event_type)
    if after is not None:
        created_at, delivery_id = after
        statement = statement.where(
            or_(
                WebhookDeliveryRow.created_at < created_at,
                and_(
                    WebhookDeliveryRow.created_at == created_at,
                    WebhookDeliveryRow.id < delivery_id,
                ),
            )
        )
    statement = statement.order_by(
        WebhookDeliveryRow.created_at.desc(), WebhookDeliveryRow.id.desc()
    ).limit(limit)
    return (await session.execute(statement)).scalars().all()


def _has_delivery(*, unsettled_only: bool) -> ColumnElement[bool]:
    """Whether the outbox event of the enclosing statement has a delivery (one not yet
    settled: pending, claimed or parked, when `unsettled_only`)."""
    statement = exists().where(
        WebhookDeliveryRow.shop_id == OutboxEventRow.shop_id,
        WebhookDeliveryRow.event_id == OutboxEventRow.id,
    )
    if unsettled_only:
        statement = statement.where(WebhookDeliveryRow.status.not_in(SETTLED))
    return statement


async def settled_events_before(
    session: AsyncSession, cutoff: datetime, limit: int
) -> Sequence[tuple[str, str]]:
    """(shop_id, id) of up to `limit` of the oldest events made before `cutoff` that are
    settled: fanned out, and every delivery of theirs delivered or cancelled. Locked; rows
    another sweeper holds are skipped rather than waited for."""
    statement = (
        select(OutboxEventRow.shop_id, OutboxEventRow.id)
        .where(
            OutboxEventRow.fanned_out_at.is_not(None),
            OutboxEventRow.created_at < cutoff,
            ~_has_delivery(unsettled_only=True),
        )
        .order_by(OutboxEventRow.created_at, OutboxEventRow.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=OutboxEventRow)
    )
    return [(shop_id, event_id) for shop_id, event_id in (await session.execute(statement)).all()]


async def delete_settled_deliveries(
    session: AsyncSession, events: Collection[tuple[str, str]]
) -> int:
    """Remove the settled deliveries of these (shop_id, id) events; answer how many. The
    caller commits. (`event_id IN` lets both databases use the index; the pairs are exact.)"""
    statement = (
        delete(WebhookDeliveryRow)
        .where(
            WebhookDeliveryRow.event_id.in_([event_id for _, event_id in events]),
            tuple_(WebhookDeliveryRow.shop_id, WebhookDeliveryRow.event_id).in_(list(events)),
            WebhookDeliveryRow.status.in_(SETTLED),
        )
        .returning(WebhookDeliveryRow.id)
        .execution_options(synchronize_session=False)
    )
    return len((await session.execute(statement)).all())


async def delete_events_without_deliveries(
    session: AsyncSession, events: Collection[tuple[str, str]]
) -> int:
    """Remove these events, except any that still has a delivery (which would otherwise go
    with it by the cascade); answer how many. The caller commits."""
    statement = (
        delete(OutboxEventRow)
        .where(
            OutboxEventRow.id.in_([event_id for _, event_id in events]),
            tuple_(OutboxEventRow.shop_id, OutboxEventRow.id).in_(list(events)),
            ~_has_delivery(unsettled_only=False),
        )
        .returning(OutboxEventRow.id)
        .execution_options(synchronize_session=False)
    )
    return len((await session.execute(statement)).all())
