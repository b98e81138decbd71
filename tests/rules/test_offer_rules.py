"""Offers: at most three, between 1 and what may be refunded, goods kept unless they can travel."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from returns_service.rules.offers import (
    GOODS_CANNOT_COME_BACK,
    MAX_OFFERS,
    OFFER_OUT_OF_RANGE,
    TOO_MANY_OFFERS,
    Offer,
    OfferRefused,
    accepted_offer_target,
    check_offer,
)
from returns_service.rules.vocabulary import ReturnStatus, ReturnType

ceilings = st.integers(min_value=0, max_value=10**12)


def refusal(offer: Offer, offers_made: int, ceiling: int, kind: ReturnType) -> str | None:
    try:
        check_offer(offer, kind, offers_made, ceiling)
    except OfferRefused as refused:
        return refused.rule
    return None


@given(
    ceiling=ceilings,
    amount=st.integers(min_value=-(10**12), max_value=10**13),
    offers_made=st.integers(min_value=0, max_value=MAX_OFFERS - 1),
)
def test_an_offer_stands_exactly_when_it_is_between_1_and_the_refundable(
    ceiling: int, amount: int, offers_made: int
) -> None:
    rule = refusal(Offer(amount), offers_made, ceiling, ReturnType.RETURN_REFUND)
    assert (rule is None) == (1 <= amount <= ceiling)
    if rule is not None:
        assert rule == OFFER_OUT_OF_RANGE


@given(offers_made=st.integers(min_value=MAX_OFFERS, max_value=1000), ceiling=ceilings)
def test_the_fourth_offer_is_refused_whatever_it_offers(offers_made: int, ceiling: int) -> None:
    assert refusal(Offer(1), offers_made, ceiling, ReturnType.REFUND_ONLY) == TOO_MANY_OFFERS


def test_the_third_offer_is_still_allowed() -> None:
    assert refusal(Offer(100), MAX_OFFERS - 1, 100, ReturnType.REFUND_ONLY) is None


@pytest.mark.parametrize("kind", list(ReturnType))
def test_goods_come_back_on_an_offer_only_when_the_type_sends_goods_back(
    kind: ReturnType,
) -> None:
    rule = refusal(Offer(10, keep_goods=False), 0, 100, kind)
    assert (rule is None) == kind.goods_travel_back
    if rule is not None:
        assert rule == GOODS_CANNOT_COME_BACK
    assert refusal(Offer(10, keep_goods=True), 0, 100, kind) is None


def test_an_accepted_offer_refunds_kept_goods_at_once_and_waits_for_goods_coming_back() -> None:
    assert accepted_offer_target(Offer(10)) is ReturnStatus.REFUNDED
    assert accepted_offer_target(Offer(10, keep_goods=False)) is ReturnStatus.APPROVED
