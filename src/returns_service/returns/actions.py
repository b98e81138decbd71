"""The actions of the state table, one function each."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from returns_service.auth import Caller
from returns_service.errors import Conflict, RuleViolation, ValidationFailed
from returns_service.models import ReturnEventRow, ReturnRow
from returns_service.models.base import utcnow
from returns_service.policies.service import default_return_address
from returns_service.returns import automations, repository
from returns_service.returns.lifecycle import (
    load_visible_return,
    lock_for_action,
    move,
    start_receive_deadline,
    transition_of,
)
from returns_service.returns.refunds import pay_refund
from returns_service.returns.schemas import (
    ApproveBody,
    ArbitrateBody,
    EscalateBody,
    MessageBody,
    NoteBody,
    ReceiveBody,
    RefundBody,
    RejectBody,
    ShipmentBody,
)
from returns_service.returns.timeline import record_event
from returns_service.rules.evidence import EVIDENCE_REQUIRED, needs_evidence
from returns_service.rules.facts import Deduction
from returns_service.rules.inspection import UnitOutcome, check_outcomes, default_outcomes
from returns_service.rules.money import DeductionsExceedRefundable, apply_deductions
from returns_service.rules.parcels import carrier_key, same_parcel, tracking_key
from returns_service.rules.transitions import Transition, arbitration_target
from returns_service.rules.vocabulary import Action, EventType, ReturnStatus, ReturnType, Role
from returns_service.timestamps import api_timestamp


async def approve_return(
    session: AsyncSession, caller: Caller, return_id: str, body: ApproveBody, if_match: str | None
) -> ReturnRow:
    row, transition = await lock_for_action(session, caller, return_id, Action.APPROVE, if_match)
    if body.keep_goods:
        return await _approve_keeping_the_goods(session, caller, row, body, transition)
    address = (
        body.return_address.model_dump()
        if body.return_address
        else await default_return_address(session, row.shop_id)
    )
    if ReturnType(row.type).goods_travel_back and address is None:
        raise ValidationFailed(
            "approving a return whose goods travel back needs a return_address "
            "(or a default one in the shop's return policy)",
            [{"loc": ["body", "return_address"], "msg": "required", "type": "missing"}],
        )
    row.return_address = address
    row.instructions = body.instructions
    await move(
        session,
        row,
        Action.APPROVE,
        caller,
        transition=transition,
        data={
            "instructions": body.instructions,
            "return_address_kind": address["kind"] if address else None,
        },
    )
    return row


async def _approve_keeping_the_goods(
    session: AsyncSession, caller: Caller, row: ReturnRow, body: ApproveBody, transition: Transition
) -> ReturnRow:
    """A returnless refund: approved with no address; refunded from approved, no parcel."""
    if row.type != ReturnType.RETURN_REFUND.value:
        raise ValidationFailed(
            f"only a return_refund can keep its goods; this return is {row.type}",
            [{"loc": ["body", "keep_goods"], "msg": "return_refund only", "type": "value_error"}],
        )
    row.keep_goods = True
    row.instructions = body.instructions
    data = {"instructions": body.instructions, "keep_goods": True}
    await move(session, row, Action.APPROVE, caller, transition=transition, data=data)
    return row


async def reject_return(
    session: AsyncSession, caller: Caller, return_id: str, body: RejectBody, if_match: str | None
) -> ReturnRow:
    row, transition = await lock_for_action(session, caller, return_id, Action.REJECT, if_match)
    if needs_evidence(body.reason_code, body.evidence):
        raise RuleViolation(
            f"a rejection for {body.reason_code!r} needs evidence",
            [
                {
                    "rule": EVIDENCE_REQUIRED,
                    "message": f"{body.reason_code!r} is a standard reason that stands only "
                    "with evidence: attach photos (evidence: at most 9 https URLs)",
                }
            ],
        )
    row.rejection = {
        "reason_code": body.reason_code,
        "note": body.note,
        "evidence": body.evidence,
    }
    await move(
        session,
        row,
        Action.REJECT,
        caller,
        transition=transition,
        data={"reason_code": body.reason_code, "note": body.note, "evidence": body.evidence},
    )
    return row


async def cancel_return(
    session: AsyncSession, caller: Caller, return_id: str, body: NoteBody, if_match: str | None
) -> ReturnRow:
    row, transition = await lock_for_action(session, caller, return_id, Action.CANCEL, if_match)
    data = {"note": body.note}
    await move(session, row, Action.CANCEL, caller, transition=transition, data=data)
    return row


async def _refuse_a_parcel_in_use(
    session: AsyncSession, row: ReturnRow, carrier: str, tracking_number: str
) -> None:
    """A parcel carries one return: its delivery starts that return's receive clock (and then
    its refund), so a number another open return ships under would start two."""
    await repository.lock_parcel(session, carrier_key(carrier), tracking_number)
    others = await repository.open_returns_shipped_with(session, tracking_number, other_than=row)
    if any(same_parcel(other_carrier, carrier) for _, other_carrier in others):
        raise Conflict(
            f"the parcel {carrier} {tracking_number} already carries another return that has "
            "not ended; a parcel can carry only one return"
        )


async def ship_return(
    session: AsyncSession, caller: Caller, return_id: str, body: ShipmentBody, if_match: str | None
) -> ReturnRow:
    row, transition = await lock_for_action(session, caller, return_id, Action.SHIP, if_match)
    # Carrier events find the return by carrier and tracking number together (webhooks).
    tracking_number = tracking_key(body.tracking_number)
    await _refuse_a_parcel_in_use(session, row, body.carrier, tracking_number)
    row.shipment_carrier = body.carrier
    row.shipment_tracking_number = tracking_number
    row.shipped_at = utcnow()
    row.shipment_status = "shipped"
    await move(
        session,
        row,
        Action.SHIP,
        caller,
        transition=transition,
        data={"carrier": body.carrier, "tracking_number": tracking_number},
    )
    await automations.after_shipping(session, row)
    return row


async def receive_return(
    session: AsyncSession, caller: Caller, return_id: str, body: ReceiveBody, if_match: str | None
) -> ReturnRow:
    row, transition = await lock_for_action(session, caller, return_id, Action.RECEIVE, if_match)
    found = [Deduction(kind=d.kind, amount=d.amount, note=d.note) for d in body.deductions]
    try:
        row.refund_amount = apply_deductions(row.refund_amount, found)
    except DeductionsExceedRefundable as refusal:
        raise RuleViolation(
            "the deductions are larger than what the return refunds",
            [{"rule": "deductions_exceed_refundable", "message": str(refusal)}],
        ) from refusal
    row.deductions = [
        *row.deductions,
        *({"kind": d.kind, "amount": d.amount, "note": d.note} for d in found),
    ]
    row.inspection = body.inspection.value
    row.dispositions = _unit_outcomes(row, body)
    data: dict[str, Any] = {
        "inspection": body.inspection.value,
        "deductions": [d.model_dump() for d in body.deductions],
        "note": body.note,
        "refundable": row.refund_amount,
    }
    if body.items is not None:
        data["items"] = row.dispositions
    await move(session, row, Action.RECEIVE, caller, transition=transition, data=data)
    return row


def _unit_outcomes(row: ReturnRow, body: ReceiveBody) -> list[dict[str, Any]]:
    """What became of each unit: as given, if they account for every unit once; else 422."""
    returned = {item.line_id: item.quantity for item in row.items}
    if body.items is None:
        outcomes = default_outcomes(returned, body.inspection)
    else:
        outcomes = tuple(
            UnitOutcome(item.line_id, item.quantity, item.disposition) for item in body.items
        )
        violations = check_outcomes(returned, outcomes)
        if violations:
            raise RuleViolation(
                "the inspection outcomes do not add up to the return's items",
                [{"rule": v.rule, "message": v.message} for v in violations],
            )
    return [
        {"line_id": o.line_id, "quantity": o.quantity, "disposition": o.disposition.value}
        for o in outcomes
    ]


async def refund_return(
    session: AsyncSession, caller: Caller, return_id: str, body: RefundBody, if_match: str | None
) -> ReturnRow:
    row, transition = await lock_for_action(session, caller, return_id, Action.REFUND, if_match)
    await pay_refund(session, row, caller, body.amount, transition=transition)
    return row


async def send_replacement(
    session: AsyncSession, caller: Caller, return_id: str, body: ShipmentBody, if_match: str | None
) -> ReturnRow:
    row, transition = await lock_for_action(
        session, caller, return_id, Action.SEND_REPLACEMENT, if_match
    )
    row.replacement_carrier = body.carrier
    row.replacement_tracking_number = body.tracking_number
    row.replacement_shipped_at = utcnow()
    await move(
        session,
        row,
        Action.SEND_REPLACEMENT,
        caller,
        transition=transition,
        data={"carrier": body.carrier, "tracking_number": body.tracking_number},
    )
    return row


async def escalate_return(
    session: AsyncSession,
    caller: Caller,
    return_id: str,
    body: EscalateBody,
    if_match: str | None,
) -> ReturnRow:
    row, transition = await lock_for_action(session, caller, return_id, Action.ESCALATE, if_match)
    data = {"note": body.note, "evidence": body.evidence}
    await move(session, row, Action.ESCALATE, caller, transition=transition, data=data)
    return row


async def arbitrate_return(
    session: AsyncSession, caller: Caller, return_id: str, body: ArbitrateBody, if_match: str | None
) -> ReturnRow:
    for_buyer = body.decision == "buyer"
    row, _ = await lock_for_action(session, caller, return_id, Action.ARBITRATE, if_match)
    kind = ReturnType(row.type)
    transition = transition_of(row, Action.ARBITRATE, caller, arbitration_target(for_buyer, kind))
    decision = {"decision": body.decision, "note": body.note, "evidence": body.evidence}
    if for_buyer and transition.target is ReturnStatus.APPROVED:
        # A reship: the platform orders the missing items sent; there is no money to pay.
        if body.amount is not None:
            raise ValidationFailed(
                "a reship won by the buyer is settled with a parcel, not money: leave amount out",
                [{"loc": ["body", "amount"], "msg": "must be absent", "type": "value_error"}],
            )
        await move(session, row, Action.ARBITRATE, caller, transition=transition, data=decision)
    elif for_buyer:
        await pay_refund(
            session,
            row,
            caller,
            body.amount,
            action=Action.ARBITRATE,
            transition=transition,
            data=decision,
        )
    else:
        if body.amount is not None:
            raise ValidationFailed(
                "a decision for the merchant refunds nothing: leave amount out",
                [{"loc": ["body", "amount"], "msg": "must be absent", "type": "value_error"}],
            )
        await move(session, row, Action.ARBITRATE, caller, transition=transition, data=decision)
    return row


async def extend_receive_deadline(
    session: AsyncSession, caller: Caller, return_id: str, body: NoteBody, if_match: str | None
) -> ReturnRow:
    """Give the merchant one more receive_timeout, once per return."""
    row, transition = await lock_for_action(session, caller, return_id, Action.EXTEND, if_match)
    if row.receive_extensions > 0:
        raise Conflict("the receive deadline of this return was already extended once")
    row.receive_extensions += 1
    if row.shipment_delivered_at is not None:
        # Counted again from the delivery, now with the extension.
        await start_receive_deadline(session, row, row.shipment_delivered_at)
    await move(
        session,
        row,
        Action.EXTEND,
        caller,
        transition=transition,
        data={
            "note": body.note,
            "due_at": api_timestamp(row.deadline_due_at) if row.deadline_due_at else None,
        },
    )
    return row


async def post_message(
    session: AsyncSession, caller: Caller, return_id: str, body: MessageBody
) -> ReturnEventRow:
    """A message joins the timeline; it changes neither the state nor the version."""
    caller.require(Role.BUYER, Role.MERCHANT, Role.PLATFORM)
    row = await load_visible_return(session, caller, return_id, for_update=True)
    return await record_event(
        session,
        row,
        "message",
        EventType.MESSAGE,
        caller,
        from_status=None,
        to_status=None,
        data={"body": body.body, "evidence": body.evidence},
    )
