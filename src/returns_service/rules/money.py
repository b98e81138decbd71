"""How much goes back to the buyer. Integer minor units throughout: a float never touches money."""

from __future__ import annotations

from collections.abc import Sequence

from returns_service.rules.facts import Application, Deduction, Order, RefundQuote, ReturnPolicy
from returns_service.rules.fault import fault_of
from returns_service.rules.vocabulary import Fault, ReturnType, ShippingPayer


class DeductionsExceedRefundable(ValueError):
    """Deductions would take more than the return refunds, or one of them is negative."""


class RefundExceedsRefundable(ValueError):
    """The amount asked for is not between 1 and what may still be refunded."""

    def __init__(self, requested: int, ceiling: int) -> None:
        self.requested = requested
        self.ceiling = ceiling
        super().__init__(f"a refund of {requested} is not between 1 and the refundable {ceiling}")


def quote_refund(order: Order, application: Application, policy: ReturnPolicy) -> RefundQuote:
    """Price a valid application: goods paid for, minus the restocking fee, plus return shipping."""
    goods_amount = 0
    for item in application.items:
        line = order.line(item.line_id)
        if line is not None:  # eligibility refuses unknown lines; a preview may still ask
            goods_amount += line.unit_price * item.quantity
    fault = fault_of(application.reason)
    travels_back = application.return_type.goods_travel_back
    deductions: tuple[Deduction, ...] = ()
    if fault is Fault.BUYER and travels_back and policy.restocking_fee_percent > 0:
        fee = goods_amount * policy.restocking_fee_percent // 100  # rounds in the buyer's favour
        note = f"{policy.restocking_fee_percent}% restocking fee"
        deductions = (Deduction("restocking_fee", fee, note),)
    # order.shipping_fee stands in for the way back: the merchant's fault, the merchant's postage.
    compensation = order.shipping_fee if fault.on_merchant_side and travels_back else 0
    if application.return_type is ReturnType.RESHIP:
        amount = 0  # a parcel goes out instead of money
    else:
        amount = goods_amount - sum(d.amount for d in deductions) + compensation
        amount = min(max(0, amount), order.paid_total)
    return RefundQuote(
        fault=fault,
        currency=order.currency,
        goods_amount=goods_amount,
        shipping_compensation=compensation,
        deductions=deductions,
        amount=amount,
        return_shipping_paid_by=_return_shipping_payer(fault, order),
    )


def _return_shipping_payer(fault: Fault, order: Order) -> ShippingPayer:
    if fault.on_merchant_side:
        return ShippingPayer.MERCHANT
    # Shipping insurance exists so the buyer's own return costs neither buyer nor merchant.
    return ShippingPayer.INSURANCE if order.shipping_insurance else ShippingPayer.BUYER


def apply_deductions(refundable: int, deductions: Sequence[Deduction]) -> int:
    """Return what is left after inspection deductions; refuse a negative or oversized one."""
    negative = [d for d in deductions if d.amount < 0]
    if negative:
        raise DeductionsExceedRefundable(f"a deduction cannot be negative: {negative[0].kind}")
    total = sum(d.amount for d in deductions)
    if total > refundable:
        raise DeductionsExceedRefundable(
            f"deductions of {total} exceed the refundable amount of {refundable}"
        )
    return refundable - total


def refund_ceiling(return_refundable: int, order: Order, refunded_on_order: int) -> int:
    """Return the most this return may refund: its own amount, capped by what the order has left.

    `refunded_on_order` is what other returns of the order refunded already.
    """
    return max(0, min(return_refundable, order.paid_total - refunded_on_order))


def settle_refund(
    requested: int | None, return_refundable: int, order: Order, refunded_on_order: int
) -> int:
    """Return the amount to refund: the ceiling when none is asked for, else the amount asked.

    An explicit amount must be at least 1 (a refund of nothing is no refund) and at most the
    ceiling; otherwise RefundExceedsRefundable, carrying the ceiling for the error message.
    """
    ceiling = refund_ceiling(return_refundable, order, refunded_on_order)
    if requested is None:
        return ceiling
    if not 1 <= requested <= ceiling:
        raise RefundExceedsRefundable(requested, ceiling)
    return requested
