"""The application: settings, database, routes, error handlers, background loops."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute

from returns_service import health, openapi_document, scrape
from returns_service.automations.endpoints import router as automations_router
from returns_service.carriers.endpoints import router as carriers_router
from returns_service.config import Settings, get_settings
from returns_service.console import endpoints as console
from returns_service.db import create_engine, create_sessionmaker, sqlite_gate
from returns_service.http_problems import (
    Problem,
    install_problem_handlers,
    unexpected_error_response,
)
from returns_service.observability import metrics
from returns_service.observability.access import RequestObserver
from returns_service.observability.tracing import install_tracing, stop_tracing, trace_engine
from returns_service.orders.endpoints import router as orders_router
from returns_service.policies.endpoints import router as policies_router
from returns_service.rejections.endpoints import router as reject_reasons_router
from returns_service.relay.endpoints import router as deliveries_router
from returns_service.relay.worker import start_background_relay
from returns_service.replicas import read_replica
from returns_service.request_guard import RequestGuard
from returns_service.returns.endpoints import router as returns_router
from returns_service.statistics.endpoints import router as statistics_router
from returns_service.subscriptions.endpoints import router as subscriptions_router
from returns_service.timers.sweep import start_sweeping, stop_sweeping

API_VERSION = "1.0.0"
DESCRIPTION = """After-sales returns for online shops: buyers apply, merchants review, goods travel
back, merchants receive, inspect and refund, the platform arbitrates, timers act when someone
is late. Money is integer minor units with an ISO 4217 currency. Every error is
application/problem+json with a stable `code`."""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings)
        metrics.watch_pool(engine)
        trace_engine(app, engine)
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        app.state.sqlite_gate = sqlite_gate(settings)
        app.state.read_replica = read_replica(settings)
        if app.state.read_replica is not None:
            await app.state.read_replica.start()
        sweeper = start_sweeping(app.state.sessionmaker, settings)
        relay = start_background_relay(app.state.sessionmaker, settings)
        try:
            yield
        finally:
            if relay is not None:
                await relay.stop()
            await stop_sweeping(sweeper)
            if app.state.read_replica is not None:
                await app.state.read_replica.stop()
            await engine.dispose()
            metrics.mark_process_dead(os.getpid())
            stop_tracing(app)

    app = FastAPI(
        title="returns_service",
        version=API_VERSION,
        description=DESCRIPTION,
        lifespan=lifespan,
        # Served by openapi_document: the same bytes as the committed openapi/openapi.json.
        openapi_url=None,
        # Tracing is ours (observability.tracing: an exporter only when configured, on a
        # provider of our own); FastAPI's native telemetry would only look up the global
        # providers (and the environment) on every request to find them unconfigured.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.add_middleware(
        RequestGuard,
        max_body_bytes=settings.max_body_bytes,
        max_header_bytes=settings.max_header_bytes,
        client_timeout_seconds=settings.client_timeout_seconds,
    )
    # Added last, so outermost: even the guard's refusals carry the request id.
    app.add_middleware(
        RequestObserver, unhandled=unexpected_error_response, observers=(metrics.observe_answer,)
    )
    install_problem_handlers(app)
    # A request is matched against the routers in turn, route by route: the returns, which
    # take most requests, are tried first. Their paths share no prefix with the others', so
    # the order changes which route answers nothing; the document keeps _DOCUMENTED's order.
    app.include_router(returns_router)
    for router in _DOCUMENTED:
        if router is not returns_router:
            app.include_router(router)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    openapi_document.install(app)
    console.install(app)
    install_tracing(app)
    return app


# The routers in the order the OpenAPI document lists their paths.
_DOCUMENTED: tuple[APIRouter, ...] = (
    health.router,
    scrape.router,
    orders_router,
    returns_router,
    policies_router,
    carriers_router,
    subscriptions_router,
    deliveries_router,
    automations_router,
    reject_reasons_router,
    statistics_router,
)


def _in_documented_order(paths: dict[str, object]) -> dict[str, object]:
    """The paths as the routers of _DOCUMENTED list them, each where it first appears."""
    order: dict[str, int] = {}
    for router in _DOCUMENTED:
        for route in router.routes:
            if isinstance(route, APIRoute):
                order.setdefault(route.path, len(order))
    return dict(sorted(paths.items(), key=lambda item: order.get(item[0], len(order))))


def _openapi(app: FastAPI) -> dict[str, object]:
    """The spec, with the Problem schema registered once for every error response."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        schemas = schema.setdefault("components", {}).setdefault("schemas", {})
        problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(problem.pop("$defs", {}))
        schemas["Problem"] = problem
        schema["paths"] = _in_documented_order(schema.get("paths", {}))
        openapi_document.tidy(schema)
        app.openapi_schema = schema
    return app.openapi_schema
