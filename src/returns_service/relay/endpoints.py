"""HTTP routes for operators: parked webhook deliveries, and replaying one."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from returns_service.auth import CurrentCaller
from returns_service.db import Session, TransactionalRoute
from returns_service.http_problems import problem_responses
from returns_service.relay import service
from returns_service.relay.repository import DeliveryFilters
from returns_service.relay.schemas import DeliveryStatus, WebhookDeliveryOut, WebhookDeliveryPage
from returns_service.replicas import ReadSession

router = APIRouter(
    prefix="/v1/webhook-deliveries", tags=["webhooks"], route_class=TransactionalRoute
)


@router.get("", operation_id="listWebhookDeliveries", responses=problem_responses(400, 403))
async def list_webhook_deliveries(
    caller: CurrentCaller,
    session: ReadSession,
    status: DeliveryStatus | None = None,
    subscription_id: Annotated[str | None, Query(max_length=36)] = None,
    shop_id: Annotated[str | None, Query(max_length=64)] = None,
    event_type: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> WebhookDeliveryPage:
    """List outbound webhook deliveries newest first, e.g. status=parked (platform)."""
    filters = DeliveryFilters(
        status=status, subscription_id=subscription_id, shop_id=shop_id, event_type=event_type
    )
    return await service.list_deliveries(session, caller, filters, cursor, limit)


@router.post(
    "/{delivery_id}/replay",
    operation_id="replayWebhookDelivery",
    responses=problem_responses(403, 404, 409),
)
async def replay_webhook_delivery(
    delivery_id: str, caller: CurrentCaller, session: Session
) -> WebhookDeliveryOut:
    """Send a parked delivery again, with fresh attempts and the same webhook-id (platform)."""
    return service.delivery_view(await service.replay_delivery(session, caller, delivery_id))
