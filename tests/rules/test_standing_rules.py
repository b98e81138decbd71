"""Frequent returners are flagged; buyers in good standing get their money fast."""

from __future__ import annotations

import pytest

from returns_service.rules.facts import AbuseThreshold, ReturnPolicy
from returns_service.rules.standing import (
    FAST_REFUND_MAX_RECENT_REFUNDS,
    is_frequent_returner,
    qualifies_for_fast_refund,
)

FAST = ReturnPolicy(fast_refund=True)


def test_more_than_five_returns_in_thirty_days_flags_the_buyer() -> None:
    # The count includes the return being applied for: the fifth is fine, the sixth is flagged.
    assert not is_frequent_returner(5, ReturnPolicy())
    assert is_frequent_returner(6, ReturnPolicy())


def test_a_shop_sets_its_own_threshold() -> None:
    strict = ReturnPolicy(abuse_threshold=AbuseThreshold(returns=1, days=7))
    assert not is_frequent_returner(1, strict)
    assert is_frequent_returner(2, strict)


def test_a_buyer_with_three_recent_refunds_still_gets_a_fast_refund_but_not_with_four() -> None:
    assert FAST_REFUND_MAX_RECENT_REFUNDS == 3
    assert qualifies_for_fast_refund(3, flagged=False, policy=FAST)
    assert not qualifies_for_fast_refund(4, flagged=False, policy=FAST)


def test_a_flagged_buyer_never_gets_a_fast_refund() -> None:
    assert not qualifies_for_fast_refund(0, flagged=True, policy=FAST)


@pytest.mark.parametrize("refunds", [0, 3])
def test_no_fast_refund_unless_the_shop_enables_it(refunds: int) -> None:
    assert not qualifies_for_fast_refund(refunds, flagged=False, policy=ReturnPolicy())
