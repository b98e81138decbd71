"""A merchant works the console in Debian's Chromium, against the real app and database.

Each test serves the app over TCP (tests/api/live_server.py) on SQLite and on PostgreSQL,
fills a shop through the API, and drives the page as a person would: by labels and roles.
Every test ends by asserting that no request left for another host and that the browser
console showed no error. Screenshots land in test-artifacts/console/.
"""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from httpx import AsyncClient

from tests.api import conftest as api_conftest
from tests.api.live_server import serve
from tests.api.scenario import token
from tests.browser.conftest import artifact, browser_page
from tests.browser.shop import SeededShop, seed_shop
from tests.conftest import Database

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def merchant_token(seeded: SeededShop) -> str:
    merchant = seeded.merchant
    return token("merchant", merchant.id, merchant.shop_id)


async def api_has(http: AsyncClient, path: str) -> bool:
    """Whether this service's API has the path (some arrive from work landing beside this)."""
    return path in (await http.get("/openapi.json")).json()["paths"]


async def statistics_missing(http: AsyncClient) -> bool:
    """Whether this service lacks GET /v1/statistics (issue 9 brings it)."""
    return not await api_has(http, "/v1/statistics")


UNLABELLED_CONTROLS = """() => [...document.querySelectorAll('input, select, textarea, button')]
    .filter(c => !(c.labels && c.labels.length) && !c.getAttribute('aria-label')
                 && !c.getAttribute('aria-labelledby') && !c.textContent.trim())
    .map(c => c.outerHTML)"""


async def assert_every_control_is_labelled(page: Any) -> None:
    assert await page.evaluate(UNLABELLED_CONTROLS) == []


async def sign_in(page: Any, base_url: str, raw_token: str, *, token_label: str) -> None:
    await page.goto(f"{base_url}/console")
    await page.get_by_label(token_label).fill(raw_token)
    await page.locator("form button[type=submit]").click()


