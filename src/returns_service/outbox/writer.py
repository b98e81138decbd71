"""Write the outbox event of a timeline event, in the same transaction."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from returns_service.models import OutboxEventRow, ReturnEventRow, ReturnRow
from returns_service.outbox import repository
from returns_service.outbox.events import outbox_type
from returns_service.returns.views import event_view, return_view
from returns_service.rules.vocabulary import Inspection, ReturnStatus

RECEIVED = f"return.{ReturnStatus.RECEIVED.value}"
REFUNDED = f"return.{ReturnStatus.REFUNDED.value}"


async def write_outbox_event(
    session: AsyncSession, row: ReturnRow, event: ReturnEventRow
) -> OutboxEventRow:
    """Tell subscribers what happened: the return as the change left it, and the event.

    Goods that passed inspection go back to stock (`restock`: sku, attributes, quantity);
    a refund says how much went back, where, under which stable reference (`refund`).
    """
    event_type = outbox_type(event)
    event_json = event_view(event).model_dump(mode="json")
    data: dict[str, Any] = {
        "return": return_view(row).model_dump(mode="json"),
        "event": event_json,
    }
    if event_type == RECEIVED and row.inspection == Inspection.PASSED.value:
        data["restock"] = await _restock(session, row)
    if event_type == REFUNDED and row.refunded_amount is not None:
        data["refund"] = {
            "amount": row.refunded_amount,
            "currency": row.currency,
            "reference": row.refund_reference,
            "method": "original_payment",
        }
    outbox_id = str(uuid.uuid4())
    outbox_event = OutboxEventRow(
        shop_id=row.shop_id,
        id=outbox_id,
        type=event_type,
        return_id=row.id,
        payload={
            "type": event_type,
            "id": outbox_id,
            "occurred_at": event_json["at"],
            "data": data,
        },
        created_at=event.at,
    )
    await repository.add_event(session, outbox_event)
    return outbox_event


async def _restock(session: AsyncSession, row: ReturnRow) -> list[dict[str, Any]]:
    lines = await repository.order_lines(
        session, row.shop_id, row.order_id, [item.line_id for item in row.items]
    )
    return [
        {
            "line_id": item.line_id,
            "sku": lines[item.line_id].sku,
            "attributes": dict(lines[item.line_id].attributes),
            "quantity": item.quantity,
        }
        for item in row.items
        if item.line_id in lines
    ]
