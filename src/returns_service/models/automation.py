"""Each shop's after-sales assistant rules; a shop without a row has none of its own."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from returns_service.models.base import Base, JSONType, UtcDateTime


class ShopAutomationsRow(Base):
    __tablename__ = "shop_automations"

    shop_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The rules in order, as the API writes them (`name`, `when`, `then`).
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    version: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
