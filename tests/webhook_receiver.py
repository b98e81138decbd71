"""A real HTTP endpoint on 127.0.0.1 that records what it receives and answers from a script.

It runs in the test's own event loop (asyncio streams), so a test can drive the relay and
read what arrived without threads. Each connection carries one request and is closed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from standardwebhooks.webhooks import Webhook

_REASONS = {200: "OK", 204: "No Content", 410: "Gone", 429: "Too Many Requests", 500: "Error"}


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: datetime

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def json(self) -> Any:
        return json.loads(self.body)

    def verified(self, secret: str) -> Any:
        """The payload, if the signature is the subscription's; raises otherwise."""
        return Webhook(secret).verify(self.body, self.headers)


Answer = tuple[int, dict[str, str]]


@dataclass
class Receiver:
    """Answers the n-th request with `script[n]` (status, headers), then with `then`."""

    script: list[Answer] = field(default_factory=list)
    then: Answer = (200, {})
    answer: Callable[[Received], Answer] | None = None
    # A slow endpoint: each answer waits this long (keeps deliveries in flight at once).
    delay_seconds: float = 0.0
    received: list[Received] = field(default_factory=list)
    url: str = ""
    _server: asyncio.Server | None = None

    async def __aenter__(self) -> Receiver:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/hooks"
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    def ids(self) -> list[str]:
        return [item.webhook_id for item in self.received]

    def payloads(self) -> list[Any]:
        return [item.json() for item in self.received]

    def _next_answer(self, received: Received) -> Answer:
        if self.answer is not None:
            return self.answer(received)
        index = len(self.received) - 1
        return self.script[index] if index < len(self.script) else self.then

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            path = lines[0].split(" ")[1]
            headers = {}
            for line in lines[1:]:
                if ":" in line:
                    name, value = line.split(":", 1)
                    headers[name.strip().lower()] = value.strip()
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            received = Received(path, headers, body, datetime.now(UTC))
            self.received.append(received)
            status, extra = self._next_answer(received)
            if self.delay_seconds:
                await asyncio.sleep(self.delay_seconds)
            reason = _REASONS.get(status, "Status")
            response = f"HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\nConnection: close\r\n"
            response += "".join(f"{name}: {value}\r\n" for name, value in extra.items())
            writer.write((response + "\r\n").encode("latin-1"))
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()
