"""Register orders and read them with what is still returnable."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from returns_service.auth import Caller
from returns_service.errors import Conflict, NotFound
from returns_service.models import OrderLineRow, OrderRow
from returns_service.models.base import utcnow
from returns_service.orders import repository
from returns_service.orders.schemas import OrderIn, OrderLineOut, OrderOut
from returns_service.rules.facts import Order, OrderLine
from returns_service.rules.parcels import tracking_key
from returns_service.rules.sampling import buyer_bucket
from returns_service.rules.vocabulary import Role
from returns_service.statistics import tracking


def order_facts(row: OrderRow) -> Order:
    return Order(
        order_id=row.id,
        currency=row.currency,
        shipping_fee=row.shipping_fee,
        shipping_insurance=row.shipping_insurance,
        shipped_at=row.shipped_at,
        delivered_at=row.delivered_at,
        lines=tuple(
            OrderLine(
                line_id=line.line_id,
                sku=line.sku,
                category=line.category,
                unit_price=line.unit_price,
                quantity=line.quantity,
            )
            for line in row.lines
        ),
    )


def order_view(row: OrderRow, held: Mapping[str, int]) -> OrderOut:
    return OrderOut(
        order_id=row.id,
        shop_id=row.shop_id,
        buyer_id=row.buyer_id,
        currency=row.currency,
        paid_at=row.paid_at,
        shipped_at=row.shipped_at,
        delivered_at=row.delivered_at,
        shipping_fee=row.shipping_fee,
        shipping_insurance=row.shipping_insurance,
        buyer_region=row.buyer_region,
        carrier=row.carrier,
        tracking_number=row.tracking_number,
        lines=[
            OrderLineOut(
                line_id=line.line_id,
                sku=line.sku,
                title=line.title,
                category=line.category,
                unit_price=line.unit_price,
                quantity=line.quantity,
                attributes=line.attributes,
                returnable=max(0, line.quantity - held.get(line.line_id, 0)),
            )
            for line in row.lines
        ],
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def load_visible_order(
    session: AsyncSession, caller: Caller, order_id: str, *, for_update: bool = False
) -> OrderRow:
    """The order if the caller may see it; otherwise 404, whether or not it exists.

    A merchant's order is looked up in its own shop only.
    """
    if caller.role is Role.MERCHANT and caller.shop_id is not None:
        row = await repository.find_order_of_shop(
            session, caller.shop_id, order_id, for_update=for_update
        )
    else:
        buyer_id = caller.id if caller.role is Role.BUYER else None
        row = await repository.find_order(
            session, order_id, for_update=for_update, buyer_id=buyer_id
        )
    if row is None or not caller.can_see_order(row.shop_id, row.buyer_id):
        raise NotFound(f"no order {order_id}")
    return row


async def read_order(session: AsyncSession, caller: Caller, order_id: str) -> OrderOut:
    row = await load_visible_order(session, caller, order_id)
    held = await repository.units_held(session, row.shop_id, row.id)
    return order_view(row, held)


def _line_snapshot(lines: list[OrderLineRow]) -> list[tuple[object, ...]]:
    return [
        (
            line.line_id,
            line.sku,
            line.title,
            line.category,
            line.unit_price,
            line.quantity,
            line.attributes,
        )
        for line in lines
    ]


def _new_lines(order_id: str, body: OrderIn) -> list[OrderLineRow]:
    return [
        OrderLineRow(
            shop_id=body.shop_id,
            order_id=order_id,
            line_id=line.line_id,
            position=position,
            sku=line.sku,
            title=line.title,
            category=line.category,
            unit_price=line.unit_price,
            quantity=line.quantity,
            attributes=dict(line.attributes),
        )
        for position, line in enumerate(body.lines)
    ]


async def _refuse_changes_to_money_facts_once_money_moved(
    session: AsyncSession, row: OrderRow, body: OrderIn, created: bool
) -> None:
    """Once a refund was paid on the order, what it paid is settled: a refund is capped by the
    shipping fee, prices and insurance, so changing them afterwards could pay out more than
    the buyer paid. (Lines, buyer and currency freeze earlier, once any return exists.)"""
    if created:
        return
    money = (row.currency, row.shipping_fee, row.shipping_insurance)
    if money == (body.currency, body.shipping_fee, body.shipping_insurance):
        return
    if await repository.refunded_on_order(session, row.shop_id, row.id) > 0:
        raise Conflict(
            f"order {row.id} has been refunded: its shipping fee, insurance, currency and "
            "prices can no longer change"
        )


async def register_order(
    session: AsyncSession, caller: Caller, order_id: str, body: OrderIn
) -> tuple[OrderOut, bool]:
    """Create or update the order snapshot; answer it and whether it was created."""
    caller.require(Role.STOREFRONT, Role.PLATFORM)
    now = utcnow()
    # The id is global in the API: registrations of one id for two shops queue here, so the
    # second finds the first's order and is refused rather than inserted beside it.
    await repository.lock_order_id(session, order_id)
    row = await repository.find_order(session, order_id, for_update=True)
    created = row is None
    new_lines = _new_lines(order_id, body)
    if row is None:
        row = OrderRow(shop_id=body.shop_id, id=order_id, created_at=now, lines=[])
        session.add(row)
    elif row.shop_id != body.shop_id:
        raise Conflict(f"order {order_id} belongs to another shop")
    await _refuse_changes_to_money_facts_once_money_moved(session, row, body, created)
    lines_change = _line_snapshot(row.lines) != _line_snapshot(new_lines)
    identity_changes = (row.buyer_id, row.currency) != (body.buyer_id, body.currency)
    if (
        not created
        and (lines_change or identity_changes)
        and await repository.order_has_returns(session, row.shop_id, row.id)
    ):
        raise Conflict(
            f"order {order_id} has returns: its lines, buyer and currency can no longer change"
        )
    region_changes = not created and row.buyer_region != body.buyer_region
    if created or lines_change or region_changes or row.paid_at != body.paid_at:
        # What the order adds to the statistics moves: note it as it is.
        await tracking.before_order_change(
            session, row.shop_id, order_id, regroups_returns=region_changes
        )
    row.buyer_id = body.buyer_id
    row.buyer_bucket = buyer_bucket(body.buyer_id)
    row.currency = body.currency
    row.paid_at = body.paid_at
    row.shipped_at = body.shipped_at
    row.delivered_at = body.delivered_at
    row.shipping_fee = body.shipping_fee
    row.shipping_insurance = body.shipping_insurance
    row.buyer_region = body.buyer_region
    row.carrier = body.carrier
    # Stored as carrier events are matched on it (rules.parcels.tracking_key).
    row.tracking_number = tracking_key(body.tracking_number) if body.tracking_number else None
    row.updated_at = now
    if lines_change:
        row.lines.clear()
        await session.flush()
        row.lines.extend(new_lines)
    try:
        await session.flush()
    except IntegrityError as error:
        raise Conflict(
            f"order {order_id} was registered by someone else at the same time"
        ) from error
    held = await repository.units_held(session, row.shop_id, row.id)
    return order_view(row, held), created
