"""The tables. Importing this package registers every table on Base.metadata."""

from returns_service.models.automation import ShopAutomationsRow
from returns_service.models.base import Base
from returns_service.models.carrier_delivery import CarrierDeliveryRow
from returns_service.models.idempotency_key import IdempotencyKeyRow
from returns_service.models.order import OrderLineRow, OrderRow
from returns_service.models.outbox import (
    OutboxEventRow,
    WebhookDeliveryRow,
    WebhookSubscriptionRow,
)
from returns_service.models.policy import ShopPolicyRow
from returns_service.models.return_ import ReturnEventRow, ReturnItemRow, ReturnRow
from returns_service.models.statistics import StatisticsCellRow, StatisticsDeltaRow

__all__ = [
    "Base",
    "CarrierDeliveryRow",
    "IdempotencyKeyRow",
    "OrderLineRow",
    "OrderRow",
    "OutboxEventRow",
    "ReturnEventRow",
    "ReturnItemRow",
    "ReturnRow",
    "ShopAutomationsRow",
    "ShopPolicyRow",
    "StatisticsCellRow",
    "StatisticsDeltaRow",
    "WebhookDeliveryRow",
    "WebhookSubscriptionRow",
]
