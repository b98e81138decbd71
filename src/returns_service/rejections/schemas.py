"""The standard rejection reasons as the API lists them."""

from __future__ import annotations

from pydantic import BaseModel

from returns_service.shapes import ResponseShape


class RejectReasonOut(BaseModel):
    code: str
    title: str
    # A rejection with this code and no evidence is refused (`evidence_required`).
    needs_evidence: bool


class RejectReasonPage(ResponseShape):
    items: list[RejectReasonOut]
    # Always null: the list is short and fixed; the field keeps every list the same shape.
    next_cursor: str | None = None
