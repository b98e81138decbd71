"""Event types subscribers can ask for, and the type of each timeline event."""

from __future__ import annotations

import fnmatch

from returns_service.models import ReturnEventRow
from returns_service.rules.vocabulary import Action, ReturnStatus

MESSAGE_EVENT = "return.message"
CARRIER_EVENT = "return.carrier_event"
# An extension keeps the state: announcing it as return.shipped again would read as a new
# shipment to a subscriber.
DEADLINE_EXTENDED_EVENT = "return.deadline_extended"
EVENT_TYPES: tuple[str, ...] = (
    *(f"return.{status.value}" for status in ReturnStatus),
    MESSAGE_EVENT,
    CARRIER_EVENT,
    DEADLINE_EXTENDED_EVENT,
)
_MESSAGE_TIMELINE_TYPE = "message"
_CARRIER_PREFIXES = ("carrier", "logistics")


def outbox_type(event: ReturnEventRow) -> str:
    """`return.<status>` for a change of state; `return.message`, `return.carrier_event` and
    `return.deadline_extended` for what leaves the state as it was.

    A timeline event that names no new state and is not a message came from a carrier.
    """
    if event.type == _MESSAGE_TIMELINE_TYPE:
        return MESSAGE_EVENT
    if event.type.startswith(_CARRIER_PREFIXES) or event.to_status is None:
        return CARRIER_EVENT
    if event.type == Action.EXTEND.value:
        return DEADLINE_EXTENDED_EVENT
    return f"return.{event.to_status}"


def matches(patterns: list[str], event_type: str) -> bool:
    return any(fnmatch.fnmatchcase(event_type, pattern) for pattern in patterns)


def matches_some_event(pattern: str) -> bool:
    return any(fnmatch.fnmatchcase(event_type, pattern) for event_type in EVENT_TYPES)
