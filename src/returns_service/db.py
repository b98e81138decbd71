"""Engine, sessions, and the per-request unit of work that commits at the edge."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from returns_service.config import Settings


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(settings: Settings) -> AsyncEngine:
    """Build the engine for the configured database.

    SQLite allows one writer at a time; every transaction starts with BEGIN IMMEDIATE so that
    a read-then-write never fails half-way with "database is locked": writers queue instead,
    which gives the same one-winner outcome that row locks give on PostgreSQL.
    """
    url = settings.database_url
    if is_sqlite(url):
        engine = create_async_engine(
            url, connect_args={"timeout": settings.database_timeout_seconds}
        )
        _serialize_sqlite_transactions(engine)
        return engine
    return create_async_engine(
        url,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=settings.database_timeout_seconds,
        pool_pre_ping=True,
        connect_args={
            "timeout": settings.database_timeout_seconds,
            "command_timeout": settings.database_timeout_seconds,
            "server_settings": {"lock_timeout": str(int(settings.database_timeout_seconds * 1000))},
        },
    )


def _serialize_sqlite_transactions(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when a transaction begins.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def request_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One session per request: commit when the handler returns, roll back when it raises.

    Declared with scope="function" below, so the commit happens before the response is sent:
    a client never sees 2xx for a change that was not committed.
    """
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with sessionmaker() as session:
        try:
            yield session
        except BaseException:
            await session.rollback()
            raise
        await session.commit()


Session = Annotated[AsyncSession, Depends(request_session, scope="function")]
