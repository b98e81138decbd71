"""What an action only appends (its timeline event, its outbox event, its statistics deltas)
is written in the last statement before COMMIT: one on PostgreSQL, one per table on SQLite.
A savepoint rolled back takes its queued rows with it; one released writes them inside it, so
the database refuses them there; a transaction rolled back writes none."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError

from returns_service.app import create_app
from returns_service.appended_rows import append_rows
from returns_service.models import OutboxEventRow, ReturnEventRow, StatisticsDeltaRow
from tests.api.conftest import test_settings as settings_for
from tests.api.scenario import ADDRESS, Scenario
from tests.api.timekeeping import sessions
from tests.conftest import Database

_OUTBOX = OutboxEventRow.__table__
_DELTAS = StatisticsDeltaRow.__table__


@pytest.fixture
async def app(database: Database) -> AsyncIterator[FastAPI]:
    app = create_app(settings_for(database))
    async with app.router.lifespan_context(app):
        yield app


@contextmanager
def statements_of(app: FastAPI) -> Iterator[list[str]]:
    seen: list[str] = []

    def note(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", note)


def _outbox_row(shop_id: str, marker: str) -> dict[str, Any]:
    return {
        "shop_id": shop_id,
        "id": str(uuid.uuid4()),
        "type": "return.approved",
        "return_id": marker,
        "payload": {"marker": marker, "nested": {"list": [1, 2, 3], "text": "ünïcode '\""}},
        "created_at": datetime.now(UTC),
        "request_id": None,
    }


async def _outbox_markers(database: Database) -> list[str]:
    async with sessions(database) as sessionmaker, sessionmaker() as session:
        rows = await session.execute(select(OutboxEventRow.return_id, OutboxEventRow.payload))
        markers = []
        for return_id, payload in rows:
            assert payload["marker"] == return_id
            assert payload["nested"] == {"list": [1, 2, 3], "text": "ünïcode '\""}
            markers.append(return_id)
        return sorted(markers)


async def test_an_approval_appends_its_event_outbox_row_and_deltas_as_it_commits(
    app: FastAPI, database: Database
) -> None:
    transport = ASGITransport(app=app)
    async with AsyncClient(transport=transport, base_url="http://returns.test") as http:
        scenario = Scenario(http)
        created = await scenario.open_return()
        with statements_of(app) as seen:
            response = await scenario.act(
                created["id"], "approve", scenario.merchant, {"return_address": ADDRESS}
            )
        assert response.status_code == 200, response.text
        events = await scenario.events(created["id"])
        stored = (await scenario.get(created["id"])).json()
    approved = response.json()
    assert (stored["status"], stored["version"]) == ("approved", created["version"] + 1)
    assert stored == approved, "the UPDATE written with the appended rows wrote every change"
    assert [e["type"] for e in events][-1] == "approve"
    inserts = [s for s in seen if s.lstrip().upper().startswith(("INSERT", "WITH"))]
    written = {
        table: sum(f'INSERT INTO "{table}"' in s for s in inserts)
        for table in ("return_events", "outbox_events", "statistics_deltas")
    }
    assert written == {"return_events": 1, "outbox_events": 1, "statistics_deltas": 1}
    # PostgreSQL takes them, and the return's UPDATE, in one statement after the locking
    # SELECT; SQLite has no INSERT inside a WITH.
    assert len(inserts) == (1 if database.is_postgres else 3), inserts
    assert seen[-1] == inserts[-1], "the appended rows are the last statement before COMMIT"
    updates = [s for s in seen if 'UPDATE "returns"' in s or "UPDATE returns" in s]
    assert len(updates) == 1, seen
    if database.is_postgres:
        assert len(seen) == 2 and updates == inserts, seen
        assert "FOR UPDATE" in seen[0]
    async with sessions(database) as sessionmaker, sessionmaker() as session:
        deltas = await session.scalar(select(func.count()).select_from(StatisticsDeltaRow))
        outbox = await session.scalar(
            select(func.count()).where(OutboxEventRow.return_id == created["id"])
        )
        timeline = await session.scalar(
            select(func.count()).where(ReturnEventRow.return_id == created["id"])
        )
    assert deltas and outbox == 2 and timeline == 2  # applied, approved


async def test_a_savepoint_rolled_back_takes_its_queued_rows_with_it(database: Database) -> None:
    async with sessions(database) as sessionmaker, sessionmaker() as session, session.begin():
        append_rows(session, _OUTBOX, [_outbox_row("shop-a", "before")])
        savepoint = await session.begin_nested()
        append_rows(session, _OUTBOX, [_outbox_row("shop-a", "undone")])
        await savepoint.rollback()
        async with session.begin_nested():
            append_rows(session, _OUTBOX, [_outbox_row("shop-a", "released")])
        append_rows(session, _OUTBOX, [_outbox_row("shop-a", "after")])
    assert await _outbox_markers(database) == ["after", "before", "released"]


async def test_a_transaction_rolled_back_writes_none_and_leaves_nothing_queued(
    database: Database,
) -> None:
    async with sessions(database) as sessionmaker, sessionmaker() as session:
        async with session.begin():
            append_rows(session, _OUTBOX, [_outbox_row("shop-a", "lost")])
            await session.rollback()
        async with session.begin():
            append_rows(session, _OUTBOX, [_outbox_row("shop-a", "kept")])
    assert await _outbox_markers(database) == ["kept"]


async def test_a_row_the_database_refuses_fails_its_savepoint_not_the_transaction(
    database: Database,
) -> None:
    taken = _outbox_row("shop-a", "first")
    async with sessions(database) as sessionmaker, sessionmaker() as session:
        async with session.begin():
            append_rows(session, _OUTBOX, [taken])
        async with session.begin():
            append_rows(session, _OUTBOX, [_outbox_row("shop-a", "outside")])
            async with session.begin_nested():
                append_rows(session, _OUTBOX, [_outbox_row("shop-a", "ok")])
            with pytest.raises(IntegrityError):
                async with session.begin_nested():
                    append_rows(session, _OUTBOX, [dict(taken, return_id="twice")])
    assert await _outbox_markers(database) == ["first", "ok", "outside"]


@pytest.mark.parametrize("rows", [1, 7, 4_001])
async def test_many_rows_of_many_tables_are_cut_into_statements_the_driver_takes(
    database: Database, rows: int
) -> None:
    """4,001 outbox rows of 7 columns and as many deltas of 8: past asyncpg's 32,767
    parameters in one statement, so they are cut, and every row still arrives once."""
    shop = f"shop-{rows}"
    async with sessions(database) as sessionmaker, sessionmaker() as session, session.begin():
        append_rows(session, _OUTBOX, [_outbox_row(shop, f"m{n}") for n in range(rows)])
        append_rows(
            session,
            _DELTAS,
            (
                {
                    "shop_id": shop,
                    "batch": "b",
                    "position": n,
                    "day": datetime.now(UTC).date(),
                    "dimension": "all",
                    "key": "",
                    "metric": "returns",
                    "value": 1,
                }
                for n in range(rows)
            ),
        )
    assert await _outbox_markers(database) == sorted(f"m{n}" for n in range(rows))
    async with sessions(database) as sessionmaker, sessionmaker() as session:
        total = await session.scalar(
            select(func.sum(StatisticsDeltaRow.value)).where(StatisticsDeltaRow.shop_id == shop)
        )
    assert total == rows
