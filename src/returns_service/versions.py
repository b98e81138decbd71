"""ETag and If-Match: optimistic concurrency as HTTP speaks it."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Header, Response

from returns_service.errors import VersionMismatch

IfMatch = Annotated[
    str | None,
    Header(
        alias="If-Match",
        description='The version last read, as its ETag ("3"); 412 when it is no longer current.',
    ),
]

_UNPARSEABLE = -1
# One entity tag of ours, strong or weak: ASCII digits in quotes (RFC 9110 ETag), quotes
# optional for lenient clients. str.isdigit would take "²", which int() refuses.
_TAG = re.compile(r'(?:W/)?"?([0-9]{1,9})"?', re.ASCII)


def etag(version: int) -> str:
    return f'"{version}"'


def set_etag(response: Response, version: int) -> None:
    response.headers["ETag"] = etag(version)


def expected_version(if_match: str | None) -> int | None:
    """The version If-Match asks for; None when absent or "*"."""
    if if_match is None or if_match.strip() == "*":
        return None
    tag = _TAG.fullmatch(if_match.strip())
    return int(tag.group(1)) if tag else _UNPARSEABLE


def check_version(if_match: str | None, current: int) -> None:
    expected = expected_version(if_match)
    if expected is not None and expected != current:
        raise VersionMismatch(
            f"the resource is at version {current}; If-Match asked for {if_match}",
            current_version=current,
        )
