"""The state machine, checked cell by cell against the action table of API.md.

The expectation below is written from the API contract (who / from / to / which types), not
copied from transitions.TRANSITIONS, so a slip in either one shows up here.
"""

from __future__ import annotations

from itertools import product
from typing import NamedTuple

import pytest

from returns_service.rules.transitions import (
    RoleRefused,
    TransitionRefused,
    allowed_actions,
    arbitration_target,
    next_status,
)
from returns_service.rules.vocabulary import (
    TERMINAL_STATUSES,
    Action,
    ReturnStatus,
    ReturnType,
    Role,
)

S, T, R, A = ReturnStatus, ReturnType, Role, Action
EVERY_TYPE = frozenset(T)
GOODS_BACK = frozenset({T.RETURN_REFUND, T.EXCHANGE})
MONEY_BACK = EVERY_TYPE - {T.RESHIP}
REVIEWERS = frozenset({R.MERCHANT, R.PLATFORM})
BUYER = frozenset({R.BUYER})


class Move(NamedTuple):
    source: ReturnStatus
    target: ReturnStatus
    roles: frozenset[Role]
    types: frozenset[ReturnType] = EVERY_TYPE
    # None: whether or not the goods stay with the buyer (keep_goods); else only then.
    kept: bool | None = None


# action -> the moves it makes. Timers act as SYSTEM: review timeout approves, ship and
# escalation timeouts close, a passed refund or receive deadline refunds; fast refund pays a
# shipped return as soon as it has a tracking number.
CONTRACT: dict[Action, tuple[Move, ...]] = {
    A.APPROVE: (Move(S.REQUESTED, S.APPROVED, REVIEWERS | {R.SYSTEM}),),
    A.REJECT: (
        Move(S.REQUESTED, S.REJECTED, REVIEWERS),
        Move(S.RECEIVED, S.REJECTED, REVIEWERS),
    ),
    A.CANCEL: (
        Move(S.REQUESTED, S.CANCELLED, BUYER),
        Move(S.APPROVED, S.CANCELLED, BUYER),
        Move(S.OFFERED, S.CANCELLED, BUYER),
    ),
    A.SHIP: (Move(S.APPROVED, S.SHIPPED, BUYER, GOODS_BACK, kept=False),),
    A.RECEIVE: (Move(S.SHIPPED, S.RECEIVED, REVIEWERS, GOODS_BACK),),
    A.REFUND: (
        Move(S.APPROVED, S.REFUNDED, REVIEWERS | {R.SYSTEM}, frozenset({T.REFUND_ONLY})),
        # A returnless refund: approved with the goods kept, paid with no parcel.
        Move(
            S.APPROVED, S.REFUNDED, REVIEWERS | {R.SYSTEM}, frozenset({T.RETURN_REFUND}), kept=True
        ),
        Move(S.RECEIVED, S.REFUNDED, REVIEWERS | {R.SYSTEM}, GOODS_BACK),
        Move(S.SHIPPED, S.REFUNDED, frozenset({R.SYSTEM}), GOODS_BACK),
    ),
    A.SEND_REPLACEMENT: (
        Move(S.APPROVED, S.COMPLETED, REVIEWERS, frozenset({T.RESHIP})),
        Move(S.RECEIVED, S.COMPLETED, REVIEWERS, frozenset({T.EXCHANGE})),
    ),
    A.ESCALATE: (Move(S.REJECTED, S.ARBITRATION, frozenset({R.BUYER})),),
    # For the buyer: refunded, or for a reship approved (the parcel goes out); for the
    # merchant: closed. The decision picks the row (arbitration_target).
    A.ARBITRATE: (
        Move(S.ARBITRATION, S.REFUNDED, frozenset({R.PLATFORM}), MONEY_BACK),
        Move(S.ARBITRATION, S.APPROVED, frozenset({R.PLATFORM}), frozenset({T.RESHIP})),
        Move(S.ARBITRATION, S.CLOSED, frozenset({R.PLATFORM})),
    ),
    A.EXTEND: (Move(S.SHIPPED, S.SHIPPED, frozenset({R.MERCHANT, R.PLATFORM}), GOODS_BACK),),
    A.CLOSE: (
        Move(S.APPROVED, S.CLOSED, frozenset({R.SYSTEM})),
        # A timer's or fast refund's refund of a shipped return that would pay 0.
        Move(S.SHIPPED, S.CLOSED, frozenset({R.SYSTEM}), GOODS_BACK),
        Move(S.REJECTED, S.CLOSED, frozenset({R.SYSTEM})),
    ),
    A.OFFER: (Move(S.REQUESTED, S.OFFERED, REVIEWERS),),
    # Kept goods are refunded at once (the first row: the default); goods that travel back
    # are approved, refunded at most the offered amount once received (accepted_offer_target).
    A.ACCEPT_OFFER: (
        Move(S.OFFERED, S.REFUNDED, BUYER),
        Move(S.OFFERED, S.APPROVED, BUYER, GOODS_BACK),
    ),
    A.DECLINE_OFFER: (Move(S.OFFERED, S.REQUESTED, BUYER | {R.SYSTEM}),),
}


