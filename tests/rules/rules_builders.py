"""Small builders for the facts the rules take, so each test states only what it is about.

Imported by the test modules beside it (pytest's default `prepend` import mode puts this folder
on sys.path); the name is unique so it cannot shadow another folder's helpers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from returns_service.rules.facts import Application, ItemRequest, Order, OrderLine
from returns_service.rules.vocabulary import Condition, Reason, ReturnType

DELIVERED_AT = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
SHIPPED_AT = DELIVERED_AT - timedelta(days=2)


def line(
    line_id: str = "l1",
    *,
    category: str = "apparel",
    unit_price: int = 9900,
    quantity: int = 2,
) -> OrderLine:
    return OrderLine(line_id, f"SKU-{line_id}", category, unit_price, quantity)


def order(
    *lines: OrderLine,
    delivered_at: datetime | None = DELIVERED_AT,
    shipping_fee: int = 800,
    shipping_insurance: bool = False,
) -> Order:
    return Order(
        order_id="o1",
        currency="CNY",
        shipping_fee=shipping_fee,
        shipping_insurance=shipping_insurance,
        shipped_at=SHIPPED_AT if delivered_at is not None else None,
        delivered_at=delivered_at,
        lines=lines or (line(),),
    )


def item(
    line_id: str = "l1", quantity: int = 1, condition: Condition = Condition.UNOPENED
) -> ItemRequest:
    return ItemRequest(line_id, quantity, condition)


def application(
    *items: ItemRequest,
    return_type: ReturnType = ReturnType.RETURN_REFUND,
    reason: Reason = Reason.NO_REASON,
) -> Application:
    return Application(return_type, reason, items if items else (item(),))
