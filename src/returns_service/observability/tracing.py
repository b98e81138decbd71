"""OpenTelemetry traces: spans for requests, SQL statements and outbound HTTP calls.

Loaded only when OTEL_EXPORTER_OTLP_ENDPOINT is set (the standard variable; the exporter
also reads the other OTEL_* settings itself): otherwise nothing of OpenTelemetry is imported,
and a request costs nothing more. A caller's W3C `traceparent` makes a request's span a
child of the caller's.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export import SpanExporter

ENDPOINT_VARIABLE = "OTEL_EXPORTER_OTLP_ENDPOINT"
SERVICE_NAME = "returns-service"
# Span attributes that hold a URL or its query: a query string may carry a credential (a
# webhook URL's key, a token a caller should not have put there), so spans keep the path.
_URL_ATTRIBUTES = ("http.url", "url.full", "http.target")
_QUERY_ATTRIBUTES = ("url.query",)
REDACTED = "[redacted]"


def _without_query(span: Any, *_args: Any) -> None:
    attributes = getattr(span, "attributes", None)
    if not span.is_recording() or not attributes:
        return
    for key, value in dict(attributes).items():
        if key in _URL_ATTRIBUTES and isinstance(value, str) and "?" in value:
            span.set_attribute(key, value.split("?", 1)[0] + "?" + REDACTED)
        elif key in _QUERY_ATTRIBUTES and value:
            span.set_attribute(key, REDACTED)


def tracing_configured() -> bool:
    return bool(os.environ.get(ENDPOINT_VARIABLE))


def install_tracing(app: FastAPI, exporter: SpanExporter | None = None) -> Any | None:
    """Trace this app's requests (and, via `trace_engine`, its SQL) and every outbound httpx
    call of this process. Returns the tracer provider, or None when tracing is off.

    `exporter` replaces the OTLP/HTTP exporter (tests pass an in-memory one); with neither it
    nor the endpoint variable, nothing is done.
    """
    if exporter is None and not tracing_configured():
        return None
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    name = os.environ.get("OTEL_SERVICE_NAME", SERVICE_NAME)
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    # Added after every other middleware, so outermost: the span covers the whole answer,
    # and the access line can name its trace.
    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=provider, server_request_hook=_without_query
    )
    instrumentor = HTTPXClientInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        instrumentor.instrument(
            tracer_provider=provider,
            request_hook=_without_query,
            async_request_hook=_async_without_query,
        )
    app.state.tracer_provider = provider
    return provider


async def _async_without_query(span: Any, *_args: Any) -> None:
    _without_query(span)


def trace_engine(app: FastAPI, engine: AsyncEngine) -> None:
    """Spans for this engine's SQL statements, when the app is traced."""
    provider = getattr(app.state, "tracer_provider", None)
    if provider is None:
        return
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    # Its declared range stops short of SQLAlchemy 2.1, whose engine events it uses unchanged
    # (tests/api/test_tracing.py sees the statement spans).
    SQLAlchemyInstrumentor().instrument(
        engine=engine.sync_engine, tracer_provider=provider, skip_dep_check=True
    )


def stop_tracing(app: FastAPI) -> None:
    """Send the spans still buffered, then stop."""
    provider = getattr(app.state, "tracer_provider", None)
    if provider is not None:
        provider.shutdown()
