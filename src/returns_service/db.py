"""Engine, sessions, and the per-request unit of work that commits at the edge."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute
from pydantic_core import from_json, to_json
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from returns_service import idempotency
from returns_service.config import Settings


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def create_engine(settings: Settings, url: str | None = None) -> AsyncEngine:
    """Build the engine for the configured database (or for `url`, a read replica of it).

    SQLite allows one writer at a time; every transaction starts with BEGIN IMMEDIATE so that
    a read-then-write never fails half-way with "database is locked": writers queue instead,
    which gives the same one-winner outcome that row locks give on PostgreSQL.

    Statement parameters are hidden from error messages on both: those are logged.
    """
    url = url or settings.database_url
    if is_sqlite(url):
        engine = create_async_engine(
            url,
            connect_args={"timeout": settings.database_timeout_seconds},
            hide_parameters=True,
            json_serializer=_json_text,
            json_deserializer=from_json,
        )
        _serialize_sqlite_transactions(engine)
        return engine
    # No pre-ping: it is a round trip before every request. A connection that died (the server
    # restarted) fails its request with a disconnect error, answered 503; SQLAlchemy then
    # invalidates the whole pool, so the connections after it are all fresh.
    return create_async_engine(
        url,
        json_serializer=_json_text,
        json_deserializer=from_json,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=settings.database_timeout_seconds,
        # A database error's text is logged: it must not carry the row's values (addresses,
        # phone numbers, secrets) with it.
        hide_parameters=True,
        connect_args={
            "timeout": settings.database_timeout_seconds,
            "command_timeout": settings.database_timeout_seconds,
            "server_settings": {
                "lock_timeout": str(int(settings.database_timeout_seconds * 1000)),
                # Names the service's sessions in pg_stat_activity (on a replica too).
                "application_name": "returns_service",
            },
        },
    )


def _json_text(value: Any) -> str:
    """JSON columns written by pydantic-core's serializer (compiled: an action's outbox
    payload, the return as the API answers it, took 2-3 % of its CPU through `json.dumps`).
    The same JSON; unlike `json.dumps` it also writes what it knows beyond JSON's own types
    (datetimes, UUIDs) rather than refusing them."""
    return to_json(value).decode()


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


def sqlite_gate(settings: Settings) -> asyncio.Lock | None:
    """On SQLite, one request transaction at a time in this process.

    SQLite has one writer, and every transaction here begins IMMEDIATE; without the gate the
    others wait in SQLite's busy handler, which sleeps in steps of up to 100 ms and makes the
    slowest requests wait far longer than the queue is. Queued on an asyncio lock they run in
    turn as soon as the one before ends. Other processes still queue on the busy timeout.
    """
    return asyncio.Lock() if is_sqlite(settings.database_url) else None


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """No autoflush: statistics note rows as they were before a change, and rows are built
    before they are complete. Where a later statement must see a change, the change asks for
    it (`appended_rows.flush_before_next_statement`, an explicit flush)."""
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


class TransactionalRoute(APIRoute):
    """A route whose request runs in one session: committed after the response is built and
    before it is sent, rolled back on any error or any 4xx/5xx answer.

    Committing here, rather than in a dependency, means the response body exists when the
    transaction ends, so whatever must ride the same commit as the change (the stored answer
    to an Idempotency-Key, say) can be written with it; and a client never sees 2xx for a
    change that was not committed.

    Every POST of a known caller takes an Idempotency-Key (see `returns_service.idempotency`):
    the key is claimed before the handler runs, its stored answer replayed instead of running
    it again, and a 2xx answer stored in this same transaction; any other outcome gives the
    claim back.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        # Decided before APIRoute builds the handler, which reads it.
        self.takes_idempotency_key = idempotency.takes_idempotency_key(
            path, endpoint, kwargs.get("methods"), kwargs.get("dependencies")
        )
        if self.takes_idempotency_key:
            kwargs = idempotency.declare_idempotency_key(kwargs)
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        answer = super().get_route_handler()
        takes_idempotency_key = self.takes_idempotency_key
        reads_only = self.methods is not None and self.methods <= {"GET", "HEAD"}

        async def run_in_transaction(request: Request) -> Response:
            gate: asyncio.Lock | None = request.app.state.sqlite_gate
            if gate is None:
                return await run(request)
            async with gate:
                return await run(request)

        async def answer_reads_from_primary_if_the_replica_fails(request: Request) -> Response:
            try:
                response = await answer(request)
            except (DBAPIError, PoolTimeoutError, OSError, TimeoutError):
                if getattr(request.state, "read_target", None) != "replica":
                    raise
                # The replica failed this read: leave it until its next check passes, and
                # answer from the primary (a pure read is safe to run again).
                request.app.state.read_replica.unreachable()
                response = await answer(request)
            target = getattr(request.state, "read_target", None)
            if target is not None:  # a ReadSession served it: count where
                request.app.state.read_replica.count(target)
            return response

        async def run(request: Request) -> Response:
            claim = await idempotency.begin(request) if takes_idempotency_key else None
            if isinstance(claim, Response):
                return claim  # the stored answer to this Idempotency-Key, replayed
            sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
            async with sessionmaker() as session:
                request.state.session = session
                if reads_only:
                    await read_without_transaction(session)
                try:
                    response = await answer_reads_from_primary_if_the_replica_fails(request)
                    if response.status_code >= 400:
                        await session.rollback()
                        await idempotency.release(claim)
                    else:
                        await idempotency.finish(session, claim, response)
                        await session.commit()
                except BaseException:
                    await session.rollback()
                    await idempotency.release(claim)
                    raise
                return response

        return run_in_transaction


async def read_without_transaction(session: AsyncSession) -> None:
    """Run this session's statements each on its own, with no BEGIN and COMMIT around them.

    For requests that only read (GET): one statement needs no transaction, and the two round
    trips a transaction costs are a third of a read's. PostgreSQL only: SQLite's connections
    begin IMMEDIATE (see create_engine), and a read there queues behind the gate anyway.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


async def request_session(request: Request) -> AsyncSession:
    """The session of this request, opened by TransactionalRoute.

    Async though it awaits nothing: FastAPI runs a plain function dependency in a worker
    thread, a hop every request would pay for."""
    session: AsyncSession = request.state.session
    return session


Session = Annotated[AsyncSession, Depends(request_session)]
