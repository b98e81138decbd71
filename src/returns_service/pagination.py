"""Opaque keyset cursors: the client hands back what it was given, nothing more."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from returns_service.errors import ValidationFailed
from returns_service.storable_text import is_storable
from returns_service.timestamps import within_bounds

# What the service puts in a cursor: ids of at most 64 characters (every id column's width),
# times as datetime.isoformat() writes them (32 ASCII characters at most).
_MAX_ID_LENGTH = 64
_MAX_TIME_LENGTH = 40


def encode_cursor(position: dict[str, Any]) -> str:
    raw = json.dumps(position, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, keys: frozenset[str]) -> dict[str, Any]:
    """The position a cursor stands for; a 422 for anything this service did not issue."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        position = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, UnicodeError, RecursionError) as error:
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
    return _issued_time(position[time_key], beyond_bounds), _issued_id(position["id"])


def decode_sequence(cursor: str | None, key: str = "seq") -> int:
    """The sequence number a cursor stands for (0 for no cursor); 422 for a forged one."""
    if cursor is None:
        return 0
    seq = decode_cursor(cursor, frozenset({key}))[key]
    # An int that fits the column: anything else was not issued here (and would fail SQL).
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < 2**31:
        raise bad_cursor()
    return seq


def _issued_time(value: object, beyond_bounds: datetime | None) -> datetime:
    if not isinstance(value, str) or not value.isascii() or len(value) > _MAX_TIME_LENGTH:
        raise bad_cursor()
    try:
        at = datetime.fromisoformat(value)
    except ValueError as error:
        raise bad_cursor() from error
    if at.tzinfo is None or not (within_bounds(at) or at == beyond_bounds):
        raise bad_cursor()
    return at


def _issued_id(value: object) -> str:
    if (
        not isinstance(value, str)
        or not 0 < len(value) <= _MAX_ID_LENGTH
        or not is_storable(value)
        or not value.isprintable()
    ):
        raise bad_cursor()
    return value


def encode_position(time_key: str, at: datetime, row_id: str) -> str:
    return encode_cursor({time_key: at.isoformat(), "id": row_id})


def bad_cursor() -> ValidationFailed:
    return ValidationFailed(
        "the cursor is not one this service issued",
        [{"loc": ["query", "cursor"], "msg": "invalid cursor", "type": "value_error"}],
    )
