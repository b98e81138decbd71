"""Offers (协商): the merchant offers part of the money; the buyer accepts or declines, or lets
the offer lapse and the system declines for them."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from returns_service.auth import SYSTEM_CALLER, Caller
from returns_service.errors import Conflict, RuleViolation, ValidationFailed
from returns_service.models import ReturnRow
from returns_service.models.base import utcnow
from returns_service.orders import repository as orders_repository
from returns_service.orders.service import order_facts
from returns_service.policies.service import default_return_address
from returns_service.returns import repository
from returns_service.returns.lifecycle import lock_for_action, move, transition_of
from returns_service.returns.refunds import pay_refund
from returns_service.returns.schemas import NoteBody, OfferBody
from returns_service.rules.money import refund_ceiling
from returns_service.rules.offers import (
    TOO_MANY_OFFERS,
    Offer,
    OfferRefused,
    accepted_offer_target,
    check_offer,
)
from returns_service.rules.transitions import Transition
from returns_service.rules.vocabulary import Action, ReturnStatus, ReturnType

PENDING, ACCEPTED, DECLINED, LAPSED = "pending", "accepted", "declined", "lapsed"


async def _ceiling(session: AsyncSession, row: ReturnRow) -> int:
    """What the return may refund now, with what other returns of its order refunded."""
    order = await orders_repository.find_order_of_shop(session, row.shop_id, row.order_id)
    if order is None:  # a return keeps its order (foreign key)
        return 0
    already = await repository.refunded_on_order(session, row.shop_id, row.order_id)
    return refund_ceiling(row.refund_amount, order_facts(order), already)


async def make_offer(
    session: AsyncSession, caller: Caller, return_id: str, body: OfferBody, if_match: str | None
) -> ReturnRow:
    row, transition = await lock_for_action(session, caller, return_id, Action.OFFER, if_match)
    offer = Offer(body.amount, body.keep_goods)
    try:
        check_offer(offer, ReturnType(row.type), row.offers_made, await _ceiling(session, row))
    except OfferRefused as refusal:
        if refusal.rule == TOO_MANY_OFFERS:
            raise Conflict(str(refusal)) from refusal
        raise RuleViolation(
            "the rules refuse this offer", [{"rule": refusal.rule, "message": str(refusal)}]
        ) from refusal
    address: dict[str, Any] | None = None
    if not body.keep_goods:
        address = (
            body.return_address.model_dump()
            if body.return_address
            else await default_return_address(session, row.shop_id)
        )
        if address is None:
            raise ValidationFailed(
                "an offer whose goods travel back needs a return_address "
                "(or a default one in the shop's return policy)",
                [{"loc": ["body", "return_address"], "msg": "required", "type": "missing"}],
            )
    row.offers_made += 1
    row.offer = {
        "number": row.offers_made,
        "amount": body.amount,
        "keep_goods": body.keep_goods,
        "note": body.note,
        "offered_at": utcnow().isoformat(),
        "outcome": PENDING,
        "return_address": address,
    }
    await move(
        session,
        row,
        Action.OFFER,
        caller,
        transition=transition,
        data={
            "number": row.offers_made,
            "amount": body.amount,
            "keep_goods": body.keep_goods,
            "note": body.note,
        },
    )
    return row


def _standing_offer(row: ReturnRow) -> tuple[dict[str, Any], Offer]:
    assert row.offer is not None  # an offered return always carries its offer
    return row.offer, Offer(int(row.offer["amount"]), bool(row.offer["keep_goods"]))


async def accept_offer(
    session: AsyncSession, caller: Caller, return_id: str, body: NoteBody, if_match: str | None
) -> ReturnRow:
    """Kept goods: refunded the offered amount, exactly once. Goods going back: approved, the
    refund capped at the offered amount."""
    row, _ = await lock_for_action(session, caller, return_id, Action.ACCEPT_OFFER, if_match)
    stored, offer = _standing_offer(row)
    target = accepted_offer_target(offer)
    transition = transition_of(row, Action.ACCEPT_OFFER, caller, target)
    row.offer = {**stored, "outcome": ACCEPTED}
    data = {"number": stored["number"], "amount": offer.amount, "keep_goods": offer.keep_goods}
    if body.note:
        data["note"] = body.note
    if target is ReturnStatus.REFUNDED:
        row.keep_goods = True
        await pay_refund(
            session,
            row,
            caller,
            offer.amount,
            action=Action.ACCEPT_OFFER,
            transition=transition,
            data=data,
        )
        return row
    row.refund_amount = min(row.refund_amount, offer.amount)
    row.return_address = stored.get("return_address")
    await move(session, row, Action.ACCEPT_OFFER, caller, transition=transition, data=data)
    return row


async def decline_offer(
    session: AsyncSession, caller: Caller, return_id: str, body: NoteBody, if_match: str | None
) -> ReturnRow:
    """Back to review; the merchant's review clock starts again."""
    row, transition = await lock_for_action(
        session, caller, return_id, Action.DECLINE_OFFER, if_match
    )
    await _decline(session, row, caller, DECLINED, {"note": body.note}, transition)
    return row


async def lapse_offer(session: AsyncSession, row: ReturnRow, data: dict[str, Any]) -> None:
    """The buyer let the offer's deadline pass: the system declines for them."""
    await _decline(session, row, SYSTEM_CALLER, LAPSED, data)


async def _decline(
    session: AsyncSession,
    row: ReturnRow,
    actor: Caller,
    outcome: str,
    data: dict[str, Any],
    transition: Transition | None = None,
) -> None:
    await move(
        session,
        row,
        Action.DECLINE_OFFER,
        actor,
        transition=transition,
        data=end_offer(row, outcome, data),
    )


def end_offer(row: ReturnRow, outcome: str, data: dict[str, Any]) -> dict[str, Any]:
    """Mark the standing offer declined or lapsed; answer the data of the event that says so.
    No statement: `_decline` and the sweep's batches (a lapse, LAPSED) write it."""
    stored, _ = _standing_offer(row)
    row.offer = {**stored, "outcome": outcome}
    return {**data, "number": stored["number"], "outcome": outcome}
