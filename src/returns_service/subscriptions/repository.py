"""SQL for webhook subscriptions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from returns_service.models import WebhookSubscriptionRow


@dataclass(frozen=True)
class SubscriptionFilters:
    shop_id: str | None = None
    owner_role: str | None = None


async def add(session: AsyncSession, row: WebhookSubscriptionRow) -> None:
    session.add(row)
    await session.flush()


async def find(session: AsyncSession, subscription_id: str) -> WebhookSubscriptionRow | None:
    statement = select(WebhookSubscriptionRow).where(WebhookSubscriptionRow.id == subscription_id)
    return (await session.execute(statement)).scalar_one_or_none()


async def remove(session: AsyncSession, subscription_id: str) -> None:
    """Delete the subscription; its deliveries go with it (ON DELETE CASCADE)."""
    await session.execute(
        delete(WebhookSubscriptionRow).where(WebhookSubscriptionRow.id == subscription_id)
    )


async def list_oldest_first(
    session: AsyncSession,
    filters: SubscriptionFilters,
    after: tuple[datetime, str] | None,
    limit: int,
) -> Sequence[WebhookSubscriptionRow]:
    statement = select(WebhookSubscriptionRow)
    if filters.shop_id is not None:
        statement = statement.where(WebhookSubscriptionRow.shop_id == filters.shop_id)
    if filters.owner_role is not None:
        statement = statement.where(WebhookSubscriptionRow.owner_role == filters.owner_role)
    if after is not None:
        created_at, subscription_id = after
        statement = statement.where(
            or_(
                WebhookSubscriptionRow.created_at > created_at,
                and_(
                    WebhookSubscriptionRow.created_at == created_at,
                    WebhookSubscriptionRow.id > subscription_id,
                ),
            )
        )
    statement = statement.order_by(
        WebhookSubscriptionRow.created_at, WebhookSubscriptionRow.id
    ).limit(limit)
    return (await session.execute(statement)).scalars().all()
