"""SQL for carrier webhooks: their receipts, and the returns a parcel (carrier and tracking
number) reaches."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import and_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from returns_service.models import CarrierDeliveryRow, OrderRow, ReturnRow
from returns_service.rules.parcels import same_parcel, tracking_key
from returns_service.rules.vocabulary import TERMINAL_STATUSES, ReturnType

_TERMINAL = [status.value for status in TERMINAL_STATUSES]


async def claim_delivery(
    session: AsyncSession,
    *,
    webhook_id: str,
    received_at: datetime,
    carrier: str,
    tracking_number: str,
    event: str,
    occurred_at: datetime,
) -> bool:
    """Write the receipt of this webhook-id unless one exists; answer whether this call did.

    On PostgreSQL a second delivery racing the first waits on the first's uncommitted row and
    then finds it; on SQLite writers are serialized already. Either way one of them acts.
    """
    values: dict[str, object] = {
        "webhook_id": webhook_id,
        "shop_id": None,
        "received_at": received_at,
        "carrier": carrier,
        "tracking_number": tracking_number,
        "event": event,
        "occurred_at": occurred_at,
        "matched": False,
        "matched_returns": [],
    }
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(CarrierDeliveryRow)
        .values(values)
        .on_conflict_do_nothing(index_elements=[CarrierDeliveryRow.webhook_id])
        .returning(CarrierDeliveryRow.webhook_id)
    )
    return (await session.execute(statement)).scalar_one_or_none() is not None


async def find_delivery(session: AsyncSession, webhook_id: str) -> CarrierDeliveryRow | None:
    return await session.get(CarrierDeliveryRow, webhook_id)


async def record_matches(
    session: AsyncSession, webhook_id: str, shop_id: str | None, return_ids: Sequence[str]
) -> None:
    statement = (
        update(CarrierDeliveryRow)
        .where(CarrierDeliveryRow.webhook_id == webhook_id)
        .values(shop_id=shop_id, matched=bool(return_ids), matched_returns=list(return_ids))
    )
    await session.execute(statement)


async def returns_shipped_with(
    session: AsyncSession, carrier: str, tracking_number: str
) -> Sequence[str]:
    """Ids of the returns whose goods travel back in this parcel: the tracking number (stored
    normalised) and the carrier (compared normalised) both match."""
    statement = (
        select(ReturnRow.id, ReturnRow.shipment_carrier)
        .where(ReturnRow.shipment_tracking_number == tracking_key(tracking_number))
        .order_by(ReturnRow.id)
    )
    rows = await session.execute(statement)
    return [return_id for return_id, shipped_by in rows if same_parcel(shipped_by, carrier)]


async def refund_only_returns_of_parcel(
    session: AsyncSession, carrier: str, tracking_number: str
) -> Sequence[str]:
    """Ids of the refund-only returns, not yet ended, of the orders sent out in this parcel.

    An order registered without a carrier names no parcel an event can be matched to.
    """
    statement = (
        select(ReturnRow.id, OrderRow.carrier)
        .join(
            OrderRow,
            and_(OrderRow.shop_id == ReturnRow.shop_id, OrderRow.id == ReturnRow.order_id),
        )
        .where(
            OrderRow.tracking_number == tracking_key(tracking_number),
            ReturnRow.type == ReturnType.REFUND_ONLY.value,
            ReturnRow.status.not_in(_TERMINAL),
        )
        .order_by(ReturnRow.id)
    )
    rows = await session.execute(statement)
    return [return_id for return_id, sent_by in rows if same_parcel(sent_by, carrier)]
