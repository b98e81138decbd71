"""SQL for returns, their items and their timelines."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    Row,
    ScalarSelect,
    Select,
    Table,
    and_,
    bindparam,
    func,
    literal,
    or_,
    select,
    text,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from returns_service import appended_rows
from returns_service.models import (
    OrderRow,
    ReturnEventRow,
    ReturnItemRow,
    ReturnRow,
    ShopPolicyRow,
)
from returns_service.policies import cache as policy_cache
from returns_service.rules.vocabulary import TERMINAL_STATUSES, ReturnStatus, Role

_TERMINAL = [status.value for status in TERMINAL_STATUSES]
_EVENTS: Table = ReturnEventRow.__table__  # type: ignore[assignment]
_RETURNS: Table = ReturnRow.__table__  # type: ignore[assignment]
_ITEMS: Table = ReturnItemRow.__table__  # type: ignore[assignment]


def _policy_version() -> ScalarSelect[int]:
    """The version of the return's shop policy, selected with the return (policies.cache)."""
    return (
        select(ShopPolicyRow.version)
        .where(ShopPolicyRow.shop_id == ReturnRow.shop_id)
        .scalar_subquery()
    )


@functools.cache
def _find_statement(by_shop: bool, by_buyer: bool, for_update: bool) -> Select[ReturnRow, int]:
    """`find_return`'s statement for one narrowing, built once per process with bound
    parameters: building an ORM statement and its cache key is a large part of a request's
    CPU, the same every time."""
    statement = (
        select(ReturnRow, _policy_version())
        .where(ReturnRow.id == bindparam("return_id"))
        .options(joinedload(ReturnRow.items))
    )
    if by_shop:
        statement = statement.where(ReturnRow.shop_id == bindparam("shop_id"))
    if by_buyer:
        statement = statement.where(ReturnRow.buyer_id == bindparam("buyer_id"))
    if for_update:
        statement = statement.with_for_update(of=ReturnRow)
    return statement


async def find_return(
    session: AsyncSession,
    return_id: str,
    *,
    shop_id: str | None = None,
    buyer_id: str | None = None,
    for_update: bool = False,
) -> ReturnRow | None:
    """The return with its items, in this shop when the caller knows it (one shard under
    Citus, not all); locked for the transaction when asked, so that of many simultaneous
    actions on one return each sees the state the previous one left.

    One statement: the items come joined, and the shop policy's version alongside, so that
    the policy itself can come from the process cache.

    `shop_id` and `buyer_id` narrow the search to what a caller may see, in the same
    statement: a return the caller may not see is never locked (a merchant's batch naming
    another shop's returns would otherwise lock them out of order, and deadlock).
    """
    parameters = {"return_id": return_id}
    if shop_id is not None:
        parameters["shop_id"] = shop_id
    if buyer_id is not None:
        parameters["buyer_id"] = buyer_id
    statement = _find_statement(shop_id is not None, buyer_id is not None, for_update)
    found = (await session.execute(statement, parameters)).unique().first()
    if found is None:
        return None
    row: ReturnRow = found[0]
    policy_cache.saw_version(session, row.shop_id, found[1])
    return row


class ItemToRead(NamedTuple):
    line_id: str
    quantity: int
    condition: str
    unit_price: int


def _return_to_read(*narrowed_by: str) -> Select[Any]:
    """The return (every column) and its items, one row per item, for a plain read.

    Core, not the ORM: a read builds its answer from the rows and nothing else, so it needs
    no unit of work or identity map. Built once per narrowing, with bound parameters, so
    that SQLAlchemy computes the statement's cache key once per process, not per request.
    """
    items = _ITEMS.c
    statement = (
        select(
            _RETURNS,
            items.line_id.label("item_line_id"),
            items.quantity.label("item_quantity"),
            items.condition.label("item_condition"),
            items.unit_price.label("item_unit_price"),
        )
        .select_from(
            _RETURNS.outerjoin(
                _ITEMS,
                and_(items.shop_id == _RETURNS.c.shop_id, items.return_id == _RETURNS.c.id),
            )
        )
        .where(_RETURNS.c.id == bindparam("return_id"))
    )
    for column in narrowed_by:
        statement = statement.where(_RETURNS.c[column] == bindparam(column))
    return statement.order_by(_RETURNS.c.shop_id, items.position)