async def test_a_merchant_filters_batches_messages_and_refunds_in_the_console(
    database: Database, chromium_path: str
) -> None:
    from playwright.async_api import expect

    with serve(api_conftest.test_settings(database)) as base_url:
        async with AsyncClient(base_url=base_url) as http:
            seeded = await seed_shop(http)
            # Until it exists, the tab counts fall back to paging, after one 404 the console
            # logs; that refusal alone is then expected.
            expected = "/v1/statistics" if await statistics_missing(http) else None
            async with browser_page(chromium_path, base_url, locale="en-US") as (page, watch):
                await sign_in(page, base_url, merchant_token(seeded), token_label="Token (JWT)")
                await expect(page.get_by_role("heading", name="Work queue")).to_be_visible()

                # Tabs by state with counts; the queue of what waits for the merchant.
                counts = seeded.counts()
                for state in ("requested", "rejected", "shipped", "refunded"):
                    await expect(page.locator(f"#tab-{state} .count")).to_have_text(
                        str(counts[state])
                    )
                # The tabs answer the arrow keys, as a tab list does.
                await page.locator("#tab-todo").focus()
                await page.keyboard.press("ArrowRight")
                await expect(page.locator("#tab-requested")).to_have_attribute(
                    "aria-selected", "true"
                )
                await expect(page.locator("#tab-requested")).to_be_focused()
                rows = page.locator("table.returns tbody tr")
                await expect(rows).to_have_count(counts["requested"])
                await expect(rows.first.locator(".deadline .left")).to_contain_text("left")

                # Filter by reason.
                defects = [
                    r["id"]
                    for r in seeded.with_status("requested")
                    if r["reason"] == "quality_defect"
                ]
                await page.get_by_label("Reason").select_option("quality_defect")
                await page.get_by_role("button", name="Apply filters").click()
                await expect(rows).to_have_count(len(defects))
                shown = await rows.evaluate_all("rows => rows.map(r => r.dataset.id)")
                assert sorted(shown) == sorted(defects)
                await page.get_by_role("button", name="Clear filters").click()
                await expect(rows).to_have_count(counts["requested"])

                # Filter by flagged buyer: exactly those the API flagged.
                flagged = [r["id"] for r in seeded.with_status("requested") if r["buyer_flagged"]]
                assert 0 < len(flagged) < counts["requested"]
                await page.get_by_label("Flagged buyer").select_option("true")
                await page.get_by_role("button", name="Apply filters").click()
                await expect(rows).to_have_count(len(flagged))
                shown = await rows.evaluate_all("rows => rows.map(r => r.dataset.id)")
                assert sorted(shown) == sorted(flagged)
                await expect(rows.locator(".badge.flagged")).to_have_count(len(flagged))
                await page.get_by_role("button", name="Clear filters").click()
                await expect(rows).to_have_count(counts["requested"])
                await page.screenshot(
                    path=artifact(f"queue-{database.backend}.png"), full_page=True
                )

                # Batch: three to review and one rejected; each stands or falls alone.
                await page.get_by_role("tab", name=re.compile(r"^All")).click()
                await expect(rows).to_have_count(len(seeded.returns))
                for return_id in [*seeded.batch, seeded.rejected]:
                    await page.get_by_label(f"Select return {return_id}", exact=True).check()
                await page.get_by_role("button", name="Approve selected").click()
                form = page.locator("form.batch-form")
                await assert_every_control_is_labelled(page)
                await form.get_by_label("Recipient").fill("Returns desk")
                await form.get_by_label("Phone").fill("13800000000")
                await form.get_by_label("Address", exact=True).fill("1 Dock Rd")
                await form.get_by_role("button", name="Confirm: Approve \u00d7 4").click()
                results = page.locator(".batch-results li")
                await expect(results).to_have_count(4)
                for return_id in seeded.batch:
                    outcome = page.locator(f'.batch-results li[data-id="{return_id}"]')
                    await expect(outcome).to_contain_text("200")
                    await expect(outcome).to_contain_text("now Approved")
                refused = page.locator(f'.batch-results li[data-id="{seeded.rejected}"]')
                await expect(refused).to_contain_text("409")
                await expect(refused).to_contain_text("cannot approve a return that is rejected")
                await expect(page.locator("#tab-approved .count")).to_have_text(
                    str(counts["approved"] + 3)
                )
                for return_id in seeded.batch:
                    stored = (await seeded.scenario.get(return_id)).json()
                    assert stored["status"] == "approved"
                assert (await seeded.scenario.get(seeded.rejected)).json()["status"] == "rejected"

                # Open the refund-only one: message, then refund.
                refund_only = seeded.batch[0]
                await page.locator(f'.batch-results li[data-id="{refund_only}"] a').click()
                await expect(
                    page.get_by_role("heading", name=f"Return {refund_only}")
                ).to_be_visible()
                # Markup in a message is text, never markup.
                said = "We refund you today <img src=x onerror=alert(1)> sorry!"
                await page.get_by_label("Message").fill(said)
                await page.get_by_role("button", name="Send message").click()
                await expect(page.locator(".timeline .message-body")).to_have_text(said)
                await expect(page.locator(".timeline img")).to_have_count(0)
                await page.get_by_role("button", name="Refund", exact=True).click()
                await page.get_by_role("button", name="Confirm: Refund").click()
                await expect(page.locator(".actions .notice")).to_have_text(
                    "Done: the return is now Refunded."
                )
                await page.screenshot(
                    path=artifact(f"return-{database.backend}.png"), full_page=True
                )
                stored = (await seeded.scenario.get(refund_only)).json()
                assert stored["status"] == "refunded"
                assert stored["refund"]["amount"] == seeded.returns[refund_only]["refund_amount"]
                events = await seeded.scenario.events(refund_only)
                assert [e["type"] for e in events][-2:] == ["message", "refund"]
                assert events[-2]["data"]["body"] == said

                # A stale page says so instead of overwriting: approved behind its back.
                stale = seeded.untouched[0]
                await page.goto(f"{base_url}/console#/returns/{stale}")
                await expect(page.get_by_role("heading", name=f"Return {stale}")).to_be_visible()
                behind = await seeded.scenario.act(
                    stale, "reject", seeded.merchant, {"reason_code": "late", "note": "Too late"}
                )
                assert behind.status_code == 200, behind.text
                await page.get_by_role("button", name="Approve", exact=True).click()
                await page.get_by_role("button", name="Confirm: Approve").click()
                await expect(page.locator(".stale")).to_contain_text("changed since you opened it")
                refusals = [m for m in watch.take_console_errors() if "412" in m]
                assert len(refusals) == 1, refusals
                assert (await seeded.scenario.get(stale)).json()["status"] == "rejected"

                # Receive the parcel back with a deduction typed in the currency's units.
                shipped = seeded.with_status("shipped")[0]["id"]
                await page.goto(f"{base_url}/console#/returns/{shipped}")
                await expect(page.get_by_role("heading", name=f"Return {shipped}")).to_be_visible()
                await page.get_by_role("button", name="Receive", exact=True).click()
                await page.get_by_role("button", name="Add a deduction").click()
                await page.get_by_label("Kind of deduction 1").fill("tag removed")
                await page.get_by_label("Amount of deduction 1 (CNY)").fill("5.50")
                await assert_every_control_is_labelled(page)
                await page.get_by_role("button", name="Confirm: Receive").click()
                await expect(page.locator(".actions .notice")).to_have_text(
                    "Done: the return is now Received."
                )
                stored = (await seeded.scenario.get(shipped)).json()
                assert stored["status"] == "received"
                assert stored["deductions"] == [{"kind": "tag removed", "amount": 550, "note": ""}]

                # Offer a partial refund, the goods staying with the buyer (issue 11 brings
                # the offer action; a service without it has no such button to try).
                if await api_has(http, "/v1/returns/{return_id}/offer"):
                    offered = seeded.untouched[1]
                    await page.goto(f"{base_url}/console#/returns/{offered}")
                    await expect(
                        page.get_by_role("heading", name=f"Return {offered}")
                    ).to_be_visible()
                    await page.get_by_role("button", name="Offer a partial refund").click()
                    await page.get_by_label("Amount offered (CNY)").fill("20")
                    await page.get_by_role("button", name="Confirm: Offer a partial refund").click()
                    await expect(page.locator(".actions .notice")).to_have_text(
                        "Done: the return is now Offer made."
                    )
                    await expect(page.locator(".facts")).to_contain_text(
                        "#1: CN¥20.00, waiting for the buyer"
                    )
                    stored = (await seeded.scenario.get(offered)).json()
                    assert (stored["status"], stored["offer"]["amount"]) == ("offered", 2000)
                    assert stored["offer"]["keep_goods"] is True

                # Switch language: the page speaks Chinese, and keeps it on reload.
                await page.get_by_role("button", name=re.compile("switch to Chinese")).click()
                await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
                await page.get_by_role("link", name="工作队列", exact=True).click()
                await expect(page.get_by_role("heading", name="工作队列")).to_be_visible()
                await expect(page.get_by_role("tab", name=re.compile("^待审核"))).to_be_visible()
                await page.reload()
                await expect(page.get_by_role("heading", name="工作队列")).to_be_visible()
                still = await http.get(
                    "/v1/returns", params={"status": "requested"}, headers=seeded.merchant.headers
                )
                await expect(page.locator("#tab-requested .count")).to_have_text(
                    str(len(still.json()["items"]))
                )
                await page.screenshot(
                    path=artifact(f"queue-zh-{database.backend}.png"), full_page=True
                )

                # Sign out: the token is gone from the tab.
                await page.get_by_role("button", name="退出登录").click()
                await expect(page.get_by_label("令牌 (JWT)")).to_be_visible()
                assert await page.evaluate("sessionStorage.length") == 0

                # The platform picks a shop.
                await page.get_by_label("令牌 (JWT)").fill(token("platform", "cs-agent-1"))
                await page.locator("form button[type=submit]").click()
                await page.get_by_label("店铺").fill(seeded.scenario.shop_id)
                await page.get_by_role("button", name="查看店铺").click()
                await page.get_by_role("tab", name=re.compile("^全部")).click()
                await expect(rows).to_have_count(len(seeded.returns))
                await expect(page.locator("#tab-all .count")).to_have_text(str(len(seeded.returns)))
                watch.assert_clean(expected=expected)


