"""What the system does on its own as soon as a return allows it: the shop's automation rules
(the after-sales assistant, 售后小助手) and the policy switches, tried in that order when a
return is applied for, and the fast refund when a tracking number is given.

- `auto_refund_unshipped` (未发货仅退款): a refund-only return on an order that has not shipped
  is approved and refunded on applying.
- `fast_refund` (极速退款): a buyer in good standing is paid on applying for refund-only, or as
  soon as a tracking number is given for return-and-refund.

Each step is the `system` actor taking a row of the transition table, with its own timeline
event naming the rule, in the caller's transaction (which holds the return and order locks).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from returns_service.auth import SYSTEM_CALLER
from returns_service.automations.service import shop_rules
from returns_service.models import OrderRow, ReturnRow
from returns_service.models.base import utcnow
from returns_service.orders import repository as orders_repository
from returns_service.policies.service import default_return_address, policy_for_shop
from returns_service.returns import repository
from returns_service.returns.lifecycle import move
from returns_service.returns.refunds import pay_refund
from returns_service.rules.automations import (
    FAST_REFUND,
    AutomationAction,
    AutomationRule,
    NewReturn,
    asks_standing,
    builtin_rules,
    first_match,
    order_stage,
)
from returns_service.rules.facts import ReturnPolicy
from returns_service.rules.standing import in_good_standing, qualifies_for_fast_refund
from returns_service.rules.vocabulary import Action, Reason, ReturnStatus, ReturnType

# The platform rule counts refunds "in the last 30 days"; it is not a shop setting.
FAST_REFUND_WINDOW = timedelta(days=30)

SHOP = "shop"
POLICY = "policy"


async def approve_and_refund(session: AsyncSession, row: ReturnRow, data: dict[str, Any]) -> None:
    """Approve a requested refund-only return and pay it at once, as the system."""
    await move(session, row, Action.APPROVE, SYSTEM_CALLER, data=data)
    await pay_refund(session, row, SYSTEM_CALLER, None, data=data)


async def _recent_refunds(session: AsyncSession, row: ReturnRow) -> int:
    """The buyer's refunds in this shop in the last 30 days, counted under the buyer's lock
    (taken after the return and its order), so that two refunds decided at once on this
    count are decided one after the other."""
    await repository.lock_buyer_standing(session, row.shop_id, row.buyer_id)
    return await repository.count_buyer_refunds_since(
        session, row.shop_id, row.buyer_id, utcnow() - FAST_REFUND_WINDOW
    )


async def _fast_refund_allowed(session: AsyncSession, row: ReturnRow, policy: ReturnPolicy) -> bool:
    """The caller holds the return and its order already (the order is locked before the
    buyer's standing, as everywhere)."""
    if not policy.fast_refund or row.buyer_flagged:
        return False  # spare the count: the answer is already no
    recent_refunds = await _recent_refunds(session, row)
    return qualifies_for_fast_refund(recent_refunds, row.buyer_flagged, policy)


async def _new_return(
    session: AsyncSession, row: ReturnRow, order: OrderRow, rules: tuple[AutomationRule, ...]
) -> NewReturn:
    returned = {item.line_id for item in row.items}
    standing = (
        in_good_standing(await _recent_refunds(session, row), row.buyer_flagged)
        if asks_standing(rules) and not row.buyer_flagged
        else None
    )
    return NewReturn(
        return_type=ReturnType(row.type),
        reason=Reason(row.reason),
        refund_amount=row.refund_amount,
        categories=frozenset(line.category for line in order.lines if line.line_id in returned),
        order_stage=order_stage(order.shipped_at, order.delivered_at),
        buyer_flagged=row.buyer_flagged,
        buyer_in_good_standing=standing,
    )


async def after_application(
    session: AsyncSession, row: ReturnRow, order: OrderRow, policy: ReturnPolicy
) -> None:
    """Let the first rule that matches the new return act on it: the shop's own, then the
    policy switches. A flagged buyer gets a person's review (DOMAIN.md, abuse)."""
    if row.status != ReturnStatus.REQUESTED.value or row.buyer_flagged:
        return
    own = await shop_rules(session, row.shop_id)
    builtin = builtin_rules(policy)
    if not own and not builtin:
        return
    facts = await _new_return(session, row, order, own + builtin)
    for rules, source in ((own, SHOP), (builtin, POLICY)):
        rule = first_match(rules, facts)
        if rule is not None:
            data = {"automation": rule.name, "automation_source": source}
            await _act(session, row, rule, data)
            return


async def _act(
    session: AsyncSession, row: ReturnRow, rule: AutomationRule, data: dict[str, Any]
) -> None:
    if rule.then is AutomationAction.REFUND:
        await approve_and_refund(session, row, data)
        return
    if rule.then is AutomationAction.APPROVE_KEEP_GOODS:
        row.keep_goods = True
        data = {**data, "keep_goods": True}
    elif rule.then is AutomationAction.REFUND_AFTER_REFUSAL:
        # The buyer refuses the parcel on its way; the carrier's word then refunds it
        # (carriers: a refused order parcel refunds an open refund-only return).
        data = {**data, "then": rule.then.value}
    elif ReturnType(row.type).goods_travel_back:
        # As the review timer: the goods go to the address the shop's policy names.
        row.return_address = await default_return_address(session, row.shop_id)
    await move(session, row, Action.APPROVE, SYSTEM_CALLER, data=data)


async def after_shipping(session: AsyncSession, row: ReturnRow) -> None:
    """Refund a return-and-refund the moment its tracking number is given, for good buyers."""
    if row.type != ReturnType.RETURN_REFUND.value or row.status != ReturnStatus.SHIPPED.value:
        return
    policy = await policy_for_shop(session, row.shop_id)
    if policy.fast_refund and not row.buyer_flagged:
        # The order before the buyer's standing: the lock order an application keeps.
        await orders_repository.find_order_of_shop(
            session, row.shop_id, row.order_id, for_update=True
        )
    if await _fast_refund_allowed(session, row, policy):
        await pay_refund(session, row, SYSTEM_CALLER, None, data={"automation": FAST_REFUND})
