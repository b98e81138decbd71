"""quote_refund, apply_deductions, refund_ceiling, settle_refund: integer money, never over-paid."""

from __future__ import annotations

import pytest

from returns_service.rules.facts import Deduction, ReturnPolicy
from returns_service.rules.money import (
    DeductionsExceedRefundable,
    RefundExceedsRefundable,
    apply_deductions,
    quote_refund,
    refund_ceiling,
    settle_refund,
)
from returns_service.rules.vocabulary import Fault, Reason, ReturnType, ShippingPayer
from tests.rules.rules_builders import application, item, line, order

POLICY = ReturnPolicy()
TEN_PERCENT = ReturnPolicy(restocking_fee_percent=10)


def test_a_buyer_return_refunds_the_price_paid_for_the_units_sent_back() -> None:
    quote = quote_refund(order(line(unit_price=9900, quantity=2)), application(item()), POLICY)
    assert quote.fault is Fault.BUYER
    assert quote.currency == "CNY"
    assert (quote.goods_amount, quote.shipping_compensation, quote.amount) == (9900, 0, 9900)
    assert quote.deductions == ()
    assert quote.return_shipping_paid_by is ShippingPayer.BUYER


def test_lines_are_priced_by_their_own_unit_price() -> None:
    the_order = order(line("l1", unit_price=1000, quantity=3), line("l2", unit_price=250))
    quote = quote_refund(the_order, application(item("l1", 2), item("l2", 1)), POLICY)
    assert quote.goods_amount == 2250


def test_an_unknown_line_in_a_preview_is_priced_at_nothing() -> None:
    quote = quote_refund(order(), application(item("l1"), item("nope", 5)), POLICY)
    assert quote.goods_amount == 9900


def test_the_restocking_fee_is_deducted_from_a_buyer_return_and_rounds_down() -> None:
    the_order = order(line(unit_price=999, quantity=1))
    quote = quote_refund(the_order, application(), TEN_PERCENT)
    assert quote.deductions == (Deduction("restocking_fee", 99, "10% restocking fee"),)
    assert quote.amount == 900


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        (ReturnType.RETURN_REFUND, Reason.QUALITY_DEFECT),
        (ReturnType.REFUND_ONLY, Reason.NO_REASON),
        (ReturnType.RETURN_REFUND, Reason.DAMAGED_IN_TRANSIT),
    ],
)
def test_no_restocking_fee_unless_the_buyer_sends_goods_back_by_choice(
    kind: ReturnType, reason: Reason
) -> None:
    quote = quote_refund(order(), application(return_type=kind, reason=reason), TEN_PERCENT)
    assert quote.deductions == ()


@pytest.mark.parametrize("reason", [Reason.WRONG_ITEM, Reason.DAMAGED_IN_TRANSIT])
def test_the_merchant_pays_the_way_back_when_it_is_at_fault(reason: Reason) -> None:
    quote = quote_refund(order(shipping_fee=800), application(reason=reason), POLICY)
    assert quote.shipping_compensation == 800
    assert quote.amount == 9900 + 800
    assert quote.return_shipping_paid_by is ShippingPayer.MERCHANT


def test_a_merchant_fault_settled_without_the_goods_adds_no_postage() -> None:
    refund_only = application(return_type=ReturnType.REFUND_ONLY, reason=Reason.QUALITY_DEFECT)
    quote = quote_refund(order(), refund_only, POLICY)
    assert (quote.shipping_compensation, quote.amount) == (0, 9900)


def test_shipping_insurance_pays_for_a_buyer_return() -> None:
    insured = order(shipping_insurance=True)
    assert quote_refund(insured, application(), POLICY).return_shipping_paid_by is (
        ShippingPayer.INSURANCE
    )
    defect = application(reason=Reason.QUALITY_DEFECT)
    assert quote_refund(insured, defect, POLICY).return_shipping_paid_by is ShippingPayer.MERCHANT


def test_a_reship_refunds_nothing() -> None:
    reship = application(return_type=ReturnType.RESHIP, reason=Reason.MISSING_ITEM)
    quote = quote_refund(order(), reship, POLICY)
    assert quote.amount == 0
    assert quote.goods_amount == 9900


def test_a_quote_never_exceeds_what_was_paid() -> None:
    # Defensive: an application asking for more units than bought is refused by eligibility,
    # but a preview may price it anyway.
    the_order = order(line(unit_price=1000, quantity=1), shipping_fee=0)
    quote = quote_refund(the_order, application(item(quantity=5)), POLICY)
    assert quote.amount == the_order.paid_total == 1000


def test_deductions_come_off_the_refundable_amount() -> None:
    found = [Deduction("damage", 300, "scratched"), Deduction("missing_parts", 200)]
    assert apply_deductions(1000, found) == 500
    assert apply_deductions(1000, []) == 1000


def test_deductions_may_take_everything_but_not_more() -> None:
    assert apply_deductions(1000, [Deduction("damage", 1000)]) == 0
    with pytest.raises(DeductionsExceedRefundable):
        apply_deductions(1000, [Deduction("damage", 600), Deduction("missing_parts", 401)])


def test_a_negative_deduction_is_refused() -> None:
    with pytest.raises(DeductionsExceedRefundable, match="negative"):
        apply_deductions(1000, [Deduction("damage", -1)])


def test_the_ceiling_is_what_the_order_has_left_when_that_is_less() -> None:
    the_order = order(line(unit_price=1000, quantity=2), shipping_fee=0)
    assert refund_ceiling(1000, the_order, refunded_on_order=0) == 1000
    assert refund_ceiling(1000, the_order, refunded_on_order=1500) == 500
    assert refund_ceiling(1000, the_order, refunded_on_order=2500) == 0


def test_no_amount_asked_refunds_the_ceiling() -> None:
    the_order = order(line(unit_price=1000, quantity=2), shipping_fee=0)
    assert settle_refund(None, 1000, the_order, 1500) == 500
    assert settle_refund(None, 1000, the_order, 2000) == 0


def test_a_merchant_may_refund_anything_from_one_unit_up_to_the_ceiling() -> None:
    the_order = order(line(unit_price=1000, quantity=2), shipping_fee=0)
    assert settle_refund(1, 1000, the_order, 0) == 1
    assert settle_refund(1000, 1000, the_order, 0) == 1000


@pytest.mark.parametrize("requested", [0, -5, 1001])
def test_an_amount_outside_one_to_the_ceiling_is_refused(requested: int) -> None:
    the_order = order(line(unit_price=1000, quantity=2), shipping_fee=0)
    with pytest.raises(RefundExceedsRefundable) as refused:
        settle_refund(requested, 1000, the_order, 0)
    assert refused.value.ceiling == 1000
    assert isinstance(refused.value, ValueError)
