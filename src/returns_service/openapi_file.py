"""The committed OpenAPI document, checked against what the app serves.

python -m returns_service.openapi_file write openapi/openapi.json   (make openapi)
python -m returns_service.openapi_file check openapi/openapi.json   (make openapi-check)
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from returns_service.app import create_app
from returns_service.config import Settings
from returns_service.openapi_document import render


def _current() -> str:
    return render(create_app(Settings()))


def write(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_current().encode("utf-8"))
    print(f"wrote {path}")


def check(path: Path) -> bool:
    """Whether the committed file is what the code serves."""
    committed = path.read_bytes() if path.is_file() else b""
    if committed == _current().encode("utf-8"):
        print(f"{path} is up to date")
        return True
    print(f"{path} is not what the app serves: run `make openapi` and commit it", file=sys.stderr)
    return False


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m returns_service.openapi_file", description=__doc__
    )
    parser.add_argument("command", choices=("write", "check"))
    parser.add_argument("path", type=Path)
    args = parser.parse_args(argv)
    if args.command == "write":
        write(args.path)
        return 0
    return 0 if check(args.path) else 1


if __name__ == "__main__":
    sys.exit(main())
