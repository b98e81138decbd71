"""Hostile values for property tests: text a careless or malicious client may send, and the
bodies of every operation with each of their string fields named, so any one can be swapped.

`UNSTORABLE` text (NUL, a lone surrogate) must be a 422 wherever it goes; any other hostile
text may be taken or refused, but never with a 500.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from returns_service.storable_text import is_storable
from tests.api.scenario import ADDRESS, application_body, order_body

# Fixed cases every run meets: the edges found so far, and the classics.
KNOWN_HOSTILE = [
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfffy",
    "\udbff\udc00",  # a valid pair: an astral character, storable
    "²",
    "٣",
    "\uff11\uff12",  # fullwidth digits
    "\u202e\u0000",
    "\ufeff",
    "😀",
    "",
    " ",
    "\r\n",
    "\t",
    "%00",
    "\\u0000",
    "' OR '1'='1' --",
    '"; DROP TABLE returns; --',
    "${jndi:ldap://x}",
    "../../etc/passwd",
    "a" * 65,
    "é" * 300,
    "x" * 5000,
    "P1D",
    "null",
    "[]",
    "{}",
]

_ANY_CHARACTER = st.characters(codec=None, categories=None)
_SURROGATE = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
_CONTROL = st.characters(min_codepoint=0, max_codepoint=0x1F)


def hostile_text(max_size: int = 80) -> st.SearchStrategy[str]:
    """Known edges, any Unicode (surrogates included), controls, and long runs."""
    return st.one_of(
        st.sampled_from(KNOWN_HOSTILE),
        st.text(st.one_of(_ANY_CHARACTER, _SURROGATE, _CONTROL), max_size=max_size),
        st.builds(
            lambda s, n: s * n, st.sampled_from(["a", "é", "\ud800", "😀"]), st.integers(60, 3000)
        ),
    )


def unstorable(value: object) -> bool:
    """Whether the text, as the server reads it from JSON, cannot be stored. (JSON joins an
    escaped high and low surrogate into one astral character, which can.)"""
    if not isinstance(value, str):
        return False
    return not is_storable(json.loads(json.dumps(value)))


Path = tuple[str | int, ...]


def string_paths(body: Any, where: Path = ()) -> Iterator[Path]:
    """Every string value in a JSON body, and every key of a free-form map (attributes)."""
    if isinstance(body, str):
        yield where
    elif isinstance(body, dict):
        for key, value in body.items():
            yield from string_paths(value, (*where, key))
    elif isinstance(body, list):
        for index, value in enumerate(body):
            yield from string_paths(value, (*where, index))


def replaced(body: Any, path: Path, value: object) -> Any:
    """A copy of the body with the value at `path` replaced."""
    changed = copy.deepcopy(body)
    target = changed
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return changed


def with_key(body: Any, path: Path, key: str) -> Any:
    """A copy of the body with one more key, `key`, in the map at `path`."""
    changed = copy.deepcopy(body)
    target = changed
    for step in path:
        target = target[step]
    target[key] = "v"
    return changed


@dataclass(frozen=True)
class Operation:
    """One request with a JSON body, and the party who may send it."""

    method: str
    path: str
    body: Any
    caller: str
    maps: tuple[Path, ...] = ()  # free-form maps whose keys are client text too

    @property
    def fields(self) -> list[Path]:
        return list(string_paths(self.body))

    def encoded(self, body: Any) -> bytes:
        # ASCII escapes: a lone surrogate travels as \\ud800, as any JSON client would send it.
        return json.dumps(body, ensure_ascii=True).encode()


def operations(shop_id: str, buyer_id: str, order_id: str, return_id: str) -> list[Operation]:
    """Every operation that takes a JSON body (the signed carrier webhook aside), with a body
    the rules would take, aimed at the seeded shop, order and return."""
    rid = return_id
    shipment = {"carrier": "SF-Express", "tracking_number": "SF1234567890"}
    policy = {
        "extra_excluded_categories": ["food"],
        "review_timeout": "PT48H",
        "ship_timeout": "P7D",
        "receive_timeout": "PT48H",
        "escalation_timeout": "P7D",
        "offer_timeout": "PT48H",
        "return_address": {**ADDRESS, "postal_code": "518000"},
    }
    application = application_body(order_id, evidence=["https://img.example/1.jpg"])
    order = order_body(shop_id, buyer_id, carrier="SF", tracking_number="SF1")
    return [
        Operation("POST", "/v1/returns", application, "buyer"),
        Operation("POST", "/v1/returns/preview", application, "buyer"),
        Operation(
            "PUT", f"/v1/orders/{order_id}-h", order, "storefront", (("lines", 0, "attributes"),)
        ),
        Operation("PUT", f"/v1/shops/{shop_id}/return-policy", policy, "merchant"),
        Operation(
            "PUT",
            f"/v1/shops/{shop_id}/automations",
            {
                "rules": [
                    {
                        "name": "small refunds",
                        "when": {"categories": ["apparel"], "order": "delivered"},
                        "then": "approve",
                    }
                ]
            },
            "merchant",
        ),
        Operation(
            "POST",
            "/v1/webhook-subscriptions",
            {
                "url": "https://hooks.example/r",
                "events": ["return.*"],
                "shop_id": shop_id,
                "description": "ops",
            },
            "merchant",
        ),
        Operation("POST", f"/v1/returns/{rid}/messages", {"body": "Where is it?"}, "buyer"),
        Operation(
            "POST",
            f"/v1/returns/{rid}/approve",
            {"return_address": {**ADDRESS, "postal_code": "518000"}, "instructions": "Box it"},
            "merchant",
        ),
        Operation(
            "POST", f"/v1/returns/{rid}/reject", {"reason_code": "worn", "note": "No"}, "merchant"
        ),
        Operation("POST", f"/v1/returns/{rid}/cancel", {"note": "changed my mind"}, "buyer"),
        Operation("POST", f"/v1/returns/{rid}/ship", shipment, "buyer"),
        Operation(
            "POST",
            f"/v1/returns/{rid}/receive",
            {
                "inspection": "passed",
                "deductions": [{"kind": "damage", "amount": 1, "note": "dent"}],
            },
            "merchant",
        ),
        Operation("POST", f"/v1/returns/{rid}/send_replacement", shipment, "merchant"),
        Operation("POST", f"/v1/returns/{rid}/escalate", {"note": "unfair"}, "buyer"),
        Operation(
            "POST", f"/v1/returns/{rid}/arbitrate", {"decision": "buyer", "note": "ok"}, "platform"
        ),
        Operation("POST", f"/v1/returns/{rid}/extend", {"note": "busy"}, "merchant"),
        Operation(
            "POST",
            "/v1/returns/batch",
            {"action": "reject", "ids": [rid], "body": {"reason_code": "worn", "note": "No"}},
            "merchant",
        ),
    ]
