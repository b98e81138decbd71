"""Which routes take an Idempotency-Key, and how the spec shows it."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Annotated, Any

from fastapi import Depends, Header, params
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import get_dependant

from returns_service.auth import current_caller
from returns_service.http_problems import problem_responses
from returns_service.idempotency.keys import KEY_HEADER, KEY_MAX_LENGTH, KEY_PATTERN

_IN_PROGRESS_DESCRIPTION = "Conflict: the state does not allow this, or a request with this "
_IN_PROGRESS_DESCRIPTION += "Idempotency-Key is still running"


async def idempotency_key_header(
    idempotency_key: Annotated[
        str | None,
        Header(
            alias=KEY_HEADER,
            min_length=1,
            max_length=KEY_MAX_LENGTH,
            pattern=KEY_PATTERN,
            description=(
                "Retry-safe POST: the same key with the same request answers the first "
                "response again (with `Idempotent-Replayed: true`) without acting again, for "
                "24 hours; with another request, 422 `idempotency_mismatch`; while the first "
                "runs, 409 `idempotency_in_progress`. Keys are per caller. Refusals (4xx) and "
                "failures are not stored: a retry with the key acts afresh."
            ),
        ),
    ] = None,
) -> None:
    """Declare and validate the header; TransactionalRoute does the work.

    Async though it awaits nothing: FastAPI runs a plain function dependency in a worker
    thread, a hop every POST would pay for."""
    del idempotency_key


def takes_idempotency_key(
    path: str,
    endpoint: Callable[..., Any],
    methods: Sequence[str] | set[str] | None,
    dependencies: Sequence[params.Depends] | None,
) -> bool:
    """Every POST of a known caller does; unauthenticated ones (signed webhooks) do not."""
    if "POST" not in {method.upper() for method in methods or ()}:
        return False
    if any(depends.dependency is current_caller for depends in dependencies or ()):
        return True
    return current_caller in _calls(get_dependant(path=path, call=endpoint))


def declare_idempotency_key(route_kwargs: dict[str, Any]) -> dict[str, Any]:
    """The route's arguments with the header and its 409 and 422 answers in the spec."""
    documented = problem_responses(409)
    documented[409] = {**documented[409], "description": _IN_PROGRESS_DESCRIPTION}
    responses = {**documented, **(route_kwargs.get("responses") or {})}
    return {
        **route_kwargs,
        "dependencies": [
            *(route_kwargs.get("dependencies") or ()),
            Depends(idempotency_key_header),
        ],
        "responses": dict(sorted(responses.items(), key=lambda item: str(item[0]))),
    }


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for sub in dependant.dependencies:
        if sub.call is not None:
            yield sub.call
        yield from _calls(sub)
