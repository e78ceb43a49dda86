"""Two real instances settle through their admin pages: propose, accept, send, mark paid,
confirm; the creator sees the amount available per peer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.support.instances import LiveInstance
from tests.support.live import (
    FAST,
    Start,
    close,
    creator_balances,
    eventually,
    incoming_notice,
    ledger_ok,
    like,
    peer_state,
    post,
    user,
)

PASSWORD = "correct horse"


async def wait_for(check: Callable[[], Any]) -> Any:
    """`eventually` off the event loop, so the browser connection keeps being served."""
    return await asyncio.to_thread(eventually, check, 60.0)


@pytest.fixture
async def other_page(page: Page) -> AsyncIterator[Page]:
    """A second browser context: instances on one loopback address share cookies by host."""
    browser = page.context.browser
    assert browser is not None
    context = await browser.new_context()
    try:
        yield await context.new_page()
    finally:
        await context.close()


def admin(instance: LiveInstance) -> None:
    email, password = "op@example.org", PASSWORD
    instance.cli("users", "create", "operator", "--admin", "--email", email, "--password", password)


async def log_in(page: Page, instance: LiveInstance, name: str, password: str = PASSWORD) -> None:
    await page.goto(instance.base_url + "/login")
    await page.get_by_label("Username or e-mail").fill(name)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("button", name="Log out")).to_be_visible()


def notice(page: Page) -> Any:
    return expect(page.get_by_role("status"))


async def test_admins_settle_on_their_pages_and_the_creator_sees_it(
    instances: Start, page: Page, other_page: Page, tmp_path: Path
) -> None:
    alpha, beta = instances(env=FAST), instances(env=FAST)
    admin(alpha)
    admin(beta)
    ann, bob = user(alpha, "ann"), user(beta, "bob")
    alpha.cli("wallet", "credit", "ann", "10.00", "--reference", "bank-1")
    # Given a share for bob held at alpha, with no agreement with beta yet
    status = post(beta, bob, "a post worth supporting")
    like(alpha, ann, status["uri"])
    close(alpha)
    await log_in(page, alpha, "operator")
    await page.goto(alpha.base_url + "/admin/money")
    await page.get_by_role("link", name="Peer instances").click()
    waiting = page.locator("tr.waiting td")
    await expect(waiting).to_have_text([beta.domain, "1", "5.00 EUR", "none", "Propose"])
    await page.screenshot(path=str(tmp_path / "alpha-waiting.png"), full_page=True)
    # When alpha's admin proposes beta with the form
    await page.get_by_label("Instance domain").fill(beta.domain)
    await page.get_by_label("Credit limit").fill("200.00")
    await page.get_by_role("button", name="Propose", exact=True).click()
    await notice(page).to_contain_text(f"Proposed settling with {beta.domain}")
    await expect(waiting.nth(3)).to_have_text("proposed")
    # And beta's admin accepts it on its page
    await wait_for(lambda: peer_state(beta, alpha.domain) == "proposed")
    await log_in(other_page, beta, "operator")
    await other_page.goto(beta.base_url + "/admin/peers")
    await expect(other_page.locator("tr.peer td.state")).to_have_text(["proposed"])
    await other_page.get_by_role("button", name=f"Accept {alpha.domain}").click()
    await expect(other_page.get_by_role("status")).to_contain_text("the peer is active")
    # Then the held share is offered at once, and beta accepts the batch
    await wait_for(lambda: creator_balances(beta, bob) == (500, 0))
    await page.reload()
    await page.get_by_role("button", name=f"Send held shares to {beta.domain} now").click()
    await notice(page).to_contain_text(f"Nothing to send to {beta.domain}")
    await expect(page.locator("tr.waiting")).to_have_count(0)
    # And alpha's page shows the accepted batch and what it owes, as a chart and a table
    await expect(page.locator("tr.batch td.state")).to_have_text(["accepted"])
    await expect(page.locator("tr.peer td.net")).to_have_text(["we owe them 5.00 EUR"])
    chart = page.get_by_role("img", name="Open balance with each peer")
    await expect(chart.locator("rect title")).to_have_text([f"{beta.domain}: we owe them 5.00 EUR"])
    await page.screenshot(path=str(tmp_path / "alpha-peers-owing.png"), full_page=True)
    # When alpha marks it paid and beta confirms the notice on its page
    await page.get_by_label(f"Transfer reference for {beta.domain}").fill("SEPA-1")
    await page.get_by_role("button", name="Mark paid").click()
    await notice(page).to_contain_text("of 5.00 EUR sent to")
    payment = await wait_for(lambda: incoming_notice(beta))
    await other_page.reload()
    await expect(other_page.locator("tr.peer td.net")).to_have_text(["they owe us 5.00 EUR"])
    await other_page.screenshot(path=str(tmp_path / "beta-peers-notice.png"), full_page=True)
    await other_page.get_by_role("button", name=f"Confirm payment {payment}").click()
    await expect(other_page.get_by_role("status")).to_contain_text(f"Payment {payment} confirmed")
    await expect(other_page.locator("tr.payment td.state")).to_have_text(["confirmed"])
    # Then bob's creator page shows the amount available from alpha
    await other_page.get_by_role("button", name="Log out").click()
    await log_in(other_page, beta, "bob", "pw-123456")
    await other_page.goto(beta.base_url + "/money/creator")
    row = other_page.locator("tr.peer-funds")
    await expect(row.locator("td")).to_have_text([alpha.domain, "0.00 EUR", "5.00 EUR"])
    bars = other_page.get_by_role("img", name="What each peer instance settled with you")
    await expect(bars.locator("rect title")).to_have_text([f"{alpha.domain}: 5.00 EUR available"])
    await other_page.screenshot(path=str(tmp_path / "bob-creator.png"), full_page=True)
    # And alpha's side is settled too, with both ledgers balanced
    await wait_for(lambda: "confirmed" in alpha.cli("settlements", "list").stdout)
    await page.reload()
    await expect(page.locator("tr.peer td.net")).to_have_text(["settled"])
    await page.get_by_role("link", name=f"Statement with {beta.domain}").click()
    await expect(page.locator(".balance")).to_have_text("settled")
    # A payment has its own column: never a negative amount under "We owe them"
    await expect(page.locator("#statement-table td.paid")).to_have_text(["", "we paid 5.00 EUR"])
    await expect(page.locator("#statement-table td.we-owe")).to_have_text(["5.00 EUR", ""])
    await page.screenshot(path=str(tmp_path / "alpha-statement.png"), full_page=True)
    for instance in (alpha, beta):
        ledger_ok(instance)
    assert "Traceback" not in alpha.read_log() + beta.read_log()
