"""HTTP routes for inbound webhooks: carriers sign their events, they carry no token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request

from returns_service.carriers import service
from returns_service.carriers.schemas import LogisticsEvent, LogisticsReceipt
from returns_service.db import Session, TransactionalRoute
from returns_service.http_problems import problem_responses

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"], route_class=TransactionalRoute)

# The body is read raw (the signature covers its exact bytes), so the spec is written here.
_SIGNED_JSON_BODY = {
    "required": True,
    "content": {"application/json": {"schema": LogisticsEvent.model_json_schema()}},
}


_ERRORS = problem_responses(413)
_ERRORS[401] = {
    **_ERRORS[401],
    "description": "The webhook signature is missing, forged, or more than 5 minutes off",
}


@router.post(
    "/logistics",
    operation_id="receiveLogisticsEvent",
    response_description="Verified: acted on, or recognised as a repeat of a webhook-id",
    responses=_ERRORS,
    openapi_extra={"requestBody": _SIGNED_JSON_BODY, "security": []},
)
async def receive_logistics_event(
    request: Request,
    session: Session,
    webhook_id: Annotated[
        str | None, Header(description="Standard Webhooks: the message id, acted on once")
    ] = None,
    webhook_timestamp: Annotated[
        str | None, Header(description="Standard Webhooks: Unix seconds; at most 5 minutes off")
    ] = None,
    webhook_signature: Annotated[
        str | None,
        Header(description="Standard Webhooks: `v1,<base64 HMAC-SHA256>`, space-separated"),
    ] = None,
) -> LogisticsReceipt:
    """Take a carrier's tracking event, signed as Standard Webhooks with the logistics secret.

    No bearer token: the signature is the authentication. The same webhook-id is acted on
    once; a repeat answers `duplicate: true`. Unknown tracking numbers are accepted and kept.
    """
    signed = {
        name: value
        for name, value in (
            ("webhook-id", webhook_id),
            ("webhook-timestamp", webhook_timestamp),
            ("webhook-signature", webhook_signature),
        )
        if value is not None
    }
    secret: str = request.app.state.settings.logistics_secret
    return await service.receive_logistics_event(session, secret, await request.body(), signed)
