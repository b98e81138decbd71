"""Rows to the shapes the API answers."""

from __future__ import annotations

import operator
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Row, inspect

from returns_service.fields import ReturnAddressOut
from returns_service.models import ReturnEventRow, ReturnItemRow, ReturnRow
from returns_service.returns.repository import ItemToRead
from returns_service.returns.schemas import (
    ActorOut,
    DeadlineOut,
    DeductionOut,
    DispositionOut,
    OfferOut,
    RefundOut,
    RejectionOut,
    ReturnEventOut,
    ReturnItemOut,
    ReturnOut,
    ShipmentOut,
)
from returns_service.rules.vocabulary import (
    Condition,
    Fault,
    Inspection,
    Reason,
    ReturnStatus,
    ReturnType,
    ShippingPayer,
)


def return_view(row: ReturnRow) -> ReturnOut:
    """The return as the API answers it, kept on the row until the row changes: an action's
    outbox event and its answer share one view (built, it is a tenth of an approve's CPU)."""
    state = inspect(row)
    seen = _seen(state.dict)
    kept = state.info.get(_KEPT_VIEW)
    if seen is not None and kept is not None and kept[0] == seen:
        view: ReturnOut = kept[1]
        return view
    view = return_view_of(row, row.items)
    if seen is not None:
        state.info[_KEPT_VIEW] = (seen, view)
    return view


_KEPT_VIEW = "returns_view"
# Every mapped column of a return: the view reads nothing else of the row but its items.
_COLUMNS = operator.itemgetter(*(column.key for column in ReturnRow.__mapper__.column_attrs))


def _seen(values: dict[str, Any]) -> tuple[Any, ...] | None:
    """What a view is built from: every column's value and the items'; None when the row
    holds no value of some (expired): such a view is not kept. Values are compared by
    equality (a JSON column is replaced, never changed in place: the ORM would not see that
    either)."""
    try:
        columns = _COLUMNS(values)
        items = values["items"]
    except KeyError:
        return None
    return columns, tuple((i.line_id, i.quantity, i.condition, i.unit_price) for i in items)


def return_view_of(
    row: ReturnRow | Row[Any], items: Iterable[ReturnItemRow | ItemToRead]
) -> ReturnOut:
    """The return as the API answers it, from its ORM row or a Core row of the same columns."""
    return ReturnOut(
        id=row.id,
        order_id=row.order_id,
        shop_id=row.shop_id,
        buyer_id=row.buyer_id,
        type=ReturnType(row.type),
        reason=Reason(row.reason),
        fault=Fault(row.fault),
        status=ReturnStatus(row.status),
        version=row.version,
        items=[
            ReturnItemOut(
                line_id=item.line_id,
                quantity=item.quantity,
                condition=Condition(item.condition),
                unit_price=item.unit_price,
            )
            for item in items
        ],
        refund_amount=row.refund_amount,
        currency=row.currency,
        deductions=[DeductionOut(**deduction) for deduction in row.deductions],
        return_shipping_paid_by=ShippingPayer(row.return_shipping_paid_by),
        buyer_flagged=row.buyer_flagged,
        description=row.description,
        evidence=list(row.evidence),
        return_address=(
            ReturnAddressOut(**row.return_address) if row.return_address is not None else None
        ),
        instructions=row.instructions,
        inspection=Inspection(row.inspection) if row.inspection else None,
        dispositions=(
            [DispositionOut(**outcome) for outcome in row.dispositions]
            if row.dispositions is not None
            else None
        ),
        rejection=(
            # Rejections written before evidence was kept carry none.
            RejectionOut(**{"evidence": [], **row.rejection}) if row.rejection is not None else None
        ),
        keep_goods=row.keep_goods,
        offer=OfferOut(**row.offer) if row.offer is not None else None,
        offers_made=row.offers_made,
        shipment=(
            ShipmentOut(
                carrier=row.shipment_carrier or "",
                tracking_number=row.shipment_tracking_number,
                shipped_at=row.shipped_at,
                status=row.shipment_status,
                delivered_at=row.shipment_delivered_at,
            )
            if row.shipment_tracking_number
            else None
        ),
        replacement_shipment=(
            ShipmentOut(
                carrier=row.replacement_carrier or "",
                tracking_number=row.replacement_tracking_number,
                shipped_at=row.replacement_shipped_at,
            )
            if row.replacement_tracking_number
            else None
        ),
        refund=(
            RefundOut(
                amount=row.refunded_amount,
                currency=row.currency,
                reference=row.refund_reference or "",
                refunded_at=row.refunded_at,
            )
            if row.refunded_amount is not None and row.refunded_at is not None
            else None
        ),
        deadline=(
            DeadlineOut(
                action=row.deadline_action,
                actor=row.deadline_actor or "",
                due_at=row.deadline_due_at,
            )
            if row.deadline_action and row.deadline_due_at
            else None
        ),
        receive_extended=row.receive_extensions > 0,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def event_view(row: ReturnEventRow) -> ReturnEventOut:
    return new_event_view({name: getattr(row, name) for name in _EVENT_FIELDS})


_EVENT_FIELDS = ("seq", "type", "from_status", "to_status", "actor_role", "actor_id", "data", "at")


def new_event_view(values: Mapping[str, Any]) -> ReturnEventOut:
    """The view of an event from the values of its row (`timeline.next_event`), so that the
    outbox payload of an event not yet written needs no row built."""
    from_status, to_status = values["from_status"], values["to_status"]
    return ReturnEventOut(
        seq=values["seq"],
        type=values["type"],
        from_status=ReturnStatus(from_status) if from_status else None,
        to_status=ReturnStatus(to_status) if to_status else None,
        actor=ActorOut(role=values["actor_role"], id=values["actor_id"]),
        data=values["data"],
        at=values["at"],
    )
