"""Helpers for tests about time: shop policies with short clocks, sweeps, carrier deliveries."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from returns_service.db import create_engine, create_sessionmaker
from returns_service.models import ReturnEventRow, ReturnRow
from returns_service.models.base import set_clock
from returns_service.returns import repository
from returns_service.returns.lifecycle import start_receive_deadline
from returns_service.timers.sweep import sweep_once
from tests.api.conftest import test_settings as settings_for
from tests.api.scenario import Scenario
from tests.conftest import Database


async def set_policy(scenario: Scenario, **fields: Any) -> dict[str, Any]:
    """Replace the scenario shop's policy (platform defaults for what is left out)."""
    response = await scenario.client.put(
        f"/v1/shops/{scenario.shop_id}/return-policy",
        json=fields,
        headers=scenario.merchant.headers,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def from_now(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


@asynccontextmanager
async def sessions(database: Database) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """A sessionmaker on its own engine, as a separate sweeper process would have."""
    engine = create_engine(settings_for(database))
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


async def sweep(database: Database, now: datetime | None = None) -> int:
    async with sessions(database) as sessionmaker:
        return await sweep_once(sessionmaker, now)


async def deliver(database: Database, return_id: str, delivered_at: datetime) -> None:
    """What the carrier webhook does on a delivery report: start the merchant's receive clock."""
    async with sessions(database) as sessionmaker, sessionmaker() as session, session.begin():
        row = await repository.find_return(session, return_id, for_update=True)
        assert row is not None
        row.shipment_delivered_at = delivered_at  # as the webhook does before starting the clock
        await start_receive_deadline(session, row, delivered_at)


async def stored(database: Database, return_id: str) -> tuple[ReturnRow, list[ReturnEventRow]]:
    """The return's row and timeline as the database holds them."""
    async with sessions(database) as sessionmaker, sessionmaker() as session:
        row = (
            await session.execute(select(ReturnRow).where(ReturnRow.id == return_id))
        ).scalar_one()
        events = (
            (
                await session.execute(
                    select(ReturnEventRow)
                    .where(ReturnEventRow.return_id == return_id)
                    .order_by(ReturnEventRow.seq)
                )
            )
            .scalars()
            .all()
        )
        return row, list(events)


def system_events(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [event for event in events if event["actor"] == {"role": "system", "id": "system"}]


class Clock:
    """The service's clock, set by a test: `clock.now` is what `utcnow()` answers."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def at(self, now: datetime) -> None:
        self.now = now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@contextmanager
def pinned_clock(now: datetime) -> Iterator[Clock]:
    """Run the service on a clock the test moves, instead of sleeping."""
    clock = Clock(now)
    set_clock(lambda: clock.now)
    try:
        yield clock
    finally:
        set_clock(None)
