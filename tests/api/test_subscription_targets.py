"""Webhooks go to the public internet only: no SSRF into this host or the networks around it.

With RETURNS_WEBHOOK_ALLOW_PRIVATE_TARGETS off (the default; the other API tests turn it on
for their receivers on 127.0.0.1), a URL on a local or private host is refused when it is
subscribed, and the relay refuses to connect to a name that resolves to such an address,
parking the delivery instead of retrying it. The relay connects to the address it vetted,
so a DNS answer that changes between the check and the connect cannot redirect it.
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from collections.abc import AsyncIterator, Iterable
from typing import Any

import httpcore
import pytest

from returns_service.models import WebhookSubscriptionRow
from returns_service.models.base import utcnow
from returns_service.relay import guard
from returns_service.relay.guard import PublicOnlyBackend, TargetRefused
from returns_service.subscriptions.service import new_secret
from returns_service.subscriptions.targets import address_refusal, host_refusal
from tests.api.scenario import PROBLEM
from tests.api.webhook_support import Harness, harness, later
from tests.conftest import Database
from tests.webhook_receiver import Receiver


@pytest.fixture
async def strict(database: Database) -> AsyncIterator[Harness]:
    """The app and its relay as deployed: private targets not allowed."""
    async with harness(database, webhook_allow_private_targets=False) as built:
        yield built


async def _post(world: Harness, url: str) -> Any:
    return await world.scenario.client.post(
        "/v1/webhook-subscriptions",
        json={"url": url, "events": ["return.*"]},
        headers=world.scenario.merchant.headers,
    )


def _resolving_to(*answers: list[str]) -> tuple[list[str], Any]:
    """A resolver answering `answers` in turn (the last one from then on); and its log."""
    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return answers[min(len(asked), len(answers)) - 1]

    return asked, resolve


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://127.0.0.1:5432/",
        "http://2130706433/hooks",  # 127.0.0.1 spelled as a number
        "http://[::1]:8080/hooks",
        "http://[::ffff:127.0.0.1]/hooks",
        "http://[::ffff:169.254.169.254]/",
        "http://10.0.0.5/hooks",
        "http://172.16.3.4/hooks",
        "https://192.168.1.10/hooks",
        "http://100.100.100.200/latest/meta-data/",  # shared address space (a cloud's metadata)
        "http://[fd00::1]/hooks",
        "http://[fe80::1]/hooks",
        "http://224.0.0.1/hooks",
        "http://0.0.0.0:8000/hooks",
        "http://[::]/hooks",
        "http://240.0.0.1/hooks",
        "http://localhost:8000/hooks",
        "http://LOCALHOST./hooks",
        "http://api.localhost/hooks",
    ],
)
async def test_a_subscription_to_a_local_or_private_address_is_refused(
    strict: Harness, url: str
) -> None:
    response = await _post(strict, url)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["code"] == "validation_error"
    assert "public address" in problem["detail"]
    assert [error["loc"] for error in problem["errors"]] == [["body", "url"]]
    listed = await strict.scenario.client.get(
        "/v1/webhook-subscriptions", headers=strict.scenario.merchant.headers
    )
    assert listed.json()["items"] == []


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/returns",
        "http://93.184.216.34:8080/hooks",
        "https://[2606:4700:4700::1111]/hooks",
        "http://[::ffff:8.8.8.8]/hooks",
        # A name is judged by what it resolves to, when the relay connects.
        "https://127.0.0.1.nip.io/hooks",
    ],
)
async def test_a_subscription_to_a_public_host_is_accepted(strict: Harness, url: str) -> None:
    response = await _post(strict, url)
    assert response.status_code == 201, response.text


async def test_private_targets_may_be_allowed_for_local_receivers(database: Database) -> None:
    async with harness(database, webhook_allow_private_targets=True) as world:
        await world.subscribe("http://127.0.0.1:9/hooks")


async def test_the_relay_refuses_a_name_that_resolves_to_loopback_and_parks_the_delivery(
    strict: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked, resolve = _resolving_to(["127.0.0.1"])
    monkeypatch.setattr(guard, "resolve_addresses", resolve)
    async with Receiver() as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        subscription = await strict.subscribe(f"http://hooks.rebound.test:{port}/hooks")
        await strict.scenario.open_return()
        start = utcnow()
        report = await strict.relay(now=start)
        assert report.outcomes == {"parked": 1}
        [delivery] = await strict.deliveries(subscription["id"])
        assert (delivery.status, delivery.attempts) == ("parked", 1)
        assert delivery.last_status_code is None
        assert "hooks.rebound.test resolves to 127.0.0.1" in (delivery.last_error or "")
        assert "loopback" in (delivery.last_error or "")
        # Parked: not tried again, however long the relay keeps going.
        assert (await strict.relay(now=later(86400, start))).claimed == 0
    assert asked == ["hooks.rebound.test"]
    assert receiver.received == []


async def test_the_relay_refuses_a_name_if_any_of_its_addresses_is_private(
    strict: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, resolve = _resolving_to(["93.184.216.34", "10.0.0.7"])
    monkeypatch.setattr(guard, "resolve_addresses", resolve)
    subscription = await strict.subscribe("https://hooks.half-private.test/hooks")
    await strict.scenario.open_return()
    await strict.relay()
    [delivery] = await strict.deliveries(subscription["id"])
    assert delivery.status == "parked"
    assert "10.0.0.7, a private address" in (delivery.last_error or "")


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
async def test_a_subscription_made_while_private_targets_were_allowed_is_not_delivered(
    strict: Harness, host: str
) -> None:
    scenario = strict.scenario
    async with Receiver() as receiver:
        now = utcnow()
        row = WebhookSubscriptionRow(
            id=str(uuid.uuid4()),
            shop_id=scenario.shop_id,
            owner_role="merchant",
            owner_id=scenario.merchant.id,
            url=receiver.url.replace("127.0.0.1", host),
            events=["return.*"],
            description=None,
            secret=new_secret(),
            enabled=True,
            disabled_reason=None,
            disabled_at=None,
            created_at=now,
            updated_at=now,
        )
        async with strict.sessionmaker() as session, session.begin():
            session.add(row)
        await scenario.open_return()
        await strict.relay()
        [delivery] = await strict.deliveries(row.id)
    assert delivery.status == "parked"
    assert "public addresses only" in (delivery.last_error or "")
    assert receiver.received == []


async def test_the_relay_connects_to_the_address_it_vetted_not_to_the_name_again(
    strict: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rebinding: the name's next answer would be private, but the relay never asks again.

    The receiver listens on 127.0.0.1; here 127.0.0.1 counts as public, and the name exists
    in no DNS: the event arrives only if the relay connects to the address it vetted.
    """
    asked, resolve = _resolving_to(["127.0.0.1"], ["10.0.0.9"])
    monkeypatch.setattr(guard, "resolve_addresses", resolve)

    def loopback_is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
        return None if str(address) == "127.0.0.1" else address_refusal(address)

    monkeypatch.setattr(guard, "address_refusal", loopback_is_public)
    async with Receiver() as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        subscription = await strict.subscribe(f"http://hooks.rebinding.test:{port}/hooks")
        await strict.scenario.open_return()
        await strict.relay()
        [delivery] = await strict.deliveries(subscription["id"])
    assert delivery.status == "delivered", delivery.last_error
    assert asked == ["hooks.rebinding.test"]
    [received] = receiver.received
    assert received.headers["host"] == f"hooks.rebinding.test:{port}"
    received.verified(subscription["secret"])


