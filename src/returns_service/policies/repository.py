"""SQL for shop policies."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from returns_service.models import ShopPolicyRow


async def find_policy(
    session: AsyncSession, shop_id: str, *, for_update: bool = False
) -> ShopPolicyRow | None:
    statement = select(ShopPolicyRow).where(ShopPolicyRow.shop_id == shop_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()
