"""Move a return from one state to the next: the table decides, this writes it down."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from returns_service.auth import Caller
from returns_service.errors import Forbidden, InvalidTransition, NotFound
from returns_service.models import ReturnRow
from returns_service.models.base import utcnow
from returns_service.observability.metrics import count_transition
from returns_service.policies.service import policy_for_shop
from returns_service.returns import repository
from returns_service.returns.timeline import record_event
from returns_service.rules.deadlines import deadline_on_entering, receive_deadline
from returns_service.rules.facts import Deadline, ReturnPolicy
from returns_service.rules.transitions import (
    RoleRefused,
    Transition,
    TransitionRefused,
    roles_for,
    transition_for,
)
from returns_service.rules.vocabulary import Action, ReturnStatus, ReturnType, Role
from returns_service.statistics import tracking
from returns_service.versions import check_version


def may_see_return(caller: Caller, row: ReturnRow | Row[Any]) -> bool:
    return caller.role is Role.SYSTEM or caller.can_see_order(row.shop_id, row.buyer_id)


async def load_visible_return(
    session: AsyncSession, caller: Caller, return_id: str, *, for_update: bool = False
) -> ReturnRow:
    """The return if the caller may see it; 404 otherwise, whether or not it exists.

    Visibility is part of the lookup (a merchant's in its own shop, a buyer's among its own),
    so a return the caller may not see is not locked.
    """
    row = await repository.find_return(
        session,
        return_id,
        for_update=for_update,
        shop_id=caller.shop_id if caller.role is Role.MERCHANT else None,
        buyer_id=caller.id if caller.role is Role.BUYER else None,
    )
    if row is None or not may_see_return(caller, row):
        raise NotFound(f"no return {return_id}")
    return row


async def lock_for_action(
    session: AsyncSession,
    caller: Caller,
    return_id: str,
    action: Action,
    if_match: str | None,
    *,
    target: ReturnStatus | None = None,
) -> tuple[ReturnRow, Transition]:
    """Lock the return, then check in this order: visible (404), the caller's role may take
    the action at all (403), the version the caller read (412), the state allows it (409).

    The role check of every action is here and in the state table it reads, nowhere else.
    """
    row = await load_visible_return(session, caller, return_id, for_update=True)
    if caller.role not in roles_for(action):
        raise Forbidden(f"a {caller.role.value} may not {action.value} a return")
    check_version(if_match, row.version)
    return row, transition_of(row, action, caller, target)


def transition_of(
    row: ReturnRow, action: Action, actor: Caller, target: ReturnStatus | None = None
) -> Transition:
    """Ask the state table which row the action takes; refusals become HTTP problems."""
    try:
        return transition_for(
            ReturnStatus(row.status),
            action,
            ReturnType(row.type),
            actor.role,
            target,
            keep_goods=row.keep_goods,
        )
    except RoleRefused as refusal:
        raise Forbidden(str(refusal)) from refusal
    except TransitionRefused as refusal:
        raise InvalidTransition(
            str(refusal),
            state=refusal.status.value,
            allowed_actions=[action.value for action in refusal.allowed],
        ) from refusal


def set_deadline(row: ReturnRow, deadline: Deadline | None) -> None:
    row.deadline_action = deadline.action if deadline else None
    row.deadline_actor = deadline.actor.value if deadline else None
    row.deadline_due_at = deadline.due_at if deadline else None


async def start_receive_deadline(
    session: AsyncSession, row: ReturnRow, delivered_at: datetime
) -> None:
    """Start the merchant's clock to receive goods the carrier delivered at `delivered_at`,
    counting any extension the merchant already took."""
    policy = await policy_for_shop(session, row.shop_id)
    set_deadline(row, receive_deadline(policy, delivered_at, row.receive_extensions))


def enter(row: ReturnRow, target: ReturnStatus, policy: ReturnPolicy | None, now: datetime) -> None:
    """Put the return in `target` at `now`: a new version, and (when the state changes) the
    deadline the state starts under `policy`. No statement: `move` and the sweep's batches
    write it."""
    source = ReturnStatus(row.status)
    row.status = target.value
    row.version += 1
    row.updated_at = now
    if target is not source:
        assert policy is not None, "a new state's deadline comes from the shop policy"
        set_deadline(
            row,
            deadline_on_entering(
                target, ReturnType(row.type), policy, now, keep_goods=row.keep_goods
            ),
        )


async def move(
    session: AsyncSession,
    row: ReturnRow,
    action: Action,
    actor: Caller,
    *,
    transition: Transition | None = None,
    data: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    """Apply the action: new state, new version, the next deadline, one timeline event and
    the event type its row of the state table names.

    The deadline comes from the shop policy as it is now; changing the policy later does not
    move it.
    """
    now = now or utcnow()
    source = ReturnStatus(row.status)
    transition = transition or transition_of(row, action, actor)
    target = transition.target
    await tracking.before_return_change(session, row, entering=target)
    policy = await policy_for_shop(session, row.shop_id) if target is not source else None
    enter(row, target, policy, now)
    await record_event(
        session,
        row,
        action.value,
        transition.event,
        actor,
        from_status=source.value,
        to_status=target.value,
        data=data,
    )
    count_transition(session, action.value, actor.role.value, target.value)
