"""Citus readiness of the models: every table can be distributed as `models/placement.py` says.

Citus requires of a distributed table that its primary key and every unique constraint contain
the distribution column, and that a foreign key between distributed tables join co-located
tables on it. A reference table (one copy on every node) may point only at reference tables.
A new table passes only if it is keyed by shop_id this way or is named in NOT_BY_SHOP.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import ForeignKeyConstraint, Index, Table, UniqueConstraint

from returns_service.models import Base
from returns_service.models.placement import (
    NOT_BY_SHOP,
    SHOP_KEY,
    citus_statements,
    placement_of,
)

TABLES = Base.metadata.tables


def _unique_column_sets(table: Table) -> list[tuple[str, set[str]]]:
    sets = [(f"primary key of {table.name}", {column.name for column in table.primary_key})]
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint):
            sets.append((f"unique {constraint.name}", {c.name for c in constraint.columns}))
    for index in table.indexes:
        if isinstance(index, Index) and index.unique:
            sets.append((f"unique index {index.name}", {c.name for c in index.columns}))
    return sets


def _key_problems(table: Table) -> list[str]:
    placement = placement_of(table.name)
    problems = []
    if placement.kind == "distributed":
        column = placement.column
        assert column is not None
        if column not in table.columns:
            return [
                f"{table.name} has no {column} column: every table of shop data carries "
                f"shop_id; a table that is not shop data goes into NOT_BY_SHOP with its reason"
            ]
        if table.columns[column].nullable:
            problems.append(f"{table.name}.{column}, its distribution column, may be null")
        problems += [
            f"{what} does not include {column}: Citus cannot enforce it across shards"
            for what, columns in _unique_column_sets(table)
            if column not in columns
        ]
    for constraint in table.constraints:
        if isinstance(constraint, ForeignKeyConstraint):
            problems += _foreign_key_problems(table, constraint)
    return problems


def _foreign_key_problems(table: Table, constraint: ForeignKeyConstraint) -> list[str]:
    source = placement_of(table.name)
    target_table = constraint.referred_table
    target = placement_of(target_table.name)
    name = f"{table.name} -> {target_table.name} ({constraint.name})"
    if target.kind == "reference":
        return []  # every node has the whole reference table
    if source.kind == "reference":
        return [f"{name}: a reference table may point only at reference tables"]
    if not (source.by_shop and target.by_shop):
        return [f"{name}: only co-located tables distributed by {SHOP_KEY} may point at each other"]
    pairs = {(e.parent.name, e.column.name) for e in constraint.elements}
    if (SHOP_KEY, SHOP_KEY) not in pairs:
        return [f"{name}: does not join {SHOP_KEY} to {SHOP_KEY}, so it would cross shards"]
    return []


def test_every_table_is_keyed_by_shop_or_declared_otherwise_with_a_reason() -> None:
    problems = [problem for table in TABLES.values() for problem in _key_problems(table)]
    assert problems == [], "\n".join(problems)


def test_the_declared_exceptions_name_real_tables_and_say_why() -> None:
    assert set(NOT_BY_SHOP) <= set(TABLES), set(NOT_BY_SHOP) - set(TABLES)
    for name, placement in NOT_BY_SHOP.items():
        assert not placement.by_shop, f"{name} is keyed by shop: it needs no exception"
        assert len(placement.reason) > 20, f"{name}: say why it is not distributed by shop"
        assert (placement.kind == "reference") == (placement.column is None), name


def test_shop_tables_are_the_tables_carrying_the_shop() -> None:
    """Most data is shop data: the exceptions stay few, and the core tables are by shop."""
    by_shop = {name for name in TABLES if placement_of(name).by_shop}
    assert {"orders", "order_lines", "returns", "return_items", "return_events"} <= by_shop
    assert {"outbox_events", "webhook_deliveries", "shop_policies"} <= by_shop


def test_the_citus_commands_place_every_table_once_parents_first() -> None:
    statements = citus_statements(Base.metadata)
    named = [statement.split("'")[1] for statement in statements]
    assert sorted(named) == sorted(TABLES)
    position = {name: index for index, name in enumerate(named)}
    for table in TABLES.values():
        for constraint in table.foreign_key_constraints:
            assert position[constraint.referred_table.name] < position[table.name], table.name
    first_by_shop = next(name for name in named if placement_of(name).by_shop)
    for statement in statements:
        name = statement.split("'")[1]
        if placement_of(name).by_shop and name != first_by_shop:
            assert f"colocate_with => '{first_by_shop}'" in statement, statement


def test_the_readme_gives_the_citus_command_of_every_table() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text()
    missing = [line for line in citus_statements(Base.metadata) if line not in readme]
    assert missing == [], "README.md, Scaling out, lacks:\n" + "\n".join(missing)
