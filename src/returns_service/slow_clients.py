"""Cut off clients that stall while sending a request, without holding anyone else up.

Headers: uvicorn waits for a request's headers as long as the client keeps the connection
open (its keep-alive timeout stops at the first byte), so a client sending a byte now and then
holds a connection for ever. The protocols here give every connection a deadline to finish
each request's headers (`client_timeout_seconds`), counted from when it opened or its last
answer was sent; past it, a connection with no request being answered is closed.

Bodies: `RequestGuard` reads every body within the same time (a 408 problem otherwise),
before any route, database lock or SQLite gate is taken.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from returns_service.config import get_settings


class _HeaderDeadline:
    """Mixed into one of uvicorn's HTTP/1.1 protocols (their attributes are used as is)."""

    _header_deadline: asyncio.TimerHandle | None = None
    loop: asyncio.AbstractEventLoop
    transport: Any
    logger: Any

    @property
    def header_timeout_seconds(self) -> float:
        return get_settings().client_timeout_seconds

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)  # type: ignore[misc]
        self._arm_header_deadline()

    def on_response_complete(self) -> None:
        super().on_response_complete()  # type: ignore[misc]
        self._arm_header_deadline()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)  # type: ignore[misc]

    def _arm_header_deadline(self) -> None:
        self._disarm_header_deadline()
        self._header_deadline = self.loop.call_later(
            self.header_timeout_seconds, self._headers_too_slow
        )

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        # A request whose headers came is being answered (its body has its own deadline).
        self._header_deadline = None
        cycle = getattr(self, "cycle", None)
        if (cycle is not None and not cycle.response_complete) or self.transport.is_closing():
            return
        self.logger.info("closed a connection that sent no complete request headers in time")
        self.transport.close()


# Module-level classes, so that uvicorn's worker processes can import them by name.
class HeaderDeadlineHttpTools(_HeaderDeadline, HttpToolsProtocol):
    """httptools' parser (uvicorn[standard]) with a deadline on each request's headers."""


class HeaderDeadlineH11(_HeaderDeadline, H11Protocol):
    """h11's parser with a deadline on each request's headers."""


def with_header_deadline(seconds: float) -> type[asyncio.Protocol]:
    """The same protocol with its own deadline, for a server given its settings directly."""
    return type(
        "HeaderDeadlineHttpToolsFor",
        (HeaderDeadlineHttpTools,),
        {"header_timeout_seconds": seconds},
    )
