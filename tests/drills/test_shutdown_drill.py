"""SIGTERM under load: `serve` (two workers) stops taking connections, answers every request
it had accepted, and exits cleanly within its grace period.

The requests are held in flight on purpose: the test locks a return, sends messages to it
(each waits for that row lock inside its transaction), and sees them all waiting in
pg_stat_activity before the signal is sent; it releases the lock only once the server has
stopped accepting. No timing guesses: every step waits for a condition it can see.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import asyncpg
import httpx
import pytest

from tests.api.scenario import (
    TEST_JWT_SECRET,
    Party,
    application_body,
    order_body,
)
from tests.conftest import Database, _asyncpg_dsn
from tests.drills.processes import ServiceProcess

pytestmark = [pytest.mark.slow, pytest.mark.postgres_only]

HELD = 12  # requests held in flight when SIGTERM arrives
GRACE_SECONDS = 30
WAIT_SECONDS = 60


async def until(condition_name: str, check: object, seconds: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while True:
        if await check():  # type: ignore[operator]
            return
        assert time.monotonic() < deadline, f"never happened: {condition_name}"
        await asyncio.sleep(0.05)


async def test_sigterm_under_load_answers_every_accepted_request(
    database: Database, tmp_path: Path
) -> None:
    if not database.is_postgres:
        pytest.skip("requests are held in flight on a PostgreSQL row lock")
    env = {
        "RETURNS_DATABASE_URL": database.url,
        "RETURNS_JWT_SECRET": TEST_JWT_SECRET,
        "RETURNS_LOG_LEVEL": "INFO",
        "RETURNS_WORKERS": "2",
        "RETURNS_SHUTDOWN_GRACE_SECONDS": str(GRACE_SECONDS),
        # Held requests wait for the lock longer than the drill takes.
        "RETURNS_DATABASE_TIMEOUT_SECONDS": str(WAIT_SECONDS),
        "RETURNS_SWEEP_INTERVAL_SECONDS": "0",
        "RETURNS_RELAY_INTERVAL_SECONDS": "0",
    }
    log = tmp_path / "serve.log"
    service = ServiceProcess(env, log)
    await service.start(startup_seconds=120)  # two workers import the app side by side
    shop = f"drill-shop-{os.getpid()}"
    buyer, merchant = Party("buyer", "drill-buyer"), Party("merchant", "drill-m", shop)
    lock = await asyncpg.connect(_asyncpg_dsn(database.url))
    watch = await asyncpg.connect(_asyncpg_dsn(database.url))
    signalled = False
    try:
        async with httpx.AsyncClient(base_url=service.url, timeout=WAIT_SECONDS) as http:
            registered = await http.put(
                "/v1/orders/drill-order",
                json=order_body(shop, "drill-buyer"),
                headers=Party("storefront", "sf").headers,
            )
            assert registered.status_code == 201, registered.text
            applied = await http.post(
                "/v1/returns", json=application_body("drill-order"), headers=buyer.headers
            )
            assert applied.status_code == 201, applied.text
            return_id = applied.json()["id"]

        # Every held request gets a connection of its own, so each is a separate accept.
        limits = httpx.Limits(max_keepalive_connections=0, max_connections=HELD + 8)
        async with httpx.AsyncClient(
            base_url=service.url, timeout=WAIT_SECONDS, limits=limits
        ) as http:
            transaction = lock.transaction()
            await transaction.start()
            await lock.execute("SELECT 1 FROM returns WHERE id = $1 FOR UPDATE", return_id)

            held = [
                asyncio.create_task(
                    http.post(
                        f"/v1/returns/{return_id}/messages",
                        json={"body": f"message {n} before the signal"},
                        headers={
                            **(buyer if n % 2 else merchant).headers,
                            "X-Request-Id": f"held-{n}",
                        },
                    )
                )
                for n in range(HELD)
            ]

            async def all_waiting() -> bool:
                # Not on `lock`: inside a transaction, pg_stat_activity is a snapshot taken
                # at its first read.
                waiting = await watch.fetchval(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
                return bool(waiting >= HELD)

            await until(f"{HELD} requests waiting on the row lock", all_waiting)

            # Load beside them: reads that keep coming while the signal lands.
            stream_answers: list[int] = []
            stream_refused = 0
            stop_stream = asyncio.Event()

            async def stream() -> None:
                nonlocal stream_refused
                while not stop_stream.is_set():
                    try:
                        response = await http.get(
                            f"/v1/returns/{return_id}", headers=merchant.headers, timeout=3
                        )
                    except httpx.TransportError:
                        # Not accepted: after the signal the workers stop accepting; the
                        # connection waits in the parent's backlog until it exits.
                        stream_refused += 1
                        continue
                    stream_answers.append(response.status_code)

            readers = [asyncio.create_task(stream()) for _ in range(4)]
            await until("reads answered while the lock is held", _answered(stream_answers, 8))
            assert service.process is not None
            service.process.send_signal(signal.SIGTERM)
            signalled = True

            async def both_workers_shutting_down() -> bool:
                return service.log_path.read_text().count('"Shutting down"') >= 2

            await until("both workers begin their shutdown", both_workers_shutting_down)
            with pytest.raises(httpx.TransportError):
                async with httpx.AsyncClient(timeout=3) as probe:
                    await probe.get(f"{service.url}/healthz")  # a new request is not taken
            assert not any(task.done() for task in held), "a held request ended early"
            await transaction.commit()  # the held requests may now finish
            answers = await asyncio.gather(*held, return_exceptions=True)
            stop_stream.set()
            await asyncio.gather(*readers)
            assert stream_refused > 0  # the stream ran on past the signal
    finally:
        await lock.close()
        await watch.close()
        await _ended(service, signalled)

    failures = [answer for answer in answers if isinstance(answer, BaseException)]
    assert failures == [], failures
    responses = [answer for answer in answers if isinstance(answer, httpx.Response)]
    assert [response.status_code for response in responses] == [201] * HELD
    assert sorted(r.headers["X-Request-Id"] for r in responses) == sorted(
        f"held-{n}" for n in range(HELD)
    )
    assert stream_answers and set(stream_answers) == {200}
    assert service.process is not None and service.process.returncode == 0, service.log()

    check = await asyncpg.connect(_asyncpg_dsn(database.url))
    try:
        stored = await check.fetchval(
            "SELECT count(*) FROM return_events WHERE return_id = $1 AND type = 'message'",
            return_id,
        )
    finally:
        await check.close()
    assert stored == HELD


async def _ended(service: ServiceProcess, signalled: bool) -> None:
    """After the drill's own SIGTERM, wait for the exit (a second signal would force it);
    if the drill failed before sending it, stop the service the usual way."""
    if not signalled:
        await service.stop()
        return
    assert service.process is not None
    try:
        await asyncio.wait_for(service.process.wait(), timeout=GRACE_SECONDS + 15)
    except TimeoutError:
        service.kill()
    await service.wait()


def _answered(answers: list[int], count: int) -> object:
    async def check() -> bool:
        return len(answers) >= count

    return check
