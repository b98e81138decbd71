"""Move a return from one state to the next: the table decides, this writes it down."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from returns_service.auth import Caller
from returns_service.errors import Forbidden, InvalidTransition, NotFound
from returns_service.models import ReturnRow
from returns_service.models.base import utcnow
from returns_service.policies.service import policy_for_shop
from returns_service.returns import repository
from returns_service.returns.timeline import record_event
from returns_service.rules.deadlines import deadline_on_entering, receive_deadline
from returns_service.rules.facts import Deadline
from returns_service.rules.transitions import RoleRefused, TransitionRefused, next_status
from returns_service.rules.vocabulary import Action, ReturnStatus, ReturnType, Role


def may_see_return(caller: Caller, row: ReturnRow) -> bool:
    return caller.role is Role.SYSTEM or caller.can_see_order(row.shop_id, row.buyer_id)


async def load_visible_return(
    session: AsyncSession, caller: Caller, return_id: str, *, for_update: bool = False
) -> ReturnRow:
    """The return if the caller may see it; 404 otherwise, whether or not it exists.

    A merchant's return is looked up in its own shop only.
    """
    shop_id = caller.shop_id if caller.role is Role.MERCHANT else None
    row = await repository.find_return(session, return_id, shop_id=shop_id, for_update=for_update)
    if row is None or not may_see_return(caller, row):
        raise NotFound(f"no return {return_id}")
    return row


def target_of(row: ReturnRow, action: Action, actor: Caller) -> ReturnStatus:
    """Ask the state table where the action leads; refusals become HTTP problems."""
    try:
        return next_status(ReturnStatus(row.status), action, ReturnType(row.type), actor.role)
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


async def move(
    session: AsyncSession,
    row: ReturnRow,
    action: Action,
    actor: Caller,
    *,
    target: ReturnStatus | None = None,
    data: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> None:
    """Apply the action: new state, new version, the next deadline, one timeline event.

    The deadline comes from the shop policy as it is now; changing the policy later does not
    move it.
    """
    now = now or utcnow()
    source = ReturnStatus(row.status)
    target = target or target_of(row, action, actor)
    row.status = target.value
    row.version += 1
    row.updated_at = now
    if target is not source:
        policy = await policy_for_shop(session, row.shop_id)
        set_deadline(row, deadline_on_entering(target, ReturnType(row.type), policy, now))
    await record_event(
        session,
        row,
        action.value,
        actor,
        from_status=source.value,
        to_status=target.value,
        data=data,
    )
