"""The OpenAPI document: served as committed, one stable operationId per operation, every
error documented as problem+json, the bearer scheme on every operation that needs a token.

Everything here reads the spec from the app itself, so new routes are checked as they come.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

from returns_service.app import create_app
from returns_service.config import Settings
from returns_service.openapi_document import render
from tests.api.scenario import TEST_JWT_SECRET, TEST_LOGISTICS_SECRET

COMMITTED = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
OPERATION_ID = re.compile(r"^[a-z][a-zA-Z]+$")
MAX_OPERATION_ID_LENGTH = 40
PROBLEM_REF = "#/components/schemas/Problem"
PROBLEM_CONTENT_TYPE = "application/problem+json"
BEARER: list[dict[str, list[str]]] = [{"HTTPBearer": []}]
# Carriers sign their webhooks instead of sending a token (API.md, Webhooks).
SIGNED_NOT_TOKENED = ("/v1/webhooks/",)

# Generated clients call these by name: renaming one breaks every client. Add, never rename.
CONTRACT_OPERATION_IDS = {
    "getHealth",
    "getReadiness",
    "putOrder",
    "getOrder",
    "applyForReturn",
    "previewReturn",
    "listReturns",
    "getReturn",
    "listReturnEvents",
    "postReturnMessage",
    "approveReturn",
    "rejectReturn",
    "cancelReturn",
    "shipReturn",
    "receiveReturn",
    "refundReturn",
    "sendReplacement",
    "escalateReturn",
    "arbitrateReturn",
    "extendReceiveDeadline",
    "getReturnPolicy",
    "putReturnPolicy",
}


def spec_app() -> FastAPI:
    """The app with settings unlike the defaults: the spec must not depend on them."""
    return create_app(
        Settings(
            database_url="sqlite+aiosqlite:///./never-opened.db",
            jwt_secret=TEST_JWT_SECRET,
            logistics_secret=TEST_LOGISTICS_SECRET,
            max_body_bytes=4096,
            sweep_interval_seconds=0,
        )
    )


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(render(spec_app()))
    return document


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def name(path: str, method: str, operation: dict[str, Any]) -> str:
    return f"{method.upper()} {path} ({operation.get('operationId')})"


def needs_token(path: str) -> bool:
    return path.startswith("/v1/") and not path.startswith(SIGNED_NOT_TOKENED)


@pytest.fixture
async def http() -> AsyncIterator[AsyncClient]:
    transport = ASGITransport(app=spec_app())
    async with AsyncClient(transport=transport, base_url="http://returns.test") as client:
        yield client


async def test_the_served_document_is_the_committed_file_byte_for_byte(http: AsyncClient) -> None:
    response = await http.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert COMMITTED.is_file(), f"{COMMITTED} is missing: run `make openapi` and commit it"
    assert response.content == COMMITTED.read_bytes(), (
        f"the served /openapi.json differs from {COMMITTED.relative_to(COMMITTED.parents[1])}: "
        "run `make openapi` and commit the file"
    )


async def test_the_docs_page_reads_the_served_document(http: AsyncClient) -> None:
    response = await http.get("/docs")
    assert response.status_code == 200
    assert "/openapi.json" in response.text


def test_the_document_is_rendered_the_same_way_every_time() -> None:
    assert render(spec_app()) == render(spec_app())


def test_the_document_serves_neither_itself_nor_the_docs(spec: dict[str, Any]) -> None:
    assert "/openapi.json" not in spec["paths"]
    assert "/docs" not in spec["paths"]


def test_every_operation_has_a_short_unique_camel_case_operation_id(spec: dict[str, Any]) -> None:
    ids = [str(operation.get("operationId")) for _, _, operation in operations(spec)]
    bad = [
        name(path, method, operation)
        for path, method, operation in operations(spec)
        if not OPERATION_ID.fullmatch(operation.get("operationId") or "")
        or len(operation["operationId"]) > MAX_OPERATION_ID_LENGTH
    ]
    assert not bad, f"operationId must match {OPERATION_ID.pattern}, at most 40 characters"
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    assert not duplicates


def test_no_operation_id_of_the_contract_was_renamed_or_removed(spec: dict[str, Any]) -> None:
    ids = {operation["operationId"] for _, _, operation in operations(spec)}
    assert CONTRACT_OPERATION_IDS - ids == set()


def test_the_problem_schema_is_declared_with_its_required_members(spec: dict[str, Any]) -> None:
    problem = spec["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "code"} <= set(problem["required"])
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_every_error_response_is_problem_json(spec: dict[str, Any]) -> None:
    wrong = []
    for path, method, operation in operations(spec):
        for status, response in operation["responses"].items():
            if not (status.startswith(("4", "5")) or status == "default"):
                continue
            content = response.get("content", {})
            if set(content) != {PROBLEM_CONTENT_TYPE} or content[PROBLEM_CONTENT_TYPE].get(
                "schema"
            ) != {"$ref": PROBLEM_REF}:
                wrong.append(f"{name(path, method, operation)} {status}: {sorted(content)}")
    assert not wrong


def test_every_operation_documents_401_and_422_where_they_can_happen(
    spec: dict[str, Any],
) -> None:
    missing = []
    for path, method, operation in operations(spec):
        documented = set(operation["responses"])
        takes_input = bool(operation.get("parameters") or operation.get("requestBody"))
        # A /v1 operation needs a token, or a signature (carriers): either may be refused.
        if path.startswith("/v1/") and "401" not in documented:
            missing.append(f"{name(path, method, operation)}: 401")
        if takes_input and "422" not in documented:
            missing.append(f"{name(path, method, operation)}: 422")
    assert not missing


def test_every_success_has_a_schema(spec: dict[str, Any]) -> None:
    missing = []
    for path, method, operation in operations(spec):
        for status, response in operation["responses"].items():
            if status.startswith("2") and status != "204":
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                if not schema:
                    missing.append(f"{name(path, method, operation)} {status}")
    assert not missing


def test_the_bearer_scheme_is_declared_and_applied_to_every_tokened_operation(
    spec: dict[str, Any],
) -> None:
    scheme = spec["components"]["securitySchemes"]["HTTPBearer"]
    assert scheme["type"] == "http"
    assert scheme["scheme"] == "bearer"
    wrong = [
        f"{name(path, method, operation)}: {operation.get('security')}"
        for path, method, operation in operations(spec)
        if needs_token(path) != (operation.get("security") == BEARER)
    ]
    assert not wrong
