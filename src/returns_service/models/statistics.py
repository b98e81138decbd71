"""Rollups of what merchants watch: one number per shop, UTC day, dimension, key and metric."""

from __future__ import annotations

from datetime import date

from sqlalchemy import BigInteger, Date, Index, Integer, SmallInteger, String
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


class StatisticsDeltaRow(Base):
    """What one transaction added to the cells, not yet folded into them.

    A change of an order or a return writes its differences here, in its own transaction,
    as new rows: inserts take no lock that another writer waits on, so approvals in one shop
    never queue on the shop's hot cells. The sweep folds them into `statistics_cells` (the
    rows deleted and their sum added, in one transaction), and a reader sums cells and
    pending deltas in one statement, one snapshot: a figure counts every committed change
    exactly once whichever side of a fold it is on.
    """

    __tablename__ = "statistics_deltas"
    __table_args__ = (Index("ix_statistics_deltas_shop_day", "shop_id", "dimension", "day"),)

    shop_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The writing transaction's own id and the row's place in it.
    batch: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[date] = mapped_column(Date)
    dimension: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(128))
    metric: Mapped[str] = mapped_column(String(48))
    value: Mapped[int] = mapped_column(BigInteger)
