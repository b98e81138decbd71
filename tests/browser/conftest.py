"""Debian's Chromium, driven by Playwright, against the real app on a real database.

Playwright never downloads a browser here: it drives the system's `chromium` (or the one
RETURNS_TEST_CHROMIUM names). Without one the browser tests skip, saying so, unless
REQUIRE_BROWSER=1 (set by .ci/run, which installs the package), where they fail instead.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest

REQUIRE_BROWSER = os.environ.get("REQUIRE_BROWSER") == "1"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "console"


def _chromium() -> str | None:
    named = os.environ.get("RETURNS_TEST_CHROMIUM")
    if named:
        return named
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="session")
def chromium_path() -> str:
    path = _chromium()
    missing = None
    if path is None:
        missing = "no Chromium on this machine (apt-get install chromium)"
    else:
        try:
            import playwright  # noqa: F401
        except ImportError:
            missing = "the playwright package is not installed (make install)"
    if missing:
        if REQUIRE_BROWSER:
            pytest.fail(f"browser tests need a browser: {missing}; REQUIRE_BROWSER=1", False)
        pytest.skip(f"browser tests skipped: {missing}; set REQUIRE_BROWSER=1 to fail instead")
    assert path is not None
    return path


@dataclass
class Watch:
    """What a page did besides what the test asked: requests to other hosts, errors."""

    origin: str
    foreign_requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def request(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob"):
            return
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            self.foreign_requests.append(url)

    def take_console_errors(self) -> list[str]:
        taken = list(self.console_errors)
        self.console_errors.clear()
        return taken

    def assert_clean(self, *, expected: str | None = None) -> None:
        """No foreign request, no error; `expected` names the one URL whose refusal is."""
        errors = [e for e in self.console_errors if expected is None or expected not in e]
        assert self.foreign_requests == [], "requests left for another host"
        assert self.page_errors == [], "uncaught errors in the page"
        assert errors == [], "errors in the browser console"


@asynccontextmanager
async def browser_page(
    chromium: str, base_url: str, *, locale: str
) -> AsyncIterator[tuple[object, Watch]]:
    from playwright.async_api import async_playwright, expect

    # How long an assertion waits for the page to get there: on a loaded two-core CI box the
    # console's first answers can take longer than Playwright's 5 s default (a wait, not a
    # speed target: a page that never gets there still fails).
    expect.set_options(timeout=20_000)

    async with async_playwright() as driver:
        browser = await driver.chromium.launch(
            executable_path=chromium, headless=True, args=["--no-sandbox"]
        )
        try:
            context = await browser.new_context(
                locale=locale, viewport={"width": 1400, "height": 900}, accept_downloads=True
            )
            page = await context.new_page()
            watch = Watch(origin=base_url)
            page.on("request", lambda request: watch.request(request.url))
            page.on(
                "console",
                lambda message: (
                    message.type == "error"
                    and watch.console_errors.append(f"{message.text} [{message.location['url']}]")
                ),
            )
            page.on("pageerror", lambda error: watch.page_errors.append(str(error)))
            page.set_default_timeout(10_000)
            yield page, watch
        finally:
            await browser.close()


def artifact(name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / name
