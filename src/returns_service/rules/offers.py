"""Offers (协商): part of the money instead of the full return, limited so a buyer is not worn down.

A merchant offers an amount between 1 and what the return may still refund; the buyer accepts
(refunded with that amount, the goods kept, or sent back first when the offer says so) or
declines (back to review). A return takes at most MAX_OFFERS offers.
"""

from __future__ import annotations

from dataclasses import dataclass

from returns_service.rules.vocabulary import ReturnStatus, ReturnType

MAX_OFFERS = 3

TOO_MANY_OFFERS = "too_many_offers"
OFFER_OUT_OF_RANGE = "offer_exceeds_refundable"
GOODS_CANNOT_COME_BACK = "offer_goods_cannot_come_back"


@dataclass(frozen=True)
class Offer:
    amount: int  # minor units
    keep_goods: bool = True


class OfferRefused(ValueError):
    """The offer breaks a rule; `rule` is its stable machine name."""

    def __init__(self, rule: str, message: str) -> None:
        self.rule = rule
        super().__init__(message)


def check_offer(offer: Offer, return_type: ReturnType, offers_made: int, ceiling: int) -> None:
    """Refuse an offer past the limit, outside 1 … `ceiling`, or asking for goods that never travel.

    `offers_made` counts the offers the return already took (accepted, declined or lapsed);
    `ceiling` is what the return may refund now (rules.money.refund_ceiling).
    """
    if offers_made >= MAX_OFFERS:
        raise OfferRefused(
            TOO_MANY_OFFERS,
            f"a return takes at most {MAX_OFFERS} offers and this one had {offers_made}",
        )
    if not 1 <= offer.amount <= ceiling:
        raise OfferRefused(
            OFFER_OUT_OF_RANGE,
            f"an offer of {offer.amount} is not between 1 and the refundable {ceiling}",
        )
    if not offer.keep_goods and not return_type.goods_travel_back:
        raise OfferRefused(
            GOODS_CANNOT_COME_BACK,
            f"a {return_type.value} return sends no goods back: an offer on it keeps the goods",
        )


def accepted_offer_target(offer: Offer) -> ReturnStatus:
    """Kept goods are refunded at once; goods that come back are refunded once received."""
    return ReturnStatus.REFUNDED if offer.keep_goods else ReturnStatus.APPROVED
