"""OpenTelemetry: off (no SDK, exporter or instrumentation imported; FastAPI itself imports the
no-op API) unless OTEL_EXPORTER_OTLP_ENDPOINT is set; when set,
spans for requests, SQL and outbound HTTP reach an OTLP/HTTP receiver, under the caller's
W3C trace."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from tests.api.scenario import (
    TEST_JWT_SECRET,
    Party,
    application_body,
    order_body,
)
from tests.conftest import Database
from tests.drills.processes import ServiceProcess
from tests.webhook_receiver import Receiver

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN_ID = "00f067aa0ba902b7"
SPAN_KIND_SERVER, SPAN_KIND_CLIENT = 2, 3
QUERY_CREDENTIAL = "qc-trace-5e4d3c2b1a"


def test_without_an_endpoint_no_tracing_is_loaded(
    migrated_database: Database,
) -> None:
    program = textwrap.dedent(
        f"""
        import asyncio, sys
        import httpx
        from returns_service.app import create_app
        from returns_service.config import Settings

        async def main():
            app = create_app(Settings(database_url={migrated_database.url!r}))
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app)
                async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                    headers = {{"traceparent": "00-{TRACE_ID}-{PARENT_SPAN_ID}-01"}}
                    assert (await c.get("/readyz", headers=headers)).status_code == 200
                    assert (await c.get("/metrics")).status_code == 200

        asyncio.run(main())
        tracing = ("opentelemetry.sdk", "opentelemetry.exporter", "opentelemetry.instrumentation")
        loaded = sorted(m for m in sys.modules if m.startswith(tracing))
        from opentelemetry import trace
        print("provider:", type(trace.get_tracer_provider()).__name__)
        print("loaded:", loaded)
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    finished = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=120
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip().endswith("loaded: []"), finished.stdout
    assert "provider: ProxyTracerProvider" in finished.stdout


class OtlpReceiver:
    """A tiny OTLP/HTTP endpoint on 127.0.0.1: keeps every span it is sent."""

    def __init__(self) -> None:
        self.spans: list[Any] = []
        self.url = ""
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> OtlpReceiver:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                headers = dict(
                    line.split(":", 1) for line in head.decode("latin-1").split("\r\n")[1:] if line
                )
                lowered = {name.strip().lower(): value.strip() for name, value in headers.items()}
                body = await reader.readexactly(int(lowered.get("content-length", "0")))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                for resource_spans in request.resource_spans:
                    for scope_spans in resource_spans.scope_spans:
                        self.spans.extend(scope_spans.spans)
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\n"
                    b"Content-Length: 0\r\n\r\n"
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def otlp() -> AsyncIterator[OtlpReceiver]:
    async with OtlpReceiver() as receiver:
        yield receiver


async def test_with_an_endpoint_requests_sql_and_webhooks_are_traced_under_the_callers_trace(
    database: Database, otlp: OtlpReceiver, tmp_path: Path
) -> None:
    env = {
        "RETURNS_DATABASE_URL": database.url,
        "RETURNS_JWT_SECRET": TEST_JWT_SECRET,
        "RETURNS_LOG_LEVEL": "WARNING",
        "RETURNS_WORKERS": "1",
        "RETURNS_SWEEP_INTERVAL_SECONDS": "0",
        "RETURNS_RELAY_INTERVAL_SECONDS": "0.1",
        "RETURNS_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true",
        "OTEL_EXPORTER_OTLP_ENDPOINT": otlp.url,
        "OTEL_BSP_SCHEDULE_DELAY": "100",
        "OTEL_SERVICE_NAME": "returns-under-test",
    }
    shop = f"trace-shop-{os.getpid()}"
    merchant, buyer = Party("merchant", "m-t", shop), Party("buyer", "b-t")
    service = ServiceProcess(env, tmp_path / "serve.log")
    await service.start()
    try:
        limits = httpx.Limits(max_keepalive_connections=0)
        async with (
            Receiver() as hooks,
            httpx.AsyncClient(base_url=service.url, limits=limits) as http,
        ):
            subscribed = await http.post(
                "/v1/webhook-subscriptions",
                json={"url": f"{hooks.url}?key={QUERY_CREDENTIAL}", "events": ["return.*"]},
                headers=merchant.headers,
            )
            assert subscribed.status_code == 201, subscribed.text
            registered = await http.put(
                "/v1/orders/o-t",
                json=order_body(shop, "b-t"),
                headers=Party("storefront", "sf").headers,
            )
            assert registered.status_code == 201, registered.text
            traced = {"traceparent": f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"}
            applied = await http.post(
                f"/v1/returns?sig={QUERY_CREDENTIAL}",
                json=application_body("o-t"),
                headers={**buyer.headers, **traced},
            )
            assert applied.status_code == 201, applied.text
            deadline = time.monotonic() + 30
            while not hooks.received:
                assert time.monotonic() < deadline, "the webhook never arrived"
                await asyncio.sleep(0.1)
            delivered = hooks.received[0]
    finally:
        await service.stop()  # flushes the spans still buffered

    ours = [span for span in otlp.spans if span.trace_id.hex() == TRACE_ID]
    server = [span for span in ours if span.kind == SPAN_KIND_SERVER]
    assert len(server) == 1, [span.name for span in ours]
    assert server[0].parent_span_id.hex() == PARENT_SPAN_ID
    assert "/v1/returns" in server[0].name
    statements = [span for span in ours if any(a.key == "db.system" for a in span.attributes)]
    assert statements, [span.name for span in ours]
    assert all(span.parent_span_id for span in statements)

    outbound = [
        span
        for span in otlp.spans
        if span.kind == SPAN_KIND_CLIENT and span.name.startswith("POST")
    ]
    assert outbound, [span.name for span in otlp.spans]
    assert "traceparent" in delivered.headers
    assert delivered.headers["traceparent"].split("-")[1] in {
        span.trace_id.hex() for span in outbound
    }
    recorded = [str(a.value) for span in otlp.spans for a in span.attributes]
    assert not [value for value in recorded if QUERY_CREDENTIAL in value]
