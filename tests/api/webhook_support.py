"""The app with its relay in reach: tests drive a relay pass themselves, on a pinned clock."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from httpx import ASGITransport, AsyncClient
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from returns_service.app import create_app
from returns_service.config import Settings
from returns_service.models import OutboxEventRow, WebhookDeliveryRow
from returns_service.models.base import utcnow
from returns_service.relay import dispatch
from returns_service.relay.worker import FAN_OUT_BATCH, RelayReport, http_client, relay_once
from tests.api.conftest import test_settings
from tests.api.scenario import ADDRESS, Party, Scenario
from tests.conftest import Database


@dataclass
class Harness:
    scenario: Scenario
    sessionmaker: async_sessionmaker[AsyncSession]
    settings: Settings
    relay_client: httpx.AsyncClient

    async def relay(self, now: datetime | None = None) -> RelayReport:
        return await relay_once(self.sessionmaker, self.settings, self.relay_client, now=now)

    async def fan_out(self) -> int:
        """Only turn new events into deliveries; send nothing."""
        async with self.sessionmaker() as session, session.begin():
            return await dispatch.fan_out(session, utcnow(), FAN_OUT_BATCH)

    async def relay_until_quiet(self, now: datetime | None = None, passes: int = 20) -> None:
        """Pass after pass at one instant, until a pass finds nothing due."""
        for _ in range(passes):
            report = await self.relay(now)
            if report.claimed == 0 and report.fanned_out == 0:
                return
        raise AssertionError("the relay still had work after many passes")

    async def all(self, statement: Select[Any]) -> Sequence[Any]:
        async with self.sessionmaker() as session:
            rows: Sequence[Any] = (await session.execute(statement)).scalars().all()
            return rows

    async def outbox(self, return_id: str) -> list[OutboxEventRow]:
        rows = await self.all(
            select(OutboxEventRow)
            .where(OutboxEventRow.return_id == return_id)
            .order_by(OutboxEventRow.created_at, OutboxEventRow.id)
        )
        # Events of one request share a timestamp at most; the timeline's seq breaks ties.
        return sorted(rows, key=lambda row: row.payload["data"]["event"]["seq"])

    async def deliveries(self, subscription_id: str | None = None) -> list[WebhookDeliveryRow]:
        statement = select(WebhookDeliveryRow).order_by(WebhookDeliveryRow.created_at)
        if subscription_id is not None:
            statement = statement.where(WebhookDeliveryRow.subscription_id == subscription_id)
        return list(await self.all(statement))

    async def subscribe(
        self, url: str, events: list[str] | None = None, by: Party | None = None, **body: Any
    ) -> dict[str, Any]:
        response = await self.scenario.client.post(
            "/v1/webhook-subscriptions",
            json={"url": url, "events": events or ["return.*"], **body},
            headers=(by or self.scenario.merchant).headers,
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def approved_return(self) -> dict[str, Any]:
        created = await self.scenario.open_return()
        response = await self.scenario.act(
            created["id"], "approve", self.scenario.merchant, {"return_address": ADDRESS}
        )
        assert response.status_code == 200, response.text
        approved: dict[str, Any] = response.json()
        return approved


@asynccontextmanager
async def harness(database: Database, **overrides: object) -> AsyncIterator[Harness]:
    settings = test_settings(database, **overrides)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = ASGITransport(app=app, raise_app_exceptions=False)
        async with (
            AsyncClient(transport=transport, base_url="http://returns.test") as http,
            http_client(settings) as relay_client,
        ):
            yield Harness(Scenario(http), app.state.sessionmaker, settings, relay_client)


def later(seconds: float, start: datetime | None = None) -> datetime:
    return (start or utcnow()) + timedelta(seconds=seconds)
