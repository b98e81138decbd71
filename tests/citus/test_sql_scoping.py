"""The checker behind `sql_names_its_shop` (tests/conftest.py) tells pinned SQL from SQL that
would fan out across shards, and finds the service function that issued a statement."""

from __future__ import annotations

import sys
from typing import Any

from sqlalchemy import and_, delete, event, exists, insert, or_, select, text, tuple_, update

from returns_service.db import create_engine, create_sessionmaker
from returns_service.models import (
    OrderRow,
    OutboxEventRow,
    ReturnItemRow,
    ReturnRow,
    WebhookDeliveryRow,
    WebhookSubscriptionRow,
)
from returns_service.policies.repository import find_policy
from returns_service.relay.repository import events_by_id
from tests.api.conftest import test_settings as settings_for
from tests.conftest import Database
from tests.shop_scoping import (
    multi_shard_locks,
    origin_of_statement,
    unpinned_tables,
    violations,
)


def test_a_statement_pinned_to_a_shop_passes() -> None:
    one = select(ReturnRow).where(ReturnRow.shop_id == "s", ReturnRow.id == "r")
    assert unpinned_tables(one, []) == set()
    assert unpinned_tables(select(ReturnRow).where(ReturnRow.shop_id.in_(["a", "b"])), []) == set()
    pairs = tuple_(ReturnItemRow.shop_id, ReturnItemRow.return_id).in_([("s", "r")])
    assert unpinned_tables(select(ReturnItemRow).where(pairs), []) == set()
    change = update(ReturnRow).where(ReturnRow.shop_id == "s").values(version=2)
    assert unpinned_tables(change, []) == set()


def test_a_statement_naming_no_shop_is_caught() -> None:
    assert unpinned_tables(select(ReturnRow).where(ReturnRow.id == "r"), []) == {"returns"}
    assert unpinned_tables(delete(OrderRow).where(OrderRow.id == "o"), []) == {"orders"}
    # An OR pins nothing for certain.
    either = or_(ReturnRow.shop_id == "s", ReturnRow.buyer_id == "b")
    assert unpinned_tables(select(ReturnRow).where(either), []) == {"returns"}
    assert unpinned_tables(text("SELECT count(*) FROM returns"), []) == {"returns"}


def test_a_join_on_the_shop_pins_the_joined_table_too() -> None:
    joined = select(ReturnRow.id, OrderRow.carrier).join(
        OrderRow, and_(OrderRow.shop_id == ReturnRow.shop_id, OrderRow.id == ReturnRow.order_id)
    )
    assert unpinned_tables(joined.where(ReturnRow.shop_id == "s"), []) == set()
    assert unpinned_tables(joined.where(ReturnRow.id == "r"), []) == {"orders", "returns"}
    loose = select(ReturnRow.id).join(OrderRow, OrderRow.id == ReturnRow.order_id)
    assert unpinned_tables(loose.where(ReturnRow.shop_id == "s"), []) == {"orders"}


def test_a_correlated_subquery_is_pinned_through_its_correlation() -> None:
    has_delivery = exists().where(
        WebhookDeliveryRow.shop_id == OutboxEventRow.shop_id,
        WebhookDeliveryRow.event_id == OutboxEventRow.id,
    )
    statement = select(OutboxEventRow.id).where(~has_delivery)
    assert unpinned_tables(statement.where(OutboxEventRow.shop_id == "s"), []) == set()
    assert unpinned_tables(statement, []) == {"outbox_events", "webhook_deliveries"}


def test_reference_tables_need_no_shop_and_inserts_are_pinned_by_what_they_write() -> None:
    assert unpinned_tables(select(WebhookSubscriptionRow), []) == set()
    assert unpinned_tables(insert(ReturnRow), [{"shop_id": "s", "id": "r"}]) == set()
    assert unpinned_tables(insert(ReturnRow), [{"id": "r"}]) == {"returns"}


def test_a_lock_must_name_one_shop() -> None:
    one = select(ReturnRow).where(ReturnRow.shop_id == "s").with_for_update()
    several = select(ReturnRow).where(ReturnRow.shop_id.in_(["a", "b"])).with_for_update()
    assert multi_shard_locks(one) == set()
    assert multi_shard_locks(several) == {"returns"}
    assert multi_shard_locks(select(ReturnRow).where(ReturnRow.shop_id.in_(["a"]))) == set()


def test_exceptions_are_by_the_issuing_function() -> None:
    unpinned = select(ReturnRow).where(ReturnRow.id == "r")
    listed = "returns_service.relay.repository.events_by_id"
    assert violations(listed, unpinned, "sql", []) == []
    [found] = violations("returns_service.somewhere.new_query", unpinned, "sql", [])
    assert found.tables == ("returns",) and "PLATFORM_WIDE" in str(found)


async def test_the_issuing_service_function_is_found_across_the_async_bridge(
    database: Database,
) -> None:
    engine = create_engine(settings_for(database))
    origins: list[str | None] = []

    def record(*_args: Any) -> None:
        origins.append(origin_of_statement(sys._getframe(1)))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        async with create_sessionmaker(engine)() as session:
            await find_policy(session, "some-shop")
            await events_by_id(session, ["e1"])
            await session.execute(select(ReturnRow.id))  # the test's own query
    finally:
        await engine.dispose()
    assert [origin for origin in origins if origin != "returns_service.db._on_begin"] == [
        "returns_service.policies.repository.find_policy",
        "returns_service.relay.repository.events_by_id",
        None,
    ]
