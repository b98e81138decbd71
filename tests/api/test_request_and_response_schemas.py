"""Every schema of the spec says which way it travels, so generated clients type it rightly.

A client generated with default options (openapi-typescript 7, openapi-python-client) must
type a request as the service accepts it, members with a default optional, and a response as
the service sends it, every member it always sends present. One schema cannot say both when
they differ, so (src/returns_service/shapes.py, AGENTS.md):

- a schema both received and sent has every member required, none defaulted, none read- or
  write-only; otherwise it is two models, `<Thing>In` and `<Thing>Out`, never FastAPI's
  `-Input` and `-Output` split (generated names, which move when the model changes);
- a member a request may leave out carries no `default` keyword (openapi-typescript would
  type it as required); the spec's tidying says the default in the description;
- a response lists every member it always sends as required (`shapes.ResponseShape`);
- names say the direction: no received-only `…Out`/`…Page`, no sent-only `…In`/`…Body`.

Each rule reads the spec the app renders, so a new schema is held to it as it comes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from returns_service.openapi_document import render, tidy
from returns_service.shapes import ResponseShape
from tests.api.test_openapi import spec_app

SCHEMA_REF = "#/components/schemas/"
RECEIVED_ONLY_NAME_ENDINGS = ("Out", "Page")
SENT_ONLY_NAME_ENDINGS = ("In", "Body")
FASTAPI_SPLIT_SUFFIXES = ("-Input", "-Output")
# Rendered from each error's own dict, not from the model: a problem carries these members
# only when its error uses them (rule_violation, validation_error, invalid_transition), and
# `request_id` on an answer's own problem, not on the problem of one item of a batch.
SOMETIMES_SENT = {"Problem": {"violations", "errors", "state", "allowed_actions", "request_id"}}


def refs_in(node: Any) -> Iterator[str]:
    """The component schemas a piece of the spec names, directly."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(SCHEMA_REF):
            yield ref.removeprefix(SCHEMA_REF)
        for value in node.values():
            yield from refs_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs_in(value)


def reachable(spec: dict[str, Any], roots: Iterator[Any]) -> set[str]:
    """Every component schema the roots name, directly or through other schemas."""
    schemas = spec["components"]["schemas"]
    seen: set[str] = set()
    waiting = [name for root in roots for name in refs_in(root)]
    while waiting:
        name = waiting.pop()
        if name not in seen:
            seen.add(name)
            waiting.extend(refs_in(schemas[name]))
    return seen


