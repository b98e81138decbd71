"""The served OpenAPI document is the contract: schemathesis drives every operation through it.

Examples, coverage (boundary values, each constraint broken in turn, unexpected methods),
fuzzing, and stateful workflows (links schemathesis infers between operations: an order
registered, applied for, acted on, read back), each answer checked: never a 5xx, only
documented status codes and content types, bodies that match their schemas, invalid input
refused, and every 405 naming every method its path takes in `Allow`. Runs on both databases,
bounded to a few minutes (CONTRACT_MAX_EXAMPLES per operation and phase; more, and
CONTRACT_RANDOM=1, for a deeper run).

A shop with an order and a return is seeded, and valid cases mostly name them instead of
random ids, so that actions reach the rules and the state table instead of ending in 404s; the
caller varies between the platform, the shop's merchant, the order's buyer and a storefront.
"""

from __future__ import annotations

import json
import os
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, settings
from hypothesis.errors import FlakyStrategyDefinition
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


def contract_config(*, stateful: bool = False) -> Any:
    return schemathesis.Config.from_dict(
        {
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": True},
                "fuzzing": {"enabled": True},
                # Links between operations are inferred only with this phase on; its workflows
                # run as a state machine (test_stateful_workflows_keep_the_contract).
                "stateful": {"enabled": stateful},
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
DOCUMENT = create_app().openapi()
schema = schemathesis.openapi.from_dict(DOCUMENT, config=contract_config())
stateful_schema = schemathesis.openapi.from_dict(DOCUMENT, config=contract_config(stateful=True))
_TEMPLATES = {
    template: re.compile(re.sub(r"\{[^}]+\}", "[^/]+", template)) for template in DOCUMENT["paths"]
}
STATEFUL_SCENARIOS = int(os.environ.get("CONTRACT_STATEFUL_SCENARIOS", "15"))


def _served_methods(path: str) -> set[str]:
    """Every method the document serves at this concrete path, over every template matching
    it (/v1/returns/batch is also /v1/returns/{return_id})."""
    return {
        method.upper()
        for template, pattern in _TEMPLATES.items()
        if pattern.fullmatch(path)
        for method in DOCUMENT["paths"][template]
    }


@schemathesis.check
def every_405_names_every_method_of_its_path(ctx: Any, response: Any, case: Any) -> bool | None:
    """A 405 carries `Allow` listing every method served at that path, no more, no fewer."""
    if response.status_code != 405:
        return None
    path = urlsplit(str(response.request.url)).path
    values = response.headers.get("allow") or response.headers.get("Allow") or [""]
    allowed = {method.strip() for method in values[0].split(",") if method.strip()}
    served = _served_methods(path)
    if allowed != served:
        raise AssertionError(
            f"405 at {path}: Allow names {sorted(allowed)}, served {sorted(served)}"
        )
    return True


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
    case.call_and_validate(
        app=seeded.app,
        headers=caller.headers,
        additional_checks=[every_405_names_every_method_of_its_path],
    )


def test_stateful_workflows_keep_the_contract(seeded: Seeded) -> None:
    """Sequences of calls along the links between operations, each answer checked as above;
    the caller of each step varies as in the single-call phases."""

    class Workflow(stateful_schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            _aim_at_seeded_data(case, seeded)
            caller = CALLERS[_pick(case, len(CALLERS))]
            return {"app": seeded.app, "headers": caller.headers}

        def validate_response(
            self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            case.validate_response(
                response,
                additional_checks=[every_405_names_every_method_of_its_path],
                transport_kwargs=kwargs,
            )

    run_settings = settings(
        max_examples=STATEFUL_SCENARIOS,
        stateful_step_count=8,
        deadline=None,
        derandomize=not os.environ.get("CONTRACT_RANDOM"),
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    # The workflows share one database, so which links a step can follow depends on what the
    # earlier scenarios left there; now and then hypothesis finds a scenario's draws differ
    # from its record of them (FlakyStrategyDefinition: its bookkeeping, not an answer of
    # the service). That one error gets one more run; every contract failure fails at once.
    for attempt in range(2):
        try:
            Workflow.run(settings=run_settings)
            return
        except FlakyStrategyDefinition:
            if attempt:
                raise


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
