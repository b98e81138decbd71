"""Helpers for the negotiation scenarios: outbox events of a return as the database holds them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from returns_service.models import OutboxEventRow
from tests.api.timekeeping import sessions
from tests.conftest import Database


async def outbox_events(database: Database, return_id: str) -> list[OutboxEventRow]:
    async with sessions(database) as sessionmaker, sessionmaker() as session:
        rows = (
            await session.execute(
                select(OutboxEventRow).where(OutboxEventRow.return_id == return_id)
            )
        ).scalars()
        # In timeline order: several events of one transaction may share a timestamp.
        return sorted(rows, key=lambda row: int(row.payload["data"]["event"]["seq"]))


async def outbox_types(database: Database, return_id: str) -> list[str]:
    return [row.type for row in await outbox_events(database, return_id)]


def moves(events: list[dict[str, Any]]) -> list[tuple[str, str | None, str | None, str]]:
    """(type, from, to, actor role) of each state change on a timeline."""
    return [
        (e["type"], e["from_status"], e["to_status"], e["actor"]["role"])
        for e in events
        if e["to_status"] is not None
    ]