def contract_target(
    status: ReturnStatus, action: Action, kind: ReturnType, role: Role, kept: bool = False
) -> ReturnStatus | None:
    for move in CONTRACT[action]:
        if (
            move.source is status
            and kind in move.types
            and role in move.roles
            and move.kept in (None, kept)
        ):
            return move.target
    return None


def contract_allowed(
    status: ReturnStatus, kind: ReturnType, role: Role, kept: bool = False
) -> set[Action]:
    return {a for a in Action if contract_target(status, a, kind, role, kept) is not None}


def ever_allowed(action: Action, role: Role) -> bool:
    return any(role in move.roles for move in CONTRACT[action])


def test_the_contract_names_every_action() -> None:
    assert set(CONTRACT) == set(Action)


@pytest.mark.parametrize(
    ("status", "action", "kind", "role"), list(product(S, A, T, R)), ids=lambda v: str(v)
)
def test_every_cell_of_the_table(
    status: ReturnStatus, action: Action, kind: ReturnType, role: Role
) -> None:
    expected = contract_target(status, action, kind, role)
    if not ever_allowed(action, role):
        with pytest.raises(RoleRefused) as role_refused:
            next_status(status, action, kind, role)
        assert (role_refused.value.role, role_refused.value.action) == (role, action)
    elif expected is None:
        with pytest.raises(TransitionRefused) as refused:
            next_status(status, action, kind, role)
        allowed = contract_allowed(status, kind, role)
        assert set(refused.value.allowed) == allowed
        assert refused.value.status is status
        for allowed_action in allowed:
            assert allowed_action.value in str(refused.value)
    else:
        assert next_status(status, action, kind, role) is expected


@pytest.mark.parametrize(("status", "action", "role"), list(product(S, A, R)), ids=str)
def test_every_cell_of_a_return_whose_goods_are_kept(
    status: ReturnStatus, action: Action, role: Role
) -> None:
    kind = T.RETURN_REFUND
    expected = contract_target(status, action, kind, role, kept=True)
    if not ever_allowed(action, role):
        with pytest.raises(RoleRefused):
            next_status(status, action, kind, role, keep_goods=True)
    elif expected is None:
        with pytest.raises(TransitionRefused) as refused:
            next_status(status, action, kind, role, keep_goods=True)
        assert set(refused.value.allowed) == contract_allowed(status, kind, role, kept=True)
    else:
        assert next_status(status, action, kind, role, keep_goods=True) is expected


def test_kept_goods_are_refunded_from_approved_and_never_shipped() -> None:
    assert (
        next_status(S.APPROVED, A.REFUND, T.RETURN_REFUND, R.MERCHANT, keep_goods=True)
        is S.REFUNDED
    )
    with pytest.raises(TransitionRefused):
        next_status(S.APPROVED, A.SHIP, T.RETURN_REFUND, R.BUYER, keep_goods=True)
    with pytest.raises(TransitionRefused):
        next_status(S.APPROVED, A.REFUND, T.RETURN_REFUND, R.MERCHANT)


