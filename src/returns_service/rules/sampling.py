"""A stable, uniform sample of buyers, for a figure too costly to count over every buyer.

Every buyer falls in one of BUYER_BUCKETS buckets by a hash of their id: the same bucket on
every row, in every shop, for ever (orders and returns store it as `buyer_bucket`). A figure
counted over the buyers of buckets [0, b) is counted over a uniform sample of b / 1024 of the
buyers, and the same buyers whatever the window, so a shop's figure does not jump about from
one question to the next.
"""

from __future__ import annotations

import hashlib

BUYER_BUCKETS = 1024

# The same hash in PostgreSQL's SQL, for the migration that fills existing rows and for the
# benches that seed rows in SQL: the first 16 bits of the MD5 of the id's UTF-8 bytes, modulo
# 1024. `{column}` is a text expression. Tests hold it equal to `buyer_bucket`.
POSTGRESQL_BUYER_BUCKET = "(('x' || substr(md5({column}), 1, 4))::bit(16)::int % 1024)"


def buyer_bucket(buyer_id: str) -> int:
    """The buyer's bucket in [0, BUYER_BUCKETS). MD5 for spread, not for secrecy: the bucket
    says nothing a caller could not compute."""
    digest = hashlib.md5(buyer_id.encode("utf-8"), usedforsecurity=False).digest()
    return int.from_bytes(digest[:2], "big") % BUYER_BUCKETS


def buckets_to_sample(orders: int, sample_orders: int) -> int | None:
    """How many buckets (0, 1, … b - 1) to count a window's buyers over when the window holds
    `orders` orders, so that about `sample_orders` of them are read: None (every buyer, exact)
    up to `sample_orders` orders; beyond, the most buckets whose expected share of the orders
    stays within `sample_orders` (at least one bucket, however many orders)."""
    if orders <= sample_orders:
        return None
    return max(1, sample_orders * BUYER_BUCKETS // orders)
