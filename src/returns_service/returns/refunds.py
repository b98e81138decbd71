"""Pay a return back exactly once, never past what its order paid."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from returns_service.auth import Caller
from returns_service.errors import NotFound, RuleViolation
from returns_service.models import ReturnRow
from returns_service.models.base import utcnow
from returns_service.orders import repository as orders_repository
from returns_service.orders.service import order_facts
from returns_service.returns import repository
from returns_service.returns.lifecycle import move, target_of
from returns_service.rules.money import RefundExceedsRefundable, settle_refund
from returns_service.rules.vocabulary import Action, ReturnStatus


def refund_reference(row: ReturnRow) -> str:
    """Stable per return: a payment system that sees it twice refunds once."""
    return f"rf_{row.id}"


async def refund_return(
    session: AsyncSession,
    row: ReturnRow,
    actor: Caller,
    requested: int | None,
    *,
    action: Action = Action.REFUND,
    target: ReturnStatus | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Refund the return; the caller holds its row lock.

    The order is locked too, so that refunds of two returns of one order are summed one
    after the other and together never pass what the order paid.
    """
    target = target or target_of(row, action, actor)
    order = await orders_repository.find_order(session, row.order_id, for_update=True)
    if order is None:
        raise NotFound(f"the order {row.order_id} of this return is gone")
    already = await repository.refunded_on_order(session, row.shop_id, row.order_id)
    try:
        amount = settle_refund(requested, row.refund_amount, order_facts(order), already)
    except RefundExceedsRefundable as refusal:
        raise RuleViolation(
            "the refund is larger than what may be refunded",
            [{"rule": "refund_exceeds_refundable", "message": str(refusal)}],
        ) from refusal
    now = utcnow()
    row.refund_amount = amount
    row.refunded_amount = amount
    row.refund_reference = refund_reference(row)
    row.refunded_at = now
    await move(
        session,
        row,
        action,
        actor,
        target=target,
        now=now,
        data={
            **(data or {}),
            "amount": amount,
            "currency": row.currency,
            "method": "original_payment",
            "reference": row.refund_reference,
        },
    )
