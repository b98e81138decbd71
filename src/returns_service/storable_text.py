"""Text the databases can store: no NUL (PostgreSQL text cannot hold it) and no lone UTF-16
surrogate (no UTF-8 encoding exists for one, so neither driver can send it).

JSON can spell both (`\\u0000`, `\\ud800`), and so can anything decoded from JSON: a request
body, a cursor, a token's claims. One predicate for all of them, so every place that lets
client text through asks the same question.
"""

from __future__ import annotations

from collections.abc import Iterator


def is_storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def unstorable_strings(
    value: object, where: tuple[str | int, ...] = ()
) -> Iterator[tuple[str | int, ...]]:
    """Where, in decoded JSON, a key or a string value cannot be stored."""
    if isinstance(value, str):
        if not is_storable(value):
            yield where
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and not is_storable(key):
                yield (*where, key.encode("ascii", "backslashreplace").decode("ascii"))
            yield from unstorable_strings(item, (*where, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from unstorable_strings(item, (*where, index))
