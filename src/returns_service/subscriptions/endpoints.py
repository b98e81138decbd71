"""HTTP routes for webhook subscriptions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from returns_service.auth import CurrentCaller, allow
from returns_service.config import Settings
from returns_service.db import Session, TransactionalRoute
from returns_service.http_problems import problem_responses
from returns_service.subscriptions import service
from returns_service.subscriptions.schemas import (
    WebhookSubscriptionCreated,
    WebhookSubscriptionIn,
    WebhookSubscriptionOut,
    WebhookSubscriptionPage,
)
from returns_service.subscriptions.service import SUBSCRIBERS

router = APIRouter(
    prefix="/v1/webhook-subscriptions", tags=["webhooks"], route_class=TransactionalRoute
)


@router.post(
    "",
    dependencies=[allow(*SUBSCRIBERS)],
    operation_id="createWebhookSubscription",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(403, 404),
)
async def create_webhook_subscription(
    body: WebhookSubscriptionIn,
    caller: CurrentCaller,
    session: Session,
    request: Request,
    response: Response,
) -> WebhookSubscriptionCreated:
    """Subscribe a URL to events (merchant: its shop; platform: a shop or all); the answer
    shows the signing secret, once. A URL whose host is not public (localhost, a loopback,
    private, link-local, multicast, reserved or unspecified IP) is refused: 422
    `validation_error`, its `errors` naming `url`."""
    settings: Settings = request.app.state.settings
    created = await service.create_subscription(
        session, caller, body, allow_private_targets=settings.webhook_allow_private_targets
    )
    response.headers["Location"] = f"/v1/webhook-subscriptions/{created.id}"
    return created


@router.get("", operation_id="listWebhookSubscriptions", responses=problem_responses(400, 403))
async def list_webhook_subscriptions(
    caller: CurrentCaller,
    session: Session,
    shop_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> WebhookSubscriptionPage:
    """List the subscriptions the caller may see, oldest first; never their secrets."""
    return await service.list_subscriptions(session, caller, shop_id, cursor, limit)


@router.get(
    "/{subscription_id}",
    operation_id="getWebhookSubscription",
    responses=problem_responses(403, 404),
)
async def get_webhook_subscription(
    subscription_id: str, caller: CurrentCaller, session: Session
) -> WebhookSubscriptionOut:
    """Read one subscription (whether it is still enabled); never its secret."""
    row = await service.load_visible_subscription(session, caller, subscription_id)
    return service.subscription_view(row)


@router.delete(
    "/{subscription_id}",
    operation_id="deleteWebhookSubscription",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(403, 404),
)
async def delete_webhook_subscription(
    subscription_id: str, caller: CurrentCaller, session: Session
) -> Response:
    """Unsubscribe; deliveries not yet made are dropped."""
    await service.delete_subscription(session, caller, subscription_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
