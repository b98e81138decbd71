"""The real app, driven through httpx, on a clean real database."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from httpx import ASGITransport, AsyncClient

from returns_service.app import create_app
from returns_service.config import Settings
from tests.api.scenario import TEST_JWT_SECRET, TEST_LOGISTICS_SECRET, Scenario
from tests.conftest import Database


def test_settings(database: Database, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": database.url,
        "jwt_secret": TEST_JWT_SECRET,
        "logistics_secret": TEST_LOGISTICS_SECRET,
        "sweep_interval_seconds": 0,
        "relay_interval_seconds": 0,
        "database_pool_size": 40,
        "webhook_allow_private_targets": True,  # the test receivers listen on 127.0.0.1
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def client(database: Database) -> AsyncIterator[AsyncClient]:
    app = create_app(test_settings(database))
    async with app.router.lifespan_context(app):
        transport = ASGITransport(app=app, raise_app_exceptions=False)
        async with AsyncClient(transport=transport, base_url="http://returns.test") as http:
            yield http


@pytest.fixture
def scenario(client: AsyncClient) -> Scenario:
    return Scenario(client)
