"""Rows for the bench, written straight in SQL (generate_series): a million returns in seconds
rather than a million HTTP calls. The shapes are the service's own; the API reads them."""

from __future__ import annotations

import json

from bench.pg import psql
from returns_service.rules.sampling import POSTGRESQL_BUYER_BUCKET

SHOP = "bench-shop"
ADDRESS = {
    "kind": "warehouse",
    "name": "Returns desk",
    "phone": "13800000000",
    "address": "1 Dock Rd",
}


def seed_policy(database: str, shops: list[str]) -> None:
    """Each shop's policy, with the default return address the review timer uses."""
    address = json.dumps(ADDRESS).replace("'", "''")
    values = ",\n".join(
        f"('{shop}', 7, 15, '[]', 0, 'PT48H', 'P7D', 'PT48H', 'P7D', false, false, 5, 30,"
        f" '{address}', 1, now())"
        for shop in shops
    )
    psql(
        "INSERT INTO shop_policies (shop_id, window_days, defect_window_days,"
        " extra_excluded_categories, restocking_fee_percent, review_timeout, ship_timeout,"
        " receive_timeout, escalation_timeout, auto_refund_unshipped, fast_refund,"
        " abuse_threshold_returns, abuse_threshold_days, return_address, version, updated_at)"
        f" VALUES {values}",
        database,
    )


def seed_returns(
    database: str,
    *,
    prefix: str,
    first: int,
    count: int,
    shops: int = 1,
    buyers: int = 5000,
    requested_only: bool = True,
    due_in: str = "48 hours",
) -> None:
    """`count` returns with ids `<prefix><n>` for n in [first, first + count), one item each,
    one timeline event each, spread over `shops` shops (bench-shop, bench-shop-1, ...) and
    `buyers` buyers, one order per hundred returns.

    requested_only: every return waits for the merchant's review (deadline `due_in` from now);
    otherwise a mix of states, deadlines and actors, as a live shop holds them.
    """
    last = first + count - 1
    # Before revision 0007 a return did not keep its last timeline seq.
    has_seq = (
        psql(
            "SELECT count(*) FROM information_schema.columns"
            " WHERE table_name = 'returns' AND column_name = 'last_event_seq'",
            database,
        ).strip()
        == "1"
    )
    seq_column, seq_value = (", last_event_seq", ", 1") if has_seq else ("", "")
    # Before revision 0017 orders and returns did not keep their buyer's bucket.
    has_bucket = (
        psql(
            "SELECT count(*) FROM information_schema.columns"
            " WHERE table_name = 'orders' AND column_name = 'buyer_bucket'",
            database,
        ).strip()
        == "1"
    )
    buyer = f"'bench-buyer-' || (g % {buyers})"
    bucket_column, order_bucket, return_bucket = (
        (
            ", buyer_bucket",
            ", " + POSTGRESQL_BUYER_BUCKET.format(column="'bench-buyer-0'"),
            ", " + POSTGRESQL_BUYER_BUCKET.format(column=buyer),
        )
        if has_bucket
        else ("", "", "")
    )
    shop = f"CASE WHEN g % {shops} = 0 THEN '{SHOP}' ELSE '{SHOP}-' || (g % {shops}) END"
    order = f"'bo-{prefix}' || (g / 100)"
    if requested_only:
        status = "'requested'"
        actor = "'merchant'"
        action = "'review'"
        due = f"now() + interval '{due_in}'"
    else:
        # One in fifty is in arbitration: the platform's queue (no timer acts for it).
        status = (
            "CASE WHEN g % 50 = 7 THEN 'arbitration' ELSE"
            " (ARRAY['requested','approved','shipped','received','refunded','closed'])[1 + g % 6]"
            " END"
        )
        actor = (
            "CASE WHEN g % 50 = 7 THEN NULL ELSE"
            " (ARRAY['merchant','buyer','merchant','merchant',NULL,NULL])[1 + g % 6] END"
        )
        action = (
            "CASE WHEN g % 50 = 7 THEN NULL ELSE"
            " (ARRAY['review','ship','receive','refund',NULL,NULL])[1 + g % 6] END"
        )
        due = (
            "CASE WHEN g % 6 < 4 AND g % 50 <> 7 THEN now() + (g % 9973) * interval '1 minute' END"
        )
    psql(
        f"""
        INSERT INTO orders (shop_id, id, buyer_id, currency, paid_at, shipped_at, delivered_at,
            shipping_fee, shipping_insurance, buyer_region, carrier, tracking_number,
            created_at, updated_at{bucket_column})
        SELECT DISTINCT ON (({shop}), ({order})) {shop}, {order}, 'bench-buyer-0', 'CNY',
            now() - interval '3 days', NULL, NULL, 0, false, NULL, NULL, NULL, now(), now()
            {order_bucket}
        FROM generate_series({first}, {last}) g
        ON CONFLICT DO NOTHING;
        INSERT INTO order_lines (shop_id, order_id, line_id, position, sku, title, category,
            unit_price, quantity, attributes)
        SELECT DISTINCT ON (({shop}), ({order})) {shop}, {order}, 'l1', 0, 'SKU-1', 'A shirt',
            'apparel', 9900, 1000, '{{"size": "M"}}'
        FROM generate_series({first}, {last}) g
        ON CONFLICT DO NOTHING;
        INSERT INTO returns (shop_id, id, order_id, buyer_id, type, reason, fault, status,
            version, currency, refund_amount, deductions, return_shipping_paid_by,
            buyer_flagged, description, evidence, return_address, instructions, inspection,
            rejection, shipment_carrier, shipment_tracking_number, shipped_at, shipment_status,
            shipment_delivered_at, receive_extensions, replacement_carrier,
            replacement_tracking_number, replacement_shipped_at, refunded_amount,
            refund_reference, refunded_at, deadline_action, deadline_actor, deadline_due_at,
            created_at, updated_at{seq_column}{bucket_column})
        SELECT {shop}, '{prefix}' || g, {order}, {buyer},
            'return_refund', 'quality_defect', 'merchant', {status}, 1, 'CNY', 9900, '[]',
            'merchant', false, NULL, '[]', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
            NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, {action}, {actor}, {due},
            now() - (({last} - g) * interval '1 second'), now(){seq_value}{return_bucket}
        FROM generate_series({first}, {last}) g;
        INSERT INTO return_items (shop_id, return_id, line_id, position, quantity, condition,
            unit_price)
        SELECT {shop}, '{prefix}' || g, 'l1', 0, 1, 'unopened', 9900
        FROM generate_series({first}, {last}) g;
        INSERT INTO return_events (shop_id, return_id, seq, type, from_status, to_status,
            actor_role, actor_id, data, at)
        SELECT {shop}, '{prefix}' || g, 1, 'created', NULL, 'requested', 'buyer',
            'bench-buyer-' || (g % {buyers}), '{{}}', now()
        FROM generate_series({first}, {last}) g;
        ANALYZE;
        """,
        database,
    )
