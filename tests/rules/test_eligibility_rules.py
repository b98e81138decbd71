"""check_application: each rule refusing at its edge and allowing just inside it."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

import pytest

from returns_service.rules.eligibility import LEGAL_EXCLUDED_CATEGORIES, check_application
from returns_service.rules.facts import Application, Order, ReturnPolicy
from returns_service.rules.vocabulary import Condition, Reason, ReturnType
from tests.rules.rules_builders import DELIVERED_AT, application, item, line, order

POLICY = ReturnPolicy()
SOON = DELIVERED_AT + timedelta(days=1)

BUYER_REASONS = (Reason.NO_REASON, Reason.SIZE_MISMATCH)
MERCHANT_SIDE_REASONS = tuple(r for r in Reason if r not in BUYER_REASONS)
GOODS_BACK = (ReturnType.RETURN_REFUND, ReturnType.EXCHANGE)


def rules_broken(
    the_order: Order,
    the_application: Application,
    *,
    policy: ReturnPolicy = POLICY,
    already_returned: Mapping[str, int] | None = None,
    now: datetime = SOON,
) -> list[str]:
    violations = check_application(the_order, the_application, policy, already_returned or {}, now)
    return [v.rule for v in violations]


def test_a_plain_no_reason_return_within_the_window_is_eligible() -> None:
    assert rules_broken(order(), application()) == []


def test_a_return_naming_no_items_is_refused() -> None:
    empty = Application(ReturnType.RETURN_REFUND, Reason.NO_REASON, ())
    assert rules_broken(order(), empty) == ["no_items"]


def test_a_line_the_order_does_not_have_is_refused() -> None:
    assert rules_broken(order(), application(item("nope"))) == ["unknown_line"]


def test_naming_a_line_twice_is_refused_once() -> None:
    twice = application(item("l1", 1), item("l1", 1))
    assert rules_broken(order(line(quantity=2)), twice) == ["duplicate_line"]


@pytest.mark.parametrize("quantity", [0, -1])
def test_a_quantity_below_one_is_refused(quantity: int) -> None:
    assert rules_broken(order(), application(item(quantity=quantity))) == ["quantity_invalid"]


def test_the_last_returnable_unit_may_be_returned_but_not_one_more() -> None:
    the_order = order(line(quantity=3))
    held = {"l1": 1}
    assert rules_broken(the_order, application(item(quantity=2)), already_returned=held) == []
    assert rules_broken(the_order, application(item(quantity=3)), already_returned=held) == [
        "quantity_exceeds_returnable"
    ]


def test_the_refusal_names_how_many_units_are_left() -> None:
    (violation,) = check_application(
        order(line(quantity=3)), application(item(quantity=3)), POLICY, {"l1": 2}, SOON
    )
    assert "Only 1 of the 3 units of line l1" in violation.message


@pytest.mark.parametrize("kind", [ReturnType.RETURN_REFUND, ReturnType.EXCHANGE])
def test_goods_that_never_arrived_cannot_be_sent_back(kind: ReturnType) -> None:
    undelivered = order(delivered_at=None)
    assert rules_broken(undelivered, application(return_type=kind)) == ["order_not_delivered"]


def test_a_reship_needs_the_parcel_to_have_been_delivered() -> None:
    reship = application(return_type=ReturnType.RESHIP, reason=Reason.MISSING_ITEM)
    assert rules_broken(order(delivered_at=None), reship) == ["order_not_delivered"]
    assert rules_broken(order(), reship) == []


@pytest.mark.parametrize("reason", list(Reason))
def test_refund_only_is_open_on_an_undelivered_order_whatever_the_reason(reason: Reason) -> None:
    refund_only = application(
        item(condition=Condition.USED), return_type=ReturnType.REFUND_ONLY, reason=reason
    )
    far_future = DELIVERED_AT + timedelta(days=365)
    assert rules_broken(order(delivered_at=None), refund_only, now=far_future) == []


@pytest.mark.parametrize(("reason", "days"), [(Reason.NO_REASON, 7), (Reason.QUALITY_DEFECT, 15)])
def test_the_window_closes_after_its_last_second(reason: Reason, days: int) -> None:
    last_instant = DELIVERED_AT + timedelta(days=days)
    the_application = application(reason=reason)
    assert rules_broken(order(), the_application, now=last_instant) == []
    assert rules_broken(order(), the_application, now=last_instant + timedelta(seconds=1)) == [
        "return_window_expired"
    ]


def test_a_shop_may_lengthen_the_window() -> None:
    generous = ReturnPolicy(window_days=30)
    day_twenty = DELIVERED_AT + timedelta(days=20)
    assert rules_broken(order(), application(), policy=generous, now=day_twenty) == []


def test_the_expired_window_says_when_it_closed() -> None:
    (violation,) = check_application(
        order(), application(), POLICY, {}, DELIVERED_AT + timedelta(days=8)
    )
    assert "7-day" in violation.message and "2024-03-08" in violation.message


@pytest.mark.parametrize("condition", [Condition.USED, Condition.DAMAGED])
def test_a_buyer_cannot_return_used_goods_without_a_defect(condition: Condition) -> None:
    assert rules_broken(order(), application(item(condition=condition))) == ["not_resellable"]


def test_opened_but_resellable_goods_may_be_returned_without_a_defect() -> None:
    assert rules_broken(order(), application(item(condition=Condition.OPENED_RESELLABLE))) == []


@pytest.mark.parametrize("reason", MERCHANT_SIDE_REASONS)
def test_defective_goods_need_not_be_resellable(reason: Reason) -> None:
    kind = ReturnType.RESHIP if reason is Reason.MISSING_ITEM else ReturnType.RETURN_REFUND
    damaged = application(item(condition=Condition.DAMAGED), return_type=kind, reason=reason)
    assert rules_broken(order(), damaged) == []


@pytest.mark.parametrize("category", sorted(LEGAL_EXCLUDED_CATEGORIES))
def test_buyer_cannot_return_excluded_goods_without_a_defect(category: str) -> None:
    the_order = order(line(category=category))
    assert rules_broken(the_order, application()) == ["category_excluded"]
    assert rules_broken(the_order, application(reason=Reason.QUALITY_DEFECT)) == []


def test_buyer_cannot_return_fresh_food_without_a_defect() -> None:
    fresh = order(line(category="fresh_food"))
    assert rules_broken(fresh, application(reason=Reason.SIZE_MISMATCH)) == ["category_excluded"]
    assert rules_broken(fresh, application(reason=Reason.WRONG_ITEM)) == []


def test_a_shop_may_exclude_more_categories_but_not_fewer() -> None:
    strict = ReturnPolicy(extra_excluded_categories=frozenset({"underwear"}))
    assert rules_broken(order(line(category="underwear")), application(), policy=strict) == [
        "category_excluded"
    ]
    assert rules_broken(order(line(category="digital")), application(), policy=strict) == [
        "category_excluded"
    ]


def test_only_the_excluded_line_is_refused() -> None:
    mixed = order(line("l1"), line("l2", category="custom_made"))
    violations = check_application(mixed, application(item("l1"), item("l2")), POLICY, {}, SOON)
    assert [v.rule for v in violations] == ["category_excluded"]
    assert "l2" in violations[0].message


@pytest.mark.parametrize("reason", BUYER_REASONS)
def test_delivered_goods_returned_for_the_buyers_reason_must_travel_back(reason: Reason) -> None:
    refund_only = application(return_type=ReturnType.REFUND_ONLY, reason=reason)
    assert rules_broken(order(), refund_only) == ["goods_must_be_returned"]


def test_a_merchant_fault_on_delivered_goods_may_be_settled_without_them() -> None:
    refund_only = application(return_type=ReturnType.REFUND_ONLY, reason=Reason.NOT_AS_DESCRIBED)
    assert rules_broken(order(), refund_only) == []


@pytest.mark.parametrize("reason", list(Reason))
def test_a_reship_is_only_for_goods_that_did_not_arrive_as_ordered(reason: Reason) -> None:
    allowed = {
        Reason.MISSING_ITEM,
        Reason.NOT_RECEIVED,
        Reason.DAMAGED_IN_TRANSIT,
        Reason.WRONG_ITEM,
    }
    broken = rules_broken(order(), application(return_type=ReturnType.RESHIP, reason=reason))
    refused = "reason_not_allowed_for_type" in broken
    assert refused is (reason not in allowed)


def test_every_violation_is_reported_in_a_stable_order() -> None:
    the_order = order(line("l1", category="fresh_food"), line("l2"))
    late = DELIVERED_AT + timedelta(days=9)
    the_application = application(
        item("l1", 1, Condition.USED),
        item("l2", 5),
        item("zz"),
        return_type=ReturnType.REFUND_ONLY,
    )
    expected = [
        "return_window_expired",
        "goods_must_be_returned",
        "category_excluded",
        "not_resellable",
        "quantity_exceeds_returnable",
        "unknown_line",
    ]
    assert rules_broken(the_order, the_application, now=late) == expected
    assert rules_broken(the_order, the_application, now=late) == expected


def test_an_undelivered_order_of_fresh_food_can_still_be_refunded_for_no_reason() -> None:
    undelivered = order(line(category="fresh_food"), delivered_at=None)
    refund_first = application(return_type=ReturnType.REFUND_ONLY, reason=Reason.NO_REASON)
    assert rules_broken(undelivered, refund_first) == []
