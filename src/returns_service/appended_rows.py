"""Rows a transaction only appends, written together in its last statement before COMMIT.

Timeline events, outbox events and statistics deltas are never read back by the transaction
that makes them, so they need not be written the moment they are made. Queued in the session,
they are written as it commits: on PostgreSQL in one statement for every table (one INSERT
per table, joined as data-modifying CTEs), one round trip where there was one per table and
per row set; SQLite has no INSERT inside a WITH, so there it is one statement per table.

A queued row belongs to the transaction or savepoint it was queued in: a savepoint released
writes the rows queued inside it first (so that a row the database refuses fails the savepoint,
and what undoes it, not the whole transaction); a savepoint rolled back takes its rows with it;
a transaction rolled back takes them all. Before the rows are written the session is flushed
(a timeline event's return exists first), and what `before_writing` registered adds its rows
(the statistics deltas).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import BindParameter, Table, TextClause, bindparam, event, inspect, text
from sqlalchemy.ext.asyncio import AsyncSession, async_session
from sqlalchemy.orm import InstanceState, Mapper, ORMExecuteState, Session, SessionTransaction
from sqlalchemy.orm.base import NO_VALUE
from sqlalchemy.util import await_only

_KEY = "returns_appended_rows"
_FLUSH = "returns_flush_before_next_statement"
# asyncpg takes at most 32,767 parameters in one statement.
_MOST_PARAMETERS = 30_000
_KEPT_STATEMENTS = 256

Queued = tuple[SessionTransaction | None, Table, dict[str, Any]]
Part = tuple[str, Table, list[dict[str, Any]]]  # "insert" or "update", the table, its rows
Update = tuple[Table, dict[str, Any]]  # a row's changed columns and its primary key
AddRows = Callable[[AsyncSession], Awaitable[None]]
HasRows = Callable[[Session], bool]
_before_writing: list[tuple[HasRows, AddRows]] = []


def append_rows(
    session: AsyncSession | Session, table: Table, rows: Iterable[Mapping[str, Any]]
) -> None:
    """Queue rows for `table`, written as the transaction commits. Every row of a table names
    the same columns."""
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    transaction = sync.get_nested_transaction() or sync.get_transaction()
    queue: list[Queued] = sync.info.setdefault(_KEY, [])
    queue.extend((transaction, table, dict(row)) for row in rows)


def flush_before_next_statement(session: AsyncSession) -> None:
    """Have the session's changes flushed before its next statement, and not sooner: a query
    later in the transaction sees them, and a transaction that sends none writes them at
    commit, in the appended rows' statement. (A plain `autoflush` would also flush rows
    being built and the states statistics note as they were.)"""
    session.sync_session.info[_FLUSH] = True


def before_writing(has_rows: HasRows, add_rows: AddRows) -> None:
    """Run `add_rows` as a transaction for which `has_rows` holds commits, after the flush and
    before the queued rows are written, so that the rows it queues ride the same statement."""
    if (has_rows, add_rows) not in _before_writing:
        _before_writing.append((has_rows, add_rows))


async def _write(
    session: AsyncSession,
    inside: SessionTransaction | None = None,
    updates: Sequence[Update] = (),
) -> None:
    """Write the queued rows now (those queued `inside` a savepoint only, when given), in as
    few statements as the database allows; the `updates` (PostgreSQL) ride the first."""
    info = session.sync_session.info
    queue: list[Queued] = info.pop(_KEY, [])
    if inside is not None:
        info[_KEY] = [queued for queued in queue if not begun_within(queued[0], inside)]
        queue = [queued for queued in queue if begun_within(queued[0], inside)]
        if not info[_KEY]:
            del info[_KEY]
    by_table: dict[Table, list[dict[str, Any]]] = {}
    for _, table, row in queue:
        by_table.setdefault(table, []).append(row)
    together = session.get_bind().dialect.name == "postgresql"
    statements = list(_statements(by_table, together))
    if updates:  # PostgreSQL: they lead the first statement
        folded: list[Part] = [("update", table, [values]) for table, values in updates]
        statements[:1] = [folded + (statements[0] if statements else [])]
    for parts in statements:
        shape = tuple((kind, table, tuple(rows[0]), len(rows)) for kind, table, rows in parts)
        parameters = {
            f"p{part}_{number}_{column}": value
            for part, (_, _, rows) in enumerate(parts)
            for number, row in enumerate(rows)
            for column, value in row.items()
        }
        await session.execute(_statement(shape), parameters)


def _statements(
    by_table: dict[Table, list[dict[str, Any]]], together: bool
) -> Iterable[list[Part]]:
    """The queued rows cut into statements: every table in one while its parameters fit (on
    PostgreSQL), else a statement per table and as many as its rows need."""
    statement: list[Part] = []
    budget = _MOST_PARAMETERS
    for table, rows in by_table.items():
        columns = len(rows[0])
        per_statement = max(1, _MOST_PARAMETERS // columns)
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            if statement and (not together or budget < columns * len(chunk)):
                yield statement
                statement, budget = [], _MOST_PARAMETERS
            statement.append(("insert", table, chunk))
            budget -= columns * len(chunk)
    if statement:
        yield statement


@functools.lru_cache(maxsize=_KEPT_STATEMENTS)
def _statement(shape: tuple[tuple[str, Table, tuple[str, ...], int], ...]) -> TextClause:
    """One INSERT per (table, columns, row count), or one UPDATE of a row by its primary key,
    the ones before the last as CTEs of it: built once per shape, with named, typed
    parameters. Text rather than `insert().values()`: SQLAlchemy caches a text statement, not
    a multi-row VALUES (it would compile one on every commit)."""
    parts = []
    binds: list[BindParameter[Any]] = []
    for part, (kind, table, columns, rows) in enumerate(shape):
        if kind == "update":
            keys = {column.name for column in table.primary_key.columns}
            changes = ", ".join(f'"{c}" = :p{part}_0_{c}' for c in columns if c not in keys)
            where = " AND ".join(f'"{c}" = :p{part}_0_{c}' for c in columns if c in keys)
            parts.append(f'UPDATE "{table.name}" SET {changes} WHERE {where}')  # noqa: S608
        else:
            names = ", ".join(f'"{column}"' for column in columns)
            values = ", ".join(
                "(" + ", ".join(f":p{part}_{row}_{column}" for column in columns) + ")"
                for row in range(rows)
            )
            parts.append(f'INSERT INTO "{table.name}" ({names}) VALUES {values}')  # noqa: S608
        binds.extend(
            bindparam(f"p{part}_{row}_{column}", type_=table.c[column].type)
            for row in range(rows)
            for column in columns
        )
    *ahead, last = parts
    sql = last
    if ahead:
        sql = "WITH " + ", ".join(f"p{n} AS ({part})" for n, part in enumerate(ahead)) + " " + last
    return text(sql).bindparams(*binds)


def _updates_to_fold(session: Session) -> list[Update]:
    """The UPDATEs the flush would send for rows that only changed plain columns, taken out
    of its hands (the rows marked as written) to ride the appended rows' statement. A row
    with any other change (a relationship, its key) is left to the flush."""
    updates: list[Update] = []
    for instance in session.dirty:
        state = inspect(instance)
        foldable = _foldable(state.mapper)
        if foldable is None:
            continue
        table, plain, keys = foldable
        values = state.dict
        changed = {
            key: values.get(key)
            for key, was in state.committed_state.items()
            if key not in plain or was is NO_VALUE or values.get(key, NO_VALUE) != was
        }
        if not changed or not changed.keys() <= plain:
            continue
        changed.update({key: values[key] for key in keys})
        updates.append((table, changed))
        mark_written(session, state)
    return updates


def mark_written(session: Session, state: InstanceState[Any]) -> None:
    """Count a row whose changes were written by a statement of our own as the ORM counts a
    row it has just flushed: every attribute as stored, the row no longer dirty, so the flush
    has nothing to do for it (a flush of a dirty row with nothing to write still walks its
    unit of work). `_commit_all` is SQLAlchemy's own step after a flush, not public API:
    tests/api/test_appended_rows.py and the sweep's tests would see it change."""
    state._commit_all(state.dict, session.identity_map)


