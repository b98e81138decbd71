"""Carrier tracking events: verify the signature, act once per webhook-id, never go backwards."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from returns_service.auth import SYSTEM_CALLER, Caller
from returns_service.carriers import repository
from returns_service.carriers.schemas import LogisticsEvent, LogisticsReceipt
from returns_service.errors import Unauthenticated, ValidationFailed
from returns_service.models import ReturnRow
from returns_service.models.base import utcnow
from returns_service.orders import repository as orders_repository
from returns_service.returns import repository as returns_repository
from returns_service.returns.lifecycle import move, start_receive_deadline
from returns_service.returns.refunds import pay_refund
from returns_service.returns.timeline import record_event
from returns_service.rules.parcels import (
    ParcelEvent,
    advances,
    could_carry_return,
    refusal_settles_refund,
)
from returns_service.rules.vocabulary import Action, EventType, ReturnStatus, ReturnType, Role
from returns_service.timestamps import api_timestamp

CARRIER_EVENT = "carrier_event"
SIGNATURE_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
MAX_WEBHOOK_ID_LENGTH = 256

# Which parcel of a return the tracking number named.
RETURN_PARCEL = "return_shipment"
ORDER_PARCEL = "order_shipment"


def verify_signature(secret: str, body: bytes, headers: Mapping[str, str]) -> str:
    """Check the Standard Webhooks signature of the raw body; answer the webhook-id.

    Missing headers, a signature that does not match and a timestamp more than five minutes
    away from now are all the same 401: a sender learns nothing from which one it was.
    """
    signed = {name: headers[name] for name in SIGNATURE_HEADERS if name in headers}
    verifier = Webhook(secret)  # outside the try: a broken secret is our fault, not a 401
    try:
        verifier.verify(body, signed, json_parse=False)
    except (WebhookVerificationError, ValueError) as error:
        # ValueError covers what the library does not catch itself: a body that is not UTF-8,
        # a signature without its "v1," or with broken base64.
        raise Unauthenticated("the webhook signature is missing, wrong or stale") from error
    webhook_id = signed["webhook-id"]
    if len(webhook_id) > MAX_WEBHOOK_ID_LENGTH:
        raise ValidationFailed(
            "webhook-id is too long",
            [
                {
                    "loc": ["header", "webhook-id"],
                    "msg": f"at most {MAX_WEBHOOK_ID_LENGTH} characters",
                    "type": "string_too_long",
                }
            ],
        )
    return webhook_id


def parse_event(body: bytes) -> LogisticsEvent:
    """The event in a body whose signature was verified; 422 when it is not one."""
    try:
        return LogisticsEvent.model_validate_json(body)
    except ValidationError as error:
        raise ValidationFailed(
            "the logistics event is not valid",
            [
                {"loc": ["body", *item["loc"]], "msg": item["msg"], "type": item["type"]}
                for item in error.errors(include_url=False, include_context=False)
            ],
        ) from error


async def receive_logistics_event(
    session: AsyncSession, secret: str, body: bytes, headers: Mapping[str, str]
) -> LogisticsReceipt:
    """Verify, then act on the event once: later deliveries of the same webhook-id are
    answered from the receipt the first one wrote."""
    webhook_id = verify_signature(secret, body, headers)
    event = parse_event(body)
    claimed = await repository.claim_delivery(
        session,
        webhook_id=webhook_id,
        received_at=utcnow(),
        carrier=event.carrier,
        tracking_number=event.tracking_number,
        event=event.event,
        occurred_at=event.occurred_at,
    )
    if not claimed:
        receipt = await repository.find_delivery(session, webhook_id)
        matched = list(receipt.matched_returns) if receipt is not None else []
        return LogisticsReceipt(
            webhook_id=webhook_id, duplicate=True, matched=bool(matched), matched_returns=matched
        )
    acted_on = await _act_on_event(session, webhook_id, event)
    shops = {row.shop_id for row in acted_on}
    matched_ids = [row.id for row in acted_on]
    await repository.record_matches(
        session, webhook_id, shops.pop() if len(shops) == 1 else None, matched_ids
    )
    return LogisticsReceipt(
        webhook_id=webhook_id,
        duplicate=False,
        matched=bool(matched_ids),
        matched_returns=matched_ids,
    )


async def _act_on_event(
    session: AsyncSession, webhook_id: str, event: LogisticsEvent
) -> list[ReturnRow]:
    """Every return the parcel (carrier and tracking number) reaches, locked in id order, then
    acted on.

    All rows are locked before any is changed: a refund locks the order after its return, and
    taking every return first keeps that order for the returns of one order too.
    """
    by_return_parcel = await repository.returns_shipped_with(
        session, event.carrier, event.tracking_number
    )
    by_order_parcel = await repository.refund_only_returns_of_parcel(
        session, event.carrier, event.tracking_number
    )
    parcels = {return_id: ORDER_PARCEL for return_id in by_order_parcel}
    # A return's own parcel says more about it than its order's does.
    parcels.update({return_id: RETURN_PARCEL for return_id in by_return_parcel})
    locked: list[tuple[ReturnRow, str]] = []
    for return_id in sorted(parcels):
        row = await returns_repository.find_return(session, return_id, for_update=True)
        if row is not None:
            locked.append((row, parcels[return_id]))
    for row, parcel in locked:
        if parcel == RETURN_PARCEL:
            # The event is written after the change, so subscribers see the parcel delivered.
            await _track_return_parcel(session, row, event)
            await _record_carrier_event(session, row, webhook_id, event, parcel)
        else:
            # Here the carrier's word comes first on the timeline, then what the system did.
            await _record_carrier_event(session, row, webhook_id, event, parcel)
            await _settle_refused_order_parcel(session, row, webhook_id, event)
    return [row for row, _ in locked]


async def _record_carrier_event(
    session: AsyncSession, row: ReturnRow, webhook_id: str, event: LogisticsEvent, parcel: str
) -> None:
    await record_event(
        session,
        row,
        CARRIER_EVENT,
        EventType.CARRIER_EVENT,
        Caller(role=Role.CARRIER, id=event.carrier),
        from_status=None,
        to_status=None,
        data={
            "event": event.event,
            "occurred_at": api_timestamp(event.occurred_at),
            "tracking_number": event.tracking_number,
            "webhook_id": webhook_id,
            "parcel": parcel,
        },
    )


async def _track_return_parcel(
    session: AsyncSession, row: ReturnRow, event: LogisticsEvent
) -> None:
    """Move the parcel of a shipped return forward; on delivery, start the merchant's clock.

    An event older than what the parcel already reached (in_transit after delivered), or from
    before the return was applied for, is on the timeline and changes nothing else.
    """
    kind = ParcelEvent(event.event)
    if (
        row.status != ReturnStatus.SHIPPED.value
        or not advances(row.shipment_status, kind)
        or not could_carry_return(event.occurred_at, row.created_at)
    ):
        return
    row.shipment_status = kind.value
    if kind is ParcelEvent.DELIVERED:
        row.shipment_delivered_at = event.occurred_at
        await start_receive_deadline(session, row, event.occurred_at)
    row.version += 1
    row.updated_at = utcnow()


async def _settle_refused_order_parcel(
    session: AsyncSession, row: ReturnRow, webhook_id: str, event: LogisticsEvent
) -> None:
    """Refund an open refund-only return by the system when its order's parcel came back."""
    order = await orders_repository.find_order_of_shop(session, row.shop_id, row.order_id)
    if order is None:  # a return keeps its order (foreign key); nothing to settle without it
        return
    if not refusal_settles_refund(
        ParcelEvent(event.event),
        ReturnType(row.type),
        ReturnStatus(row.status),
        order_shipped=order.shipped_at is not None,
        order_delivered=order.delivered_at is not None,
    ):
        return
    because: dict[str, Any] = {
        "cause": CARRIER_EVENT,
        "event": event.event,
        "webhook_id": webhook_id,
    }
    if row.status == ReturnStatus.REQUESTED.value:
        await move(session, row, Action.APPROVE, SYSTEM_CALLER, data=because)
    await pay_refund(session, row, SYSTEM_CALLER, None, data=because)
