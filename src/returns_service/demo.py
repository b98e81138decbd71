"""`returns-service demo`: a demo shop whose returns stand in every state.

The demo is written through the service's own HTTP API, in process, with tokens signed by the
configured secret and carrier events signed by the logistics secret: whatever it makes went
through the same rules, timelines and outbox as a real caller's requests. Running it again
changes nothing: a shop that already has returns is left as it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from returns_service.auth import Caller, issue_token
from returns_service.config import Settings
from returns_service.rules.vocabulary import ReturnStatus, Role

SHOP_ID = "demo-shop"
MERCHANT = Caller(Role.MERCHANT, "demo-merchant", SHOP_ID)
PLATFORM = Caller(Role.PLATFORM, "demo-platform")
STOREFRONT = Caller(Role.STOREFRONT, "demo-storefront")
BUYERS = tuple(Caller(Role.BUYER, f"demo-buyer-{n}") for n in range(1, 6))
TOKEN_TTL_SECONDS = 3600
DEMO_BASE_URL = "http://demo.returns.local"

WAREHOUSE = {
    "kind": "warehouse",
    "name": "Demo returns desk",
    "phone": "+86 20 0000 0000",
    "address": "1 Demo Dock Road, Guangzhou",
    "postal_code": "510000",
}

# Each return: its order's product, how it is asked for, and the actions that bring it to the
# state it is named after. Steps: (action, actor, body), a ("message", actor, text), or a
# ("carrier", event, None) for the parcel of the return's shipment.
Step = tuple[str, Caller | str, Any]


@dataclass(frozen=True)
class DemoReturn:
    state: ReturnStatus
    buyer: Caller
    product: tuple[str, str, str, int]  # sku, title, category, unit price (minor units)
    application: dict[str, Any]
    steps: tuple[Step, ...]


def _parcel(n: int) -> dict[str, str]:
    return {"carrier": "SF", "tracking_number": f"SFDEMO{n:06d}"}


def _plan() -> tuple[DemoReturn, ...]:
    b1, b2, b3, b4, b5 = BUYERS
    unopened = {"type": "return_refund", "reason": "size_mismatch", "condition": "unopened"}
    return (
        DemoReturn(
            ReturnStatus.REQUESTED,
            b1,
            ("SHOE-RUN-42", "Running shoes", "footwear", 39900),
            unopened,
            (("message", b1, "They are a size too small. Can I send them back?"),),
        ),
        DemoReturn(
            ReturnStatus.OFFERED,
            b3,
            ("HOODIE-GRY-S", "Hoodie, grey, S", "apparel", 16900),
            {**unopened, "reason": "no_reason"},
            (
                ("offer", MERCHANT, {"amount": 5000, "note": "Keep it, here is 50 yuan back"}),
                ("message", b3, "Let me think about it."),
            ),
        ),
        DemoReturn(
            ReturnStatus.APPROVED,
            b2,
            ("TSHIRT-W-M", "T-shirt, white, M", "apparel", 9900),
            {**unopened, "reason": "no_reason"},
            (
                ("approve", MERCHANT, {"instructions": "Please keep the tags on."}),
                ("message", MERCHANT, "Approved: ship it to our returns desk within 7 days."),
            ),
        ),
        DemoReturn(
            ReturnStatus.REJECTED,
            b3,
            ("MUG-CER-01", "Ceramic mug", "home", 4900),
            {**unopened, "reason": "no_reason"},
            (("reject", MERCHANT, {"reason_code": "sale_item", "note": "Sale items are final"}),),
        ),
        DemoReturn(
            ReturnStatus.CANCELLED,
            b4,
            ("CAP-BLK", "Baseball cap", "apparel", 5900),
            unopened,
            (("cancel", b4, {"note": "I will keep it after all"}),),
        ),
        DemoReturn(
            ReturnStatus.SHIPPED,
            b5,
            ("JACKET-RAIN-L", "Rain jacket, L", "apparel", 29900),
            unopened,
            (
                ("approve", MERCHANT, None),
                ("ship", b5, _parcel(5)),
                ("carrier", "picked_up", None),
                ("carrier", "in_transit", None),
            ),
        ),
        DemoReturn(
            ReturnStatus.RECEIVED,
            b1,
            ("JEANS-32", "Jeans, 32", "apparel", 19900),
            unopened,
            (
                ("approve", MERCHANT, None),
                ("ship", b1, _parcel(6)),
                ("carrier", "picked_up", None),
                ("carrier", "delivered", None),
                ("receive", MERCHANT, {"inspection": "passed"}),
                ("message", MERCHANT, "Received in good order; the refund follows today."),
            ),
        ),
        DemoReturn(
            ReturnStatus.REFUNDED,
            b2,
            ("SOCKS-3P", "Socks, 3 pairs", "apparel", 3900),
            unopened,
            (
                ("approve", MERCHANT, None),
                ("ship", b2, _parcel(7)),
                ("carrier", "delivered", None),
                (
                    "receive",
                    MERCHANT,
                    {
                        "inspection": "passed",
                        "deductions": [{"kind": "packaging", "amount": 400, "note": "no box"}],
                    },
                ),
                ("refund", MERCHANT, None),
            ),
        ),
        DemoReturn(
            ReturnStatus.COMPLETED,
            b3,
            ("LAMP-DESK", "Desk lamp", "home", 15900),
            {"type": "reship", "reason": "damaged_in_transit", "condition": "damaged"},
            (
                ("message", b3, "The lamp arrived with a cracked base."),
                ("approve", MERCHANT, None),
                ("send_replacement", MERCHANT, {"carrier": "SF", "tracking_number": "SFDEMO8R"}),
            ),
        ),
        DemoReturn(
            ReturnStatus.ARBITRATION,
            b4,
            ("BAG-TOTE", "Tote bag", "apparel", 12900),
            {"type": "return_refund", "reason": "quality_defect", "condition": "opened_resellable"},
            (
                ("reject", MERCHANT, {"reason_code": "no_defect", "note": "No defect in photos"}),
                ("escalate", b4, {"note": "The strap came off on the first day"}),
            ),
        ),
        DemoReturn(
            ReturnStatus.CLOSED,
            b5,
            ("SCARF-WOOL", "Wool scarf", "apparel", 8900),
            {
                "type": "return_refund",
                "reason": "not_as_described",
                "condition": "opened_resellable",
            },
            (
                ("reject", MERCHANT, {"reason_code": "as_pictured", "note": "It is as pictured"}),
                ("escalate", b5, {"note": "The colour is not the one pictured"}),
                (
                    "arbitrate",
                    PLATFORM,
                    {"decision": "merchant", "note": "The photos match the listing"},
                ),
            ),
        ),
    )


class DemoFailed(RuntimeError):
    """The service refused a step of the demo: a bug in the demo or in the service."""


class _Api:
    def __init__(self, client: httpx.AsyncClient, settings: Settings) -> None:
        self.client = client
        self.settings = settings

    def headers(self, caller: Caller) -> dict[str, str]:
        token = issue_token(caller, self.settings.jwt_secret, TOKEN_TTL_SECONDS)
        return {"Authorization": f"Bearer {token}"}

    async def call(
        self, method: str, path: str, caller: Caller, body: Any = None
    ) -> dict[str, Any]:
        response = await self.client.request(method, path, json=body, headers=self.headers(caller))
        if response.status_code >= 300:
            raise DemoFailed(f"{method} {path}: {response.status_code} {response.text}")
        answer: dict[str, Any] = response.json()
        return answer

    async def carrier_event(self, parcel: dict[str, str], event: str, at: datetime) -> None:
        body = json.dumps({**parcel, "event": event, "occurred_at": at.isoformat()})
        webhook_id = f"demo-{parcel['tracking_number']}-{event}"
        signed_at = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(signed_at.timestamp())),
            "webhook-signature": Webhook(self.settings.logistics_secret).sign(
                webhook_id, signed_at, body
            ),
        }
        response = await self.client.post("/v1/webhooks/logistics", content=body, headers=headers)
        if response.status_code != 200:
            raise DemoFailed(f"carrier event {event}: {response.status_code} {response.text}")


def _order(number: int, demo: DemoReturn, now: datetime) -> dict[str, Any]:
    sku, title, category, price = demo.product
    return {
        "shop_id": SHOP_ID,
        "buyer_id": demo.buyer.id,
        "currency": "CNY",
        "paid_at": (now - timedelta(days=5)).isoformat(),
        "shipped_at": (now - timedelta(days=4)).isoformat(),
        "delivered_at": (now - timedelta(days=2)).isoformat(),
        "shipping_fee": 800,
        "shipping_insurance": number % 2 == 0,
        "buyer_region": "CN-GD",
        "lines": [
            {
                "line_id": "l1",
                "sku": sku,
                "title": title,
                "category": category,
                "unit_price": price,
                "quantity": 1,
                "attributes": {},
            }
        ],
    }


async def _walk(api: _Api, number: int, demo: DemoReturn, now: datetime) -> dict[str, Any]:
    order_id = f"demo-order-{number:02d}"
    await api.call("PUT", f"/v1/orders/{order_id}", STOREFRONT, _order(number, demo, now))
    application = dict(demo.application)
    condition = application.pop("condition")
    created = await api.call(
        "POST",
        "/v1/returns",
        demo.buyer,
        {
            **application,
            "order_id": order_id,
            "items": [{"line_id": "l1", "quantity": 1, "condition": condition}],
            "description": f"Demo return {number}: {demo.state.value}",
        },
    )
    return_id = created["id"]
    answer = created
    parcel: dict[str, str] | None = None
    for action, actor, body in demo.steps:
        if action == "message":
            assert isinstance(actor, Caller)
            await api.call("POST", f"/v1/returns/{return_id}/messages", actor, {"body": body})
        elif action == "carrier":
            assert parcel is not None and isinstance(actor, str)
            await api.carrier_event(parcel, actor, datetime.now(UTC))
        else:
            assert isinstance(actor, Caller)
            if action == "ship":
                parcel = body
            answer = await api.call("POST", f"/v1/returns/{return_id}/{action}", actor, body)
    if answer["status"] != demo.state.value:
        raise DemoFailed(f"return {return_id} ended {answer['status']}, not {demo.state.value}")
    return answer


@dataclass(frozen=True)
class DemoReport:
    created: bool
    returns_by_state: dict[str, int]


async def fill_demo_shop(settings: Settings) -> DemoReport:
    """Make the demo shop, unless it has returns already; report its returns by state."""
    from returns_service.app import create_app

    quiet = settings.model_copy(update={"sweep_interval_seconds": 0, "relay_interval_seconds": 0})
    app = create_app(quiet)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=DEMO_BASE_URL) as client:
            api = _Api(client, quiet)
            existing = await api.call("GET", "/v1/returns?limit=100", MERCHANT)
            if existing["items"]:
                return DemoReport(False, _count(existing["items"]))
            await api.call(
                "PUT",
                f"/v1/shops/{SHOP_ID}/return-policy",
                MERCHANT,
                {"return_address": WAREHOUSE, "fast_refund": False},
            )
            now = datetime.now(UTC)
            made = [await _walk(api, n, demo, now) for n, demo in enumerate(_plan(), start=1)]
            return DemoReport(True, _count(made))


def _count(returns: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in returns:
        counts[item["status"]] = counts.get(item["status"], 0) + 1
    return dict(sorted(counts.items()))


def describe(report: DemoReport) -> str:
    """What the `demo` command prints: what is there, and how to look at it."""
    states = ", ".join(f"{count} {state}" for state, count in report.returns_by_state.items())
    done = "made" if report.created else "was already there (nothing changed)"
    return (
        f"the demo shop {SHOP_ID!r} {done}: returns {states}\n"
        "look at it with a merchant token:\n"
        f"  TOKEN=$(returns-service token --role merchant --sub {MERCHANT.id} --shop {SHOP_ID})\n"
        '  curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/v1/returns'
    )