@pytest.mark.parametrize(("status", "kind"), list(product(S, T)))
def test_allowed_actions_for_anyone_is_the_union_over_roles(
    status: ReturnStatus, kind: ReturnType
) -> None:
    union = set().union(*(contract_allowed(status, kind, role) for role in R))
    assert set(allowed_actions(status, kind)) == union
    assert len(allowed_actions(status, kind)) == len(union)  # no action listed twice


def test_a_buyer_cannot_approve_their_own_return() -> None:
    with pytest.raises(RoleRefused, match="buyer may not approve"):
        next_status(S.REQUESTED, A.APPROVE, T.RETURN_REFUND, R.BUYER)


@pytest.mark.parametrize("role", [R.STOREFRONT, R.CARRIER])
@pytest.mark.parametrize("action", list(A))
def test_storefronts_and_carriers_never_move_a_return_themselves(
    role: Role, action: Action
) -> None:
    with pytest.raises(RoleRefused):
        next_status(S.REQUESTED, action, T.RETURN_REFUND, role)


def test_a_merchant_told_it_is_too_late_hears_what_it_may_do_now() -> None:
    with pytest.raises(TransitionRefused) as refused:
        next_status(S.RECEIVED, A.APPROVE, T.RETURN_REFUND, R.MERCHANT)
    assert refused.value.allowed == (A.REJECT, A.REFUND)
    assert str(refused.value) == (
        "cannot approve a return that is received; allowed: reject, refund"
    )


def test_an_exchange_received_may_get_its_replacement_but_a_return_refund_may_not() -> None:
    assert next_status(S.RECEIVED, A.SEND_REPLACEMENT, T.EXCHANGE, R.MERCHANT) is S.COMPLETED
    with pytest.raises(TransitionRefused):
        next_status(S.RECEIVED, A.SEND_REPLACEMENT, T.RETURN_REFUND, R.MERCHANT)


@pytest.mark.parametrize("kind", [T.REFUND_ONLY, T.RESHIP])
def test_nothing_is_shipped_back_when_goods_stay_with_the_buyer(kind: ReturnType) -> None:
    with pytest.raises(TransitionRefused):
        next_status(S.APPROVED, A.SHIP, kind, R.BUYER)


@pytest.mark.parametrize("kind", [T.RETURN_REFUND, T.EXCHANGE])
def test_only_the_system_refunds_goods_still_on_their_way(kind: ReturnType) -> None:
    assert next_status(S.SHIPPED, A.REFUND, kind, R.SYSTEM) is S.REFUNDED
    with pytest.raises(TransitionRefused):
        next_status(S.SHIPPED, A.REFUND, kind, R.MERCHANT)


@pytest.mark.parametrize(("status", "kind", "role"), list(product(sorted(TERMINAL_STATUSES), T, R)))
def test_a_finished_return_allows_nothing(
    status: ReturnStatus, kind: ReturnType, role: Role
) -> None:
    assert allowed_actions(status, kind, role) == ()


@pytest.mark.parametrize("status", sorted(set(S) - TERMINAL_STATUSES))
def test_every_open_state_has_a_way_out(status: ReturnStatus) -> None:
    assert any(allowed_actions(status, kind) for kind in T)


@pytest.mark.parametrize("kind", sorted(MONEY_BACK))
def test_arbitration_ends_refunded_for_the_buyer_and_closed_for_the_merchant(
    kind: ReturnType,
) -> None:
    assert arbitration_target(True, kind) is S.REFUNDED
    assert arbitration_target(False, kind) is S.CLOSED


def test_a_reship_won_in_arbitration_is_approved_for_its_parcel() -> None:
    assert arbitration_target(True, T.RESHIP) is S.APPROVED
    assert arbitration_target(False, T.RESHIP) is S.CLOSED
    assert next_status(S.APPROVED, A.SEND_REPLACEMENT, T.RESHIP, R.MERCHANT) is S.COMPLETED
