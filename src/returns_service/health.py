"""Liveness and readiness, without a token."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel

from returns_service.errors import ServiceUnavailable
from returns_service.http_problems import problem_responses
from returns_service.migrations import current_and_head

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    schema_revisions: list[str]
    head_revisions: list[str]


@router.get("/healthz", operation_id="getHealth")
async def healthz() -> Health:
    """The process is alive."""
    return Health(status="ok")


@router.get(
    "/readyz",
    operation_id="getReadiness",
    responses={503: problem_responses(503)[503]},
)
async def readyz(request: Request) -> Readiness:
    """The database answers and its schema is the newest this code knows."""
    try:
        current, head = await current_and_head(request.app.state.engine)
    except Exception as error:
        raise ServiceUnavailable("the database is unreachable") from error
    if current != head:
        raise ServiceUnavailable(
            f"the schema is at {sorted(current)}, the code expects {sorted(head)}"
        )
    return Readiness(status="ready", schema_revisions=sorted(current), head_revisions=sorted(head))
