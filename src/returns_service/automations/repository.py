"""SQL for shop automation rules."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from returns_service.models import ShopAutomationsRow


async def find_automations(
    session: AsyncSession, shop_id: str, *, for_update: bool = False
) -> ShopAutomationsRow | None:
    statement = select(ShopAutomationsRow).where(ShopAutomationsRow.shop_id == shop_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()
