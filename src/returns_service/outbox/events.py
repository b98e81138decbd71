"""Event types subscribers can ask for (the state table names which one each change
publishes), and how a subscription's globs match them."""

from __future__ import annotations

import fnmatch

from returns_service.rules.vocabulary import EventType

EVENT_TYPES: tuple[str, ...] = tuple(event_type.value for event_type in EventType)


def matches(patterns: list[str], event_type: str) -> bool:
    return any(fnmatch.fnmatchcase(event_type, pattern) for pattern in patterns)


def matches_some_event(pattern: str) -> bool:
    return any(fnmatch.fnmatchcase(event_type, pattern) for event_type in EVENT_TYPES)
