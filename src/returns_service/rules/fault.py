"""Who is at fault for a reason: it decides the window, the second-sale rule and who pays."""

from __future__ import annotations

from returns_service.rules.vocabulary import Fault, Reason

# A dict rather than an if-chain so a new Reason without a fault fails the exhaustiveness test.
_FAULT_OF_REASON: dict[Reason, Fault] = {
    Reason.NO_REASON: Fault.BUYER,
    Reason.SIZE_MISMATCH: Fault.BUYER,
    Reason.QUALITY_DEFECT: Fault.MERCHANT,
    Reason.NOT_AS_DESCRIBED: Fault.MERCHANT,
    Reason.WRONG_ITEM: Fault.MERCHANT,
    Reason.MISSING_ITEM: Fault.MERCHANT,
    # The merchant chose the carrier, so these are settled on the merchant's side.
    Reason.DAMAGED_IN_TRANSIT: Fault.LOGISTICS,
    Reason.NOT_RECEIVED: Fault.LOGISTICS,
}


def fault_of(reason: Reason) -> Fault:
    """Return who is at fault for a return given for this reason."""
    return _FAULT_OF_REASON[reason]