_TO_READ = {
    (False, False): _return_to_read(),
    (True, False): _return_to_read("shop_id"),
    (False, True): _return_to_read("buyer_id"),
    (True, True): _return_to_read("shop_id", "buyer_id"),
}


async def find_return_to_read(
    session: AsyncSession,
    return_id: str,
    *,
    shop_id: str | None = None,
    buyer_id: str | None = None,
) -> tuple[Row[Any], list[ItemToRead]] | None:
    """The return's row and its items, without locking or loading it into the session;
    narrowed like `find_return` to what the caller may see. One statement."""
    parameters = {"return_id": return_id}
    if shop_id is not None:
        parameters["shop_id"] = shop_id
    if buyer_id is not None:
        parameters["buyer_id"] = buyer_id
    statement = _TO_READ[(shop_id is not None, buyer_id is not None)]
    rows = (await session.execute(statement, parameters)).all()
    if not rows:
        return None
    first = rows[0]
    items = [
        ItemToRead(row.item_line_id, row.item_quantity, row.item_condition, row.item_unit_price)
        for row in rows
        # One return only (ids are unique in practice; keys are per shop).
        if row.item_line_id is not None and row.shop_id == first.shop_id
    ]
    return first, items


async def lock_many(
    session: AsyncSession,
    return_ids: Sequence[str],
    *,
    shop_id: str | None = None,
    with_orders: bool = False,
) -> None:
    """Lock several returns in id order, then (with_orders) their orders in key order.

    A transaction that changes several returns takes every lock up front this way, before it
    changes any: two such transactions then always lock in the same order and never wait on
    each other (a deadlock, which the database would abort). A single action locks its return
    and then its order; taking all returns before any order keeps to that too.

    Only returns the caller may see are locked (`shop_id` for a merchant): the others are
    answered 404 later without a lock (`find_return` with the same narrowing).
    """
    if not return_ids:
        return
    statement = (
        select(ReturnRow.shop_id, ReturnRow.order_id)
        .where(ReturnRow.id.in_(set(return_ids)))
        .order_by(ReturnRow.id, ReturnRow.shop_id)
        .with_for_update()
    )
    if shop_id is not None:
        statement = statement.where(ReturnRow.shop_id == shop_id)
    orders = sorted({(row.shop_id, row.order_id) for row in await session.execute(statement)})
    if with_orders and orders:
        await session.execute(
            select(OrderRow.id)
            .where(tuple_(OrderRow.shop_id, OrderRow.id).in_(orders))
            .order_by(OrderRow.shop_id, OrderRow.id)
            .with_for_update()
        )


async def lock_parcel(session: AsyncSession, carrier_key: str, tracking_key: str) -> None:
    """Make returns shipping with this parcel wait for each other until commit.

    Each ship locks only its own return; on PostgreSQL this advisory lock makes two returns
    naming one parcel at once check one after the other. SQLite serializes writers already.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
        {"key": f"parcel:{carrier_key}:{tracking_key}"},
    )


async def lock_buyer_standing(session: AsyncSession, shop_id: str, buyer_id: str) -> None:
    """Make decisions that count the buyer's recent refunds in this shop wait for each other
    until commit, so that two fast refunds at once cannot both pass the limit.

    Taken last, after the return and its order (the lock order everywhere): nothing is
    locked after it. On PostgreSQL a transaction advisory lock stands in for a standing row;
    SQLite serializes writers already.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"standing:{len(shop_id)}:{shop_id}:{buyer_id}"},
    )


async def open_returns_shipped_with(
    session: AsyncSession, tracking_number: str, *, other_than: ReturnRow
) -> Sequence[tuple[str, str | None]]:
    """(id, carrier) of the returns, other than this one and not ended, whose goods travel
    back under this (stored, normalised) tracking number, in any shop."""
    statement = select(ReturnRow.id, ReturnRow.shipment_carrier).where(
        ReturnRow.shipment_tracking_number == tracking_number,
        ReturnRow.status.not_in(_TERMINAL),
        or_(ReturnRow.shop_id != other_than.shop_id, ReturnRow.id != other_than.id),
    )
    return [(return_id, carrier) for return_id, carrier in await session.execute(statement)]


