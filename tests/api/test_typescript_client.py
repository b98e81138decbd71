"""A storefront team on Node: a TypeScript client generated from the committed spec with
default options compiles under `tsc --strict` without a word, and every call answers as typed.

clients/typescript/ pins openapi-typescript, openapi-fetch and typescript (package.json and
its lock, installed with `npm ci`) and holds the program (src/storefront.ts). Skipped when
node or npm is missing, unless REQUIRE_NODE=1 (set by .ci/run) makes that a failure.
If the generator or tsc complains, fix the spec (see src/returns_service/shapes.py), not
the program.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from returns_service.models import ReturnRow, ShopPolicyRow
from tests.api.conftest import test_settings as settings_for
from tests.api.live_server import serve
from tests.api.scenario import token, unique
from tests.conftest import Database

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "openapi" / "openapi.json"
CLIENT = ROOT / "clients" / "typescript"
REQUIRE_NODE = os.environ.get("REQUIRE_NODE") == "1"
# Written after a successful `npm ci`: node_modules is reinstalled only when the lock changes.
INSTALLED_FROM = CLIENT / "node_modules" / ".installed-from-lock"
CALLS = (
    "putOrder: 201",
    "putReturnPolicy: 200",
    "applyForReturn: 201",
    "approveReturn: 200",
    "listReturns: 200",
    "approveReturn (stale If-Match): 412 code version_mismatch",
)


@dataclass(frozen=True)
class Node:
    node: str
    npm: str


def run(command: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


def said(finished: subprocess.CompletedProcess[str]) -> str:
    return f"$ {' '.join(finished.args)}\nstdout:\n{finished.stdout}\nstderr:\n{finished.stderr}"


@pytest.fixture(scope="module")
def node() -> Node:
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        message = "node and npm are not on PATH: the TypeScript client test cannot run"
        if REQUIRE_NODE:
            pytest.fail(message + " and REQUIRE_NODE=1", pytrace=False)
        pytest.skip(message + "; set REQUIRE_NODE=1 to make this a failure")
    return Node(node, npm)


@pytest.fixture(scope="module")
def node_modules(node: Node) -> Path:
    """The pinned packages, installed from the committed lock with `npm ci` once per lock."""
    lock = hashlib.sha256((CLIENT / "package-lock.json").read_bytes()).hexdigest()
    # `npm ci` empties node_modules first: another test process (xdist worker, a second
    # checkout's run) must neither install into it at the same time nor compile from it
    # half-installed, so the check and the install hold an exclusive lock on the folder.
    folder = os.open(CLIENT, os.O_RDONLY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        if not INSTALLED_FROM.is_file() or INSTALLED_FROM.read_text() != lock:
            # No package here needs an install script; running none is the safer default.
            finished = run([node.npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"], CLIENT)
            assert finished.returncode == 0, said(finished)
            INSTALLED_FROM.write_text(lock)
    finally:
        os.close(folder)  # and with it the lock
    return CLIENT / "node_modules"


@pytest.fixture(scope="module")
def program(node: Node, node_modules: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The storefront program, compiled against types generated from the committed spec."""
    work = tmp_path_factory.mktemp("typescript_client")
    for name in ("package.json", "tsconfig.json"):
        shutil.copy(CLIENT / name, work / name)
    shutil.copytree(CLIENT / "src", work / "src")
    (work / "node_modules").symlink_to(node_modules, target_is_directory=True)
    tools = node_modules / ".bin"

    generated = work / "generated" / "returns-service.d.ts"
    # Default options: nothing but the input and the output.
    finished = run([str(tools / "openapi-typescript"), str(COMMITTED), "-o", str(generated)], work)
    assert finished.returncode == 0, said(finished)
    assert "warn" not in said(finished).lower(), "openapi-typescript warns about the spec\n" + (
        said(finished)
    )

    checked = run([str(tools / "tsc"), "--strict", "--noEmit", "-p", "tsconfig.json"], work)
    assert checked.returncode == 0, said(checked)
    assert checked.stdout == checked.stderr == "", "tsc reported something\n" + said(checked)

    # Checked above; now only written out as JavaScript for node.
    emitted = run([str(tools / "tsc"), "--noCheck", "-p", "tsconfig.json"], work)
    assert emitted.returncode == 0, said(emitted)
    compiled = work / "dist" / "src" / "storefront.js"
    assert compiled.is_file(), said(emitted)
    return compiled


@pytest.fixture
async def base_url(database: Database) -> AsyncIterator[str]:
    with serve(settings_for(database)) as url:
        yield url


async def stored(database: Database, order_id: str, shop_id: str) -> tuple[ReturnRow, int]:
    """The return applied for on the order, and the version of the shop's policy."""
    engine = create_async_engine(database.url)
    try:
        async with engine.connect() as connection:
            row = (
                await connection.execute(select(ReturnRow).where(ReturnRow.order_id == order_id))
            ).one()
            policy_version = (
                await connection.execute(
                    select(ShopPolicyRow.version).where(ShopPolicyRow.shop_id == shop_id)
                )
            ).scalar_one()
    finally:
        await engine.dispose()
    return row, policy_version  # type: ignore[return-value]


async def test_a_storefront_on_node_applies_approves_lists_and_reads_a_problem_as_typed(
    node: Node, program: Path, base_url: str, database: Database
) -> None:
    shop_id, order_id, buyer_id = unique("shop"), unique("order"), unique("buyer")
    setup = {
        "baseUrl": base_url,
        "shopId": shop_id,
        "orderId": order_id,
        "buyerId": buyer_id,
        "tokens": {
            "storefront": token("storefront", "storefront-1"),
            "buyer": token("buyer", buyer_id),
            "merchant": token("merchant", unique("merchant"), shop_id),
        },
    }
    process = await asyncio.create_subprocess_exec(
        node.node,
        str(program),
        json.dumps(setup),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    output = f"stdout:\n{stdout.decode()}\nstderr:\n{stderr.decode()}"
    assert process.returncode == 0, output
    lines = stdout.decode().splitlines()
    assert len(lines) == len(CALLS), output
    assert all(line.startswith(call) for line, call in zip(lines, CALLS, strict=True)), output

    row, policy_version = await stored(database, order_id, shop_id)
    assert (row.status, row.version, row.return_address["kind"]) == ("approved", 2, "shop")
    assert policy_version == 1
