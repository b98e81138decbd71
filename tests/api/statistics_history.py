"""A known history of one shop, built through the API on a clock the test sets.

Window W = [2026-03-01, 2026-03-08) UTC. What happened (times UTC):

| order | buyer | paid         | region | lines                                   |
| O6    | D     | 03-01 00:00  | -      | MUG home x1                             |
| O1    | A     | 03-01 10:00  | CN-GD  | l1 TSHIRT apparel x2, l2 SHOE shoes x1  |
| O2    | B     | 03-01 11:00  | CN-BJ  | l1 MUG home x3                          |
| O4    | C     | 02-28 23:00  | CN-SH  | l1 TSHIRT apparel x1   (before W)       |
| O3    | A     | 03-05 12:00  | CN-GD  | l1 TSHIRT apparel x1                    |
| O5    | C     | 03-08 00:00  | CN-SH  | l1 TSHIRT apparel x1   (at W's end)     |

| return | order | applied     | reason         | what happened                                |
| R1     | O1 l1 | 03-02 09:00 | no_reason      | merchant approves 09:30, ships, receives,    |
|        |       |             |                | refunds 03-03 09:00 (86,400 s; reply 1,800) |
| R2     | O2 l1 | 03-02 10:00 | quality_defect | merchant rejects 14:00 (reply 14,400 s),     |
|        |       |             |                | buyer escalates, platform refunds 03-04      |
|        |       |             |                | 10:00 (172,800 s)                            |
| R3     | O2 l1 | 03-03 08:00 | no_reason      | buyer cancels 09:00                          |
| R4     | O4 l1 | 03-04 12:00 | size_mismatch  | nobody answers; the review timer approves    |
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.api.scenario import ADDRESS, Party, Scenario, unique
from tests.api.timekeeping import Clock, sweep
from tests.conftest import Database

W_FROM = datetime(2026, 3, 1, tzinfo=UTC)
W_TO = datetime(2026, 3, 8, tzinfo=UTC)


def t(day: int, hour: int = 0, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def line(line_id: str, sku: str, category: str, quantity: int) -> dict[str, Any]:
    return {
        "line_id": line_id,
        "sku": sku,
        "title": sku.title(),
        "category": category,
        "unit_price": 9900,
        "quantity": quantity,
        "attributes": {},
    }


@dataclass
class History:
    scenario: Scenario
    clock: Clock
    buyers: dict[str, Party] = field(default_factory=dict)
    orders: dict[str, str] = field(default_factory=dict)
    returns: dict[str, str] = field(default_factory=dict)

    def buyer(self, name: str) -> Party:
        if name not in self.buyers:
            self.buyers[name] = Party("buyer", unique(f"buyer-{name}"))
        return self.buyers[name]

    async def order(
        self,
        name: str,
        buyer: str,
        paid_at: datetime,
        region: str | None,
        lines: list[dict[str, Any]],
    ) -> str:
        order_id = unique(name)
        body = {
            "shop_id": self.scenario.shop_id,
            "buyer_id": self.buyer(buyer).id,
            "currency": "CNY",
            "paid_at": paid_at.isoformat(),
            "shipped_at": (paid_at + timedelta(hours=2)).isoformat(),
            "delivered_at": (paid_at + timedelta(hours=8)).isoformat(),
            "shipping_fee": 0,
            "buyer_region": region,
            "lines": lines,
        }
        response = await self.scenario.client.put(
            f"/v1/orders/{order_id}", json=body, headers=self.scenario.storefront.headers
        )
        assert response.status_code in (200, 201), response.text
        self.orders[name] = order_id
        return order_id

    async def apply(
        self, name: str, order: str, buyer: str, at: datetime, reason: str, line_id: str = "l1"
    ) -> str:
        self.clock.at(at)
        response = await self.scenario.client.post(
            "/v1/returns",
            json={
                "order_id": self.orders[order],
                "type": "return_refund",
                "reason": reason,
                "items": [{"line_id": line_id, "quantity": 1, "condition": "unopened"}],
            },
            headers=self.buyer(buyer).headers,
        )
        assert response.status_code == 201, response.text
        return_id: str = response.json()["id"]
        self.returns[name] = return_id
        return return_id

    async def act(
        self, name: str, action: str, by: Party, at: datetime, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        self.clock.at(at)
        response = await self.scenario.act(self.returns[name], action, by, body)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer


async def build_history(scenario: Scenario, clock: Clock, database: Database) -> History:
    """The history of the module docstring; the clock ends at 03-07 12:00."""
    history = History(scenario, clock)
    merchant, platform = scenario.merchant, scenario.platform
    clock.at(t(1, 0))
    # The review timer approves goods travelling back only with an address to send them to.
    policy = await scenario.client.put(
        f"/v1/shops/{scenario.shop_id}/return-policy",
        json={"return_address": ADDRESS},
        headers=merchant.headers,
    )
    assert policy.status_code == 200, policy.text
    await history.order("O6", "D", t(1, 0), None, [line("l1", "MUG", "home", 1)])
    await history.order(
        "O1",
        "A",
        t(1, 10),
        "CN-GD",
        [line("l1", "TSHIRT", "apparel", 2), line("l2", "SHOE", "shoes", 1)],
    )
    await history.order("O2", "B", t(1, 11), "CN-BJ", [line("l1", "MUG", "home", 3)])
    await history.order(
        "O4", "C", t(28, 23, month=2), "CN-SH", [line("l1", "TSHIRT", "apparel", 1)]
    )

    await history.apply("R1", "O1", "A", t(2, 9), "no_reason")
    await history.act("R1", "approve", merchant, t(2, 9, 30), {"return_address": ADDRESS})
    await history.act(
        "R1",
        "ship",
        history.buyer("A"),
        t(2, 12),
        {"carrier": "SF", "tracking_number": unique("SF").replace("-", "")},
    )
    await history.act("R1", "receive", merchant, t(3, 8), {"inspection": "passed"})
    await history.act("R1", "refund", merchant, t(3, 9))

    await history.apply("R2", "O2", "B", t(2, 10), "quality_defect")
    await history.act(
        "R2", "reject", merchant, t(2, 14), {"reason_code": "doubtful_claim", "note": "It was worn"}
    )
    await history.act("R2", "escalate", history.buyer("B"), t(2, 15), {"note": "It was not"})
    await history.act(
        "R2", "arbitrate", platform, t(4, 10), {"decision": "buyer", "note": "Refund the buyer"}
    )

    await history.apply("R3", "O2", "B", t(3, 8), "no_reason")
    await history.act("R3", "cancel", history.buyer("B"), t(3, 9), {"note": "Kept it"})

    await history.apply("R4", "O4", "C", t(4, 12), "size_mismatch")
    clock.at(t(6, 13))  # past the 48-hour review deadline
    assert await sweep(database, clock.now) == 1

    clock.at(t(7, 12))
    await history.order("O3", "A", t(5, 12), "CN-GD", [line("l1", "TSHIRT", "apparel", 1)])
    await history.order("O5", "C", t(8, 0), "CN-SH", [line("l1", "TSHIRT", "apparel", 1)])
    return history
