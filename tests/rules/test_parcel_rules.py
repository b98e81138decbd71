"""Carrier events move a parcel forward only; a refused outbound parcel settles refund-only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import get_args

import pytest

from returns_service.carriers.schemas import ParcelEventName
from returns_service.rules.parcels import (
    CLOCK_TOLERANCE,
    ParcelEvent,
    advances,
    could_carry_return,
    refusal_settles_refund,
)
from returns_service.rules.vocabulary import ReturnStatus, ReturnType

E, S, T = ParcelEvent, ReturnStatus, ReturnType


def test_the_api_names_exactly_the_parcel_events() -> None:
    assert set(get_args(ParcelEventName)) == {event.value for event in E}


@pytest.mark.parametrize(
    ("current", "event", "expected"),
    [
        ("shipped", E.PICKED_UP, True),
        ("shipped", E.DELIVERED, True),
        (None, E.IN_TRANSIT, True),
        ("picked_up", E.IN_TRANSIT, True),
        ("in_transit", E.DELIVERED, True),
        ("delivered", E.IN_TRANSIT, False),
        ("delivered", E.PICKED_UP, False),
        ("delivered", E.DELIVERED, False),
        ("in_transit", E.IN_TRANSIT, False),
        ("shipped", E.REFUSED, False),
        ("shipped", E.RETURNED_TO_SENDER, False),
        ("in_transit", E.EXCEPTION, False),
    ],
)
def test_a_parcel_never_moves_backwards(current: str | None, event: E, expected: bool) -> None:
    assert advances(current, event) is expected


@pytest.mark.parametrize("event", [E.REFUSED, E.RETURNED_TO_SENDER])
@pytest.mark.parametrize("status", [S.REQUESTED, S.APPROVED])
def test_a_refused_undelivered_order_settles_an_open_refund_only(event: E, status: S) -> None:
    assert refusal_settles_refund(event, T.REFUND_ONLY, status, True, False)


@pytest.mark.parametrize(
    ("event", "kind", "status", "shipped", "delivered"),
    [
        (E.DELIVERED, T.REFUND_ONLY, S.REQUESTED, True, False),
        (E.EXCEPTION, T.REFUND_ONLY, S.REQUESTED, True, False),
        (E.REFUSED, T.RETURN_REFUND, S.REQUESTED, True, False),
        (E.REFUSED, T.REFUND_ONLY, S.REJECTED, True, False),
        (E.REFUSED, T.REFUND_ONLY, S.ARBITRATION, True, False),
        (E.REFUSED, T.REFUND_ONLY, S.REQUESTED, True, True),
        (E.REFUSED, T.REFUND_ONLY, S.REQUESTED, False, False),
    ],
)
def test_nothing_else_settles_a_refund_on_the_carriers_word(
    event: E, kind: T, status: S, shipped: bool, delivered: bool
) -> None:
    assert not refusal_settles_refund(event, kind, status, shipped, delivered)


def test_a_parcel_that_moved_before_the_return_was_applied_for_is_not_its_parcel() -> None:
    applied = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    assert could_carry_return(applied + timedelta(days=2), applied)
    assert could_carry_return(applied - CLOCK_TOLERANCE, applied)
    assert not could_carry_return(applied - CLOCK_TOLERANCE - timedelta(seconds=1), applied)
