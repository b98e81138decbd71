"""The state machine: every action of the API as one row of one table."""

from __future__ import annotations

from dataclasses import dataclass

from returns_service.rules.vocabulary import Action, EventType, ReturnStatus, ReturnType, Role

_ALL_TYPES = frozenset(ReturnType)
_REVIEWERS = frozenset({Role.MERCHANT, Role.PLATFORM})
_REVIEWERS_OR_TIMER = _REVIEWERS | {Role.SYSTEM}
_SYSTEM = frozenset({Role.SYSTEM})
_GOODS_BACK = frozenset({ReturnType.RETURN_REFUND, ReturnType.EXCHANGE})
_MONEY_BACK = _ALL_TYPES - {ReturnType.RESHIP}
_BUYER = frozenset({Role.BUYER})
_PLATFORM = frozenset({Role.PLATFORM})


@dataclass(frozen=True)
class Transition:
    """One row: the action takes a return of these types from source to target, by these
    roles, and tells subscribers `event`."""

    action: Action
    source: ReturnStatus
    target: ReturnStatus
    event: EventType
    roles: frozenset[Role]
    types: frozenset[ReturnType] = _ALL_TYPES
    # None: whether or not the goods stay with the buyer (keep_goods); else only then.
    kept: bool | None = None

    def applies(self, status: ReturnStatus, return_type: ReturnType, keep_goods: bool) -> bool:
        return (
            self.source is status and return_type in self.types and self.kept in (None, keep_goods)
        )


S = ReturnStatus
T = ReturnType
E = EventType
TRANSITIONS: tuple[Transition, ...] = (
    Transition(Action.APPROVE, S.REQUESTED, S.APPROVED, E.APPROVED, _REVIEWERS_OR_TIMER),
    Transition(Action.REJECT, S.REQUESTED, S.REJECTED, E.REJECTED, _REVIEWERS),
    Transition(Action.REJECT, S.RECEIVED, S.REJECTED, E.REJECTED, _REVIEWERS),
    Transition(Action.CANCEL, S.REQUESTED, S.CANCELLED, E.CANCELLED, frozenset({Role.BUYER})),
    Transition(Action.CANCEL, S.APPROVED, S.CANCELLED, E.CANCELLED, frozenset({Role.BUYER})),
    Transition(Action.CANCEL, S.OFFERED, S.CANCELLED, E.CANCELLED, _BUYER),
    Transition(Action.SHIP, S.APPROVED, S.SHIPPED, E.SHIPPED, _BUYER, _GOODS_BACK, kept=False),
    Transition(Action.RECEIVE, S.SHIPPED, S.RECEIVED, E.RECEIVED, _REVIEWERS, _GOODS_BACK),
    Transition(
        Action.REFUND,
        S.APPROVED,
        S.REFUNDED,
        E.REFUNDED,
        _REVIEWERS_OR_TIMER,
        frozenset({T.REFUND_ONLY}),
    ),
    # A returnless refund: approved with the goods kept, paid with no parcel.
    Transition(
        Action.REFUND,
        S.APPROVED,
        S.REFUNDED,
        E.REFUNDED,
        _REVIEWERS_OR_TIMER,
        frozenset({T.RETURN_REFUND}),
        kept=True,
    ),
    # Fast refund on shipping, and the receive timeout after the carrier reported delivery.
    Transition(Action.REFUND, S.SHIPPED, S.REFUNDED, E.REFUNDED, _SYSTEM, _GOODS_BACK),
    # An exchange whose replacement is out of stock is settled with money instead.
    Transition(Action.REFUND, S.RECEIVED, S.REFUNDED, E.REFUNDED, _REVIEWERS_OR_TIMER, _GOODS_BACK),
    Transition(
        Action.SEND_REPLACEMENT,
        S.APPROVED,
        S.COMPLETED,
        E.COMPLETED,
        _REVIEWERS,
        frozenset({T.RESHIP}),
    ),
    Transition(
        Action.SEND_REPLACEMENT,
        S.RECEIVED,
        S.COMPLETED,
        E.COMPLETED,
        _REVIEWERS,
        frozenset({T.EXCHANGE}),
    ),
    Transition(Action.ESCALATE, S.REJECTED, S.ARBITRATION, E.ARBITRATION, frozenset({Role.BUYER})),
    # Arbitration ends in refunded (for the buyer, the first row: the default; a reship is
    # approved instead, its parcel then goes out) or closed (for the merchant); the decision
    # picks the row (see arbitration_target).
    Transition(Action.ARBITRATE, S.ARBITRATION, S.REFUNDED, E.REFUNDED, _PLATFORM, _MONEY_BACK),
    Transition(
        Action.ARBITRATE, S.ARBITRATION, S.APPROVED, E.APPROVED, _PLATFORM, frozenset({T.RESHIP})
    ),
    Transition(Action.ARBITRATE, S.ARBITRATION, S.CLOSED, E.CLOSED, _PLATFORM),
    # The platform may do anything a merchant may (DOMAIN.md), extending included. The state
    # stays; subscribers hear of the new deadline, not of a second shipment.
    Transition(Action.EXTEND, S.SHIPPED, S.SHIPPED, E.DEADLINE_EXTENDED, _REVIEWERS, _GOODS_BACK),
    # The buyer never shipped, or never escalated a rejection; or, from approved and shipped,
    # a refund the system was to pay came to nothing (returns.refunds).
    Transition(Action.CLOSE, S.APPROVED, S.CLOSED, E.CLOSED, _SYSTEM),
    Transition(Action.CLOSE, S.SHIPPED, S.CLOSED, E.CLOSED, _SYSTEM, _GOODS_BACK),
    Transition(Action.CLOSE, S.REJECTED, S.CLOSED, E.CLOSED, _SYSTEM),
    # Offers (协商): at most rules.offers.MAX_OFFERS per return. Kept goods are refunded at
    # once (the first row: the default); goods that travel back are approved, refunded at most
    # the offered amount once received (rules.offers.accepted_offer_target).
    Transition(Action.OFFER, S.REQUESTED, S.OFFERED, E.OFFERED, _REVIEWERS),
    Transition(Action.ACCEPT_OFFER, S.OFFERED, S.REFUNDED, E.REFUNDED, _BUYER),
    Transition(Action.ACCEPT_OFFER, S.OFFERED, S.APPROVED, E.APPROVED, _BUYER, _GOODS_BACK),
    # The buyer declines, or lets the offer lapse and the system declines for them: back to
    # review, the merchant's clock starting again.
    Transition(Action.DECLINE_OFFER, S.OFFERED, S.REQUESTED, E.REQUESTED, _BUYER | _SYSTEM),
)


