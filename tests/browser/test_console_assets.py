"""The console page and its assets, without a browser: what is served, from where, under
which Content-Security-Policy, and that the vendored libraries are what the lock file pins."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import AsyncIterator
from functools import cache
from pathlib import Path
from urllib.parse import quote

import pytest
from httpx import ASGITransport, AsyncClient
from hypothesis import given, settings
from hypothesis import strategies as st

from returns_service.app import create_app
from returns_service.config import Settings
from returns_service.console.endpoints import STATIC
from returns_service.rules.transitions import TRANSITIONS
from returns_service.rules.vocabulary import ReturnStatus, Role

ROOT = Path(__file__).resolve().parents[2]
OWN_FILES = [
    path
    for path in STATIC.rglob("*")
    if path.is_file() and "vendor" not in path.relative_to(STATIC).parts
]


SERVED = {path.read_bytes() for path in STATIC.rglob("*") if path.is_file()}


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[AsyncClient]:
    # The console's routes read no database; the app is built without starting its lifespan.
    app = create_app(Settings(database_url=f"sqlite+aiosqlite:///{tmp_path}/unused.db"))
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://console.test") as c:
        yield c


async def test_the_console_is_one_page_under_a_self_only_content_security_policy(
    http: AsyncClient,
) -> None:
    page = await http.get("/console")

    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    policy = dict(
        directive.strip().split(" ", 1)
        for directive in page.headers["content-security-policy"].split(";")
    )
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["connect-src"] == "'self'"
    assert "unsafe" not in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    # Everything the page loads is the service's own, by absolute path on this host.
    loaded = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert loaded and all(url.startswith("/console/static/") for url in loaded), loaded
    for url in loaded:
        assert (await http.get(url)).status_code == 200, url


async def test_every_asset_is_served_and_none_names_another_host(http: AsyncClient) -> None:
    for path in OWN_FILES:
        url = "/console/static/" + path.relative_to(STATIC).as_posix()
        answer = await http.get(url)
        assert answer.status_code == 200, url
        assert answer.content == path.read_bytes()
        # An XML namespace is a name, not a request.
        text = re.sub(r'xmlns="[^"]*"', "", path.read_text(encoding="utf-8"))
        assert not re.search(r"https?://", text), path
    assert (await http.get("/console/static/../endpoints.py")).status_code == 404
    assert (await http.get("/console/static/nothing.js")).status_code == 404


def test_the_vendored_libraries_are_the_versions_the_lock_file_pins() -> None:
    lock = json.loads((ROOT / "console" / "package-lock.json").read_text())
    manifest = json.loads((STATIC / "vendor" / "manifest.json").read_text())
    assert {entry["package"] for entry in manifest} == {"preact", "htm", "chart.js"}
    for entry in manifest:
        vendored = STATIC / "vendor" / entry["file"]
        assert hashlib.sha256(vendored.read_bytes()).hexdigest() == entry["sha256"], entry
        assert lock["packages"][f"node_modules/{entry['package']}"]["version"] == entry["version"]


async def test_the_action_table_is_the_servers_own_for_people(http: AsyncClient) -> None:
    answer = await http.get("/console/actions.json")

    assert answer.status_code == 200
    table = answer.json()
    assert table["statuses"] == [status.value for status in ReturnStatus]
    rows = {(row["action"], row["from"]): row for row in table["transitions"]}
    assert rows[("approve", "requested")]["roles"] == ["merchant", "platform"]
    assert rows[("arbitrate", "arbitration")]["roles"] == ["platform"]
    people_rows = [row for row in TRANSITIONS if row.roles - {Role.SYSTEM}]
    assert len(table["transitions"]) == len(people_rows)
    assert all("system" not in row["roles"] for row in table["transitions"])


async def test_the_console_is_not_part_of_the_api_contract(http: AsyncClient) -> None:
    spec = (await http.get("/openapi.json")).json()
    assert not any(path.startswith("/console") for path in spec["paths"])


# Path pieces a prober would try: dots, encodings of dots and slashes, NUL, odd characters.
HOSTILE_SEGMENT = st.one_of(
    st.sampled_from(["..", ".", "%2e%2e", "%2E%2E", "%2f", "%5c", "%00", "~", "app", "vendor"]),
    st.text(min_size=1, max_size=40).map(lambda text: quote(text, safe="")),
)


@cache
def _app() -> object:
    return create_app(Settings(database_url="sqlite+aiosqlite:///unused.db"))


async def _get(path: str) -> tuple[int, bytes, str]:
    transport = ASGITransport(app=_app())  # type: ignore[arg-type]
    async with AsyncClient(transport=transport, base_url="http://console.test") as client:
        answer = await client.get(path)
    return answer.status_code, answer.content, answer.headers.get("location", "")


@settings(max_examples=60, deadline=None)
@given(st.lists(HOSTILE_SEGMENT, min_size=1, max_size=6))
def test_no_path_under_the_static_folder_escapes_it_or_fails(segments: list[str]) -> None:
    path = "/console/static/" + "/".join(segments)
    status, content, location = asyncio.run(_get(path))
    # Served: one of the console's own files, byte for byte; or sent to a path of this same
    # service (a trailing slash); else refused, never a 500.
    assert status in (200, 307, 404, 405, 422), (path, status)
    if status == 200:
        assert content in SERVED, path
    if status == 307:
        assert location.startswith("http://console.test/"), location
