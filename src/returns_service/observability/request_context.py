"""The request being answered: its id, and what the access line and the metrics say of it.

One `RequestRecord` per request (or sweep pass, or delivery attempt), held in a context
variable that the outermost middleware sets; the code that learns something about the
request (the caller's role, the problem it was answered with) writes it here, and the
middleware reads it when the answer is sent.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

REQUEST_ID_HEADER = "X-Request-Id"
# A caller's id is taken as it is only if it is short and plain: it is logged, echoed in
# headers and bodies, and sent on to webhook receivers. 64 characters hold a UUID, a ULID or
# a W3C trace id, but not a bearer token.
MAX_REQUEST_ID_LENGTH = 64
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")


@dataclass
class RequestRecord:
    request_id: str
    role: str | None = None
    problem_code: str | None = None


_current: ContextVar[RequestRecord | None] = ContextVar("returns_request", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex


def sane_request_id(offered: str | None) -> str | None:
    """The caller's request id if it is safe to log and echo, else None."""
    if offered is None or len(offered) > MAX_REQUEST_ID_LENGTH:
        return None
    return offered if _SANE_REQUEST_ID.fullmatch(offered) else None


@contextmanager
def request_scope(offered: str | None = None) -> Iterator[RequestRecord]:
    """A record for the work inside (a request, a sweep pass, a delivery attempt), ended
    after it: the context is left as it was found."""
    record = RequestRecord(request_id=sane_request_id(offered) or new_request_id())
    token = _current.set(record)
    try:
        yield record
    finally:
        _current.reset(token)


def current_record() -> RequestRecord | None:
    return _current.get()


def current_request_id() -> str | None:
    record = _current.get()
    return record.request_id if record else None


def note_caller_role(role: str) -> None:
    record = _current.get()
    if record is not None:
        record.role = role


def note_problem(code: str) -> None:
    record = _current.get()
    if record is not None:
        record.problem_code = code
