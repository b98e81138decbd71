"""Every SQL statement the service issues for one shop names that shop.

Under Citus a statement that pins each distributed table it touches to one value of the
distribution column (`shop_id`) runs on the one node holding that shop; anything else is sent
to every shard. `tests/conftest.py` listens to every statement the service's own code issues
during the suite (statements written by the tests themselves are not looked at) and fails the
test whose scenario issued one that does not pin a distributed table, unless the repository
function that issued it is listed in PLATFORM_WIDE with the reason it must span shops.

A distributed table counts as pinned when a predicate that every matching row must satisfy
(an AND of the WHERE clause, a JOIN's ON clause, or a correlated subquery's WHERE) compares
its distribution column with a value or a list of values, or equates it with the column of
another table that is pinned. Inserts are pinned by the value they write.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import FrameType
from typing import Any

import greenlet
from sqlalchemy import Column, Table
from sqlalchemy.sql import operators
from sqlalchemy.sql.dml import Delete, Insert, Update
from sqlalchemy.sql.elements import (
    BinaryExpression,
    BindParameter,
    BooleanClauseList,
    ClauseElement,
    Grouping,
    Null,
    TextClause,
    Tuple,
    UnaryExpression,
)
from sqlalchemy.sql.selectable import Join, ScalarSelect, Select, Subquery
from sqlalchemy.sql.visitors import iterate

from returns_service.models import Base
from returns_service.models.placement import placement_of

# Repository functions whose statements span shops on purpose, and why. Keyed by the function
# (module.function) that handed the statement to the session.
PLATFORM_WIDE: dict[str, str] = {
    "returns_service.statistics.repository.shops_with_deltas": (
        "the fold looks for the shops with statistics deltas pending across shops (a "
        "maintenance read, like the sweep's due deadlines); each fold is then pinned to a shop"
    ),
    # Platform and buyer views: a buyer's returns span shops, the platform sees every shop.
    "returns_service.returns.repository.list_returns": (
        "platform-wide and buyer lists and work queues: a merchant's is pinned to its shop, "
        "a buyer's and the platform's span shops (fanned out, merged by created_at or due_at)"
    ),
    "returns_service.relay.repository.list_newest_first": (
        "the operators' delivery list spans shops unless filtered by shop_id"
    ),
    # The API names a return, an order, a delivery by id alone.
    "returns_service.returns.repository.find_return": (
        "the API names a return by id alone; buyers and the platform cannot say its shop "
        "(a merchant's lookup is pinned to its shop)"
    ),
    "returns_service.returns.repository.find_return_to_read": (
        "GET /v1/returns/{id} names a return by id alone, as find_return (a merchant's read "
        "is pinned to its shop)"
    ),
    "returns_service.orders.repository.find_order": (
        "order registration and buyers name an order by id alone; registration keeps one "
        "shop per id"
    ),
    "returns_service.relay.repository.find_delivery": ("operators replay a delivery by id alone"),
    # Carrier webhooks name a parcel, not a shop.
    "returns_service.carriers.repository.returns_shipped_with": (
        "a carrier event names a parcel, and any shop's return may travel in it"
    ),
    "returns_service.carriers.repository.refund_only_returns_of_parcel": (
        "a carrier event names a parcel, and any shop's order may have been sent in it"
    ),
    "returns_service.returns.repository.open_returns_shipped_with": (
        "one parcel carries one open return in any shop: shipping checks every shop"
    ),
    "returns_service.returns.repository.lock_many": (
        "a batch names returns by id alone (pinned to the caller's shop for merchants)"
    ),
    # Statistics: the platform and storefronts may ask for every shop at once (shop_id left
    # out); a merchant's, or one shop's, are pinned to it.
    "returns_service.statistics.repository.sum_cells": (
        "statistics of every shop: the rollups of all shops, summed (pushed down per shard)"
    ),
    "returns_service.statistics.repository.day_cells": (
        "statistics of every shop, per day (pushed down per shard)"
    ),
    "returns_service.statistics.repository.count_repurchases": (
        "repurchase impact is per buyer of a shop; over every shop it reads every shop's "
        "orders and returns of the window (the subqueries name the shop when one is asked)"
    ),
    "returns_service.statistics.repository.shops_with_rows": (
        "statistics of every shop (partial days) and the rebuild of every shop go shop by "
        "shop: this finds the shops"
    ),
    "returns_service.statistics.repository.hold_off_cell_writers": (
        "a rebuild of the statistics keeps every writer of cells waiting while it counts"
    ),
    # Background work over every shop: the sweep, the relay, retention.
    "returns_service.returns.repository.due_deadlines": (
        "the sweep finds due deadlines in every shop (each sweeper may take a shard range)"
    ),
    "returns_service.relay.repository.events_to_fan_out": (
        "the relay takes new events of every shop (SKIP LOCKED lets many relays share)"
    ),
    "returns_service.relay.repository.due_deliveries": (
        "the relay takes due deliveries of every shop"
    ),
    "returns_service.relay.repository.events_by_id": (
        "the relay loads the bodies of the deliveries it claimed, from any shop"
    ),
    "returns_service.relay.repository.cancel_pending": (
        "a platform subscription that is gone has deliveries in every shop"
    ),
    "returns_service.relay.repository.settled_events_before": (
        "retention removes old settled events of every shop"
    ),
    "returns_service.relay.repository.delete_settled_deliveries": (
        "retention: the (shop_id, event id) pairs it removes span shops"
    ),
    "returns_service.relay.repository.delete_events_without_deliveries": (
        "retention: the (shop_id, event id) pairs it removes span shops"
    ),
    "returns_service.idempotency.repository.delete_expired_idempotency_keys": (
        "the sweep removes expired keys of every caller"
    ),
    "returns_service.backlog.backlog_counts": (
        "the metrics count the backlog (overdue deadlines, pending events) of every shop"
    ),
}

# Functions that lock rows (SELECT ... FOR UPDATE) of more than one shard. Citus runs a
# locking SELECT only when it goes to one shard, so under Citus each of these must first find
# its rows without a lock and then lock them by (shop_id, id), as the sweep already does.
MULTI_SHARD_LOCKS: dict[str, str] = {
    "returns_service.returns.repository.find_return": (
        "a buyer's or the platform's action locks a return named by id alone"
    ),
    "returns_service.orders.repository.find_order": (
        "registration locks an order named by id alone"
    ),
    "returns_service.returns.repository.lock_many": (
        "a batch locks returns named by id alone, and their orders"
    ),
    "returns_service.relay.repository.events_to_fan_out": (
        "the relay claims new events of every shop with SKIP LOCKED"
    ),
    "returns_service.relay.repository.due_deliveries": (
        "the relay claims due deliveries of every shop with SKIP LOCKED"
    ),
    "returns_service.relay.repository.find_delivery": (
        "an operator's replay locks a delivery named by id alone"
    ),
    "returns_service.relay.repository.settled_events_before": (
        "retention takes old settled events of every shop with SKIP LOCKED"
    ),
}

_DISTRIBUTED = {
    name: placement.column
    for name in Base.metadata.tables
    if (placement := placement_of(name)).kind == "distributed"
}


@dataclass(frozen=True)
class Unpinned:
    origin: str
    tables: tuple[str, ...]
    sql: str
    locks: bool = False

    def __str__(self) -> str:
        if self.locks:
            return (
                f"{self.origin} locks rows of {', '.join(self.tables)} without naming one "
                f"shop (Citus runs SELECT ... FOR UPDATE on one shard only: pin the shop, or "
                f"list {self.origin} in tests/shop_scoping.py MULTI_SHARD_LOCKS with the "
                f"reason):\n  {self.sql}"
            )
        return (
            f"{self.origin} issued SQL that does not pin {', '.join(self.tables)} to one "
            f"shop (filter on the distribution column, or list {self.origin} in "
            f"tests/shop_scoping.py PLATFORM_WIDE with the reason):\n  {self.sql}"
        )


def violations(origin: str, statement: ClauseElement, sql: str, parameters: Any) -> list[Unpinned]:
    """What is wrong with this statement the service issued, given the declared exceptions."""
    found = []
    if origin not in PLATFORM_WIDE and (tables := unpinned_tables(statement, parameters)):
        found.append(Unpinned(origin, tuple(sorted(tables)), sql))
    if origin not in MULTI_SHARD_LOCKS and (tables := multi_shard_locks(statement)):
        found.append(Unpinned(origin, tuple(sorted(tables)), sql, locks=True))
    return found


def origin_of_statement(frame: FrameType | None) -> str | None:
    """The service function that handed the statement to SQLAlchemy: the innermost frame of
    `returns_service` code. None when the tests issued it themselves, or the migrations did.

    An async session runs the statement in a greenlet of its own whose stack ends there; the
    awaiting coroutines are on the stack of the greenlet it was switched from (its parent).
    """
    current = greenlet.getcurrent()
    while frame is not None:
        module = frame.f_globals.get("__name__", "")
        if module.startswith("returns_service.") and module != "returns_service.migrations":
            return f"{module}.{frame.f_code.co_name}"
        if module.startswith(("tests.", "alembic")):
            return None
        frame = frame.f_back
        if frame is None and current.parent is not None:
            current = current.parent
            frame = current.gr_frame
    return None


def unpinned_tables(statement: ClauseElement, parameters: list[dict[str, Any]]) -> set[str]:
    """The distributed tables the statement touches without pinning them to one shard key."""
    if isinstance(statement, TextClause):
        words = statement.text.replace(",", " ").replace("(", " ").split()
        if words[:2] == ["INSERT", "INTO"] and words[2] in _DISTRIBUTED:
            # A text INSERT is pinned by the shop each of its rows writes (`shop_id` or
            # `shop_id_<n>` parameters).
            column = _DISTRIBUTED[words[2]]
            shops = [
                value
                for row in parameters
                for name, value in row.items()
                if name == column or name.startswith(f"{column}_")
            ]
            return set() if shops and all(shop is not None for shop in shops) else {words[2]}
        return {name for name in _DISTRIBUTED if name in set(words)}
    if isinstance(statement, Insert):
        table = statement.table
        assert isinstance(table, Table)
        column = _DISTRIBUTED.get(table.name)
        # A multi-row VALUES carries its rows in the statement, not in the parameters.
        inline = [row for rows in statement._multi_values for row in rows]
        if inline:
            parameters = [
                {getattr(name, "key", name): value for name, value in row.items()} for row in inline
            ]
        written = bool(parameters) and all(
            row.get(column) is not None for row in parameters if column
        )
        return set() if column is None or written else {table.name}
    scope = _Scope()
    scope.visit_statement(statement)
    return scope.unpinned(scope.pinned)


def multi_shard_locks(statement: ClauseElement) -> set[str]:
    """The distributed tables a SELECT ... FOR UPDATE locks without naming one shard key."""
    if not isinstance(statement, Select) or statement._for_update_arg is None:
        return set()
    scope = _Scope()
    scope.visit_statement(statement)
    return scope.unpinned(scope.pinned_to_one)


class _Scope:
    """Tables seen, and the predicates every row must satisfy, across a statement's tree."""

    def __init__(self) -> None:
        self.tables: set[str] = set()
        self.pinned: set[str] = set()  # to one value or a list of values
        self.pinned_to_one: set[str] = set()
        self.links: list[tuple[str, str]] = []

    def visit_statement(self, statement: ClauseElement) -> None:
        if isinstance(statement, Select):
            for source in statement.get_final_froms():
                self._visit_from(source)
            for clause in statement._where_criteria:
                self._visit_predicate(clause)
        elif isinstance(statement, (Update, Delete)):
            self._visit_from(statement.table)
            for clause in statement._where_criteria:
                self._visit_predicate(clause)

    def _visit_from(self, source: Any) -> None:
        if isinstance(source, Table):
            self.tables.add(source.name)
        elif isinstance(source, Join):
            self._visit_from(source.left)
            self._visit_from(source.right)
            self._visit_predicate(source.onclause)
        elif isinstance(source, Subquery):
            self.visit_statement(source.element)
        elif hasattr(source, "element"):  # an alias
            self._visit_from(source.element)

    def _visit_predicate(self, clause: Any) -> None:
        if isinstance(clause, BooleanClauseList):
            if clause.operator is operators.and_:
                for inner in clause.clauses:
                    self._visit_predicate(inner)
            # An OR pins nothing for certain; the tables its subqueries read are still seen.
            self.tables.update(
                element.name for element in iterate(clause) if isinstance(element, Table)
            )
            return
        if isinstance(clause, (Grouping, UnaryExpression)):
            # A grouping, EXISTS or NOT EXISTS (...): a correlated subquery pins by its WHERE.
            self._visit_predicate(clause.element)
        elif isinstance(clause, (ScalarSelect, Select)):
            self.visit_statement(clause.element if isinstance(clause, ScalarSelect) else clause)
        elif isinstance(clause, BinaryExpression):
            self._visit_comparison(clause)

    def _visit_comparison(self, clause: BinaryExpression[Any]) -> None:
        left, right, operator = clause.left, clause.right, clause.operator
        if operator is operators.eq:
            left_key, right_key = _key_column(left), _key_column(right)
            if left_key and right_key:
                self.links.append((left_key, right_key))
            elif left_key and _is_value(right):
                self.pinned.add(left_key)
                self.pinned_to_one.add(left_key)
            elif right_key and _is_value(left):
                self.pinned.add(right_key)
                self.pinned_to_one.add(right_key)
        elif operator is operators.in_op and _is_value(right):
            columns = left.clauses if isinstance(left, Tuple) else [left]
            self.pinned.update(key for column in columns if (key := _key_column(column)))
        else:
            for side in (left, right):
                if isinstance(side, (ScalarSelect, Select, Grouping)):
                    self._visit_predicate(side)

    def unpinned(self, pins: set[str]) -> set[str]:
        pinned = set(pins)
        changed = True
        while changed:
            changed = False
            for a, b in self.links:
                if (a in pinned) != (b in pinned):
                    pinned.update((a, b))
                    changed = True
        return {name for name in self.tables if name in _DISTRIBUTED and name not in pinned}


def _key_column(element: Any) -> str | None:
    """The table name when this is the distribution column of a distributed table."""
    if isinstance(element, Column) and isinstance(element.table, Table):
        name = element.table.name
        if _DISTRIBUTED.get(name) == element.name:
            return name
    return None


def _is_value(element: Any) -> bool:
    if isinstance(element, BindParameter):
        return True
    if isinstance(element, Grouping):
        return _is_value(element.element)
    if isinstance(element, Tuple):
        return all(_is_value(inner) for inner in element.clauses)
    return not isinstance(element, (Null, Column)) and not element.get_children()
