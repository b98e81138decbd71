"""A buyer's standing: frequent returners are flagged, buyers in good standing are paid fast."""

from __future__ import annotations

from returns_service.rules.facts import ReturnPolicy

# "At most 3 refunds in the last 30 days" is the platform rule, not a shop setting.
FAST_REFUND_MAX_RECENT_REFUNDS = 3


def is_frequent_returner(returns_in_window: int, policy: ReturnPolicy) -> bool:
    """Return whether a buyer is flagged for returning too often.

    `returns_in_window` counts the buyer's returns to the shop within the last
    `policy.abuse_threshold.days` days INCLUDING the one being applied for. The threshold reads
    "more than N returns in D days", so with the default 5/30 the 6th return is flagged and the
    5th is not.
    """
    return returns_in_window > policy.abuse_threshold.returns


def in_good_standing(refunds_last_30_days: int, flagged: bool) -> bool:
    """Return whether a buyer is in good standing: not flagged, few refunds lately."""
    return not flagged and refunds_last_30_days <= FAST_REFUND_MAX_RECENT_REFUNDS


def qualifies_for_fast_refund(
    refunds_last_30_days: int, flagged: bool, policy: ReturnPolicy
) -> bool:
    """Return whether the money goes out before the goods are back (极速退款)."""
    return policy.fast_refund and in_good_standing(refunds_last_30_days, flagged)
