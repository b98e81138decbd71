"""Which clock starts when a return enters a state, and what the system does when it runs out."""

from __future__ import annotations

from datetime import datetime

from returns_service.rules.facts import Deadline, ReturnPolicy
from returns_service.rules.vocabulary import Action, ReturnStatus, ReturnType, Role

REVIEW = "review"
SHIP = "ship"
RECEIVE = "receive"
ESCALATE = "escalate"
REFUND = "refund"
OFFER = "offer"

# What the system does when each deadline passes, as the `system` actor of the transition table.
_TIMER_ACTIONS: dict[str, Action] = {
    REVIEW: Action.APPROVE,  # silence is consent: the merchant had its chance to refuse
    SHIP: Action.CLOSE,  # the buyer never sent the goods
    RECEIVE: Action.REFUND,  # the carrier says the goods arrived; the merchant did not act
    ESCALATE: Action.CLOSE,  # the rejection becomes final
    REFUND: Action.REFUND,  # an approved refund-only is paid even if the merchant forgets
    OFFER: Action.DECLINE_OFFER,  # a buyer who says nothing has not agreed to less money
}


def deadline_on_entering(
    status: ReturnStatus,
    return_type: ReturnType,
    policy: ReturnPolicy,
    entered_at: datetime,
    *,
    keep_goods: bool = False,
) -> Deadline | None:
    """Return the deadline that starts when a return enters `status`, if any.

    SHIPPED starts none: the merchant's clock runs only once the carrier reports delivery
    (see receive_deadline). A return approved with the goods kept waits for its refund as a
    refund-only does.
    """
    if status is ReturnStatus.REQUESTED:
        return Deadline(REVIEW, Role.MERCHANT, entered_at + policy.review_timeout)
    if status is ReturnStatus.APPROVED:
        if return_type.goods_travel_back and not keep_goods:
            return Deadline(SHIP, Role.BUYER, entered_at + policy.ship_timeout)
        if return_type is ReturnType.REFUND_ONLY or keep_goods:
            return Deadline(REFUND, Role.MERCHANT, entered_at + policy.review_timeout)
        return None  # a reship waits on the merchant's parcel; no timer can send it
    if status is ReturnStatus.OFFERED:
        return Deadline(OFFER, Role.BUYER, entered_at + policy.offer_timeout)
    if status is ReturnStatus.REJECTED:
        return Deadline(ESCALATE, Role.BUYER, entered_at + policy.escalation_timeout)
    return None


def receive_deadline(policy: ReturnPolicy, delivered_at: datetime, extensions: int = 0) -> Deadline:
    """Return the merchant's deadline to receive goods delivered to it, after `extensions`."""
    due_at = delivered_at + policy.receive_timeout * (1 + extensions)
    return Deadline(RECEIVE, Role.MERCHANT, due_at)


def timer_action(deadline_action: str, return_type: ReturnType) -> Action:
    """Return the action the system takes when a deadline of this kind passes.

    `return_type` is in the signature so a type may time out differently without changing
    callers; today every type is treated alike. Raises ValueError for an unknown deadline.
    """
    try:
        return _TIMER_ACTIONS[deadline_action]
    except KeyError:
        raise ValueError(f"no timer acts on a {deadline_action!r} deadline") from None
