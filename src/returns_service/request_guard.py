"""Refuse what no route can take before any route reads it.

- a header value over the size limit (431);
- a token in the query string (401): tokens go in the Authorization header only, where no
  access log, proxy or browser history keeps them;
- bodies over the size limit (413), whether declared by Content-Length or streamed;
- bodies not sent within the client timeout (408): a stalled upload holds nothing meanwhile,
  since no route has begun;
- bodies that are not declared JSON (415), or are not UTF-8 JSON (422);
- text no database can store (`storable_text`: NUL, a lone surrogate) anywhere in the path,
  query or body, as a key or a value at any depth (422): it would otherwise fail half-way as
  a 500, or turn the Idempotency-Key's fingerprint into one.

The body is buffered once (it is at most the limit) and replayed to the app, so a chunked
upload that crosses the limit half-way is refused before anything acts on it.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from urllib.parse import parse_qsl, unquote_to_bytes

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from returns_service.errors import (
    HeaderTooLarge,
    PayloadTooLarge,
    RequestTimeout,
    ServiceError,
    Unauthenticated,
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


# Query parameters that carry credentials in the wild, and what a JWT looks like anywhere.
_TOKEN_PARAMETERS = frozenset(
    {"access_token", "token", "id_token", "jwt", "auth", "authorization", "bearer", "api_key"}
)
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.", re.ASCII)


def _carries_a_token(query: bytes) -> bool:
    if not query:
        return False
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True)
    return any(
        name.lower() in _TOKEN_PARAMETERS or _JWT.search(name) or _JWT.search(value)
        for name, value in pairs
    )


class _BodyRefused(Exception):
    def __init__(self, refusal: ServiceError | None) -> None:
        self.refusal = refusal  # None: the client went away


class RequestGuard:
    """The one place a request's headers, path, query and body are checked before any route."""

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        max_header_bytes: int = 8192,
        client_timeout_seconds: float = 30.0,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_header_bytes = max_header_bytes
        self.client_timeout_seconds = client_timeout_seconds

    def _head_refusal(self, scope: Scope, headers: dict[bytes, bytes]) -> ServiceError | None:
        query = scope.get("query_string", b"")
        declared = headers.get(b"content-length", b"")
        if any(len(value) > self.max_header_bytes for _, value in scope.get("headers", [])):
            return HeaderTooLarge(f"a header is longer than {self.max_header_bytes} bytes")
        if not is_storable(scope["path"]):
            return _unstorable_refusal(["path"])
        if not _is_storable_query(query):
            return _unstorable_refusal(["query"])
        if _carries_a_token(query):
            return Unauthenticated(
                "a token in the query string is refused: send it as Authorization: Bearer"
            )
        if declared.isdigit() and int(declared) > self.max_body_bytes:
            return self._too_large()
        return None

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(f"the body is larger than {self.max_body_bytes} bytes")

    async def _read_body(self, receive: Receive) -> bytes:
        """The whole body, within the size limit and the client timeout."""
        chunks: list[bytes] = []
        size = 0
        more_body = True
        deadline = time.monotonic() + self.client_timeout_seconds
        while more_body:
            try:
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    message = await receive()
            except TimeoutError as stalled:
                raise _BodyRefused(
                    RequestTimeout(
                        f"the body did not arrive within {self.client_timeout_seconds:g} seconds"
                    )
                ) from stalled
            if message["type"] == "http.disconnect":
                raise _BodyRefused(None)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise _BodyRefused(self._too_large())
            chunks.append(chunk)
            more_body = message.get("more_body", False)
        return b"".join(chunks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        refusal = self._head_refusal(scope, headers)
        if refusal is None:
            try:
                body = await self._read_body(receive)
            except _BodyRefused as refused:
                refusal = refused.refusal
                if refusal is None:
                    return  # the client is gone: no one to answer
            else:
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
