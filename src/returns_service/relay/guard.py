"""The relay connects to public addresses only, and to exactly the addresses it vetted.

Each new connection resolves its host (asyncio getaddrinfo), refuses if ANY address is not
public (`subscriptions.targets`: loopback, private, link-local, ...), then connects to the
vetted addresses themselves, never to the name again: a DNS answer that changes between the
check and the connect (rebinding) cannot redirect the relay. TLS still verifies the URL's
host name (SNI and certificate), and pooled connections stay keyed by that name.

It is an httpcore network backend under httpx's own transport. httpx 0.28 takes no network
backend (encode/httpx#3749 proposes one), so `public_only_transport` sets its pool's; it
fails loudly at start-up if httpx changes that, rather than relaying unguarded.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Awaitable, Callable, Iterable

import httpcore
import httpx

from returns_service.subscriptions.targets import address_refusal, host_refusal, parse_address

SETTING = "RETURNS_WEBHOOK_ALLOW_PRIVATE_TARGETS"

Resolver = Callable[[str, int], Awaitable[list[str]]]


class TargetRefused(Exception):
    """The URL's host is, or resolves to, an address webhooks may not go to. Permanent for
    this URL as long as its DNS says so: the delivery is parked, not retried."""


async def resolve_addresses(host: str, port: int) -> list[str]:
    """Every address `host` resolves to, in the resolver's order, without repeats."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def vetted(host: str, addresses: Iterable[str]) -> list[str]:
    """The addresses, if every one of them is public; TargetRefused otherwise."""
    checked = []
    for text in addresses:
        address = parse_address(text)
        reason = "not an IP address" if address is None else address_refusal(address)
        if reason is not None:
            raise TargetRefused(
                f"refused to connect: {host} resolves to {text}, {reason}; webhooks are sent "
                f"to public addresses only ({SETTING})"
            )
        checked.append(str(address))
    if not checked:
        raise TargetRefused(f"refused to connect: {host} resolves to no address")
    return checked


class PublicOnlyBackend(httpcore.AsyncNetworkBackend):
    """Wraps the network backend httpcore would use; `resolve` replaces DNS (tests)."""

    def __init__(
        self, inner: httpcore.AsyncNetworkBackend, resolve: Resolver | None = None
    ) -> None:
        self._inner = inner
        self._resolve = resolve

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        reason = host_refusal(host)
        if reason is not None:
            raise TargetRefused(
                f"refused to connect: {reason}; webhooks are sent to public addresses only "
                f"({SETTING})"
            )
        resolve = self._resolve or resolve_addresses  # looked up now: tests may replace it
        try:
            addresses = await resolve(host, port)
        except OSError as error:  # socket.gaierror: no such name, no answer
            raise httpcore.ConnectError(f"could not resolve {host}: {error}") from error
        last_error: Exception | None = None
        for address in vetted(host, addresses):
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                last_error = error
        assert last_error is not None
        raise last_error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise TargetRefused("refused to connect: a unix socket is never a webhook target")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def public_only_transport(limits: httpx.Limits) -> httpx.AsyncHTTPTransport:
    """httpx's default transport (as AsyncClient would build it, trust_env off), its
    connections opened through PublicOnlyBackend."""
    transport = httpx.AsyncHTTPTransport(limits=limits, trust_env=False)
    pool = transport._pool
    if not isinstance(pool, httpcore.AsyncConnectionPool) or not hasattr(pool, "_network_backend"):
        raise RuntimeError(
            "this httpx version's transport has no pool network backend to guard: "
            "update returns_service.relay.guard"
        )
    pool._network_backend = PublicOnlyBackend(pool._network_backend)
    return transport
