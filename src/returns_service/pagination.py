"""Opaque keyset cursors: the client hands back what it was given, nothing more."""

from __future__ import annotations

import base64
import json
from typing import Any

from returns_service.errors import ValidationFailed


def encode_cursor(position: dict[str, Any]) -> str:
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, keys: frozenset[str]) -> dict[str, Any]:
    """The position a cursor stands for; a 422 for anything this service did not issue."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeError) as error:
        raise bad_cursor() from error
    if not isinstance(position, dict) or set(position) != keys:
        raise bad_cursor()
    return position


def bad_cursor() -> ValidationFailed:
    return ValidationFailed(
        "the cursor is not one this service issued",
        [{"loc": ["query", "cursor"], "msg": "invalid cursor", "type": "value_error"}],
    )
