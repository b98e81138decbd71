"""Refuse what no route can take before any route reads it: bodies that are not JSON, and the
NUL character anywhere (PostgreSQL text cannot hold it, so it would fail half-way as a 500)."""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from returns_service.errors import ServiceError, UnsupportedMediaType, ValidationFailed
from returns_service.http_problems import problem_response

# A JSON string escape for U+0000: an odd number of backslashes, then u0000. (A raw NUL byte is
# never valid UTF-8 JSON text, and is refused as such.)
_ESCAPED_NUL = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")


def _is_json(content_type: bytes | None) -> bool:
    if content_type is None:
        return False
    media_type = content_type.split(b";", 1)[0].strip().lower()
    return media_type == b"application/json" or (
        media_type.startswith(b"application/") and media_type.endswith(b"+json")
    )


def _nul_refusal(where: str) -> ValidationFailed:
    return ValidationFailed(
        f"the NUL character is not allowed in the {where}",
        [{"loc": [where], "msg": "the NUL character is not allowed", "type": "value_error"}],
    )


class JsonRequestGuard:
    """415 for a body that is not declared JSON; 422 for a NUL in the path, query or body.

    Sits inside BodyLimitMiddleware, so the body it buffers is already bounded.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal: ServiceError | None = None
        if "\x00" in scope["path"]:
            refusal = _nul_refusal("path")
        elif b"\x00" in unquote_to_bytes(scope.get("query_string", b"")):
            refusal = _nul_refusal("query")
        if refusal is not None:
            await problem_response(refusal)(scope, receive, send)
            return

        chunks: list[bytes] = []
        more_body = True
        while more_body:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            more_body = message.get("more_body", False)
        body = b"".join(chunks)
        if body:
            content_type = dict(scope.get("headers", [])).get(b"content-type")
            if not _is_json(content_type):
                refusal = UnsupportedMediaType("the body must be JSON (application/json)")
            elif b"\x00" in body:
                # UTF-8 JSON never holds a zero byte; UTF-16 and UTF-32 JSON always do.
                refusal = ValidationFailed(
                    "the body must be UTF-8 JSON",
                    [{"loc": ["body"], "msg": "not UTF-8 JSON", "type": "json_invalid"}],
                )
            elif _ESCAPED_NUL.search(body):
                refusal = _nul_refusal("body")
        if refusal is not None:
            await problem_response(refusal)(scope, receive, send)
            return

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