async def refunded_on_order(session: AsyncSession, shop_id: str, order_id: str) -> int:
    """Money already refunded over every return of the order."""
    statement = select(func.sum(ReturnRow.refunded_amount)).where(
        ReturnRow.shop_id == shop_id, ReturnRow.order_id == order_id
    )
    return int((await session.execute(statement)).scalar_one() or 0)


async def count_buyer_returns_since(
    session: AsyncSession, shop_id: str, buyer_id: str, since: datetime
) -> int:
    statement = select(func.count()).where(
        ReturnRow.shop_id == shop_id,
        ReturnRow.buyer_id == buyer_id,
        ReturnRow.created_at >= since,
    )
    return int((await session.execute(statement)).scalar_one())


async def count_buyer_refunds_since(
    session: AsyncSession, shop_id: str, buyer_id: str, since: datetime
) -> int:
    statement = select(func.count()).where(
        ReturnRow.shop_id == shop_id,
        ReturnRow.buyer_id == buyer_id,
        ReturnRow.refunded_at >= since,
    )
    return int((await session.execute(statement)).scalar_one())


def add_event(session: AsyncSession, values: dict[str, Any]) -> None:
    """Queue one timeline event, written with the transaction's other appended rows as it
    commits (`appended_rows`): nothing in the transaction reads it back."""
    appended_rows.append_rows(session, _EVENTS, [values])


async def list_events(
    session: AsyncSession, shop_id: str, return_id: str, after_seq: int, limit: int
) -> Sequence[ReturnEventRow]:
    statement = (
        select(ReturnEventRow)
        .where(
            ReturnEventRow.shop_id == shop_id,
            ReturnEventRow.return_id == return_id,
            ReturnEventRow.seq > after_seq,
        )
        .order_by(ReturnEventRow.seq)
        .limit(limit)
    )
    return (await session.execute(statement)).scalars().all()


@dataclass(frozen=True)
class ReturnFilters:
    shop_id: str | None = None
    buyer_id: str | None = None
    status: str | None = None
    type: str | None = None
    reason: str | None = None
    buyer_flagged: bool | None = None
    created_from: datetime | None = None
    created_to: datetime | None = None
    awaiting: str | None = None


def _conditions(filters: ReturnFilters) -> list[Any]:
    conditions: list[Any] = []
    if filters.shop_id is not None:
        conditions.append(ReturnRow.shop_id == filters.shop_id)
    if filters.buyer_id is not None:
        conditions.append(ReturnRow.buyer_id == filters.buyer_id)
    if filters.status is not None:
        conditions.append(ReturnRow.status == filters.status)
    if filters.type is not None:
        conditions.append(ReturnRow.type == filters.type)
    if filters.reason is not None:
        conditions.append(ReturnRow.reason == filters.reason)
    if filters.buyer_flagged is not None:
        conditions.append(ReturnRow.buyer_flagged == filters.buyer_flagged)
    if filters.created_from is not None:
        conditions.append(ReturnRow.created_at >= filters.created_from)
    if filters.created_to is not None:
        conditions.append(ReturnRow.created_at < filters.created_to)
    if filters.awaiting == "platform":
        conditions.append(AWAITING_PLATFORM)
    elif filters.awaiting is not None:
        conditions.append(ReturnRow.deadline_actor == filters.awaiting)
    return conditions


# What the platform's work queue holds: returns whose timer the platform owns, and
# arbitration, which waits on the platform with no timer to act for it. Written with its
# values inline, as the partial index `ix_returns_platform_queue` is, so PostgreSQL can prove
# the index covers the query whatever plan it caches.
AWAITING_PLATFORM = or_(
    ReturnRow.deadline_actor == literal(Role.PLATFORM.value, literal_execute=True),
    ReturnRow.status == literal(ReturnStatus.ARBITRATION.value, literal_execute=True),
)


# Returns with no deadline sort after every dated one; this stands in for "never".
NO_DEADLINE = datetime(9999, 12, 31, tzinfo=UTC)


