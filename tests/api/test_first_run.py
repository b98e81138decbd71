"""A newcomer's first run: a token from the command line, a demo shop, docs that work offline."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections import Counter
from pathlib import Path

import jwt
import pytest
from httpx import AsyncClient

from returns_service import demo
from returns_service.rules.vocabulary import ReturnStatus
from tests.api.problem_checks import assert_problem
from tests.api.scenario import TEST_JWT_SECRET, TEST_LOGISTICS_SECRET, bearer
from tests.conftest import Database
from tests.drills.processes import SERVICE


def run_command(database: Database, *arguments: str) -> subprocess.CompletedProcess[str]:
    """The real console script, configured as the test app is."""
    env = {
        **os.environ,
        "RETURNS_DATABASE_URL": database.url,
        "RETURNS_JWT_SECRET": TEST_JWT_SECRET,
        "RETURNS_LOGISTICS_SECRET": TEST_LOGISTICS_SECRET,
        "RETURNS_LOG_LEVEL": "WARNING",
    }
    return subprocess.run(
        [str(SERVICE), *arguments], env=env, capture_output=True, text=True, timeout=120
    )


def printed_token(database: Database, *arguments: str) -> str:
    finished = run_command(database, "token", *arguments)
    assert finished.returncode == 0, finished.stderr
    lines = finished.stdout.splitlines()
    assert len(lines) == 1, finished.stdout
    return lines[0]


async def test_a_printed_merchant_token_opens_its_own_shop_and_no_other(
    client: AsyncClient, database: Database
) -> None:
    token = printed_token(database, "--role", "merchant", "--sub", "m-1", "--shop", "shop-a")
    claims = jwt.decode(token, TEST_JWT_SECRET, algorithms=["HS256"])
    assert claims["role"] == "merchant" and claims["sub"] == "m-1"
    assert claims["shop_id"] == "shop-a"
    assert 3600 - 120 <= claims["exp"] - time.time() <= 3600

    own = await client.get("/v1/shops/shop-a/return-policy", headers=bearer(token))
    assert own.status_code == 200, own.text
    assert own.json()["shop_id"] == "shop-a"
    other = await client.get("/v1/shops/shop-b/return-policy", headers=bearer(token))
    assert other.status_code in (403, 404), other.text


async def test_a_printed_token_lives_as_long_as_asked(
    client: AsyncClient, database: Database
) -> None:
    token = printed_token(database, "--role", "platform", "--sub", "ops-1", "--ttl", "120")
    claims = jwt.decode(token, TEST_JWT_SECRET, algorithms=["HS256"])
    assert 0 < claims["exp"] - time.time() <= 120
    assert "shop_id" not in claims
    listed = await client.get("/v1/returns", headers=bearer(token))
    assert listed.status_code == 200, listed.text
    assert listed.json()["items"] == []


@pytest.mark.parametrize(
    "arguments",
    [
        ("--role", "merchant", "--sub", "m-1"),  # a merchant without its shop
        ("--role", "system", "--sub", "s"),  # not a caller's role
        ("--role", "buyer", "--sub", ""),
        ("--role", "buyer", "--sub", "b" * 65),
        ("--role", "buyer", "--sub", "b", "--ttl", "0"),
    ],
)
def test_the_token_command_refuses_what_the_service_would_refuse(
    migrated_database: Database, arguments: tuple[str, ...]
) -> None:
    finished = run_command(migrated_database, "token", *arguments)
    assert finished.returncode == 2, finished
    assert finished.stdout == ""
    assert "returns-service token" in finished.stderr


async def test_the_demo_shop_has_a_return_in_every_state_and_runs_once(
    client: AsyncClient, database: Database
) -> None:
    made = run_command(database, "demo")
    assert made.returncode == 0, made.stderr
    assert f"the demo shop {demo.SHOP_ID!r} made" in made.stdout
    assert "returns-service token --role merchant" in made.stdout

    merchant = printed_token(
        database, "--role", "merchant", "--sub", demo.MERCHANT.id, "--shop", demo.SHOP_ID
    )
    listed = await client.get("/v1/returns?limit=100", headers=bearer(merchant))
    assert listed.status_code == 200, listed.text
    returns = listed.json()["items"]
    assert Counter(item["status"] for item in returns) == Counter(
        {status.value: 1 for status in ReturnStatus}
    )
    assert {item["shop_id"] for item in returns} == {demo.SHOP_ID}

    policy = await client.get(f"/v1/shops/{demo.SHOP_ID}/return-policy", headers=bearer(merchant))
    assert policy.status_code == 200
    assert policy.json()["return_address"]["address"] == demo.WAREHOUSE["address"]

    kinds: Counter[str] = Counter()
    for item in returns:
        events = await client.get(f"/v1/returns/{item['id']}/events", headers=bearer(merchant))
        assert events.status_code == 200
        kinds.update(event["type"] for event in events.json()["items"])
    assert kinds["message"] >= 4
    assert kinds["carrier_event"] >= 4

    # A demo buyer sees their own returns only.
    buyer = printed_token(database, "--role", "buyer", "--sub", demo.BUYERS[0].id)
    mine = await client.get("/v1/returns", headers=bearer(buyer))
    assert mine.status_code == 200
    assert {item["buyer_id"] for item in mine.json()["items"]} == {demo.BUYERS[0].id}

    again = run_command(database, "demo")
    assert again.returncode == 0, again.stderr
    assert "was already there (nothing changed)" in again.stdout
    relisted = await client.get("/v1/returns?limit=100", headers=bearer(merchant))
    assert [item["id"] for item in relisted.json()["items"]] == [item["id"] for item in returns]
    assert [item["version"] for item in relisted.json()["items"]] == [
        item["version"] for item in returns
    ]


# Any scheme-qualified or protocol-relative address: the pages may name none.
_FOREIGN_ADDRESS = re.compile(r"(?i)([a-z][a-z0-9+.-]*:)?//[^\s\"'<>]*")
_REFERENCES = re.compile(r"""(?:src|href|spec-url|url)\s*[:=]\s*['"]([^'"]+)['"]""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_docs_pages_load_everything_from_the_service_itself(
    client: AsyncClient, page: str
) -> None:
    response = await client.get(page)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    assert _FOREIGN_ADDRESS.findall(html) == [], _FOREIGN_ADDRESS.findall(html)
    references = set(_REFERENCES.findall(html))
    assert "/openapi.json" in references
    assert any(reference.endswith(".js") for reference in references), references
    for reference in references:
        assert reference.startswith("/"), reference
        asset = await client.get(reference)
        assert asset.status_code == 200, reference
        assert len(asset.content) > 0


async def test_only_the_known_docs_assets_are_served(client: AsyncClient) -> None:
    assert_problem(await client.get("/docs/assets/core.py"), 404, "not_found")
    assert_problem(await client.get("/docs/assets/..%2F__init__.py"), 404, "not_found")
    bundle = await client.get("/docs/assets/swagger-ui-bundle.js")
    assert bundle.status_code == 200
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert "max-age" in bundle.headers["cache-control"]


def test_the_docs_assets_ship_in_the_installed_package() -> None:
    import fastapi_offline

    static = Path(fastapi_offline.__file__).parent / "static"
    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
        assert (static / name).stat().st_size > 10_000, name
