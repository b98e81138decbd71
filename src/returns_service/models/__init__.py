"""The tables. Importing this package registers every table on Base.metadata."""

from returns_service.models.base import Base
from returns_service.models.order import OrderLineRow, OrderRow
from returns_service.models.policy import ShopPolicyRow
from returns_service.models.return_ import ReturnEventRow, ReturnItemRow, ReturnRow

__all__ = [
    "Base",
    "OrderLineRow",
    "OrderRow",
    "ReturnEventRow",
    "ReturnItemRow",
    "ReturnRow",
    "ShopPolicyRow",
]
