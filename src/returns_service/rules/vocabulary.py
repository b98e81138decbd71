"""The words of the returns domain: types, reasons, states, actors."""

from __future__ import annotations

from enum import StrEnum


class ReturnType(StrEnum):
    REFUND_ONLY = "refund_only"
    RETURN_REFUND = "return_refund"
    EXCHANGE = "exchange"
    RESHIP = "reship"

    @property
    def goods_travel_back(self) -> bool:
        return self in (ReturnType.RETURN_REFUND, ReturnType.EXCHANGE)


class Reason(StrEnum):
    NO_REASON = "no_reason"
    SIZE_MISMATCH = "size_mismatch"
    QUALITY_DEFECT = "quality_defect"
    NOT_AS_DESCRIBED = "not_as_described"
    WRONG_ITEM = "wrong_item"
    MISSING_ITEM = "missing_item"
    DAMAGED_IN_TRANSIT = "damaged_in_transit"
    NOT_RECEIVED = "not_received"


class Fault(StrEnum):
    BUYER = "buyer"
    MERCHANT = "merchant"
    LOGISTICS = "logistics"

    @property
    def on_merchant_side(self) -> bool:
        """Logistics faults are the merchant's to settle with the carrier."""
        return self is not Fault.BUYER


class Condition(StrEnum):
    UNOPENED = "unopened"
    OPENED_RESELLABLE = "opened_resellable"
    USED = "used"
    DAMAGED = "damaged"

    @property
    def resellable(self) -> bool:
        return self in (Condition.UNOPENED, Condition.OPENED_RESELLABLE)


class ReturnStatus(StrEnum):
    REQUESTED = "requested"
    # The merchant offered part of the money instead; the buyer accepts or declines.
    OFFERED = "offered"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    SHIPPED = "shipped"
    RECEIVED = "received"
    REFUNDED = "refunded"
    COMPLETED = "completed"
    ARBITRATION = "arbitration"
    CLOSED = "closed"


TERMINAL_STATUSES = frozenset(
    {ReturnStatus.REFUNDED, ReturnStatus.COMPLETED, ReturnStatus.CANCELLED, ReturnStatus.CLOSED}
)

# Returns that ended here no longer hold the units they named: the buyer may return them again.
# A rejection still holds them while it can be escalated; it releases them once it is closed.
RELEASED_STATUSES = frozenset({ReturnStatus.CANCELLED, ReturnStatus.CLOSED})


class Role(StrEnum):
    BUYER = "buyer"
    MERCHANT = "merchant"
    PLATFORM = "platform"
    STOREFRONT = "storefront"
    SYSTEM = "system"
    CARRIER = "carrier"


class Action(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    CANCEL = "cancel"
    SHIP = "ship"
    RECEIVE = "receive"
    REFUND = "refund"
    SEND_REPLACEMENT = "send_replacement"
    ESCALATE = "escalate"
    ARBITRATE = "arbitrate"
    EXTEND = "extend"
    OFFER = "offer"
    ACCEPT_OFFER = "accept_offer"
    DECLINE_OFFER = "decline_offer"
    # Taken only by the system when a deadline passes.
    CLOSE = "close"


class Inspection(StrEnum):
    PASSED = "passed"
    FAILED = "failed"


class Disposition(StrEnum):
    """What became of one returned unit at inspection; only restocked units go back to stock."""

    RESTOCK = "restock"
    REFURBISH = "refurbish"
    SCRAP = "scrap"
    MISSING = "missing"


class ShippingPayer(StrEnum):
    BUYER = "buyer"
    MERCHANT = "merchant"
    INSURANCE = "insurance"


class EventType(StrEnum):
    """What subscribers hear. Each row of the transition table names the one it publishes;
    applying publishes `requested`; messages and carrier reports keep the state."""

    REQUESTED = "return.requested"
    OFFERED = "return.offered"
    APPROVED = "return.approved"
    REJECTED = "return.rejected"
    CANCELLED = "return.cancelled"
    SHIPPED = "return.shipped"
    RECEIVED = "return.received"
    REFUNDED = "return.refunded"
    COMPLETED = "return.completed"
    ARBITRATION = "return.arbitration"
    CLOSED = "return.closed"
    MESSAGE = "return.message"
    CARRIER_EVENT = "return.carrier_event"
    # An extension keeps the state: announcing it as return.shipped again would read as a new
    # shipment to a subscriber.
    DEADLINE_EXTENDED = "return.deadline_extended"