class _Recorder(httpcore.AsyncNetworkBackend):
    def __init__(self, failing: Iterable[str] = ()) -> None:
        self.hosts: list[str] = []
        self.failing = set(failing)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        self.hosts.append(host)
        if host in self.failing:
            raise httpcore.ConnectError(f"{host} is down")
        return httpcore.AsyncMockStream([])


async def test_the_backend_connects_to_each_vetted_address_in_turn_never_to_the_name() -> None:
    inner = _Recorder(failing={"2001:4860:4860::8888"})
    asked, resolve = _resolving_to(["2001:4860:4860::8888", "8.8.8.8"], ["127.0.0.1"])
    backend = PublicOnlyBackend(inner, resolve)
    await backend.connect_tcp("hooks.example.com", 443, timeout=1)
    assert inner.hosts == ["2001:4860:4860::8888", "8.8.8.8"]
    assert asked == ["hooks.example.com"]
    # The next connection asks again, and is refused: nothing is connected to.
    with pytest.raises(TargetRefused, match=re.escape("127.0.0.1, a loopback address")):
        await backend.connect_tcp("hooks.example.com", 443)
    assert inner.hosts == ["2001:4860:4860::8888", "8.8.8.8"]
    with pytest.raises(TargetRefused, match="names this host"):
        await backend.connect_tcp("localhost", 80)
    assert asked == ["hooks.example.com", "hooks.example.com"]


async def test_a_name_that_does_not_resolve_is_an_ordinary_failed_attempt(
    strict: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_such_name(host: str, port: int) -> list[str]:
        raise OSError(-2, "Name or service not known")

    monkeypatch.setattr(guard, "resolve_addresses", no_such_name)
    subscription = await strict.subscribe("https://hooks.gone.test/hooks")
    await strict.scenario.open_return()
    await strict.relay()
    [delivery] = await strict.deliveries(subscription["id"])
    assert (delivery.status, delivery.attempts) == ("pending", 1)
    assert "could not resolve hooks.gone.test" in (delivery.last_error or "")


@pytest.mark.parametrize(
    ("address", "refused"),
    [
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
        ("::ffff:8.8.8.8", None),
        ("64:ff9b::808:808", None),  # NAT64 of 8.8.8.8
        ("127.0.0.53", "loopback"),
        ("::1", "loopback"),
        ("::ffff:7f00:1", "loopback"),
        ("64:ff9b::a00:5", "private"),  # NAT64 of 10.0.0.5
        ("2002:a9fe:a9fe::1", "link-local"),  # 6to4 of 169.254.169.254
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("192.168.0.1", "private"),
        ("fc00::1", "private"),
        ("100.64.0.1", "not a globally reachable"),
    ],
)
def test_which_addresses_are_public(address: str, refused: str | None) -> None:
    reason = address_refusal(ipaddress.ip_address(address))
    if refused is None:
        assert reason is None
    else:
        assert reason is not None and refused in reason
        assert host_refusal(address) is not None
        assert host_refusal(f"[{address}]" if ":" in address else address) is not None


def test_names_are_judged_by_what_they_resolve_to_except_localhost() -> None:
    assert host_refusal("hooks.example.com") is None
    assert host_refusal("localhost") is not None
    assert host_refusal("Shop.Localhost.") is not None
    assert host_refusal("notlocalhost.example") is None
