"""SQL for the outbox: writing events, and the order facts some events carry."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from returns_service.models import OrderLineRow, OutboxEventRow


async def add_event(session: AsyncSession, event: OutboxEventRow) -> None:
    session.add(event)
    await session.flush()


async def order_lines(
    session: AsyncSession, shop_id: str, order_id: str, line_ids: Sequence[str]
) -> dict[str, OrderLineRow]:
    statement = select(OrderLineRow).where(
        OrderLineRow.shop_id == shop_id,
        OrderLineRow.order_id == order_id,
        OrderLineRow.line_id.in_(list(line_ids)),
    )
    rows = (await session.execute(statement)).scalars().all()
    return {row.line_id: row for row in rows}
