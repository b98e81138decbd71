"""Engine, sessions, and the per-request unit of work that commits at the edge."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute
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


class TransactionalRoute(APIRoute):
    """A route whose request runs in one session: committed after the response is built and
    before it is sent, rolled back on any error or any 4xx/5xx answer.

    Committing here, rather than in a dependency, means the response body exists when the
    transaction ends, so whatever must ride the same commit as the change (the stored answer
    to an Idempotency-Key, say) can be written with it; and a client never sees 2xx for a
    change that was not committed.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        answer = super().get_route_handler()

        async def run_in_transaction(request: Request) -> Response:
            sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
            async with sessionmaker() as session:
                request.state.session = session
                try:
                    response = await answer(request)
                except BaseException:
                    await session.rollback()
                    raise
                if response.status_code >= 400:
                    await session.rollback()
                else:
                    await session.commit()
                return response

        return run_in_transaction


def request_session(request: Request) -> AsyncSession:
    """The session of this request, opened by TransactionalRoute."""
    session: AsyncSession = request.state.session
    return session


Session = Annotated[AsyncSession, Depends(request_session)]