def operations(spec: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for item in spec["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and "responses" in operation:
                yield operation


def received(spec: dict[str, Any]) -> set[str]:
    return reachable(spec, (op.get("requestBody", {}) for op in operations(spec)))


def sent(spec: dict[str, Any]) -> set[str]:
    return reachable(spec, (op["responses"] for op in operations(spec)))


def members(spec: dict[str, Any], name: str) -> dict[str, Any]:
    members: dict[str, Any] = spec["components"]["schemas"][name].get("properties", {})
    return members


def required(spec: dict[str, Any], name: str) -> set[str]:
    return set(spec["components"]["schemas"][name].get("required", ()))


def split_by_fastapi(spec: dict[str, Any]) -> list[str]:
    return sorted(
        name for name in spec["components"]["schemas"] if name.endswith(FASTAPI_SPLIT_SUFFIXES)
    )


def shared_but_different(spec: dict[str, Any]) -> list[str]:
    """Members of schemas both received and sent that a request may leave out or not set,
    or that one direction defaults: the two directions would need different types."""
    return sorted(
        f"{name}.{member}"
        for name in received(spec) & sent(spec)
        for member, schema in members(spec, name).items()
        if member not in required(spec, name)
        or "default" in schema
        or schema.get("readOnly")
        or schema.get("writeOnly")
    )


def optional_with_default(spec: dict[str, Any]) -> list[str]:
    return sorted(
        f"{name}.{member}"
        for name in spec["components"]["schemas"]
        for member, schema in members(spec, name).items()
        if member not in required(spec, name) and "default" in schema
    )


def sent_but_not_required(spec: dict[str, Any]) -> list[str]:
    return sorted(
        f"{name}.{member}"
        for name in sent(spec) - received(spec)
        for member in members(spec, name)
        if member not in required(spec, name) and member not in SOMETIMES_SENT.get(name, ())
    )


def misnamed(spec: dict[str, Any]) -> list[str]:
    received_only, sent_only = received(spec) - sent(spec), sent(spec) - received(spec)
    return sorted(
        [
            f"{name} (received only)"
            for name in received_only
            if name.endswith(RECEIVED_ONLY_NAME_ENDINGS)
        ]
        + [f"{name} (sent only)" for name in sent_only if name.endswith(SENT_ONLY_NAME_ENDINGS)]
    )


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(render(spec_app()))
    return document


def test_fastapi_never_splits_a_schema_into_generated_input_and_output_names(
    spec: dict[str, Any],
) -> None:
    assert split_by_fastapi(spec) == [], (
        "a model is used both in requests and in responses and differs between them: "
        "make it two models, <Thing>In and <Thing>Out (src/returns_service/shapes.py)"
    )


def test_a_schema_both_received_and_sent_has_every_member_required_and_settable(
    spec: dict[str, Any],
) -> None:
    assert shared_but_different(spec) == [], (
        "these members of schemas used both ways may be left out of a request or are "
        "read-/write-only: split the model into <Thing>In and <Thing>Out"
    )


def test_no_member_a_request_may_leave_out_carries_a_default(spec: dict[str, Any]) -> None:
    assert optional_with_default(spec) == [], (
        "openapi-typescript types these as always present; openapi_document.tidy should "
        "have moved their defaults into the description"
    )


def test_a_response_lists_every_member_it_always_sends_as_required(spec: dict[str, Any]) -> None:
    assert sent_but_not_required(spec) == [], (
        "a response model with a defaulted field: derive it from shapes.ResponseShape (a "
        "member the service really leaves out at times belongs in SOMETIMES_SENT, with why)"
    )


def test_names_say_which_way_a_schema_travels(spec: dict[str, Any]) -> None:
    assert misnamed(spec) == []


def test_the_directions_are_found_through_nested_schemas(spec: dict[str, Any]) -> None:
    """The rules above see nested schemas too, so they hold for more than top-level bodies."""
    assert {"ReturnAddressIn", "AbuseThresholdIn", "ReturnItemIn"} <= received(spec) - sent(spec)
    assert {"ReturnAddressOut", "AbuseThresholdOut", "RefundOut"} <= sent(spec) - received(spec)


class _Address(ResponseShape):
    """A response model reused as a request body: FastAPI splits it, its defaults differ."""

    kind: str = "shop"
    name: str


class _Tagged(BaseModel):
    """A plain model used both ways: one schema, with a member a request may leave out."""

    name: str
    version: int = 1


def _spec_of_an_app_sharing_models(*, separate_input_output_schemas: bool) -> dict[str, Any]:
    app = FastAPI()

    @app.put("/addresses", response_model=_Address)
    async def put_address(body: _Address) -> _Address:
        return body

    @app.get("/tags", response_model=_Tagged)
    async def get_tag() -> _Tagged:
        return _Tagged(name="x")

    @app.post("/tags", response_model=None)
    async def post_tag(body: _Tagged) -> None:
        return None

    spec = get_openapi(
        title="t",
        version="1",
        routes=app.routes,
        separate_input_output_schemas=separate_input_output_schemas,
    )
    tidy(spec)
    return spec


@pytest.mark.parametrize("separate", [True, False], ids=["fastapi-split", "one-schema"])
def test_the_rules_catch_a_model_used_both_ways_whichever_way_fastapi_renders_it(
    separate: bool,
) -> None:
    spec = _spec_of_an_app_sharing_models(separate_input_output_schemas=separate)
    if separate:
        assert split_by_fastapi(spec) == ["_Address-Input", "_Address-Output"]
        assert shared_but_different(spec) == ["_Tagged.version"]
    else:
        assert split_by_fastapi(spec) == []
        assert shared_but_different(spec) == ["_Address.kind", "_Tagged.version"]
    assert optional_with_default(spec) == []
