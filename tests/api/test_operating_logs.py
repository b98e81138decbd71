"""The logs of a whole scenario, written by a real `serve`: JSON lines, one access line per
request, and not one credential, secret, phone number or address among them."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from standardwebhooks.webhooks import Webhook

from tests.api.scenario import (
    TEST_JWT_SECRET,
    TEST_LOGISTICS_SECRET,
    application_body,
    bearer,
    order_body,
    token,
)
from tests.conftest import Database
from tests.drills.processes import ServiceProcess
from tests.webhook_receiver import Receiver

SHOP = "log-shop"
QUERY_CREDENTIAL = "qc-9f8e7d6c5b4a"
PHONES = ("13912345678", "13700001111")
ADDRESSES = ("88 Quiet Garden Lane", "7 Hidden Alley")
MESSAGE = "Please call me at 13655554444 before noon"
DELIVERY_SECONDS = 30


def signed_carrier_event(
    carrier: str, tracking_number: str, event: str
) -> tuple[str, dict[str, str]]:
    at = datetime.now(UTC)
    body = json.dumps(
        {
            "carrier": carrier,
            "tracking_number": tracking_number,
            "event": event,
            "occurred_at": at.isoformat(),
        }
    )
    webhook_id = f"log-{tracking_number}-{event}"
    return body, {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(TEST_LOGISTICS_SECRET).sign(webhook_id, at, body),
    }


def service_env(database: Database, **extra: str) -> dict[str, str]:
    return {
        "RETURNS_DATABASE_URL": database.url,
        "RETURNS_JWT_SECRET": TEST_JWT_SECRET,
        "RETURNS_LOGISTICS_SECRET": TEST_LOGISTICS_SECRET,
        "RETURNS_LOG_LEVEL": "INFO",
        "RETURNS_WORKERS": "1",
        "RETURNS_SWEEP_INTERVAL_SECONDS": "0.5",
        "RETURNS_RELAY_INTERVAL_SECONDS": "0.1",
        "RETURNS_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",  # the receiver is on 127.0.0.1
        **extra,
    }


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as running:
        yield running


class Caller:
    """An HTTP client that counts its requests and remembers every token it sent."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.sent = 0
        self.tokens: set[str] = set()

    def auth(self, role: str, sub: str, shop: str | None = None) -> dict[str, str]:
        raw = token(role, sub, shop)
        self.tokens.add(raw)
        return bearer(raw)

    async def __call__(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        self.sent += 1
        return await self.http.request(method, url, **kwargs)


def address(n: int) -> dict[str, str]:
    return {"kind": "warehouse", "name": "Desk", "phone": PHONES[n], "address": ADDRESSES[n]}


async def walk_a_return_with_everything_in_it(call: Caller, receiver: Receiver) -> dict[str, Any]:
    """Policy, subscription, order, return, messages, carrier event, refund, and errors."""
    merchant = call.auth("merchant", "log-merchant", SHOP)
    buyer = call.auth("buyer", "log-buyer")
    storefront = call.auth("storefront", "log-storefront")
    made: dict[str, Any] = {}

    policy = await call(
        "PUT",
        f"/v1/shops/{SHOP}/return-policy",
        json={"return_address": address(0)},
        headers={**merchant, "X-Request-Id": "log-policy-1"},
    )
    assert policy.status_code == 200, policy.text
    subscribed = await call(
        "POST",
        "/v1/webhook-subscriptions",
        json={"url": f"{receiver.url}?api_key={QUERY_CREDENTIAL}", "events": ["return.*"]},
        headers=merchant,
    )
    assert subscribed.status_code == 201, subscribed.text
    made["webhook_secret"] = subscribed.json()["secret"]
    registered = await call(
        "PUT", "/v1/orders/log-order-1", json=order_body(SHOP, "log-buyer"), headers=storefront
    )
    assert registered.status_code == 201, registered.text
    applied = await call("POST", "/v1/returns", json=application_body("log-order-1"), headers=buyer)
    assert applied.status_code == 201, applied.text
    return_id = made["return_id"] = applied.json()["id"]
    steps: list[tuple[str, dict[str, str], dict[str, Any] | None]] = [
        ("approve", merchant, {"return_address": address(1)}),
        ("messages", buyer, {"body": MESSAGE}),
        ("ship", buyer, {"carrier": "SF", "tracking_number": "SFLOG0001"}),
    ]
    for action, headers, body in steps:
        answer = await call("POST", f"/v1/returns/{return_id}/{action}", json=body, headers=headers)
        assert answer.status_code in (200, 201), answer.text
    body, headers = signed_carrier_event("SF", "SFLOG0001", "delivered")
    delivered = await call("POST", "/v1/webhooks/logistics", content=body, headers=headers)
    assert delivered.status_code == 200, delivered.text
    for action, answer_body in (
        ("receive", {"inspection": "passed"}),
        ("refund", None),
    ):
        answer = await call(
            "POST", f"/v1/returns/{return_id}/{action}", json=answer_body, headers=merchant
        )
        assert answer.status_code == 200, answer.text

    # Errors, some with credentials and personal details where they do not belong.
    stranger = jwt.encode(
        {"sub": "x", "role": "buyer", "exp": 4102444800}, "not-our-secret-at-all-32-bytes-long"
    )
    call.tokens.add(stranger)
    refused = await call("GET", "/v1/returns", headers=bearer(stranger))
    assert refused.status_code == 401
    forged = await call(
        "GET", f"/v1/returns?cursor={next(iter(call.tokens))}&x={PHONES[0]}", headers=merchant
    )
    # A token in the query string is refused outright (401), before the cursor is read.
    assert forged.status_code == 401, forged.text
    invalid = await call(
        "POST",
        f"/v1/returns/{return_id}/approve",
        json={"return_address": {"phone": PHONES[1], "address": ADDRESSES[1]}},
        headers={**merchant, "X-Request-Id": "log-invalid-1"},
    )
    assert invalid.status_code in (409, 422)
    made["invalid_code"] = invalid.json()["code"]
    gone = await call("GET", "/v1/returns/no-such-return", headers=buyer)
    assert gone.status_code == 404

    await delivered_to(receiver, 7)
    return made


async def delivered_to(receiver: Receiver, count: int) -> None:
    """Until the service's own relay has delivered `count` events (7: one per change)."""
    deadline = time.monotonic() + DELIVERY_SECONDS
    while True:
        if len(receiver.received) >= count:
            return
        assert time.monotonic() < deadline, f"{len(receiver.received)} of {count} delivered"
        await asyncio.sleep(0.1)


def log_lines(path: Path) -> list[dict[str, Any]]:
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    parsed = []
    for line in lines:
        record = json.loads(line)  # every line is one JSON object
        assert isinstance(record, dict), line
        parsed.append(record)
    return parsed


async def test_a_whole_scenario_logs_one_json_access_line_per_request_and_no_secret(
    database: Database, receiver: Receiver, tmp_path: Path
) -> None:
    log = tmp_path / "service.log"
    service = ServiceProcess(service_env(database), log)
    await service.start()
    try:
        # A connection each: no request races the server closing an idle keep-alive one.
        limits = httpx.Limits(max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=service.url, timeout=30, limits=limits) as http:
            call = Caller(http)
            made = await walk_a_return_with_everything_in_it(call, receiver)
    finally:
        await service.stop()

    records = log_lines(log)
    access = [r for r in records if r.get("logger") == "returns_service.access"]
    mine = [r for r in access if r["route"] != "/healthz"]
    assert len(mine) == call.sent, [r["route"] for r in mine]
    for record in access:
        assert {"at", "level", "request_id", "method", "route", "status", "duration_ms"} <= set(
            record
        ), record
        assert record["event"] == "request"
        assert record["route"] == "unmatched" or record["route"].startswith("/")
        assert made["return_id"] not in record["route"]
        assert "log-order-1" not in record["route"]
        assert (record["status"] >= 400) == ("code" in record), record
    by_id = {r["request_id"]: r for r in access}
    assert by_id["log-policy-1"]["route"] == "/v1/shops/{shop_id}/return-policy"
    assert by_id["log-policy-1"]["role"] == "merchant"
    assert by_id["log-invalid-1"]["code"] == made["invalid_code"]
    assert {r["route"] for r in mine} >= {
        "/v1/returns/{return_id}/approve",
        "/v1/orders/{order_id}",
        "/v1/webhooks/logistics",
    }
    assert {r["code"] for r in mine if "code" in r} >= {"unauthenticated", "not_found"}
    assert not [r for r in records if r.get("level") in ("error", "critical")]

    text = log.read_text()
    forbidden = [
        *call.tokens,
        TEST_JWT_SECRET,
        TEST_LOGISTICS_SECRET,
        made["webhook_secret"],
        QUERY_CREDENTIAL,
        *PHONES,
        *ADDRESSES,
        MESSAGE,
        "13655554444",
        "eyJ",
        "whsec_",
        "Bearer",
    ]
    leaked = [value for value in forbidden if value in text]
    assert leaked == [], leaked
