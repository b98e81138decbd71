"""Rollups of what merchants watch: one number per shop, UTC day, dimension, key and metric."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from returns_service.models.base import Base


class StatisticsCellRow(Base):
    """The sum of what every order paid and every return applied for on `day` adds to one
    figure (see `returns_service.statistics.cells`).

    Written in the transaction of the change it counts, as a delta added in place, so that
    concurrent writers never overwrite each other; rebuilt from the rows by
    `returns-service statistics rebuild`. The key starts with the shop and the dimension so a
    window of days of one dimension and span is one range of the primary key; see
    `returns_service.statistics.periods` for the blocks of 8 and 64 days.
    """

    __tablename__ = "statistics_cells"

    shop_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    dimension: Mapped[str] = mapped_column(String(16), primary_key=True)
    # 1: the cell of `day`; 8 or 64: the sum over the aligned block of days starting at `day`.
    span: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    metric: Mapped[str] = mapped_column(String(48), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)
