"""SQL for orders."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import and_, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from returns_service.models import OrderLineRow, OrderRow, ReturnItemRow, ReturnRow
from returns_service.rules.vocabulary import RELEASED_STATUSES

_RELEASED = [status.value for status in RELEASED_STATUSES]


async def find_order(
    session: AsyncSession, order_id: str, *, for_update: bool = False, buyer_id: str | None = None
) -> OrderRow | None:
    """The order with this id in whichever shop holds it, its lines loaded; locked for the
    transaction when asked. `buyer_id` narrows it to that buyer's, so that an order the
    caller may not see is never locked.

    The API names an order by its id alone, and registration keeps one shop per id; use
    find_order_of_shop wherever the shop is known (a return's order, a merchant's order).
    """
    statement = (
        select(OrderRow)
        .where(OrderRow.id == order_id)
        .options(selectinload(OrderRow.lines))
        .order_by(OrderRow.shop_id)
        .limit(1)
    )
    if buyer_id is not None:
        statement = statement.where(OrderRow.buyer_id == buyer_id)
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def find_order_of_shop(
    session: AsyncSession, shop_id: str, order_id: str, *, for_update: bool = False
) -> OrderRow | None:
    """The order of this shop with this id, its lines loaded; locked for the transaction when
    asked.

    Applications and refunds lock the order so that simultaneous returns of one order are
    decided one after the other and can never hold more units, or refund more money, than
    the order had.
    """
    statement = (
        select(OrderRow)
        .where(OrderRow.shop_id == shop_id, OrderRow.id == order_id)
        .options(selectinload(OrderRow.lines))
    )
    if for_update:
        statement = statement.with_for_update()
    return (await session.execute(statement)).scalar_one_or_none()


async def lock_order_id(session: AsyncSession, order_id: str) -> None:
    """Make registrations of this order id, in any shop, wait for each other until commit.

    Orders are keyed (shop_id, id), so two first registrations of one id for two shops would
    both insert, and no row exists yet for FOR UPDATE to lock. On PostgreSQL a transaction
    advisory lock on the id stands in for that row; SQLite serializes writers already.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"order:{order_id}"}
    )


async def units_held(session: AsyncSession, shop_id: str, order_id: str) -> dict[str, int]:
    """Units of each line held by the order's returns that have not given them back."""
    statement = (
        select(ReturnItemRow.line_id, func.sum(ReturnItemRow.quantity))
        .join(
            ReturnRow,
            and_(
                ReturnRow.shop_id == ReturnItemRow.shop_id, ReturnRow.id == ReturnItemRow.return_id
            ),
        )
        .where(
            ReturnRow.shop_id == shop_id,
            ReturnRow.order_id == order_id,
            ReturnRow.status.not_in(_RELEASED),
        )
        .group_by(ReturnItemRow.line_id)
    )
    rows = (await session.execute(statement)).all()
    return {line_id: int(total) for line_id, total in rows}


async def order_has_returns(session: AsyncSession, shop_id: str, order_id: str) -> bool:
    statement = (
        select(ReturnRow.id)
        .where(ReturnRow.shop_id == shop_id, ReturnRow.order_id == order_id)
        .limit(1)
    )
    return (await session.execute(statement)).first() is not None


async def refunded_on_order(session: AsyncSession, shop_id: str, order_id: str) -> int:
    """Money refunded so far over every return of the order."""
    statement = select(func.sum(ReturnRow.refunded_amount)).where(
        ReturnRow.shop_id == shop_id, ReturnRow.order_id == order_id
    )
    return int((await session.execute(statement)).scalar_one() or 0)


async def lines_of_order(
    session: AsyncSession, shop_id: str, order_id: str, line_ids: Sequence[str]
) -> dict[str, OrderLineRow]:
    statement = select(OrderLineRow).where(
        OrderLineRow.shop_id == shop_id,
        OrderLineRow.order_id == order_id,
        OrderLineRow.line_id.in_(list(line_ids)),
    )
    rows = (await session.execute(statement)).scalars().all()
    return {row.line_id: row for row in rows}
