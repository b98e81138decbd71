"""Subscribe to events, list and delete subscriptions; merchants see only their shop's."""

from __future__ import annotations

import base64
import secrets
import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from returns_service.auth import Caller
from returns_service.errors import NotFound, ValidationFailed
from returns_service.models import WebhookSubscriptionRow
from returns_service.models.base import utcnow
from returns_service.pagination import (
    decode_position,
    encode_position,
)
from returns_service.rules.vocabulary import Role
from returns_service.subscriptions import repository
from returns_service.subscriptions.repository import SubscriptionFilters
from returns_service.subscriptions.schemas import (
    WebhookSubscriptionCreated,
    WebhookSubscriptionIn,
    WebhookSubscriptionOut,
    WebhookSubscriptionPage,
)
from returns_service.subscriptions.targets import host_refusal

SUBSCRIBERS = (Role.MERCHANT, Role.PLATFORM)
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def may_see(caller: Caller, row: WebhookSubscriptionRow) -> bool:
    """The platform sees every subscription; a merchant those its shop's merchants made."""
    if caller.role is Role.PLATFORM:
        return True
    return (
        caller.role is Role.MERCHANT
        and row.owner_role == Role.MERCHANT.value
        and row.shop_id == caller.shop_id
    )


def subscription_view(row: WebhookSubscriptionRow) -> WebhookSubscriptionOut:
    return WebhookSubscriptionOut(
        id=row.id,
        shop_id=row.shop_id,
        url=row.url,
        events=list(row.events),
        description=row.description,
        enabled=row.enabled,
        disabled_reason=row.disabled_reason,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def refuse_private_target(body: WebhookSubscriptionIn) -> None:
    """422 validation_error when the URL's host is this host or a non-public IP literal.

    Names are not resolved here (the answer may change, and a lookup would slow the request
    down): the relay vets what a name resolves to each time it connects.
    """
    reason = host_refusal(body.url.host or "")
    if reason is not None:
        message = f"webhooks are sent to public addresses only: {reason}"
        raise ValidationFailed(
            f"the url is not a public address: {reason}",
            [{"loc": ["body", "url"], "msg": message, "type": "value_error"}],
        )


async def create_subscription(
    session: AsyncSession,
    caller: Caller,
    body: WebhookSubscriptionIn,
    *,
    allow_private_targets: bool = False,
) -> WebhookSubscriptionCreated:
    """Subscribe; the answer is the only place the signing secret is ever shown."""
    caller.require(*SUBSCRIBERS)
    shop_id = body.shop_id
    if caller.role is Role.MERCHANT:
        if shop_id not in (None, caller.shop_id):
            raise NotFound(f"no shop {shop_id}")
        shop_id = caller.shop_id
    if not allow_private_targets:
        refuse_private_target(body)
    now = utcnow()
    row = WebhookSubscriptionRow(
        id=str(uuid.uuid4()),
        shop_id=shop_id,
        owner_role=caller.role.value,
        owner_id=caller.id,
        url=str(body.url),
        events=list(body.events),
        description=body.description,
        secret=new_secret(),
        enabled=True,
        disabled_reason=None,
        disabled_at=None,
        created_at=now,
        updated_at=now,
    )
    await repository.add(session, row)
    return WebhookSubscriptionCreated(**subscription_view(row).model_dump(), secret=row.secret)


async def load_visible_subscription(
    session: AsyncSession, caller: Caller, subscription_id: str
) -> WebhookSubscriptionRow:
    caller.require(*SUBSCRIBERS)
    row = await repository.find(session, subscription_id)
    if row is None or not may_see(caller, row):
        raise NotFound(f"no webhook subscription {subscription_id}")
    return row


async def list_subscriptions(
    session: AsyncSession,
    caller: Caller,
    shop_id: str | None,
    cursor: str | None,
    limit: int,
) -> WebhookSubscriptionPage:
    caller.require(*SUBSCRIBERS)
    if caller.role is Role.MERCHANT:
        if shop_id not in (None, caller.shop_id):
            return WebhookSubscriptionPage(items=[], next_cursor=None)
        filters = SubscriptionFilters(shop_id=caller.shop_id, owner_role=Role.MERCHANT.value)
    else:
        filters = SubscriptionFilters(shop_id=shop_id)
    after = decode_position(cursor, "created_at")
    rows = await repository.list_oldest_first(session, filters, after, limit + 1)
    page, more = rows[:limit], len(rows) > limit
    next_cursor = encode_position("created_at", page[-1].created_at, page[-1].id) if more else None
    return WebhookSubscriptionPage(
        items=[subscription_view(row) for row in page], next_cursor=next_cursor
    )


async def delete_subscription(session: AsyncSession, caller: Caller, subscription_id: str) -> None:
    """Stop sending; deliveries not yet made are dropped with it."""
    row = await load_visible_subscription(session, caller, subscription_id)
    await repository.remove(session, row.id)
