"""A small language for API tests: callers with tokens, orders, and returns walked through."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from httpx import AsyncClient, Response

TEST_JWT_SECRET = "test-secret-for-returns-service-tests"
TEST_LOGISTICS_SECRET = "whsec_dGVzdC1sb2dpc3RpY3Mtc2VjcmV0LWZvci10ZXN0cw=="
PROBLEM = "application/problem+json"

_counter = itertools.count(1)


def token(
    role: str, sub: str, shop_id: str | None = None, *, ttl: int = 3600, **claims: Any
) -> str:
    payload: dict[str, Any] = {
        "sub": sub,
        "role": role,
        "exp": datetime.now(UTC) + timedelta(seconds=ttl),
        **claims,
    }
    if shop_id is not None:
        payload["shop_id"] = shop_id
    return jwt.encode(payload, TEST_JWT_SECRET, algorithm="HS256")


def bearer(raw_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {raw_token}"}


@dataclass(frozen=True)
class Party:
    role: str
    id: str
    shop_id: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        return bearer(token(self.role, self.id, self.shop_id))


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_counter)}"


def days_ago(days: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days)).isoformat()


def order_body(
    shop_id: str,
    buyer_id: str,
    *,
    delivered_days_ago: float | None = 2,
    lines: list[dict[str, Any]] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "shop_id": shop_id,
        "buyer_id": buyer_id,
        "currency": "CNY",
        "paid_at": days_ago(5),
        "shipped_at": days_ago(4),
        "delivered_at": days_ago(delivered_days_ago) if delivered_days_ago is not None else None,
        "shipping_fee": 800,
        "shipping_insurance": False,
        "buyer_region": "CN-GD",
        "lines": lines
        or [
            {
                "line_id": "l1",
                "sku": "TSHIRT-W-M",
                "title": "T-shirt",
                "category": "apparel",
                "unit_price": 9900,
                "quantity": 2,
                "attributes": {"color": "white", "size": "M"},
            }
        ],
    }
    body.update(overrides)
    return body


def application_body(order_id: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "order_id": order_id,
        "type": "return_refund",
        "reason": "no_reason",
        "items": [{"line_id": "l1", "quantity": 1, "condition": "unopened"}],
        "description": "Changed my mind",
    }
    body.update(overrides)
    return body


ADDRESS = {
    "kind": "warehouse",
    "name": "Returns desk",
    "phone": "13800000000",
    "address": "1 Dock Rd",
}


@dataclass
class Scenario:
    """One shop, its merchant, a buyer, a storefront and the platform, all with tokens."""

    client: AsyncClient
    shop_id: str = field(default_factory=lambda: unique("shop"))
    buyer: Party = field(init=False)
    merchant: Party = field(init=False)
    storefront: Party = field(default_factory=lambda: Party("storefront", "storefront-1"))
    platform: Party = field(default_factory=lambda: Party("platform", "cs-agent-1"))

    def __post_init__(self) -> None:
        self.buyer = Party("buyer", unique("buyer"))
        self.merchant = Party("merchant", unique("merchant"), self.shop_id)

    def other_shop(self) -> Scenario:
        return Scenario(self.client)

    async def order(self, **overrides: Any) -> str:
        order_id = overrides.pop("order_id", None) or unique("order")
        body = order_body(self.shop_id, self.buyer.id, **overrides)
        response = await self.client.put(
            f"/v1/orders/{order_id}", json=body, headers=self.storefront.headers
        )
        assert response.status_code in (200, 201), response.text
        return order_id

    async def apply(self, order_id: str, by: Party | None = None, **overrides: Any) -> Response:
        return await self.client.post(
            "/v1/returns",
            json=application_body(order_id, **overrides),
            headers=(by or self.buyer).headers,
        )

    async def open_return(self, **overrides: Any) -> dict[str, Any]:
        order_overrides = overrides.pop("order", {})
        order_id = await self.order(**order_overrides)
        response = await self.apply(order_id, **overrides)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    async def act(
        self,
        return_id: str,
        action: str,
        by: Party,
        body: dict[str, Any] | None = None,
        *,
        if_match: int | None = None,
    ) -> Response:
        headers = dict(by.headers)
        if if_match is not None:
            headers["If-Match"] = f'"{if_match}"'
        return await self.client.post(
            f"/v1/returns/{return_id}/{action}", json=body, headers=headers
        )

    async def get(self, return_id: str, by: Party | None = None) -> Response:
        return await self.client.get(
            f"/v1/returns/{return_id}", headers=(by or self.platform).headers
        )

    async def events(self, return_id: str, by: Party | None = None) -> list[dict[str, Any]]:
        response = await self.client.get(
            f"/v1/returns/{return_id}/events", headers=(by or self.platform).headers
        )
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items
