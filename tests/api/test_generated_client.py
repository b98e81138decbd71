"""A client generated from the committed spec, without a warning, drives a return end to end.

If the generator warns, fix the spec (schema shapes, operation ids), not this check.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.api.conftest import test_settings as settings_for
from tests.api.live_server import serve
from tests.api.scenario import ADDRESS, Party, application_body, order_body, token, unique
from tests.conftest import Database

COMMITTED = Path(__file__).resolve().parents[2] / "openapi" / "openapi.json"
PACKAGE = "generated_returns_client"
GENERATOR = Path(sys.executable).parent / "openapi-python-client"


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> ModuleType:
    """Generate the client package from the committed spec and import it."""
    root = tmp_path_factory.mktemp("generated_client")
    output = root / PACKAGE
    environment = {
        **os.environ,
        # The generator formats its output with ruff, found on PATH.
        "PATH": f"{GENERATOR.parent}{os.pathsep}{os.environ.get('PATH', '')}",
    }
    finished = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(COMMITTED),
            "--output-path",
            str(output),
            "--meta",
            "none",
        ],
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
        check=False,
    )
    said = f"stdout:\n{finished.stdout}\nstderr:\n{finished.stderr}"
    assert finished.returncode == 0, said
    assert "warning" not in said.lower(), (
        "the generator warns about the spec; fix the spec\n" + said
    )
    assert "error" not in said.lower(), said
    sys.path.insert(0, str(root))
    return importlib.import_module(PACKAGE)


def module(package: ModuleType, name: str) -> Any:
    return importlib.import_module(f"{package.__name__}.{name}")


@pytest.fixture
async def base_url(database: Database) -> AsyncIterator[str]:
    with serve(settings_for(database)) as url:
        yield url


async def test_a_generated_client_drives_a_return_from_application_to_refund(
    generated: ModuleType, base_url: str
) -> None:
    client_module = module(generated, "client")
    models = module(generated, "models")
    api = {
        name: module(generated, f"api.{tag}.{name}")
        for tag, names in {
            "orders": ("put_order", "get_order"),
            "returns": (
                "apply_for_return",
                "approve_return",
                "ship_return",
                "receive_return",
                "refund_return",
                "get_return",
                "list_return_events",
            ),
        }.items()
        for name in names
    }
    shop_id = unique("shop")
    buyer = Party("buyer", unique("buyer"))
    merchant = Party("merchant", unique("merchant"), shop_id)
    storefront = Party("storefront", "storefront-1")

    def client_of(party: Party) -> Any:
        return client_module.AuthenticatedClient(
            base_url=base_url,
            token=token(party.role, party.id, party.shop_id),
            raise_on_unexpected_status=True,
        )

    async with (
        client_of(storefront) as as_storefront,
        client_of(buyer) as as_buyer,
        client_of(merchant) as as_merchant,
    ):
        order_id = unique("order")
        registered = await api["put_order"].asyncio_detailed(
            order_id,
            client=as_storefront,
            body=models.OrderIn.from_dict(order_body(shop_id, buyer.id)),
        )
        assert registered.status_code == 201, registered.content
        assert isinstance(registered.parsed, models.OrderOut)

        applied = await api["apply_for_return"].asyncio_detailed(
            client=as_buyer, body=models.ReturnApplication.from_dict(application_body(order_id))
        )
        assert applied.status_code == 201, applied.content
        created = applied.parsed
        assert isinstance(created, models.ReturnOut)
        assert created.status.value == "requested"
        assert applied.headers["ETag"] == '"1"'
        return_id = created.id

        steps = [
            (
                "approve_return",
                as_merchant,
                models.ApproveBody.from_dict({"return_address": ADDRESS}),
                "approved",
            ),
            (
                "ship_return",
                as_buyer,
                models.ShipmentBody(carrier="SF", tracking_number="SF123456"),
                "shipped",
            ),
            (
                "receive_return",
                as_merchant,
                models.ReceiveBody.from_dict({"inspection": "passed"}),
                "received",
            ),
        ]
        for version, (operation, as_party, body, status) in enumerate(steps, start=1):
            answer = await api[operation].asyncio_detailed(
                return_id, client=as_party, body=body, if_match=f'"{version}"'
            )
            assert answer.status_code == 200, answer.content
            assert answer.parsed.status.value == status
            assert answer.headers["ETag"] == f'"{version + 1}"'

        # The refund body is optional: the generated client sends none.
        refunded = await api["refund_return"].asyncio_detailed(return_id, client=as_merchant)
        assert refunded.status_code == 200, refunded.content
        assert refunded.parsed.status.value == "refunded"
        assert refunded.parsed.refund.amount == created.refund_amount == 9900
        assert refunded.parsed.refund.currency == "CNY"

        again = await api["refund_return"].asyncio_detailed(return_id, client=as_merchant)
        assert again.status_code == 409
        assert isinstance(again.parsed, models.Problem)
        assert again.parsed.code == "invalid_transition"
        assert again.parsed.state == "refunded"

        seen = await api["get_return"].asyncio(return_id, client=as_buyer)
        assert isinstance(seen, models.ReturnOut)
        assert (seen.status.value, seen.version) == ("refunded", 5)
        timeline = await api["list_return_events"].asyncio(return_id, client=as_buyer)
        assert [event.type_ for event in timeline.items] == [
            "created",
            "approve",
            "ship",
            "receive",
            "refund",
        ]
        # The refunded unit stays returned: one of the two may still be returned.
        order = await api["get_order"].asyncio(order_id, client=as_buyer)
        assert [line.returnable for line in order.lines] == [1]


async def test_a_generated_client_writes_rules_makes_an_offer_and_the_buyer_accepts_it(
    generated: ModuleType, base_url: str
) -> None:
    client_module = module(generated, "client")
    models = module(generated, "models")
    put_order = module(generated, "api.orders.put_order")
    apply_for_return = module(generated, "api.returns.apply_for_return")
    make_offer = module(generated, "api.returns.make_offer")
    accept_offer = module(generated, "api.returns.accept_offer")
    list_reject_reasons = module(generated, "api.returns.list_reject_reasons")
    put_automations = module(generated, "api.automations.put_automations")
    shop_id = unique("shop")
    buyer = Party("buyer", unique("buyer"))
    merchant = Party("merchant", unique("merchant"), shop_id)
    storefront = Party("storefront", "storefront-1")

    def client_of(party: Party) -> Any:
        return client_module.AuthenticatedClient(
            base_url=base_url,
            token=token(party.role, party.id, party.shop_id),
            raise_on_unexpected_status=True,
        )

    async with (
        client_of(storefront) as as_storefront,
        client_of(buyer) as as_buyer,
        client_of(merchant) as as_merchant,
    ):
        reasons = await list_reject_reasons.asyncio(client=as_merchant)
        assert any(reason.code == "used" and reason.needs_evidence for reason in reasons.items)

        rules = models.AutomationsIn.from_dict(
            {"rules": [{"name": "never", "when": {"reasons": ["wrong_item"]}, "then": "approve"}]}
        )
        written = await put_automations.asyncio_detailed(shop_id, client=as_merchant, body=rules)
        assert written.status_code == 200, written.content
        assert written.parsed.version == 1
        assert written.parsed.rules[0].when.types is None

        order_id = unique("order")
        registered = await put_order.asyncio_detailed(
            order_id,
            client=as_storefront,
            body=models.OrderIn.from_dict(order_body(shop_id, buyer.id)),
        )
        assert registered.status_code == 201, registered.content
        applied = await apply_for_return.asyncio(
            client=as_buyer, body=models.ReturnApplication.from_dict(application_body(order_id))
        )
        assert applied.status.value == "requested"

        offered = await make_offer.asyncio_detailed(
            applied.id,
            client=as_merchant,
            body=models.OfferBody.from_dict({"amount": 3000, "note": "keep it"}),
            if_match='"1"',
        )
        assert offered.status_code == 200, offered.content
        assert offered.parsed.status.value == "offered"
        assert offered.parsed.offer.amount == 3000

        # The body is optional: the generated client sends none.
        accepted = await accept_offer.asyncio_detailed(applied.id, client=as_buyer)
        assert accepted.status_code == 200, accepted.content
        assert accepted.parsed.status.value == "refunded"
        assert accepted.parsed.keep_goods is True
        assert accepted.parsed.refund.amount == 3000
