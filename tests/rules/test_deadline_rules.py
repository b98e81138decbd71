"""Which clock starts on entering a state, and that each timer's action is a legal system move."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from returns_service.rules.deadlines import deadline_on_entering, receive_deadline, timer_action
from returns_service.rules.facts import Deadline, ReturnPolicy
from returns_service.rules.transitions import next_status
from returns_service.rules.vocabulary import Action, ReturnStatus, ReturnType, Role

S, T = ReturnStatus, ReturnType
AT = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
POLICY = ReturnPolicy(
    review_timeout=timedelta(hours=1),
    ship_timeout=timedelta(hours=2),
    receive_timeout=timedelta(hours=3),
    escalation_timeout=timedelta(hours=4),
)


@pytest.mark.parametrize("kind", list(T))
def test_the_merchant_has_the_review_timeout_to_answer_an_application(kind: ReturnType) -> None:
    assert deadline_on_entering(S.REQUESTED, kind, POLICY, AT) == Deadline(
        "review", Role.MERCHANT, AT + timedelta(hours=1)
    )


@pytest.mark.parametrize("kind", [T.RETURN_REFUND, T.EXCHANGE])
def test_an_approved_buyer_has_the_ship_timeout_to_send_the_goods(kind: ReturnType) -> None:
    assert deadline_on_entering(S.APPROVED, kind, POLICY, AT) == Deadline(
        "ship", Role.BUYER, AT + timedelta(hours=2)
    )


def test_an_approved_refund_only_must_be_paid_within_the_review_timeout() -> None:
    assert deadline_on_entering(S.APPROVED, T.REFUND_ONLY, POLICY, AT) == Deadline(
        "refund", Role.MERCHANT, AT + timedelta(hours=1)
    )


def test_no_timer_can_send_a_reship_parcel() -> None:
    assert deadline_on_entering(S.APPROVED, T.RESHIP, POLICY, AT) is None


@pytest.mark.parametrize("kind", list(T))
def test_a_rejected_buyer_has_the_escalation_timeout_to_object(kind: ReturnType) -> None:
    assert deadline_on_entering(S.REJECTED, kind, POLICY, AT) == Deadline(
        "escalate", Role.BUYER, AT + timedelta(hours=4)
    )


@pytest.mark.parametrize("kind", list(T))
def test_a_buyer_offered_money_has_the_offer_timeout_to_answer(kind: ReturnType) -> None:
    policy = ReturnPolicy(offer_timeout=timedelta(hours=5))
    assert deadline_on_entering(S.OFFERED, kind, policy, AT) == Deadline(
        "offer", Role.BUYER, AT + timedelta(hours=5)
    )


def test_a_return_approved_with_the_goods_kept_must_be_paid_within_the_review_timeout() -> None:
    assert deadline_on_entering(S.APPROVED, T.RETURN_REFUND, POLICY, AT, keep_goods=True) == (
        Deadline("refund", Role.MERCHANT, AT + timedelta(hours=1))
    )


OPENING_STATES = {S.REQUESTED, S.APPROVED, S.REJECTED, S.OFFERED}


@pytest.mark.parametrize("kind", list(T))
@pytest.mark.parametrize("status", [s for s in S if s not in OPENING_STATES])
def test_other_states_start_no_clock(status: ReturnStatus, kind: ReturnType) -> None:
    # SHIPPED included: the merchant's clock waits for the carrier to report delivery.
    assert deadline_on_entering(status, kind, POLICY, AT) is None


def test_the_receive_clock_starts_at_delivery_and_each_extension_adds_one_timeout() -> None:
    assert receive_deadline(POLICY, AT) == Deadline(
        "receive", Role.MERCHANT, AT + timedelta(hours=3)
    )
    assert receive_deadline(POLICY, AT, extensions=1).due_at == AT + timedelta(hours=6)


@pytest.mark.parametrize(
    ("deadline", "action"),
    [
        ("review", Action.APPROVE),
        ("ship", Action.CLOSE),
        ("receive", Action.REFUND),
        ("escalate", Action.CLOSE),
        ("refund", Action.REFUND),
        ("offer", Action.DECLINE_OFFER),
    ],
)
def test_what_the_system_does_when_a_deadline_passes(deadline: str, action: Action) -> None:
    for kind in T:
        assert timer_action(deadline, kind) is action


def test_an_unknown_deadline_has_no_timer() -> None:
    with pytest.raises(ValueError, match="first_response"):
        timer_action("first_response", T.RETURN_REFUND)


# Every deadline a return can carry, with the state it carries it in.
CARRIED = [
    (status, kind, deadline)
    for status in S
    for kind in T
    if (deadline := deadline_on_entering(status, kind, POLICY, AT)) is not None
] + [(S.SHIPPED, kind, receive_deadline(POLICY, AT)) for kind in (T.RETURN_REFUND, T.EXCHANGE)]


@pytest.mark.parametrize(("status", "kind", "deadline"), CARRIED)
def test_every_timer_takes_a_move_the_table_allows_the_system(
    status: ReturnStatus, kind: ReturnType, deadline: Deadline
) -> None:
    action = timer_action(deadline.action, kind)
    next_status(status, action, kind, Role.SYSTEM)  # raises if the sweep would be refused
