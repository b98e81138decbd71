"""GET /metrics: the counters of every worker, and the backlog read from the database."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from returns_service.backlog import BacklogCounts, backlog_counts
from returns_service.errors import Unauthenticated
from returns_service.models.base import utcnow
from returns_service.observability.metrics import exposition

METRICS_PATH = "/metrics"

router = APIRouter()


def _authorize(request: Request) -> None:
    """With RETURNS_METRICS_TOKEN set, the scraper must send it as a bearer token."""
    expected: str | None = request.app.state.settings.metrics_token
    if not expected:
        return
    scheme, _, offered = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        offered.strip().encode(), expected.encode()
    ):
        raise Unauthenticated("the metrics token is required")


def _gauges(counts: BacklogCounts) -> list[tuple[str, str, float]]:
    return [
        (
            "returns_deadlines_overdue",
            "Open returns whose deadline is due and not yet acted on by the sweep.",
            counts.deadlines_overdue,
        ),
        (
            "returns_outbox_pending",
            "Outbox events the relay has not yet fanned out into deliveries.",
            counts.outbox_pending,
        ),
        (
            "returns_webhook_deliveries_pending",
            "Webhook deliveries waiting for their next attempt.",
            counts.deliveries_pending,
        ),
        (
            "returns_webhook_deliveries_parked",
            "Webhook deliveries out of attempts, waiting for an operator's replay.",
            counts.deliveries_parked,
        ),
    ]


@router.get(METRICS_PATH, include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Prometheus text: this service's counters (every worker's) and its backlog, counted
    now: each worker would otherwise hold its own stale number."""
    _authorize(request)
    async with request.app.state.sessionmaker() as session:
        counts = await backlog_counts(session, utcnow())
    return Response(exposition(_gauges(counts)), media_type=CONTENT_TYPE_LATEST)
