"""A shop with returns in several states, made through the API for the console's browser tests."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from httpx import AsyncClient

from tests.api.scenario import (
    ADDRESS,
    Party,
    Scenario,
    application_body,
    days_ago,
    order_body,
    unique,
)

LINES = {
    "apparel": ("TSHIRT-W-M", "T-shirt", 9900),
    "shoes": ("SNEAKER-42", "Sneaker", 39900),
    "home": ("MUG-BLUE", "Mug", 2900),
}
UNDELIVERED = {"shipped_at": None, "delivered_at": None, "delivered_days_ago": None}


@dataclass
class SeededShop:
    scenario: Scenario
    returns: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Three requested returns the test approves in one batch (a refund-only one first), and
    # a rejected one it adds to that batch to see it refused on its own.
    batch: list[str] = field(default_factory=list)
    rejected: str = ""
    # Requested returns nobody touches in the batch: one for a stale page.
    untouched: list[str] = field(default_factory=list)

    @property
    def merchant(self) -> Party:
        return self.scenario.merchant

    def with_status(self, status: str) -> list[dict[str, Any]]:
        return [r for r in self.returns.values() if r["status"] == status]

    def counts(self) -> Counter[str]:
        return Counter(r["status"] for r in self.returns.values())


async def _open(
    seeded: SeededShop,
    *,
    buyer: Party,
    category: str = "apparel",
    region: str = "CN-GD",
    order: dict[str, Any] | None = None,
    **application: Any,
) -> dict[str, Any]:
    scenario = seeded.scenario
    sku, title, price = LINES[category]
    line = {
        "line_id": "l1",
        "sku": sku,
        "title": title,
        "category": category,
        "unit_price": price,
        "quantity": 2,
        "attributes": {},
    }
    order_id = unique("order")
    # Paid over several days, so the dashboard's days differ.
    paid = {"paid_at": days_ago(5 + len(seeded.returns) % 4)}
    body = order_body(
        scenario.shop_id, buyer.id, lines=[line], buyer_region=region, **(paid | (order or {}))
    )
    answer = await scenario.client.put(
        f"/v1/orders/{order_id}", json=body, headers=scenario.storefront.headers
    )
    assert answer.status_code in (200, 201), answer.text
    answer = await scenario.client.post(
        "/v1/returns", json=application_body(order_id, **application), headers=buyer.headers
    )
    assert answer.status_code == 201, answer.text
    created: dict[str, Any] = answer.json()
    seeded.returns[created["id"]] = created
    return created


async def _act(
    seeded: SeededShop, return_id: str, action: str, by: Party, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    answer = await seeded.scenario.act(return_id, action, by, body or {})
    assert answer.status_code == 200, answer.text
    moved: dict[str, Any] = answer.json()
    seeded.returns[return_id] = moved
    return moved


async def seed_shop(http: AsyncClient) -> SeededShop:
    """Ten returns: seven to review (one of a flagged buyer), one rejected, one shipped back,
    one refunded."""
    seeded = SeededShop(Scenario(http))
    merchant = seeded.merchant
    # A buyer's second return within 30 days flags them, so the queue has flagged buyers.
    policy = await http.put(
        f"/v1/shops/{seeded.scenario.shop_id}/return-policy",
        json={"abuse_threshold": {"returns": 1, "days": 30}},
        headers=merchant.headers,
    )
    assert policy.status_code == 200, policy.text
    buyers = [Party("buyer", unique("buyer")) for _ in range(6)]
    refund_only = await _open(
        seeded, buyer=buyers[0], order=UNDELIVERED, type="refund_only", reason="no_reason"
    )
    defect_a = await _open(seeded, buyer=buyers[1], category="shoes", reason="quality_defect")
    defect_b = await _open(
        seeded, buyer=buyers[2], region="CN-ZJ", category="home", reason="quality_defect"
    )
    seeded.batch = [refund_only["id"], defect_a["id"], defect_b["id"]]
    for buyer, reason, region in (
        (buyers[3], "size_mismatch", "CN-BJ"),
        (buyers[4], "no_reason", "CN-ZJ"),
        (buyers[5], "quality_defect", "CN-GD"),
    ):
        created = await _open(seeded, buyer=buyer, region=region, reason=reason)
        seeded.untouched.append(created["id"])

    rejected = await _open(seeded, buyer=buyers[3], category="shoes", reason="size_mismatch")
    await _act(
        seeded,
        rejected["id"],
        "reject",
        merchant,
        {"reason_code": "worn_outdoors", "note": "Worn outdoors; see the photos"},
    )
    seeded.rejected = rejected["id"]
    shipped = await _open(seeded, buyer=buyers[4], region="CN-BJ", reason="no_reason")
    await _act(seeded, shipped["id"], "approve", merchant, {"return_address": ADDRESS})
    await _act(
        seeded, shipped["id"], "ship", buyers[4], {"carrier": "SF", "tracking_number": "SF90001"}
    )
    refunded = await _open(
        seeded, buyer=buyers[5], order=UNDELIVERED, type="refund_only", reason="not_as_described"
    )
    await _act(seeded, refunded["id"], "approve", merchant)
    await _act(seeded, refunded["id"], "refund", merchant)
    # A second return of the same buyer within the threshold's days: flagged, to review.
    repeat = await _open(seeded, buyer=buyers[1], category="home", reason="wrong_item")
    assert repeat["buyer_flagged"], repeat
    return seeded
