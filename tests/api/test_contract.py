"""The served OpenAPI document is the contract: schemathesis drives every operation through it.

Examples, coverage (boundary values, each constraint broken in turn) and fuzzing, and each
answer checked: never a 5xx, only documented status codes and content types, bodies that match
their schemas, and invalid input refused. Runs on both databases, bounded to a few minutes
(CONTRACT_MAX_EXAMPLES per operation and phase; more, and CONTRACT_RANDOM=1, for a deeper run).

A shop with an order and a return is seeded, and valid cases mostly name them instead of
random ids, so that actions reach the rules and the state table instead of ending in 404s; the
caller varies between the platform, the shop's merchant, the order's buyer and a storefront.
"""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, settings
from schemathesis.python.asgi import get_client, shutdown_lifespans

from returns_service.app import create_app
from tests.api.conftest import test_settings as settings_for
from tests.api.scenario import PROBLEM, Party, application_body, order_body
from tests.conftest import Database

MAX_EXAMPLES = int(os.environ.get("CONTRACT_MAX_EXAMPLES", "25"))
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
)
SHOP = "contract-shop"
ORDER = "contract-order"
CALLERS = (
    Party("platform", "contract-agent"),
    Party("merchant", "contract-merchant", SHOP),
    Party("buyer", "contract-buyer"),
    Party("storefront", "contract-storefront"),
)


def contract_config() -> Any:
    return schemathesis.Config.from_dict(
        {
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": False},
            },
            "generation": {
                "mode": "all",
                "max-examples": MAX_EXAMPLES,
                # The same cases every run; CONTRACT_RANDOM=1 explores new ones.
                "deterministic": not os.environ.get("CONTRACT_RANDOM"),
                "database": "none",
                # The test sends a valid token itself; a generated (or withheld) one would be
                # overridden by it, turning "no token" cases into false alarms.
                "with-security-parameters": False,
            },
            "checks": {"enabled": False, **{name: {"enabled": True} for name in CHECKS}},
        }
    )


# The document the app serves at /openapi.json; each test drives a fresh app with it.
schema = schemathesis.openapi.from_dict(create_app().openapi(), config=contract_config())


@dataclass(frozen=True)
class Seeded:
    """What the database holds before the first case: ids that valid cases may name."""

    app: FastAPI
    path_ids: dict[str, str]


@pytest.fixture
def seeded(database: Database) -> Iterator[Seeded]:
    """The app on a clean database with one shop, order and return; schemathesis runs its
    lifespan in its own event loop, and the seed goes through the same client."""
    app = create_app(settings_for(database))
    storefront, buyer = CALLERS[3], CALLERS[2]
    try:
        with get_client(app) as client:
            order = client.put(
                f"/v1/orders/{ORDER}",
                json=order_body(SHOP, buyer.id),
                headers=storefront.headers,
            )
            assert order.status_code == 201, order.text
            applied = client.post(
                "/v1/returns", json=application_body(ORDER), headers=buyer.headers
            )
            assert applied.status_code == 201, applied.text
        path_ids = {"shop_id": SHOP, "order_id": ORDER, "return_id": applied.json()["id"]}
        yield Seeded(app, path_ids)
    finally:
        shutdown_lifespans()


def _pick(case: Any, choices: int) -> int:
    """A stable choice per case: the same generated request always makes the same choice."""
    parts = [case.method, case.path, case.path_parameters, case.query, case.body]
    return zlib.crc32(json.dumps(parts, default=repr, sort_keys=True).encode()) % choices


def _aim_at_seeded_data(case: Any, seeded: Seeded) -> None:
    """Most valid cases name the seeded shop, order and return instead of random ids."""
    if case.meta is None or case.meta.generation.mode.is_negative or _pick(case, 4) == 0:
        return
    for name, value in seeded.path_ids.items():
        if name in case.path_parameters:
            case.path_parameters[name] = value
    applying = case.method == "POST" and case.path in ("/v1/returns", "/v1/returns/preview")
    if applying and isinstance(case.body, dict):
        case.body["order_id"] = ORDER


@schema.parametrize()
@settings(
    # The seeded app is one clean database per operation; the examples share it, as requests do.
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)
def test_every_operation_keeps_the_contract(case: Any, seeded: Seeded) -> None:
    _aim_at_seeded_data(case, seeded)
    caller = CALLERS[_pick(case, len(CALLERS))]
    case.call_and_validate(app=seeded.app, headers=caller.headers)


def test_a_json_body_that_is_not_utf8_is_a_validation_problem(seeded: Seeded) -> None:
    """Found by the contract test: FastAPI answered 400, which no operation documents."""
    with get_client(seeded.app) as client:
        response = client.post(
            "/v1/returns",
            data=b"\x81\xfe{not text",
            headers={**CALLERS[2].headers, "Content-Type": "application/json"},
        )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["code"] == "validation_error"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (f"/v1/orders/{ORDER}-2", {**order_body(SHOP, "b"), "shipping_fee": True}),
        (f"/v1/orders/{ORDER}-3", {**order_body(SHOP, "b"), "shipping_insurance": 1}),
        (f"/v1/orders/{ORDER}-4", {**order_body(SHOP, "b"), "paid_at": 1_700_000_000}),
        (f"/v1/orders/{ORDER}-5", {**order_body(SHOP, "b"), "paid_at": "1700000000"}),
        (f"/v1/shops/{SHOP}/return-policy", {"window_days": 7.0}),
        (f"/v1/shops/{SHOP}/return-policy", {"fast_refund": "true"}),
    ],
    ids=[
        "money-as-a-boolean",
        "flag-as-a-number",
        "time-as-a-number",
        "time-as-digits",
        "days-as-a-float",
        "flag-as-text",
    ],
)
def test_values_of_another_json_type_are_refused_not_coerced(
    seeded: Seeded, path: str, body: dict[str, Any]
) -> None:
    """Found by the contract test: pydantic alone took true as 1 and numbers as Unix times."""
    with get_client(seeded.app) as client:
        response = client.put(path, json=body, headers=CALLERS[0].headers)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_error"


def test_a_time_filter_must_be_rfc_3339_text(seeded: Seeded) -> None:
    with get_client(seeded.app) as client:
        response = client.get("/v1/returns?created_to=0.5", headers=CALLERS[0].headers)
        valid = client.get(
            "/v1/returns",
            params={"created_to": "2026-11-21T08:00:00+08:00"},
            headers=CALLERS[0].headers,
        )
    assert response.status_code == 422, response.text
    assert valid.status_code == 200, valid.text