@functools.cache
def _foldable(mapper: Mapper[Any]) -> tuple[Table[Any], frozenset[str], tuple[str, ...]] | None:
    """For a mapper whose UPDATE is its changed columns and nothing else (one table, no
    version counter, no column the database or SQLAlchemy sets on update, attribute keys
    that are column names): its table, the keys of its plain columns, its primary key's."""
    table = mapper.local_table
    if (
        not isinstance(table, Table)
        or mapper.version_id_col is not None
        or any(column.onupdate or column.server_onupdate for column in table.columns)
        or any(key != column.name for key, column in mapper.columns.items())
    ):
        return None
    keys = tuple(str(column.key) for column in mapper.primary_key)
    plain = frozenset(key for key, _ in mapper.columns.items() if key not in keys)
    return table, plain, keys


def _before_commit(session: Session) -> None:
    """Write the queued rows last thing before the outermost commit, or a savepoint's as it
    is released. The event runs inside the commit, in SQLAlchemy's greenlet, so the async
    writers are awaited from it with `await_only`."""
    savepoint = session.get_nested_transaction()
    adding = (
        [add_rows for has_rows, add_rows in _before_writing if has_rows(session)]
        if savepoint is None
        else []
    )
    if not adding and _KEY not in session.info:
        return
    session.info.pop(_FLUSH, None)  # the flush below, or the fold, writes the changes
    proxy = async_session(session)
    if proxy is None:
        raise RuntimeError("appended rows are written by async sessions only")
    for add_rows in adding:  # each flushes first if it reads the database
        await_only(add_rows(proxy))
    postgres = proxy.get_bind().dialect.name == "postgresql"
    # On PostgreSQL the rows' plain UPDATEs ride the same statement: one round trip for the
    # whole of an action's writes.
    updates = _updates_to_fold(session) if postgres and savepoint is None else []
    session.flush()
    await_only(_write(proxy, savepoint, updates))


def _flush_first(execution: ORMExecuteState) -> None:
    session = execution.session
    if session.info.pop(_FLUSH, False):
        session.flush()


def begun_within(transaction: SessionTransaction | None, ended: SessionTransaction) -> bool:
    """Whether `transaction` is `ended` or begun within it (a savepoint of it)."""
    while transaction is not None:
        if transaction is ended:
            return True
        transaction = transaction.parent
    return False


def _rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    queue: list[Queued] | None = session.info.get(_KEY)
    if queue:
        session.info[_KEY] = [
            queued for queued in queue if not begun_within(queued[0], previous_transaction)
        ]


def _ended(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_KEY, None)
        session.info.pop(_FLUSH, None)


def install() -> None:
    if not event.contains(Session, "before_commit", _before_commit):
        event.listen(Session, "before_commit", _before_commit)
        event.listen(Session, "after_soft_rollback", _rolled_back)
        event.listen(Session, "after_transaction_end", _ended)
        event.listen(Session, "do_orm_execute", _flush_first)


# Whatever queues rows imports this module, so every session that may hold them writes them.
install()