def list_statement(
    filters: ReturnFilters,
    *,
    by_due_at: bool,
    after: tuple[datetime, str] | None,
    limit: int,
) -> Select[ReturnRow]:
    """One page: newest first, or (by_due_at) most urgent first; after the keyset position
    `after` (created_at or due_at, id) of the previous page's last row.

    Written so that an index walks it (revision 0007): the keyset is a row comparison on the
    columns of the order, and a work queue for one actor (who always has a deadline, so
    due_at is never NULL there) orders by the column itself, not by an expression over it.
    """
    statement = (
        select(ReturnRow).options(selectinload(ReturnRow.items)).where(*_conditions(filters))
    )
    if not by_due_at:
        if after is not None:
            statement = statement.where(tuple_(ReturnRow.created_at, ReturnRow.id) < after)
        return statement.order_by(ReturnRow.created_at.desc(), ReturnRow.id.desc()).limit(limit)
    due, ident = ReturnRow.deadline_due_at, ReturnRow.id
    if filters.awaiting is not None and filters.awaiting != Role.PLATFORM.value:
        # The merchant's or buyer's timer is always dated.
        if after is not None:
            statement = statement.where(tuple_(due, ident) > after)
        return statement.order_by(due, ident).limit(limit)
    if after is not None:
        after_due, after_id = after
        if after_due == NO_DEADLINE:  # past every dated one: the undated, by id
            statement = statement.where(due.is_(None), ident > after_id)
        else:
            statement = statement.where(or_(tuple_(due, ident) > after, due.is_(None)))
    # Undated returns last (NULLS LAST is PostgreSQL's ascending order already): the column
    # itself, so (…, deadline_due_at, id) indexes walk it in order.
    return statement.order_by(due.asc().nulls_last(), ident).limit(limit)


async def list_returns(
    session: AsyncSession,
    filters: ReturnFilters,
    *,
    by_due_at: bool,
    after: tuple[datetime, str] | None,
    limit: int,
) -> Sequence[ReturnRow]:
    statement = list_statement(filters, by_due_at=by_due_at, after=after, limit=limit)
    rows: Sequence[ReturnRow] = (await session.execute(statement)).scalars().all()
    return rows


async def due_deadlines(
    session: AsyncSession, now: datetime, after: tuple[datetime, str, str] | None, limit: int
) -> list[tuple[str, str, int, datetime]]:
    """(shop_id, id, version, due_at) of the returns whose deadline is due at `now`, most
    overdue first, after the position `after` (due_at, shop_id, id). No lock: the sweep
    claims them shop by shop (claim_due_of_shop)."""
    statement = select(
        ReturnRow.shop_id, ReturnRow.id, ReturnRow.version, ReturnRow.deadline_due_at
    ).where(ReturnRow.deadline_due_at <= now)
    if after is not None:
        statement = statement.where(
            tuple_(ReturnRow.deadline_due_at, ReturnRow.shop_id, ReturnRow.id) > after
        )
    statement = statement.order_by(
        ReturnRow.deadline_due_at, ReturnRow.shop_id, ReturnRow.id
    ).limit(limit)
    rows = (await session.execute(statement)).all()
    return [
        (shop_id, return_id, version, due)
        for shop_id, return_id, version, due in rows
        if due is not None  # never: the query asks for due <= now
    ]


async def claim_due_of_shop(
    session: AsyncSession,
    shop_id: str,
    return_ids: Sequence[str],
    now: datetime,
    *,
    changed_before: datetime,
    reload: bool = False,
) -> list[ReturnRow]:
    """Lock and load (with items) those of these returns of one shop whose deadline is due at
    `now`, that no one changed since `changed_before` and no one else holds (PostgreSQL:
    `SKIP LOCKED`; SQLite: one writer anyway). One statement, pinned to the shop.

    `reload`: the returns are in the session already and what it holds of them is to be
    replaced by what the database holds (a batch of changes to them was rolled back)."""
    statement = (
        select(ReturnRow, _policy_version())
        .where(
            ReturnRow.shop_id == shop_id,
            ReturnRow.id.in_(list(return_ids)),
            ReturnRow.deadline_due_at <= now,
            ReturnRow.deadline_action.is_not(None),
            ReturnRow.updated_at < changed_before,
        )
        .order_by(ReturnRow.deadline_due_at, ReturnRow.id)
        .options(selectinload(ReturnRow.items))  # the outbox event carries the whole return
        .with_for_update(of=ReturnRow, skip_locked=True)
    )
    if reload:
        statement = statement.execution_options(populate_existing=True)
    rows: list[ReturnRow] = []
    for row, policy_version in await session.execute(statement):
        policy_cache.saw_version(session, row.shop_id, policy_version)
        rows.append(row)
    return rows
