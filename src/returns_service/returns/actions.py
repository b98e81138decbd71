"""The actions of the state table, one function each."""

from __future__ import annotations

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
)
from returns_service.returns.refunds import pay_refund
from returns_service.returns.schemas import (
    ApproveBody,
    ArbitrateBody,
    MessageBody,
    NoteBody,
    ReceiveBody,
    RefundBody,
    RejectBody,
    ShipmentBody,
)
from returns_service.returns.timeline import record_event
from returns_service.rules.facts import Deduction
from returns_service.rules.money import DeductionsExceedRefundable, apply_deductions
from returns_service.rules.parcels import carrier_key, same_parcel, tracking_key
from returns_service.rules.transitions import arbitration_target
from returns_service.rules.vocabulary import Action, EventType, ReturnType, Role


async def approve_return(
    session: AsyncSession, caller: Caller, return_id: str, body: ApproveBody, if_match: str | None
) -> ReturnRow:
    row, transition = await lock_for_action(session, caller, return_id, Action.APPROVE, if_match)
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


async def reject_return(
    session: AsyncSession, caller: Caller, return_id: str, body: RejectBody, if_match: str | None
) -> ReturnRow:
    row, transition = await lock_for_action(session, caller, return_id, Action.REJECT, if_match)
    row.rejection = {"reason_code": body.reason_code, "note": body.note}
    await move(
        session,
        row,
        Action.REJECT,
        caller,
        transition=transition,
        data={"reason_code": body.reason_code, "note": body.note},
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
    await move(
        session,
        row,
        Action.RECEIVE,
        caller,
        transition=transition,
        data={
            "inspection": body.inspection.value,
            "deductions": [d.model_dump() for d in body.deductions],
            "note": body.note,
            "refundable": row.refund_amount,
        },
    )
    return row


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
    session: AsyncSession, caller: Caller, return_id: str, body: NoteBody, if_match: str | None
) -> ReturnRow:
    row, transition = await lock_for_action(session, caller, return_id, Action.ESCALATE, if_match)
    await move(
        session, row, Action.ESCALATE, caller, transition=transition, data={"note": body.note}
    )
    return row


async def arbitrate_return(
    session: AsyncSession, caller: Caller, return_id: str, body: ArbitrateBody, if_match: str | None
) -> ReturnRow:
    for_buyer = body.decision == "buyer"
    row, transition = await lock_for_action(
        session,
        caller,
        return_id,
        Action.ARBITRATE,
        if_match,
        target=arbitration_target(decision_for_buyer=for_buyer),
    )
    decision = {"decision": body.decision, "note": body.note}
    if for_buyer:
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
            "due_at": row.deadline_due_at.isoformat() if row.deadline_due_at else None,
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
        data={"body": body.body},
    )
