"""SQL for orders."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from returns_service.models import OrderRow


async def find_order(
    session: AsyncSession, order_id: str, *, for_update: bool = False
) -> OrderRow | None:
    """The order with this id, its lines loaded; locked for the transaction when asked.

    Applications lock the order so that simultaneous returns of one order are decided one
    after the other and can never hold more units than were bought.
    """
    statement = (
        select(OrderRow)
        .where(OrderRow.id == order_id)
        .options(selectinload(OrderRow.lines))
        .order_by(OrderRow.shop_id)
        .limit(1)
    )
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()
