"""Pay a return back exactly once, never past what its order paid."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from returns_service.auth import Caller
from returns_service.errors import NotFound, RuleViolation
from returns_service.models import ReturnRow
from returns_service.models.base import utcnow
from returns_service.observability.metrics import count_refund
from returns_service.orders import repository as orders_repository
from returns_service.orders.service import order_facts
from returns_service.returns import repository
from returns_service.returns.lifecycle import move, transition_of
from returns_service.rules.money import RefundExceedsRefundable, refund_ceiling, settle_refund
from returns_service.rules.transitions import Transition
from returns_service.rules.vocabulary import Action, Role

NOTHING_TO_REFUND = "nothing_to_refund"


def refund_reference(row: ReturnRow) -> str:
    """Stable per return: a payment system that sees it twice refunds once."""
    return f"rf_{row.id}"


async def pay_refund(
    session: AsyncSession,
    row: ReturnRow,
    actor: Caller,
    requested: int | None,
    *,
    action: Action = Action.REFUND,
    transition: Transition | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """Pay the return's refund under the row lock the caller already holds (the refund
    action, arbitration for the buyer, timers, automations and carrier events all end here).

    The order is locked too, so that refunds of two returns of one order are summed one
    after the other and together never pass what the order paid.

    A refund of nothing is no refund: no payment reference is ever made for 0. A person who
    asks for one is refused (`nothing_to_refund`); the system, acting on a timer or an
    automation, closes the return instead, saying why on the timeline.
    """
    transition = transition or transition_of(row, action, actor)
    order = await orders_repository.find_order_of_shop(
        session, row.shop_id, row.order_id, for_update=True
    )
    if order is None:
        raise NotFound(f"the order {row.order_id} of this return is gone")
    facts = order_facts(order)
    already = await repository.refunded_on_order(session, row.shop_id, row.order_id)
    if refund_ceiling(row.refund_amount, facts, already) == 0:
        await _nothing_to_refund(session, row, actor, already, data)
        return
    try:
        amount = settle_refund(requested, row.refund_amount, facts, already)
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
        transition=transition,
        now=now,
        data={
            **(data or {}),
            "amount": amount,
            "currency": row.currency,
            "method": "original_payment",
            "reference": row.refund_reference,
        },
    )
    count_refund(session, row.currency, amount)


async def _nothing_to_refund(
    session: AsyncSession,
    row: ReturnRow,
    actor: Caller,
    refunded_on_order: int,
    data: dict[str, Any] | None,
) -> None:
    if row.refund_amount == 0:
        why = "the return refunds nothing (its deductions took it all, or it is not paid in money)"
    elif refunded_on_order > 0:
        why = "its order was refunded in full already"
    else:
        why = "its order paid nothing"
    if actor.role is not Role.SYSTEM:
        raise RuleViolation(
            f"there is nothing to refund: {why}",
            [
                {
                    "rule": NOTHING_TO_REFUND,
                    "message": f"{why}; end the return without money instead (reject it, "
                    "or decide an arbitration for the merchant)",
                }
            ],
        )
    await move(
        session,
        row,
        Action.CLOSE,
        actor,
        data={
            **(data or {}),
            "outcome": NOTHING_TO_REFUND,
            "note": f"closed instead of refunded: {why}",
            "refundable": row.refund_amount,
            "refunded_on_order": refunded_on_order,
        },
    )
