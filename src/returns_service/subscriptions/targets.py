"""Where webhooks may go: the public internet, never this host or the networks around it.

A subscription's URL is chosen by a merchant; without these rules the relay would POST to
cloud metadata (169.254.169.254), the database next door (127.0.0.1:5432) or any private
address on the caller's behalf (SSRF). Stdlib only: the same rules judge a URL when it is
subscribed (its host as written) and every address its host resolves to when the relay
connects (`returns_service.relay.guard`). RETURNS_WEBHOOK_ALLOW_PRIVATE_TARGETS=true turns
both off, for tests and local development against a receiver on 127.0.0.1.
"""

from __future__ import annotations

import ipaddress
from ipaddress import IPv4Address, IPv6Address, IPv6Network

# The NAT64 well-known prefix (RFC 6052): the last 32 bits are an IPv4 address that a NAT64
# gateway connects to, so they are judged as that address.
_NAT64 = IPv6Network("64:ff9b::/96")
# Most specific first: 127.0.0.1 is also "private", 169.254.169.254 also "private".
_KINDS = (
    ("is_unspecified", "an unspecified address"),
    ("is_loopback", "a loopback address"),
    ("is_link_local", "a link-local address"),
    ("is_multicast", "a multicast address"),
    ("is_private", "a private address"),
    ("is_reserved", "a reserved address"),
)
LOCAL_NAMES = ("localhost",)

Address = IPv4Address | IPv6Address


def _embedded_ipv4(address: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 one stands for: IPv4-mapped, NAT64 or 6to4."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address in _NAT64:
        return IPv4Address(int(address) & 0xFFFFFFFF)
    return address.sixtofour


def address_refusal(address: Address) -> str | None:
    """Why webhooks may not go to this address ("a loopback address", ...); None if public."""
    if isinstance(address, IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            reason = address_refusal(embedded)
            return None if reason is None else f"{reason} ({embedded})"
    for flag, kind in _KINDS:
        if getattr(address, flag):
            return kind
    if not address.is_global:  # e.g. 100.64.0.0/10, shared address space (cloud metadata)
        return "not a globally reachable address"
    return None


def parse_address(text: str) -> Address | None:
    """The IP address `text` spells (IPv6 with or without brackets or a zone), or None."""
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return None


def host_refusal(host: str) -> str | None:
    """Why webhooks may not go to this URL host as written; None when it is a public IP
    literal or a name (names are judged by what they resolve to, when the relay connects)."""
    name = host.strip().strip("[]").rstrip(".").lower()
    if name in LOCAL_NAMES or any(name.endswith("." + local) for local in LOCAL_NAMES):
        return f"{host} names this host"
    address = parse_address(name)
    if address is None:
        return None
    reason = address_refusal(address)
    return None if reason is None else f"{address} is {reason}"
