"""Where a request's CPU goes: py-spy samples one server worker under wrk load.

    .venv/bin/python -m bench.profile approve|get [--seconds 15]

Prints the share of samples spent in each library (inclusive: a frame anywhere on the stack)
and the busiest functions (self time), and leaves the collapsed stacks in /tmp for a
flame graph (`py-spy` can also write SVG: `--format flamegraph`).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path

from tests.api.scenario import TEST_JWT_SECRET

from bench.__main__ import DATABASE, merchant_token
from bench.load import approve_script, get_script, run_wrk
from bench.pg import drop_database, recreate_database
from bench.seed import ADDRESS, SHOP, seed_policy, seed_returns
from bench.server import serve
from returns_service.migrations import upgrade_to_head

LIBRARIES = (
    "sqlalchemy/orm",
    "sqlalchemy/engine",
    "sqlalchemy/sql",
    "sqlalchemy/ext/asyncio",
    "sqlalchemy/dialects",
    "asyncpg",
    "pydantic",
    "fastapi",
    "starlette",
    "uvicorn",
    "jwt",
    "returns_service",
    "json",
)


def summarise(stacks: Path, top: int = 25) -> None:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in stacks.read_text().splitlines():
        frames, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue  # a frame name with a line break in it (generated code): rare, skipped
        count = int(count_text)
        total += count
        parts = frames.split(";")
        for library in LIBRARIES:
            if any(library in frame for frame in parts):
                inclusive[library] += count
        own[parts[-1]] += count
    print(f"{total} samples")
    print("inclusive share by library:")
    for library, count in inclusive.most_common():
        print(f"  {100 * count / total:5.1f}%  {library}")
    print("busiest functions (self):")
    for frame, count in own.most_common(top):
        print(f"  {100 * count / total:5.1f}%  {frame[:150]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("what", choices=("approve", "get"))
    parser.add_argument("--seconds", type=int, default=15)
    args = parser.parse_args()
    url = recreate_database(DATABASE)
    stacks = Path(tempfile.gettempdir()) / f"returns-profile-{args.what}.txt"
    try:
        upgrade_to_head(url)
        seed_policy(DATABASE, [SHOP])
        for thread in (1, 2):
            seed_returns(DATABASE, prefix=f"a{thread}-", first=1, count=20_000)
        token = merchant_token()
        script = (
            approve_script(token, "a", {"return_address": ADDRESS})
            if args.what == "approve"
            else get_script(token, "a", 2, 20_000)
        )
        with serve(url, TEST_JWT_SECRET, workers=1) as server:
            worker = server.worker_pids()[0]
            spy = threading.Thread(
                target=subprocess.run,
                args=(
                    [
                        str(Path(sys.executable).parent / "py-spy"),
                        "record",
                        "--pid",
                        str(worker),
                        "--duration",
                        str(args.seconds - 2),
                        "--rate",
                        "200",
                        "--format",
                        "raw",
                        "--output",
                        str(stacks),
                        "--nonblocking",
                    ],
                ),
                kwargs={"capture_output": True, "check": True},
            )
            spy.start()
            result = run_wrk(server.url, script, connections=16, seconds=args.seconds)
            spy.join()
        print(f"{result.ok} answers 2xx, {result.non_2xx} others")
    finally:
        drop_database(DATABASE)
    summarise(stacks)
    return 0


if __name__ == "__main__":
    sys.exit(main())
