"""Read returns: one, a filtered page, a work queue, a timeline."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from returns_service.auth import Caller
from returns_service.errors import NotFound
from returns_service.pagination import (
    decode_position,
    decode_sequence,
    encode_cursor,
    encode_position,
)
from returns_service.returns import repository
from returns_service.returns.lifecycle import load_visible_return, may_see_return
from returns_service.returns.repository import NO_DEADLINE, ReturnFilters
from returns_service.returns.schemas import ReturnEventPage, ReturnOut, ReturnPage
from returns_service.returns.views import event_view, return_view, return_view_of
from returns_service.rules.vocabulary import Role


def _scoped(caller: Caller, filters: ReturnFilters) -> ReturnFilters | None:
    """Buyers list only their own returns and merchants only their shop's, whatever they ask.

    None when the filter asks for someone else's returns: there is nothing to list.
    """
    if caller.role is Role.BUYER:
        if filters.buyer_id not in (None, caller.id):
            return None
        return ReturnFilters(**{**filters.__dict__, "buyer_id": caller.id})
    if caller.role is Role.MERCHANT:
        if filters.shop_id not in (None, caller.shop_id):
            return None
        return ReturnFilters(**{**filters.__dict__, "shop_id": caller.shop_id})
    return filters


async def list_returns(
    session: AsyncSession,
    caller: Caller,
    filters: ReturnFilters,
    *,
    by_due_at: bool,
    cursor: str | None,
    limit: int,
) -> ReturnPage:
    # The work queue's "no deadline" stand-in is the one time past the bounds it issues.
    after = (
        decode_position(cursor, "due_at", beyond_bounds=NO_DEADLINE)
        if by_due_at
        else decode_position(cursor, "created_at")
    )
    scoped = _scoped(caller, filters)
    if scoped is None:
        return ReturnPage(items=[], next_cursor=None)
    rows = await repository.list_returns(
        session, scoped, by_due_at=by_due_at, after=after, limit=limit + 1
    )
    page, more = rows[:limit], len(rows) > limit
    next_cursor = None
    if more:
        last = page[-1]
        next_cursor = (
            encode_position("due_at", last.deadline_due_at or NO_DEADLINE, last.id)
            if by_due_at
            else encode_position("created_at", last.created_at, last.id)
        )
    return ReturnPage(items=[return_view(row) for row in page], next_cursor=next_cursor)


async def read_return(session: AsyncSession, caller: Caller, return_id: str) -> ReturnOut:
    """The return, if the caller may see it (404 otherwise, as `load_visible_return`)."""
    found = await repository.find_return_to_read(
        session,
        return_id,
        shop_id=caller.shop_id if caller.role is Role.MERCHANT else None,
        buyer_id=caller.id if caller.role is Role.BUYER else None,
    )
    if found is None or not may_see_return(caller, found[0]):
        raise NotFound(f"no return {return_id}")
    return return_view_of(*found)


async def list_return_events(
    session: AsyncSession, caller: Caller, return_id: str, cursor: str | None, limit: int
) -> ReturnEventPage:
    row = await load_visible_return(session, caller, return_id)
    after_seq = decode_sequence(cursor)
    events = await repository.list_events(session, row.shop_id, row.id, after_seq, limit + 1)
    page, more = events[:limit], len(events) > limit
    return ReturnEventPage(
        items=[event_view(event) for event in page],
        next_cursor=encode_cursor({"seq": page[-1].seq}) if more else None,
    )
