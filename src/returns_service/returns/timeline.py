"""Every change of a return writes its timeline event, and the outbox event subscribers hear
of it by, in the same transaction."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from returns_service import appended_rows
from returns_service.auth import Caller
from returns_service.models import ReturnEventRow, ReturnRow
from returns_service.models.base import utcnow
from returns_service.orders import repository as orders_repository
from returns_service.outbox import repository as outbox_repository
from returns_service.returns import repository
from returns_service.returns.views import new_event_view, return_view
from returns_service.rules.inspection import UnitOutcome, restocked
from returns_service.rules.vocabulary import (
    Disposition,
    EventType,
    Inspection,
    ReturnStatus,
    Role,
)
from returns_service.statistics import tracking


async def record_event(
    session: AsyncSession,
    row: ReturnRow,
    timeline_type: str,
    event_type: EventType,
    actor: Caller,
    *,
    from_status: str | None,
    to_status: str | None,
    data: dict[str, Any] | None = None,
) -> ReturnEventRow:
    """Append an event to the return's timeline, and publish it as `event_type`.

    The caller holds the return's row lock (or SQLite's write lock), so the sequence number
    it takes, the one after the return's last, cannot be taken twice; the return row keeps
    it (written with the row's other changes), so no statement asks the timeline for it.
    """
    if actor.role in (Role.MERCHANT, Role.PLATFORM):
        # Perhaps the first response to the return: statistics note it as it was before.
        await tracking.before_return_change(session, row)
    values = next_event(
        row, timeline_type, actor, from_status=from_status, to_status=to_status, data=data
    )
    repository.add_event(session, values)
    event = ReturnEventRow(**values)  # not added to the session: queued above already
    # The outbox row rides the same commit: subscribers hear of exactly what was committed.
    outbox_repository.add_event(
        session, **outbox_event(row, values, event_type, await _news(session, row, event_type))
    )
    # The row's own changes are written before the transaction's next statement (a refund
    # summed over the order's returns must see them), or else at commit with the appended
    # rows: on PostgreSQL, an action that reads nothing after its event writes in one.
    appended_rows.flush_before_next_statement(session)
    return event


def next_event(
    row: ReturnRow,
    timeline_type: str,
    actor: Caller,
    *,
    from_status: str | None,
    to_status: str | None,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The return's next timeline event, as the values of its row; the return now counts it
    as its last, and keeps what statistics read of it. No statement: `record_event` and the
    sweep's batches write it."""
    at = utcnow()
    note_what_the_event_tells(row, actor.role, from_status, to_status, at)
    row.last_event_seq += 1
    return {
        "shop_id": row.shop_id,
        "return_id": row.id,
        "seq": row.last_event_seq,
        "type": timeline_type,
        "from_status": from_status,
        "to_status": to_status,
        "actor_role": actor.role.value,
        "actor_id": actor.id,
        "data": data or {},
        "at": at,
    }


def note_what_the_event_tells(
    row: ReturnRow, role: Role, from_status: str | None, to_status: str | None, at: datetime
) -> None:
    """Keep on the row what statistics read of its timeline: an escalation is an event
    entering arbitration; an automatic action a state change (both ends) by the system; the
    first response the first event by a merchant or the platform that is not the
    application (an event entering a state from none)."""
    if to_status == ReturnStatus.ARBITRATION.value:
        row.escalated = True
    if role is Role.SYSTEM and from_status is not None and to_status is not None:
        row.automatic_actions += 1
    responds = role in (Role.MERCHANT, Role.PLATFORM) and not (
        from_status is None and to_status is not None  # the application
    )
    if responds and (row.first_response_at is None or at < row.first_response_at):
        row.first_response_at = at


def outbox_event(
    row: ReturnRow,
    event: dict[str, Any],
    event_type: EventType,
    news: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Tell subscribers what happened: the return as the change left it, the event (its row's
    values, `next_event`), and what else the event type carries (`news`: restock, refund).
    The outbox row's values.

    Goods restocked at inspection go back to stock (`restock`: sku, attributes, quantity);
    a refund says how much went back, where, under which stable reference (`refund`).
    """
    event_json = new_event_view(event).model_dump(mode="json")
    data: dict[str, Any] = {
        "return": return_view(row).model_dump(mode="json"),
        "event": event_json,
        **(news or {}),
    }
    outbox_id = str(uuid.uuid4())
    return {
        "shop_id": row.shop_id,
        "event_id": outbox_id,
        "event_type": event_type.value,
        "return_id": row.id,
        "payload": {
            "type": event_type.value,
            "id": outbox_id,
            "occurred_at": event_json["at"],
            "data": data,
        },
        "created_at": event["at"],
    }


async def _news(session: AsyncSession, row: ReturnRow, event_type: EventType) -> dict[str, Any]:
    """What an event of this type tells beyond the return and the event: the goods going
    back to stock when received, the money when refunded."""
    news: dict[str, Any] = {}
    if event_type is EventType.RECEIVED and (
        row.inspection == Inspection.PASSED.value or row.dispositions
    ):
        news["restock"] = await _restock(session, row)
    if event_type is EventType.REFUNDED and row.refunded_amount is not None:
        news["refund"] = {
            "amount": row.refunded_amount,
            "currency": row.currency,
            "reference": row.refund_reference,
            "method": "original_payment",
        }
    return news


async def _restock(session: AsyncSession, row: ReturnRow) -> list[dict[str, Any]]:
    """The units going back to stock: the restocked outcomes of the inspection, or for a
    return received before outcomes were kept, every unit of a passed one."""
    if row.dispositions is not None:
        units = restocked(
            [
                UnitOutcome(o["line_id"], int(o["quantity"]), Disposition(o["disposition"]))
                for o in row.dispositions
            ]
        )
    else:
        units = {item.line_id: item.quantity for item in row.items}
    lines = await orders_repository.lines_of_order(session, row.shop_id, row.order_id, list(units))
    return [
        {
            "line_id": line_id,
            "sku": lines[line_id].sku,
            "attributes": dict(lines[line_id].attributes),
            "quantity": quantity,
        }
        for line_id, quantity in units.items()
        if line_id in lines
    ]
