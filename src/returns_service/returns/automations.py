"""What the shop policy lets the system do on its own, as soon as a return allows it.

- `auto_refund_unshipped` (未发货仅退款): a refund-only return on an order that has not shipped
  is approved and refunded on applying.
- `fast_refund` (极速退款): a buyer in good standing is paid on applying for refund-only, or as
  soon as a tracking number is given for return-and-refund.

Each step is the `system` actor taking a row of the transition table, with its own timeline
event, in the caller's transaction (which holds the return and order locks).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from returns_service.auth import SYSTEM_CALLER
from returns_service.models import OrderRow, ReturnRow
from returns_service.models.base import utcnow
from returns_service.policies.service import policy_for_shop
from returns_service.returns import repository
from returns_service.returns.lifecycle import move
from returns_service.returns.refunds import pay_refund
from returns_service.rules.facts import ReturnPolicy
from returns_service.rules.standing import qualifies_for_fast_refund
from returns_service.rules.vocabulary import Action, ReturnStatus, ReturnType

# The platform rule counts refunds "in the last 30 days"; it is not a shop setting.
FAST_REFUND_WINDOW = timedelta(days=30)

AUTO_REFUND_UNSHIPPED = "auto_refund_unshipped"
FAST_REFUND = "fast_refund"


async def approve_and_refund(session: AsyncSession, row: ReturnRow, data: dict[str, str]) -> None:
    """Approve a requested refund-only return and pay it at once, as the system."""
    await move(session, row, Action.APPROVE, SYSTEM_CALLER, data=data)
    await pay_refund(session, row, SYSTEM_CALLER, None, data=data)


async def _fast_refund_allowed(session: AsyncSession, row: ReturnRow, policy: ReturnPolicy) -> bool:
    if not policy.fast_refund or row.buyer_flagged:
        return False  # spare the count: the answer is already no
    recent_refunds = await repository.count_buyer_refunds_since(
        session, row.shop_id, row.buyer_id, utcnow() - FAST_REFUND_WINDOW
    )
    return qualifies_for_fast_refund(recent_refunds, row.buyer_flagged, policy)


async def after_application(
    session: AsyncSession, row: ReturnRow, order: OrderRow, policy: ReturnPolicy
) -> None:
    """Refund a new refund-only return at once when the policy says so."""
    if row.type != ReturnType.REFUND_ONLY.value or row.status != ReturnStatus.REQUESTED.value:
        return
    # Flagged buyers get a person's review, never an automatic refund (DOMAIN.md, abuse).
    if policy.auto_refund_unshipped and order.shipped_at is None and not row.buyer_flagged:
        await approve_and_refund(session, row, {"automation": AUTO_REFUND_UNSHIPPED})
    elif await _fast_refund_allowed(session, row, policy):
        await approve_and_refund(session, row, {"automation": FAST_REFUND})


async def after_shipping(session: AsyncSession, row: ReturnRow) -> None:
    """Refund a return-and-refund the moment its tracking number is given, for good buyers."""
    if row.type != ReturnType.RETURN_REFUND.value or row.status != ReturnStatus.SHIPPED.value:
        return
    policy = await policy_for_shop(session, row.shop_id)
    if await _fast_refund_allowed(session, row, policy):
        await pay_refund(session, row, SYSTEM_CALLER, None, data={"automation": FAST_REFUND})
