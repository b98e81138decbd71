"""Idempotency keys: the first answer to each (caller, Idempotency-Key), kept for a while."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from returns_service.models.base import Base, JSONType, UtcDateTime


class IdempotencyKeyRow(Base):
    """One key of one caller: claimed while its request runs, then its stored answer.

    Keys belong to a caller, not to a shop (a platform agent's key spans shops), so the key is
    (scope, key); `shop_id` names the merchant's shop when the caller has one, for audits.
    `claim_token` fences the claim: the stored answer is written only by the request that still
    holds it, in the same transaction as the change it answers.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (Index("ix_idempotency_keys_expires_at", "expires_at"),)

    scope: Mapped[str] = mapped_column(String(255), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    shop_id: Mapped[str | None] = mapped_column(String(64))
    # sha256 of method, path and body: the same key for another request is refused.
    fingerprint: Mapped[str] = mapped_column(String(64))
    # "in_progress" while the first request runs, "completed" once its answer is stored.
    status: Mapped[str] = mapped_column(String(16))
    claim_token: Mapped[str | None] = mapped_column(String(32))
    lease_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_headers: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    response_body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
