"""May this return be applied for? Every refusal that applies, so the buyer can fix them at once."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta

from returns_service.rules.facts import (
    Application,
    ItemRequest,
    Order,
    OrderLine,
    ReturnPolicy,
    Violation,
)
from returns_service.rules.fault import fault_of
from returns_service.rules.vocabulary import Fault, Reason, ReturnType

LEGAL_MINIMUM_WINDOW_DAYS = 7
LEGAL_MINIMUM_DEFECT_WINDOW_DAYS = 15

# Goods the law exempts from buyer-fault returns; shops may add to this set, never remove from it.
LEGAL_EXCLUDED_CATEGORIES: frozenset[str] = frozenset(
    {
        "custom_made",
        "fresh_food",
        "perishable",
        "digital",
        "audio_video_software",
        "newspapers_periodicals",
    }
)

# A reship sends out what never arrived; it cannot answer a change of mind or a defect.
RESHIP_REASONS: frozenset[Reason] = frozenset(
    {Reason.MISSING_ITEM, Reason.NOT_RECEIVED, Reason.DAMAGED_IN_TRANSIT, Reason.WRONG_ITEM}
)

_TYPES_NEEDING_DELIVERY = frozenset(
    {ReturnType.RETURN_REFUND, ReturnType.EXCHANGE, ReturnType.RESHIP}
)


def check_application(
    order: Order,
    application: Application,
    policy: ReturnPolicy,
    already_returned: Mapping[str, int],
    now: datetime,
) -> tuple[Violation, ...]:
    """Return every rule the application breaks: the whole application first, then item by item.

    `already_returned` holds, per line, the units other unreleased returns of the order hold.
    """
    return (
        *_check_whole_application(order, application, policy, now),
        *_check_items(order, application, policy, already_returned),
    )


def _check_whole_application(
    order: Order, application: Application, policy: ReturnPolicy, now: datetime
) -> Iterator[Violation]:
    kind, reason = application.return_type, application.reason
    buyer_fault = fault_of(reason) is Fault.BUYER
    if not application.items:
        yield Violation("no_items", "A return must name at least one item of the order.")
    if kind is ReturnType.RESHIP and reason not in RESHIP_REASONS:
        allowed = ", ".join(sorted(RESHIP_REASONS))
        yield Violation(
            "reason_not_allowed_for_type",
            f"A reship is only for items that did not arrive as ordered ({allowed}), "
            f"not for the reason {reason.value}.",
        )
    delivered_at = order.delivered_at
    if delivered_at is None:
        # Nothing was received, so no window runs and refund-only is always open.
        if kind in _TYPES_NEEDING_DELIVERY:
            yield Violation(
                "order_not_delivered",
                f"The order has not been delivered yet, so a {kind.value} is not possible; "
                "apply for a refund only instead.",
            )
        return
    window_days = policy.window_days if buyer_fault else policy.defect_window_days
    closes_at = delivered_at + timedelta(days=window_days)
    if now > closes_at:  # the last instant of the window is still inside it
        yield Violation(
            "return_window_expired",
            f"The {window_days}-day return window for this reason closed at "
            f"{closes_at.isoformat()}.",
        )
    if buyer_fault and kind is ReturnType.REFUND_ONLY:
        yield Violation(
            "goods_must_be_returned",
            f"For the reason {reason.value} the delivered goods must be sent back: "
            "apply for a return and refund instead of a refund only.",
        )


def _check_items(
    order: Order,
    application: Application,
    policy: ReturnPolicy,
    already_returned: Mapping[str, int],
) -> Iterator[Violation]:
    seen: set[str] = set()
    for item in application.items:
        line = order.line(item.line_id)
        if line is None:
            yield Violation(
                "unknown_line", f"The order {order.order_id} has no line {item.line_id}."
            )
            continue
        if item.line_id in seen:
            # The first mention was checked already; checking again would only repeat its findings.
            yield Violation(
                "duplicate_line",
                f"The line {item.line_id} is named more than once; name each line once "
                "with the total quantity.",
            )
            continue
        seen.add(item.line_id)
        yield from _check_quantity(item, line, already_returned.get(line.line_id, 0))
        yield from _check_buyer_fault_item(order, application, policy, item, line)


def _check_quantity(item: ItemRequest, line: OrderLine, held: int) -> Iterator[Violation]:
    if item.quantity < 1:
        yield Violation(
            "quantity_invalid",
            f"The quantity for line {line.line_id} must be at least 1, not {item.quantity}.",
        )
        return
    returnable = max(0, line.quantity - held)
    if item.quantity > returnable:
        yield Violation(
            "quantity_exceeds_returnable",
            f"Only {returnable} of the {line.quantity} units of line {line.line_id} can still "
            f"be returned, not {item.quantity}.",
        )


def _check_buyer_fault_item(
    order: Order, application: Application, policy: ReturnPolicy, item: ItemRequest, line: OrderLine
) -> Iterator[Violation]:
    # Merchant and logistics faults are claims, not returns by choice: neither rule binds them.
    # Before delivery nothing has been received, so refunding an undelivered order is always
    # possible, whatever the category (未发货仅退款).
    if fault_of(application.reason) is not Fault.BUYER or order.delivered_at is None:
        return
    excluded = LEGAL_EXCLUDED_CATEGORIES | policy.extra_excluded_categories
    if line.category in excluded:
        yield Violation(
            "category_excluded",
            f"Goods of the category {line.category} (line {line.line_id}) cannot be returned "
            "without a defect, a wrong item or a missing item.",
        )
    if not item.condition.resellable:
        yield Violation(
            "not_resellable",
            f"Line {line.line_id} is declared {item.condition.value}: goods returned without "
            "a defect must be unused, with packaging and tags intact.",
        )


def check_policy(policy: ReturnPolicy) -> tuple[Violation, ...]:
    """Return every way a shop policy breaks the law or cannot work."""
    return tuple(_check_policy(policy))


def _check_policy(policy: ReturnPolicy) -> Iterator[Violation]:
    if policy.window_days < LEGAL_MINIMUM_WINDOW_DAYS:
        yield Violation(
            "window_below_legal_minimum",
            f"The return window must be at least {LEGAL_MINIMUM_WINDOW_DAYS} days, "
            f"not {policy.window_days}.",
        )
    if policy.defect_window_days < LEGAL_MINIMUM_DEFECT_WINDOW_DAYS:
        yield Violation(
            "defect_window_below_legal_minimum",
            f"The window for defects must be at least {LEGAL_MINIMUM_DEFECT_WINDOW_DAYS} days, "
            f"not {policy.defect_window_days}.",
        )
    if not 0 <= policy.restocking_fee_percent <= 100:
        yield Violation(
            "restocking_fee_out_of_range",
            f"The restocking fee must be between 0 and 100 percent, "
            f"not {policy.restocking_fee_percent}.",
        )
    timeouts = {
        "review_timeout": policy.review_timeout,
        "ship_timeout": policy.ship_timeout,
        "receive_timeout": policy.receive_timeout,
        "escalation_timeout": policy.escalation_timeout,
        "offer_timeout": policy.offer_timeout,
    }
    for name, timeout in timeouts.items():
        if timeout <= timedelta(0):
            yield Violation("timeout_not_positive", f"The {name} must be longer than zero.")
    threshold = policy.abuse_threshold
    if threshold.returns < 1 or threshold.days < 1:
        yield Violation(
            "abuse_threshold_invalid",
            "The abuse threshold needs at least 1 return over at least 1 day, "
            f"not {threshold.returns} returns over {threshold.days} days.",
        )
