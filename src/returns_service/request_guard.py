"""Refuse what no route can take before any route reads it.

- bodies over the size limit (413), whether declared by Content-Length or streamed;
- bodies that are not declared JSON (415), or are not UTF-8 JSON (422);
- text no database can store (`storable_text`: NUL, a lone surrogate) anywhere in the path,
  query or body, as a key or a value at any depth (422): it would otherwise fail half-way as
  a 500, or turn the Idempotency-Key's fingerprint into one.

The body is buffered once (it is at most the limit) and replayed to the app, so a chunked
upload that crosses the limit half-way is refused before anything acts on it.
"""

from __future__ import annotations

import json
import re
from urllib.parse import unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from returns_service.errors import (
    PayloadTooLarge,
    ServiceError,
    UnsupportedMediaType,
    ValidationFailed,
)
from returns_service.http_problems import problem_response
from returns_service.storable_text import is_storable, unstorable_strings

# A JSON string escape that may spell unstorable text: an odd number of backslashes, then
# u0000 or a surrogate (d800-dfff). Raw UTF-8 holds neither (a raw NUL byte is refused below,
# encoded surrogates are not UTF-8), so bodies without such an escape are never parsed here.
_SUSPECT_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u(?:0000|[dD][89a-fA-F])")


def _is_json(content_type: bytes | None) -> bool:
    if content_type is None:
        return False
    media_type = content_type.split(b";", 1)[0].strip().lower()
    return media_type == b"application/json" or (
        media_type.startswith(b"application/") and media_type.endswith(b"+json")
    )


_UNSTORABLE = "text with NUL or a lone surrogate is not allowed"


def _unstorable_refusal(*locations: list[str | int]) -> ValidationFailed:
    where = " and ".join(sorted({str(location[0]) for location in locations}))
    return ValidationFailed(
        f"the {where} holds {_UNSTORABLE.replace(' is not allowed', '')}",
        [{"loc": location, "msg": _UNSTORABLE, "type": "value_error"} for location in locations],
    )


def _body_text_refusal(body: bytes) -> ValidationFailed | None:
    if not _SUSPECT_ESCAPE.search(body):
        return None
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return None  # not JSON: the route answers it as malformed
    found = [["body", *where] for where in unstorable_strings(parsed)]
    return _unstorable_refusal(*found[:20]) if found else None


def _body_refusal(headers: dict[bytes, bytes], body: bytes) -> ServiceError | None:
    if not body:
        return None
    if not _is_json(headers.get(b"content-type")):
        return UnsupportedMediaType("the body must be JSON (application/json)")
    if b"\x00" in body:
        # UTF-8 JSON never holds a zero byte; UTF-16 and UTF-32 JSON always do.
        return ValidationFailed(
            "the body must be UTF-8 JSON",
            [{"loc": ["body"], "msg": "not UTF-8 JSON", "type": "json_invalid"}],
        )
    return _body_text_refusal(body)


def _is_storable_query(query: bytes) -> bool:
    # Invalid UTF-8 is read as U+FFFD by every parser here; NUL survives that, so look for it.
    return b"\x00" not in unquote_to_bytes(query.replace(b"+", b" "))


class RequestGuard:
    """The one place a request's path, query and body are checked before any route."""

    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        too_large = PayloadTooLarge(f"the body is larger than {self.max_body_bytes} bytes")
        declared = headers.get(b"content-length", b"")
        refusal: ServiceError | None = None
        if not is_storable(scope["path"]):
            refusal = _unstorable_refusal(["path"])
        elif not _is_storable_query(scope.get("query_string", b"")):
            refusal = _unstorable_refusal(["query"])
        elif declared.isdigit() and int(declared) > self.max_body_bytes:
            refusal = too_large
        if refusal is not None:
            await problem_response(refusal)(scope, receive, send)
            return

        chunks: list[bytes] = []
        size = 0
        more_body = True
        while more_body:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await problem_response(too_large)(scope, receive, send)
                return
            chunks.append(chunk)
            more_body = message.get("more_body", False)
        body = b"".join(chunks)
        refusal = _body_refusal(headers, body)
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
