"""Prometheus metrics, correct across `serve`'s worker processes.

`serve` points PROMETHEUS_MULTIPROC_DIR at a fresh folder before any worker starts (see
`observability.metrics_directory`); prometheus-client then keeps each worker's counters in files
there, and a scrape answered by any worker sums them all. Without it (tests, `demo`), the
counters live in this process.

What the database knows (deadlines overdue, events waiting for the relay, deliveries parked)
is counted at scrape time with indexed queries, not kept in memory: every worker would hold a
different, stale number.

Transitions and refunds are counted when their transaction commits (`count_on_commit`): an
attempt rolled back, or a batch item undone to its savepoint, counts nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from returns_service.appended_rows import begun_within
from returns_service.observability.metrics_directory import MULTIPROCESS_DIR_VARIABLE

HTTP_REQUESTS = Counter(
    "returns_http_requests",
    "Answers given, by method, route template and status.",
    ["method", "route", "status"],
)
HTTP_REQUEST_DURATION = Histogram(
    "returns_http_request_duration_seconds",
    "Time from a request's arrival to its answer, by method, route template and status.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
TRANSITIONS = Counter(
    "returns_transitions",
    "Committed state-table actions, by action, actor role and the state they led to.",
    ["action", "actor", "to_status"],
)
REFUNDED_MINOR_UNITS = Counter(
    "returns_refunded_minor_units",
    "Money refunded (committed), in minor units, by ISO 4217 currency.",
    ["currency"],
)
WEBHOOK_DELIVERIES = Counter(
    "returns_webhook_deliveries",
    "Outbound webhook attempts by outcome: delivered, retry, parked, gone (410), "
    "lost_claim (another relay took it over), unrecorded (the database failed).",
    ["outcome"],
)
DB_READS = Counter(
    "returns_db_reads",
    "Pure reads (lists, work queues) by where they were served: replica or primary.",
    ["target"],
)
DB_REPLICA_LAG = Gauge(
    "returns_db_replica_lag_seconds",
    "The read replica's lag as last measured (the most over live workers); -1: unreachable.",
    multiprocess_mode="livemax",
)
DB_POOL_IN_USE = Gauge(
    "returns_db_pool_in_use",
    "Database connections checked out of the pools, summed over live worker processes.",
    multiprocess_mode="livesum",
)


def observe_answer(method: str, route: str, status: int, seconds: float) -> None:
    """Told of every answer by the access layer."""
    labels = (method, route, str(status))
    HTTP_REQUESTS.labels(*labels).inc()
    HTTP_REQUEST_DURATION.labels(*labels).observe(seconds)


# -- counted on commit -------------------------------------------------------------------

_PENDING = "returns_metrics_on_commit"


def count_on_commit(session: AsyncSession, count: Callable[[], None]) -> None:
    """Run `count` once the transaction `session` is in commits; never if it rolls back (or
    the savepoint it is in does)."""
    sync = session.sync_session
    transaction = sync.get_nested_transaction() or sync.get_transaction()
    sync.info.setdefault(_PENDING, []).append((transaction, count))


def count_transition(session: AsyncSession, action: str, actor: str, to_status: str) -> None:
    count_on_commit(session, TRANSITIONS.labels(action, actor, to_status).inc)


def count_refund(session: AsyncSession, currency: str, amount: int) -> None:
    count_on_commit(session, lambda: REFUNDED_MINOR_UNITS.labels(currency).inc(amount))


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: its counts wait for the transaction around it
    for _transaction, count in session.info.pop(_PENDING, ()):
        count()


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, previous_transaction: SessionTransaction) -> None:
    pending = session.info.get(_PENDING)
    if pending:
        session.info[_PENDING] = [
            (transaction, count)
            for transaction, count in pending
            if transaction is not None and not begun_within(transaction, previous_transaction)
        ]


def watch_pool(engine: AsyncEngine) -> None:
    """Keep DB_POOL_IN_USE in step with this engine's checkouts and checkins."""

    @event.listens_for(engine.sync_engine, "checkout")
    def _checkout(*_args: Any) -> None:
        DB_POOL_IN_USE.inc()

    @event.listens_for(engine.sync_engine, "checkin")
    def _checkin(*_args: Any) -> None:
        DB_POOL_IN_USE.dec()


# -- the scrape (served by returns_service.scrape) --------------------------------------


class _Gauges(Collector):
    """Values read at scrape time, as gauges: (name, help, value)."""

    def __init__(self, gauges: list[tuple[str, str, float]]) -> None:
        self.gauges = gauges

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for name, description, value in self.gauges:
            yield GaugeMetricFamily(name, description, value=value)


def process_registry() -> CollectorRegistry:
    """This process's counters, or every worker's in multiprocess mode."""
    directory = os.environ.get(MULTIPROCESS_DIR_VARIABLE)
    if not directory:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return registry


def _process_metrics() -> bytes:
    return generate_latest(process_registry())


def serve_process_metrics(host: str, port: int) -> None:
    """Serve this process's counters at http://host:port/metrics from a thread: for the
    `relay` and `sweep` processes, which have no API of their own to scrape."""
    start_http_server(port, addr=host, registry=process_registry())


def exposition(gauges: list[tuple[str, str, float]]) -> bytes:
    """Prometheus text: this service's counters (every worker's) and the given gauges."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(_Gauges(gauges))
    return _process_metrics() + generate_latest(registry)


def mark_process_dead(pid: int) -> None:
    """Drop a worker's live gauges from the sums once it has exited (multiprocess mode)."""
    if os.environ.get(MULTIPROCESS_DIR_VARIABLE):
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
