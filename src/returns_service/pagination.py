"""Opaque keyset cursors: the client hands back what it was given, nothing more."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from returns_service.errors import ValidationFailed
from returns_service.timestamps import within_bounds


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


def decode_position(
    cursor: str | None, time_key: str, *, beyond_bounds: datetime | None = None
) -> tuple[datetime, str] | None:
    """The (time, id) a keyset cursor stands for; None for no cursor, 422 for a forged one.

    Only aware times this service could have issued pass (and `beyond_bounds`, a stand-in some
    lists use for "never"): a naive or far-off time would fail deep inside as a 500.
    """
    if cursor is None:
        return None
    position = decode_cursor(cursor, frozenset({time_key, "id"}))
    try:
        at = datetime.fromisoformat(position[time_key])
    except (TypeError, ValueError) as error:
        raise bad_cursor() from error
    row_id = position["id"]
    issuable = at.tzinfo is not None and (within_bounds(at) or at == beyond_bounds)
    if not issuable or not isinstance(row_id, str) or "\x00" in row_id:
        raise bad_cursor()
    return at, row_id


def encode_position(time_key: str, at: datetime, row_id: str) -> str:
    return encode_cursor({time_key: at.isoformat(), "id": row_id})


def bad_cursor() -> ValidationFailed:
    return ValidationFailed(
        "the cursor is not one this service issued",
        [{"loc": ["query", "cursor"], "msg": "invalid cursor", "type": "value_error"}],
    )