async def test_the_dashboard_draws_the_statistics_and_downloads_csv(
    database: Database, chromium_path: str
) -> None:
    from playwright.async_api import expect

    with serve(api_conftest.test_settings(database)) as base_url:
        async with AsyncClient(base_url=base_url) as http:
            if await statistics_missing(http):
                pytest.skip(
                    "GET /v1/statistics is not on this service yet (issue 9): "
                    "the dashboard has nothing to draw"
                )
            seeded = await seed_shop(http)
            # A browser that prefers Chinese gets Chinese without asking.
            async with browser_page(chromium_path, base_url, locale="zh-CN") as (page, watch):
                await sign_in(page, base_url, merchant_token(seeded), token_label="令牌 (JWT)")
                await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
                await page.get_by_role("link", name="数据看板").click()
                await expect(page.get_by_role("heading", name="数据看板")).to_be_visible()
                charts = page.locator("canvas[role=img]")
                await expect(charts).to_have_count(5)
                drawn = await page.evaluate(
                    """() => [...document.querySelectorAll('canvas')].map(c => {
                        const chart = Chart.getChart(c);
                        return [c.id, chart ? chart.data.datasets.reduce(
                          (n, d) => n + d.data.filter(v => v !== null).length, 0) : -1];
                    })"""
                )
                assert all(points > 0 for _, points in drawn), drawn
                reasons = await page.evaluate("Chart.getChart('chart-reasons').data.labels")
                assert "质量问题" in reasons
                await expect(page.locator(".kpi").first).to_be_visible()
                await assert_every_control_is_labelled(page)
                await page.screenshot(
                    path=artifact(f"dashboard-{database.backend}.png"), full_page=True
                )

                # Another window, then the CSV of it.
                await page.get_by_role("combobox", name="时间范围").select_option("7")
                await page.get_by_role("button", name="查看", exact=True).click()
                await expect(charts).to_have_count(5)
                await page.get_by_label("CSV 分组").select_option("reason")
                async with page.expect_download() as waiting:
                    await page.get_by_role("button", name="下载 CSV").click()
                download = await waiting.value
                text = (await download.path()).read_text(encoding="utf-8")
                rows = list(csv.reader(io.StringIO(text)))
                assert len(rows) >= 2, text
                assert "quality_defect" in text
                watch.assert_clean()
