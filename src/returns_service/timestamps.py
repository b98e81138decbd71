"""Times a client may send: with a zone, and within years the service can compute with.

Without bounds a valid RFC 3339 time such as 0001-01-01T00:00:00+01:00 has no UTC equivalent,
and 9999-12-31 leaves no room for a return window: both failed as 500s deep inside.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)

# RFC 3339 date-time text. Pydantic alone also takes numbers ("0.5", 1e9) as Unix times,
# which the contract (format: date-time) does not allow.
_RFC_3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


def _rfc_3339_text(value: Any) -> Any:
    if isinstance(value, datetime) or (isinstance(value, str) and _RFC_3339.fullmatch(value)):
        return value
    raise ValueError("must be an RFC 3339 date-time with a zone, like 2026-11-21T08:00:00Z")


def api_timestamp(at: datetime) -> str:
    """A time as the API writes it everywhere (pydantic's form): UTC, ending in Z. For times
    put into event data, which is stored and sent as plain JSON."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def within_bounds(at: datetime) -> bool:
    """Whether an aware time lies in the range a Timestamp accepts."""
    return EARLIEST <= at < LATEST


def _within_bounds(at: datetime) -> datetime:
    if not within_bounds(at):
        raise ValueError("must lie between 1970-01-01 and 2200-01-01")
    return at


# The bounds are checked by a validator, not Field(ge=, lt=): on a date-time those would leak
# into the OpenAPI document as keywords JSON Schema does not have.
Timestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_rfc_3339_text),
    AfterValidator(_within_bounds),
    Field(description="RFC 3339 with a zone, between 1970 and 2200"),
]
