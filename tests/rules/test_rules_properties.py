"""Hypothesis at the boundaries: windows, the last unit, and money never refunded twice over."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from returns_service.rules.eligibility import check_application
from returns_service.rules.facts import (
    Application,
    ItemRequest,
    Order,
    OrderLine,
    ReturnPolicy,
)
from returns_service.rules.money import quote_refund, settle_refund
from returns_service.rules.vocabulary import Condition, Reason, ReturnType
from tests.rules.rules_builders import application, item, line, order

BUYER_REASONS = [Reason.NO_REASON, Reason.SIZE_MISMATCH]
MERCHANT_SIDE_REASONS = [r for r in Reason if r not in BUYER_REASONS]

delivery_times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
)


def rules_broken(
    the_order: Order,
    the_application: Application,
    *,
    now: datetime,
    policy: ReturnPolicy | None = None,
    held: Mapping[str, int] | None = None,
) -> set[str]:
    violations = check_application(
        the_order, the_application, policy or ReturnPolicy(), held or {}, now
    )
    return {v.rule for v in violations}


@given(
    days=st.integers(min_value=7, max_value=365),
    delivered_at=delivery_times,
    reason=st.sampled_from(list(Reason)),
)
def test_the_window_is_open_on_its_last_second_and_closed_one_second_later(
    days: int, delivered_at: datetime, reason: Reason
) -> None:
    policy = ReturnPolicy(window_days=days, defect_window_days=days + 8)
    window = days if reason in BUYER_REASONS else days + 8
    closes_at = delivered_at + timedelta(days=window)
    the_order = order(delivered_at=delivered_at)
    the_application = application(reason=reason)
    assert "return_window_expired" not in rules_broken(
        the_order, the_application, policy=policy, now=closes_at
    )
    assert "return_window_expired" in rules_broken(
        the_order, the_application, policy=policy, now=closes_at + timedelta(seconds=1)
    )


@given(data=st.data(), bought=st.integers(min_value=1, max_value=1000))
def test_the_last_returnable_unit_may_go_back_and_no_more(data: st.DataObject, bought: int) -> None:
    held = data.draw(st.integers(min_value=0, max_value=bought - 1), label="already_returned")
    the_order = order(line(quantity=bought))
    now = the_order.delivered_at
    assert now is not None
    last = application(item(quantity=bought - held))
    one_more = application(item(quantity=bought - held + 1))
    assert rules_broken(the_order, last, held={"l1": held}, now=now) == set()
    assert rules_broken(the_order, one_more, held={"l1": held}, now=now) == {
        "quantity_exceeds_returnable"
    }


order_lines = st.lists(
    st.builds(
        OrderLine,
        line_id=st.text(alphabet="abc123", min_size=1, max_size=4),
        sku=st.just("SKU"),
        category=st.sampled_from(["apparel", "shoes", "fresh_food"]),
        unit_price=st.integers(min_value=0, max_value=10**7),
        quantity=st.integers(min_value=1, max_value=20),
    ),
    min_size=1,
    max_size=5,
    unique_by=lambda ol: ol.line_id,
)


@st.composite
def orders_with_returns(draw: st.DrawFn) -> tuple[Order, ReturnPolicy, list[Application]]:
    lines = tuple(draw(order_lines))
    the_order = order(
        *lines,
        shipping_fee=draw(st.integers(min_value=0, max_value=5000)),
        shipping_insurance=draw(st.booleans()),
    )
    policy = ReturnPolicy(restocking_fee_percent=draw(st.integers(min_value=0, max_value=100)))
    # Deliberately unchecked applications (any quantity, any reason): the money rules alone must
    # hold the line even when eligibility was skipped.
    items = st.lists(
        st.builds(
            ItemRequest,
            line_id=st.sampled_from([ol.line_id for ol in lines]),
            quantity=st.integers(min_value=1, max_value=25),
            condition=st.sampled_from(list(Condition)),
        ),
        min_size=1,
        max_size=4,
    )
    applications = draw(
        st.lists(
            st.builds(
                Application,
                return_type=st.sampled_from(list(ReturnType)),
                reason=st.sampled_from(list(Reason)),
                items=items.map(tuple),
            ),
            max_size=6,
        )
    )
    return the_order, policy, applications


@given(case=orders_with_returns(), data=st.data())
def test_no_order_is_ever_refunded_past_what_was_paid(
    case: tuple[Order, ReturnPolicy, list[Application]], data: st.DataObject
) -> None:
    the_order, policy, applications = case
    refunded = 0
    for the_application in applications:
        quote = quote_refund(the_order, the_application, policy)
        assert 0 <= quote.amount <= the_order.paid_total
        ask_for = data.draw(st.none() | st.integers(min_value=1, max_value=quote.amount + 1))
        with contextlib.suppress(ValueError):  # a refused refund pays nothing
            refunded += settle_refund(ask_for, quote.amount, the_order, refunded)
        assert refunded <= the_order.paid_total


@given(
    delivered_at=delivery_times,
    late_by=st.integers(min_value=1, max_value=10**6),
    category=st.sampled_from(["custom_made", "fresh_food", "digital"]),
    condition=st.sampled_from([Condition.USED, Condition.DAMAGED]),
    reason=st.sampled_from(BUYER_REASONS),
)
def test_an_application_breaking_three_rules_hears_about_all_three(
    delivered_at: datetime, late_by: int, category: str, condition: Condition, reason: Reason
) -> None:
    the_order = order(line(category=category), delivered_at=delivered_at)
    now = delivered_at + timedelta(days=7, seconds=late_by)
    the_application = application(item(condition=condition), reason=reason)
    assert rules_broken(the_order, the_application, now=now) == {
        "return_window_expired",
        "category_excluded",
        "not_resellable",
    }


@given(reason=st.sampled_from(MERCHANT_SIDE_REASONS), delivered_at=delivery_times)
def test_a_defect_claim_on_the_same_goods_breaks_none_of_them(
    reason: Reason, delivered_at: datetime
) -> None:
    the_order = order(line(category="fresh_food"), delivered_at=delivered_at)
    claim = application(item(condition=Condition.DAMAGED), reason=reason)
    assert rules_broken(the_order, claim, now=delivered_at + timedelta(days=15)) == set()
