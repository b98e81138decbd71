"""The rules stay plain Python: no web framework, ORM or validation library may creep in."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import returns_service.rules as rules_package

RULES_DIR = Path(rules_package.__file__).parent
FORBIDDEN = ("fastapi", "sqlalchemy", "pydantic", "starlette")


def _imported_modules(tree: ast.Module) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            # A relative import from inside rules/ stays inside rules/; `from ..` would not.
            if node.level == 1:
                names.append("returns_service.rules")
            elif node.level > 1:
                names.append("." * node.level + (node.module or ""))
            else:
                names.append(node.module or "")
    return names


def _is_allowed(module: str) -> bool:
    top = module.split(".")[0]
    in_rules = module == "returns_service.rules" or module.startswith("returns_service.rules.")
    return in_rules or top in sys.stdlib_module_names


def test_rules_import_nothing_but_the_stdlib() -> None:
    # Source check: every import statement, including ones inside functions or TYPE_CHECKING.
    files = sorted(RULES_DIR.rglob("*.py"))
    assert len(files) > 1
    outside = {
        f"{path.name}: {module}"
        for path in files
        for module in _imported_modules(ast.parse(path.read_text(), str(path)))
        if not _is_allowed(module)
    }
    assert not outside, f"rules import beyond the stdlib: {sorted(outside)}"

    # Runtime check, in a fresh interpreter so this test session's imports do not count.
    script = textwrap.dedent(
        f"""
        import importlib, pkgutil, sys
        import returns_service.rules as package
        for module in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            importlib.import_module(module.name)
        loaded = sorted(
            name for name in sys.modules if name.split(".")[0] in {FORBIDDEN!r}
        )
        print(",".join(loaded))
        """
    )
    src_root = str(RULES_DIR.parents[1])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([src_root, os.environ.get("PYTHONPATH", "")]),
    }
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    assert result.stdout.strip() == "", f"importing the rules loaded {result.stdout.strip()}"
