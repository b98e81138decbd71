"""Many moves by the system at once (the deadline sweep): each return's change is decided in
Python as `move` decides it, and one shop's batch is written in three statements (its
returns, their timeline events, their outbox rows) instead of three per return.

Moves that pay money never come here: `refunds.pay_refund` pays one return at a time, under
its order's lock. Neither do moves that change an order's figures (entering `cancelled`) or
whose event carries more than the return and the event (restock, refund).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from returns_service.auth import SYSTEM_CALLER
from returns_service.models import ReturnRow
from returns_service.models.base import utcnow
from returns_service.observability.metrics import count_transition
from returns_service.policies.service import policy_for_shop
from returns_service.returns import bulk_repository
from returns_service.returns.lifecycle import enter, transition_of
from returns_service.returns.timeline import next_event, outbox_event
from returns_service.rules.vocabulary import Action, EventType, ReturnStatus
from returns_service.statistics import tracking

# Events whose outbox row carries more than the return and the event (timeline._news), and
# the state whose entry changes an order's figures: each taken one return at a time.
_NOT_IN_BULK_EVENTS = frozenset({EventType.RECEIVED, EventType.REFUNDED})
_NOT_IN_BULK_TARGETS = frozenset({ReturnStatus.CANCELLED})


class NotInBulk(ValueError):
    """This move is taken one return at a time (`move`, `pay_refund`), not in a batch."""


@dataclass
class BulkMoves:
    """One shop's returns changed in memory, their events and outbox rows, not yet written."""

    shop_id: str
    rows: list[ReturnRow] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    transitions: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)

    async def move(
        self, session: AsyncSession, row: ReturnRow, action: Action, data: dict[str, Any]
    ) -> None:
        """Decide the system's move as `lifecycle.move` does and add it to the batch: the
        same state, version, deadline, timeline event and outbox row. The caller holds the
        return's row lock; its statistics are noted before it changes."""
        source = ReturnStatus(row.status)
        transition = transition_of(row, action, SYSTEM_CALLER)
        target = transition.target
        if transition.event in _NOT_IN_BULK_EVENTS or target in _NOT_IN_BULK_TARGETS:
            raise NotInBulk(f"{action.value} into {target.value} is taken one return at a time")
        await tracking.before_return_change(session, row, entering=target)
        policy = await policy_for_shop(session, row.shop_id) if target is not source else None
        enter(row, target, policy, utcnow())
        event = next_event(
            row,
            action.value,
            SYSTEM_CALLER,
            from_status=source.value,
            to_status=target.value,
            data=data,
        )
        outbox = outbox_event(row, event, transition.event)
        self.rows.append(row)
        self.events.append(event)
        self.outbox.append(outbox)
        self.transitions.append((action.value, target.value))

    def change(self, row: ReturnRow) -> None:
        """Add a change of the return's row alone (no event) to the batch."""
        self.rows.append(row)

    async def write(self, session: AsyncSession) -> None:
        """Write the batch: three statements. The caller holds a savepoint around the batch's
        changes, in memory and written, to roll back whole if the database refuses them."""
        await bulk_repository.update_returns(session, self.shop_id, self.rows)
        await bulk_repository.add_events(session, self.events, self.outbox)
        for action, target in self.transitions:
            count_transition(session, action, SYSTEM_CALLER.role.value, target)


def undo(row: ReturnRow) -> None:
    """Put back what was changed in memory on a return that did not join the batch, so that
    the unit of work writes nothing for it at commit."""
    state = inspect(row)
    for name, loaded in list(state.committed_state.items()):
        set_committed_value(row, name, loaded)
