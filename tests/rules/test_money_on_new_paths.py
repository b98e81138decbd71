"""Money over the new paths (offers, kept goods, outcomes, reships won in arbitration): the
rules composed as the service composes them never refund a return twice, never pay a return
more than it may refund, and never pay an order back more than it paid."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)

from returns_service.rules.facts import (
    Application,
    Deduction,
    ItemRequest,
    Order,
    OrderLine,
    ReturnPolicy,
)
from returns_service.rules.money import (
    DeductionsExceedRefundable,
    RefundExceedsRefundable,
    apply_deductions,
    quote_refund,
    refund_ceiling,
    settle_refund,
)
from returns_service.rules.offers import Offer, OfferRefused, accepted_offer_target, check_offer
from returns_service.rules.transitions import (
    RoleRefused,
    TransitionRefused,
    arbitration_target,
    next_status,
)
from returns_service.rules.vocabulary import (
    Action,
    Condition,
    Reason,
    ReturnStatus,
    ReturnType,
    Role,
)

S = ReturnStatus


@dataclass
class Return:
    kind: ReturnType
    status: ReturnStatus
    refundable: int
    keep_goods: bool = False
    offers_made: int = 0
    offer: Offer | None = None
    refunded: int | None = None
    times_paid: int = 0


class MoneyOnNewPaths(RuleBasedStateMachine):
    """One order, several returns, every new way money moves, in any order."""

    @initialize(
        prices=st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=3),
        shipping_fee=st.integers(min_value=0, max_value=5000),
    )
    def order_paid(self, prices: list[int], shipping_fee: int) -> None:
        lines = tuple(
            OrderLine(f"l{n}", f"SKU{n}", "apparel", price, 3) for n, price in enumerate(prices)
        )
        self.order = Order("o1", "CNY", shipping_fee, False, None, None, lines)
        self.returns: list[Return] = []
        self.apply(ReturnType.RETURN_REFUND, Reason.NO_REASON, 0, 1)
        self.apply(ReturnType.REFUND_ONLY, Reason.QUALITY_DEFECT, 0, 1)

    # --- what the service does, through the rules ---------------------------------------------

    def _move(self, ret: Return, action: Action, role: Role) -> ReturnStatus | None:
        try:
            return next_status(ret.status, action, ret.kind, role, keep_goods=ret.keep_goods)
        except (TransitionRefused, RoleRefused):
            return None

    def _others_refunded(self, ret: Return) -> int:
        return sum(r.refunded or 0 for r in self.returns if r is not ret)

    def _pay(self, ret: Return, requested: int | None, target: ReturnStatus) -> None:
        event(f"a {ret.kind.value} return asked to pay from {ret.status.value}")
        try:
            amount = settle_refund(
                requested, ret.refundable, self.order, self._others_refunded(ret)
            )
        except RefundExceedsRefundable:
            return
        if amount == 0:
            return  # nothing to refund: refused (a person) or closed (the system)
        assert amount <= ret.refundable
        ret.refunded = amount
        ret.refundable = amount
        ret.times_paid += 1
        ret.status = target

    def _pick(self, data: st.DataObject) -> Return:
        return data.draw(st.sampled_from(self.returns))

    @rule(
        kind=st.sampled_from(list(ReturnType)),
        reason=st.sampled_from(list(Reason)),
        line=st.integers(min_value=0, max_value=2),
        quantity=st.integers(min_value=1, max_value=3),
    )
    def apply(self, kind: ReturnType, reason: Reason, line: int, quantity: int) -> None:
        line_id = self.order.lines[line % len(self.order.lines)].line_id
        application = Application(
            kind, reason, (ItemRequest(line_id, quantity, Condition.UNOPENED),)
        )
        quote = quote_refund(self.order, application, ReturnPolicy())
        self.returns.append(Return(kind, S.REQUESTED, quote.amount))

    @rule(data=st.data(), amount=st.integers(min_value=-5, max_value=3 * 10**6), keep=st.booleans())
    def offer(self, data: st.DataObject, amount: int, keep: bool) -> None:
        ret = self._pick(data)
        target = self._move(ret, Action.OFFER, Role.MERCHANT)
        if target is None:
            return
        ceiling = refund_ceiling(ret.refundable, self.order, self._others_refunded(ret))
        try:
            check_offer(Offer(amount, keep), ret.kind, ret.offers_made, ceiling)
        except OfferRefused:
            return
        ret.offer, ret.offers_made, ret.status = Offer(amount, keep), ret.offers_made + 1, target

    @rule(data=st.data())
    def accept_offer(self, data: st.DataObject) -> None:
        ret = self._pick(data)
        if self._move(ret, Action.ACCEPT_OFFER, Role.BUYER) is None or ret.offer is None:
            return
        target = accepted_offer_target(ret.offer)
        if target is S.REFUNDED:
            ret.keep_goods = True
            self._pay(ret, ret.offer.amount, target)
            if ret.status is S.REFUNDED:
                assert ret.refunded == ret.offer.amount  # exactly what was offered
        else:
            ret.refundable = min(ret.refundable, ret.offer.amount)
            ret.status = target

    @rule(data=st.data(), by=st.sampled_from([Role.BUYER, Role.SYSTEM]))
    def decline_offer(self, data: st.DataObject, by: Role) -> None:
        ret = self._pick(data)
        target = self._move(ret, Action.DECLINE_OFFER, by)
        if target is not None:
            ret.status = target

    @rule(data=st.data(), keep=st.booleans())
    def approve(self, data: st.DataObject, keep: bool) -> None:
        ret = self._pick(data)
        target = self._move(ret, Action.APPROVE, Role.MERCHANT)
        if target is None or (keep and ret.kind is not ReturnType.RETURN_REFUND):
            return
        ret.keep_goods, ret.status = keep, target

    @rule(data=st.data())
    def ship(self, data: st.DataObject) -> None:
        ret = self._pick(data)
        target = self._move(ret, Action.SHIP, Role.BUYER)
        if target is not None:
            ret.status = target

    @rule(data=st.data(), deducted=st.integers(min_value=0, max_value=10**6))
    def receive(self, data: st.DataObject, deducted: int) -> None:
        ret = self._pick(data)
        target = self._move(ret, Action.RECEIVE, Role.MERCHANT)
        if target is None:
            return
        try:
            ret.refundable = apply_deductions(ret.refundable, [Deduction("damage", deducted)])
        except DeductionsExceedRefundable:
            return
        ret.status = target

    @rule(
        data=st.data(),
        amount=st.none() | st.integers(min_value=1, max_value=3 * 10**6),
        by=st.sampled_from([Role.MERCHANT, Role.SYSTEM]),
    )
    def refund(self, data: st.DataObject, amount: int | None, by: Role) -> None:
        ret = self._pick(data)
        target = self._move(ret, Action.REFUND, by)
        if target is not None:
            self._pay(ret, amount if by is Role.MERCHANT else None, target)

    @rule(data=st.data())
    def reject_and_escalate(self, data: st.DataObject) -> None:
        ret = self._pick(data)
        for action, role in ((Action.REJECT, Role.MERCHANT), (Action.ESCALATE, Role.BUYER)):
            target = self._move(ret, action, role)
            if target is None:
                return
            ret.status = target

    @rule(data=st.data(), amount=st.none() | st.integers(min_value=1, max_value=3 * 10**6))
    def arbitrate_for_the_buyer(self, data: st.DataObject, amount: int | None) -> None:
        ret = self._pick(data)
        if self._move(ret, Action.ARBITRATE, Role.PLATFORM) is None:
            return
        target = arbitration_target(True, ret.kind)
        if target is S.REFUNDED:
            self._pay(ret, amount, target)
        else:
            ret.status = target  # a reship: the replacement goes out, no money

    # --- what must always hold -------------------------------------------------------------

    @invariant()
    def no_return_is_paid_twice(self) -> None:
        for ret in getattr(self, "returns", []):
            assert ret.times_paid <= 1
            assert (ret.refunded is not None) == (ret.times_paid == 1)
            if ret.kind is ReturnType.RESHIP:
                assert ret.refunded is None  # a parcel goes out instead of money

    @invariant()
    def the_order_never_pays_back_more_than_it_paid(self) -> None:
        if hasattr(self, "order"):
            assert sum(r.refunded or 0 for r in self.returns) <= self.order.paid_total

    @invariant()
    def a_refunded_return_takes_no_more_money(self) -> None:
        for ret in getattr(self, "returns", []):
            if ret.status is S.REFUNDED:
                for role in (Role.MERCHANT, Role.SYSTEM):
                    assert self._move(ret, Action.REFUND, role) is None
                assert self._move(ret, Action.ACCEPT_OFFER, Role.BUYER) is None


MoneyOnNewPaths.TestCase.settings = settings(max_examples=200, stateful_step_count=40)
test_money_on_new_paths = MoneyOnNewPaths.TestCase
