"""The outermost layer: a request id for every request, one access line for every answer.

It replaces uvicorn's access log, which writes the raw request line (a query string may
carry anything a caller put there). The line names the route template, never the path, so
no id, token or personal detail a caller sent can reach it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from returns_service.observability.logs import structured_logger
from returns_service.observability.request_context import (
    REQUEST_ID_HEADER,
    RequestRecord,
    request_scope,
)

_ID_HEADER = REQUEST_ID_HEADER.lower().encode("latin-1")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "unmatched"

# Told of every answer: (method, route template, status, seconds). The metrics listen here.
AnswerObserver = Callable[[str, str, int, float], None]
# The answer to an exception no handler took (the app's 500 problem).
UnhandledAnswer = Callable[[Exception], ASGIApp]

_access = structured_logger("returns_service.access")


def route_template(scope: Scope) -> str:
    """The path template of the route that answered (`/v1/returns/{return_id}`), or
    `unmatched` when none did (no such path, or refused before routing)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


def method_label(scope: Scope) -> str:
    method = str(scope.get("method", ""))
    return method if method in _METHODS else "OTHER"


def _offered_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == _ID_HEADER:
            return str(value.decode("latin-1"))
    return None


class RequestObserver:
    def __init__(
        self,
        app: ASGIApp,
        unhandled: UnhandledAnswer,
        observers: tuple[AnswerObserver, ...] = (),
    ) -> None:
        self.app = app
        self.unhandled = unhandled
        self.observers = observers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with request_scope(_offered_request_id(scope)) as record:
            await self._observe(scope, receive, send, record)

    async def _observe(
        self, scope: Scope, receive: Receive, send: Send, record: RequestRecord
    ) -> None:
        started = time.perf_counter()
        status = 500
        response_started = False
        request_id = record.request_id.encode("ascii")

        async def send_with_id(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = message["status"]
                response_started = True
                headers = [
                    (name, value)
                    for name, value in message.get("headers", ())
                    if name.lower() != _ID_HEADER
                ]
                headers.append((_ID_HEADER, request_id))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception as error:
            if response_started:
                raise
            # Answered here, not by Starlette's outer error layer, so that it carries the id.
            await self.unhandled(error)(scope, receive, send_with_id)
        finally:
            self._answered(scope, record, status, time.perf_counter() - started)

    def _answered(self, scope: Scope, record: RequestRecord, status: int, seconds: float) -> None:
        method, route = method_label(scope), route_template(scope)
        for observe in self.observers:
            observe(method, route, status, seconds)
        fields: dict[str, object] = {
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 3),
            "role": record.role,
        }
        if record.problem_code is not None:
            fields["code"] = record.problem_code
        if status >= 500:
            _access.error("request", **fields)
        else:
            _access.info("request", **fields)
