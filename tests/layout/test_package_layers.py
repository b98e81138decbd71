"""Packages import one another in layers, never in a circle.

A circle (returns -> outbox -> returns) means no package of it can be read, tested or changed
alone. Every first-level package and module of returns_service is a node; an import anywhere
in one (inside functions too) is an arrow to the other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import returns_service

ROOT = Path(returns_service.__file__).parent
PREFIX = "returns_service."


def _node_of(path: Path) -> str:
    return path.relative_to(ROOT).with_suffix("").parts[0]


def _imports(path: Path) -> set[str]:
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
            if node.module == "returns_service":
                names = [f"{PREFIX}{alias.name}" for alias in node.names]
        targets |= {name[len(PREFIX) :].split(".")[0] for name in names if name.startswith(PREFIX)}
    return targets


def package_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        source = _node_of(path)
        if source == "__init__":
            continue
        graph.setdefault(source, set()).update(_imports(path) - {source})
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each strongly connected group of two or more nodes (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group: list[str] = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_the_circle_finder_finds_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert circles(graph) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_no_packages_import_each_other_in_a_circle() -> None:
    graph = package_graph()
    assert {"returns", "outbox", "relay", "orders", "policies", "carriers"} <= set(graph)
    found = circles(graph)
    assert found == [], "packages importing each other in a circle: " + "; ".join(
        " <-> ".join(group) for group in found
    )


def test_the_outbox_and_the_rules_sit_below_the_returns() -> None:
    graph = package_graph()
    assert "returns" not in graph["outbox"]
    assert "returns" in graph["carriers"]
    assert graph["rules"] == set()
