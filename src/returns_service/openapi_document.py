"""The OpenAPI document: rendered one way, served as those bytes, committed as that file
(`returns_service.openapi_file` writes and checks it).

The served `/openapi.json` and the committed file are the same bytes, so a client generated
from the file is a client of the running service.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request, Response

from returns_service import docs_pages

OPENAPI_PATH = "/openapi.json"


def tidy(spec: dict[str, Any]) -> None:
    """Shape what FastAPI renders so that generated clients can use it as it is."""
    _optional_bodies_are_left_out(spec)
    for schema in spec.get("components", {}).get("schemas", {}).values():
        _optional_members_have_no_default(schema)


def _optional_members_have_no_default(schema: dict[str, Any]) -> None:
    """A member that may be left out is documented without a `default` keyword.

    openapi-typescript (with its default options) types every member that has a `default` as
    always present: right for a response, wrong for a request, where leaving the member out
    is the point of the default. So the default of an optional member is said in its
    description instead. Response members that are always sent are listed as required
    (`shapes.ResponseShape`), so they keep theirs.
    """
    required = set(schema.get("required", ()))
    for name, member in schema.get("properties", {}).items():
        if name in required or "default" not in member:
            continue
        default = member.pop("default")
        if default is not None:
            said = f"Left out, it is {json.dumps(default, ensure_ascii=False)}."
            description = member.get("description")
            member["description"] = f"{description.rstrip('.')}. {said}" if description else said


def _optional_bodies_are_left_out(spec: dict[str, Any]) -> None:
    """An optional body is documented as that body, not as "that body or null".

    An optional body (`body: ApproveBody | None = None`) renders as "ApproveBody or null";
    a client generated from that sends JSON `null`, or fails to encode "unset", when the caller
    leaves the body out. Documented as an optional ApproveBody, the body is simply not sent.
    """
    for operations in spec.get("paths", {}).values():
        for operation in operations.values():
            body = operation.get("requestBody") if isinstance(operation, dict) else None
            if not body or body.get("required"):
                continue
            for media in body.get("content", {}).values():
                schema = media.get("schema", {})
                choices = [c for c in schema.get("anyOf", ()) if c != {"type": "null"}]
                if len(choices) == 1 and len(schema["anyOf"]) == 2 and "$ref" in choices[0]:
                    media["schema"] = choices[0]


def render(app: FastAPI) -> str:
    """The app's spec as text: deterministic for a given set of routes and models."""
    return json.dumps(app.openapi(), indent=2, ensure_ascii=False) + "\n"


def install(app: FastAPI) -> None:
    """Serve the rendered document and the docs pages; none appears in the document.

    Create the app with `openapi_url=None` so that FastAPI's own rendering is not served.
    """

    @app.get(OPENAPI_PATH, include_in_schema=False)
    async def openapi_document(_request: Request) -> Response:
        return Response(render(app).encode("utf-8"), media_type="application/json")

    docs_pages.install(app, OPENAPI_PATH)
