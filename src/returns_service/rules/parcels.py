"""What a carrier's tracking event means for a parcel: progress only ever goes forward."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from returns_service.rules.vocabulary import ReturnStatus, ReturnType


class ParcelEvent(StrEnum):
    PICKED_UP = "picked_up"
    IN_TRANSIT = "in_transit"
    DELIVERED = "delivered"
    REFUSED = "refused"
    RETURNED_TO_SENDER = "returned_to_sender"
    EXCEPTION = "exception"


# The shipment status a return has once the buyer gives a tracking number.
SHIPPED = "shipped"

# Where each status stands on the way to the merchant. Events are delivered out of order;
# one that is not further along than the parcel already is changes nothing.
_PROGRESS: dict[str, int] = {
    SHIPPED: 0,
    ParcelEvent.PICKED_UP: 1,
    ParcelEvent.IN_TRANSIT: 2,
    ParcelEvent.DELIVERED: 3,
}

# The buyer refused the outbound parcel, or it went back to the merchant: the goods never
# reached the buyer, so a refund-only return can be paid without waiting (拒签后退款).
_REFUSAL_EVENTS = frozenset({ParcelEvent.REFUSED, ParcelEvent.RETURNED_TO_SENDER})
_OPEN_STATUSES = frozenset({ReturnStatus.REQUESTED, ReturnStatus.APPROVED})


def carrier_key(carrier: str) -> str:
    """A carrier's name as parcels are matched on it: trimmed and case-folded ("SF " is "sf")."""
    return carrier.strip().casefold()


def tracking_key(tracking_number: str) -> str:
    """A tracking number as it is stored and matched: trimmed and upper-cased."""
    return tracking_number.strip().upper()


def same_parcel(carrier: str | None, other_carrier: str) -> bool:
    """Whether two carrier names, once normalised, name the same carrier (a parcel is
    identified by carrier and tracking number together). No carrier matches none."""
    return carrier is not None and carrier_key(carrier) == carrier_key(other_carrier)


# A carrier's clock and ours may disagree by a little; a parcel that moved well before the
# return was even applied for cannot be that return's parcel (a buyer typing the tracking
# number of some other, already delivered parcel to start the merchant's clock).
CLOCK_TOLERANCE = timedelta(hours=6)


def could_carry_return(occurred_at: datetime, return_applied_at: datetime) -> bool:
    """Whether an event of this moment can be about the parcel of a return applied for then."""
    return occurred_at >= return_applied_at - CLOCK_TOLERANCE


def advances(shipment_status: str | None, event: ParcelEvent) -> bool:
    """Whether the event moves a parcel that is at `shipment_status` further along.

    Refusals, returns to sender and exceptions are recorded, never progress; an unknown
    current status counts as just shipped.
    """
    if event not in _PROGRESS:
        return False
    return _PROGRESS[event] > _PROGRESS.get(shipment_status or SHIPPED, 0)


def refusal_settles_refund(
    event: ParcelEvent,
    return_type: ReturnType,
    status: ReturnStatus,
    order_shipped: bool,
    order_delivered: bool,
) -> bool:
    """Whether this event on the order's outbound parcel refunds the return by the system.

    Only an open refund-only return of an order that was shipped and never delivered: the
    merchant gets its goods back from the carrier, so nothing is left to decide.
    """
    return (
        event in _REFUSAL_EVENTS
        and return_type is ReturnType.REFUND_ONLY
        and status in _OPEN_STATUSES
        and order_shipped
        and not order_delivered
    )
