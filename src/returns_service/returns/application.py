"""Apply for a return, or ask what an application would give, without saving anything."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from returns_service.auth import Caller
from returns_service.errors import RuleViolation
from returns_service.models import OrderRow, ReturnItemRow, ReturnRow
from returns_service.models.base import utcnow
from returns_service.orders import repository as orders_repository
from returns_service.orders.service import load_visible_order, order_facts
from returns_service.policies.service import policy_for_shop
from returns_service.returns import automations, repository
from returns_service.returns.lifecycle import set_deadline
from returns_service.returns.schemas import ReturnApplication, ReturnPreview, ViolationOut
from returns_service.returns.timeline import record_event
from returns_service.rules.deadlines import deadline_on_entering
from returns_service.rules.eligibility import check_application
from returns_service.rules.facts import (
    Application,
    ItemRequest,
    RefundQuote,
    ReturnPolicy,
    Violation,
)
from returns_service.rules.money import quote_refund
from returns_service.rules.sampling import buyer_bucket
from returns_service.rules.standing import is_frequent_returner
from returns_service.rules.vocabulary import EventType, ReturnStatus, Role
from returns_service.statistics import tracking

APPLICANTS = (Role.BUYER, Role.STOREFRONT, Role.PLATFORM)


@dataclass(frozen=True)
class Assessment:
    order: OrderRow
    policy: ReturnPolicy
    violations: tuple[Violation, ...]
    quote: RefundQuote


def _application(body: ReturnApplication) -> Application:
    return Application(
        return_type=body.type,
        reason=body.reason,
        items=tuple(
            ItemRequest(line_id=item.line_id, quantity=item.quantity, condition=item.condition)
            for item in body.items
        ),
    )


async def _assess(
    session: AsyncSession, caller: Caller, body: ReturnApplication, *, lock_order: bool
) -> Assessment:
    order = await load_visible_order(session, caller, body.order_id, for_update=lock_order)
    policy = await policy_for_shop(session, order.shop_id)
    facts = order_facts(order)
    application = _application(body)
    held = await orders_repository.units_held(session, order.shop_id, order.id)
    violations = check_application(facts, application, policy, held, utcnow())
    return Assessment(order, policy, violations, quote_refund(facts, application, policy))


async def preview_return(
    session: AsyncSession, caller: Caller, body: ReturnApplication
) -> ReturnPreview:
    caller.require(*APPLICANTS, Role.MERCHANT)
    assessment = await _assess(session, caller, body, lock_order=False)
    quote = assessment.quote
    return ReturnPreview(
        eligible=not assessment.violations,
        violations=[ViolationOut(rule=v.rule, message=v.message) for v in assessment.violations],
        refund_amount=quote.amount,
        currency=quote.currency,
        fault=quote.fault,
        return_shipping_paid_by=quote.return_shipping_paid_by,
    )


async def apply_for_return(
    session: AsyncSession, caller: Caller, body: ReturnApplication
) -> ReturnRow:
    """Open a return, or refuse it listing every rule it breaks.

    The order stays locked until the transaction ends, so simultaneous applications are
    counted one after the other and never hold more units than were bought.
    """
    caller.require(*APPLICANTS)
    assessment = await _assess(session, caller, body, lock_order=True)
    if assessment.violations:
        raise RuleViolation(
            "the rules refuse this return",
            [{"rule": v.rule, "message": v.message} for v in assessment.violations],
        )
    order, policy, quote = assessment.order, assessment.policy, assessment.quote
    now = utcnow()
    recent = await repository.count_buyer_returns_since(
        session, order.shop_id, order.buyer_id, now - timedelta(days=policy.abuse_threshold.days)
    )
    unit_prices = {line.line_id: line.unit_price for line in order.lines}
    return_id = str(uuid.uuid4())
    await tracking.before_new_return(session, order, return_id)
    row = ReturnRow(
        shop_id=order.shop_id,
        id=return_id,
        order_id=order.id,
        buyer_id=order.buyer_id,
        buyer_bucket=buyer_bucket(order.buyer_id),
        type=body.type.value,
        reason=body.reason.value,
        fault=quote.fault.value,
        status=ReturnStatus.REQUESTED.value,
        version=1,
        currency=order.currency,
        refund_amount=quote.amount,
        deductions=[{"kind": d.kind, "amount": d.amount, "note": d.note} for d in quote.deductions],
        return_shipping_paid_by=quote.return_shipping_paid_by.value,
        buyer_flagged=is_frequent_returner(recent + 1, policy),
        description=body.description,
        evidence=[str(url) for url in body.evidence],
        receive_extensions=0,
        keep_goods=False,
        offers_made=0,
        last_event_seq=0,
        escalated=False,
        automatic_actions=0,
        first_response_at=None,
        created_at=now,
        updated_at=now,
        items=[
            ReturnItemRow(
                shop_id=order.shop_id,
                line_id=item.line_id,
                position=position,
                quantity=item.quantity,
                condition=item.condition.value,
                unit_price=unit_prices[item.line_id],
            )
            for position, item in enumerate(body.items)
        ],
    )
    set_deadline(row, deadline_on_entering(ReturnStatus.REQUESTED, body.type, policy, now))
    session.add(row)
    await session.flush()
    await record_event(
        session,
        row,
        "created",
        EventType.REQUESTED,
        caller,
        from_status=None,
        to_status=ReturnStatus.REQUESTED.value,
        data={
            "type": row.type,
            "reason": row.reason,
            "refund_amount": row.refund_amount,
            "buyer_flagged": row.buyer_flagged,
        },
    )
    await automations.after_application(session, row, order, policy)
    return row