class TransitionRefused(Exception):
    """The action is not allowed from this state for this type of return."""

    def __init__(self, status: ReturnStatus, action: Action, allowed: tuple[Action, ...]) -> None:
        self.status = status
        self.action = action
        self.allowed = allowed
        super().__init__(
            f"cannot {action.value} a return that is {status.value}; "
            f"allowed: {', '.join(a.value for a in allowed) or 'none'}"
        )


class RoleRefused(Exception):
    """The caller's role may never take this action."""

    def __init__(self, role: Role, action: Action) -> None:
        self.role = role
        self.action = action
        super().__init__(f"a {role.value} may not {action.value} a return")


def roles_for(action: Action) -> frozenset[Role]:
    """Every role that may take the action from some state."""
    roles: frozenset[Role] = frozenset()
    for row in TRANSITIONS:
        if row.action is action:
            roles |= row.roles
    return roles


def allowed_actions(
    status: ReturnStatus,
    return_type: ReturnType,
    role: Role | None = None,
    *,
    keep_goods: bool = False,
) -> tuple[Action, ...]:
    """The actions a return of this type may take next (by this role, if given), in table order."""
    seen: list[Action] = []
    for row in TRANSITIONS:
        if (
            row.applies(status, return_type, keep_goods)
            and (role is None or role in row.roles)
            and row.action not in seen
        ):
            seen.append(row.action)
    return tuple(seen)


def transition_for(
    status: ReturnStatus,
    action: Action,
    return_type: ReturnType,
    role: Role,
    target: ReturnStatus | None = None,
    *,
    keep_goods: bool = False,
) -> Transition:
    """The row the action takes (the one leading to `target`, when the caller's decision picks
    among several), or a refusal that says why. `keep_goods`: the return's goods stay with the
    buyer (a returnless refund), which rows marked `kept` ask about.

    A role that never takes the action is refused as such (403); a role that may, but not from
    this state, is told what is allowed now (409). Ownership is checked before the rules.
    """
    if role not in roles_for(action):
        raise RoleRefused(role, action)
    for row in TRANSITIONS:
        if (
            row.action is action
            and row.applies(status, return_type, keep_goods)
            and role in row.roles
            and (target is None or row.target is target)
        ):
            return row
    raise TransitionRefused(
        status, action, allowed_actions(status, return_type, role, keep_goods=keep_goods)
    )


def next_status(
    status: ReturnStatus,
    action: Action,
    return_type: ReturnType,
    role: Role,
    *,
    keep_goods: bool = False,
) -> ReturnStatus:
    """The state the action leads to, or a refusal that says why (see transition_for)."""
    return transition_for(status, action, return_type, role, keep_goods=keep_goods).target


def arbitration_target(decision_for_buyer: bool, return_type: ReturnType) -> ReturnStatus:
    """Arbitration for the buyer refunds (a reship is approved: its parcel goes out, there is
    no money to pay); for the merchant it closes the return."""
    if not decision_for_buyer:
        return ReturnStatus.CLOSED
    return ReturnStatus.APPROVED if return_type is ReturnType.RESHIP else ReturnStatus.REFUNDED
