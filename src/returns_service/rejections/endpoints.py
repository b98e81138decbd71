"""HTTP route listing the standard rejection reasons."""

from __future__ import annotations

from fastapi import APIRouter

from returns_service.auth import CurrentCaller
from returns_service.http_problems import problem_responses
from returns_service.rejections.schemas import RejectReasonOut, RejectReasonPage
from returns_service.rules.evidence import REJECT_REASONS

router = APIRouter(prefix="/v1/reject-reasons", tags=["returns"])


@router.get("", operation_id="listRejectReasons", responses=problem_responses())
async def list_reject_reasons(caller: CurrentCaller) -> RejectReasonPage:
    """List the standard rejection codes and which of them need evidence; other codes stay
    allowed."""
    del caller  # any signed-in caller may read the catalogue
    return RejectReasonPage(
        items=[
            RejectReasonOut(code=r.code, title=r.title, needs_evidence=r.needs_evidence)
            for r in REJECT_REASONS
        ]
    )
