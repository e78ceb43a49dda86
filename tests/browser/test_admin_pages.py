"""The admin's round in Chromium against a real instance (its worker in the same process):
search an account and open its history, close last month from the money page and read the
run's result, approve and export a payout, and confirm its batch behind its confirmation."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from playwright.async_api import Page, expect

from server.accounts.actors import actor_uri
from server.db.engine import Database
from server.donations.budget import update_donor_settings
from server.donations.periods import period_of, period_start, previous_period
from server.models.base import utcnow
from server.money.payouts import PayoutRequest, request_payout
from server.settings import Settings
from tests.browser.test_every_page import BANK
from tests.support.instances import LiveInstance
from tests.support.ledger import fediverse_thing, like
from tests.support.live import on

PASSWORD = "correct horse"
LAST_MONTH = previous_period(period_of(utcnow()))


async def _dora_liked_cats_post_last_month(db: Database, settings: Settings) -> None:
    async with db.transaction() as session:
        await update_donor_settings(session, settings, 3, monthly_budget=1200)
    actor = actor_uri(settings, "cat")
    at = period_start(LAST_MONTH) + timedelta(days=5)
    await like(db, settings, 3, fediverse_thing(f"{actor}/statuses/1", actor), at=at)


async def _cat_asks_for_a_payout(db: Database, settings: Settings) -> None:
    async with db.transaction() as session:
        request = PayoutRequest(2, 1000, "DE89370400440532013000", "Cat Maker")
        await request_payout(session, settings, request)


async def _log_in(page: Page, instance: LiveInstance, name: str) -> None:
    await page.goto(instance.base_url + "/login")
    await page.get_by_label("Username or e-mail").fill(name)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("button", name="Log out")).to_be_visible()


async def _until_done(page: Page) -> None:
    """Reload the run's page (as its link does) until the worker finished the run."""
    for _ in range(60):
        state = await page.locator(".run-state").inner_text()
        if "Done." in state or "Failed" in state:
            break
        await asyncio.sleep(0.5)
        await page.reload()
    await expect(page.locator(".run-state")).to_contain_text("Done.")


async def test_an_admin_runs_the_round_from_the_pages(
    instances: Callable[..., LiveInstance], page: Page, tmp_path: Path
) -> None:
    # Given an instance that does not close months by itself, with a donor who liked cat's
    # post last month
    instance = instances(autostart=False, env={"LIKEWISE_AUTO_CLOSE": "0"})
    instance.data_dir.mkdir(parents=True)
    (instance.data_dir / "config.toml").write_text(BANK)
    for name, extra in (("operator", ("--admin",)), ("cat", ()), ("dora", ())):
        email = f"{name}@example.org"
        instance.cli("users", "create", name, "--email", email, "--password", PASSWORD, *extra)
    instance.cli("wallet", "credit", "dora", "30.00", "--reference", "bank-1")
    await asyncio.to_thread(on, instance, _dora_liked_cats_post_last_month)
    instance.start()
    await _log_in(page, instance, "operator")

    # When the admin searches for dora and opens her history
    await page.goto(instance.base_url + "/admin/accounts")
    await page.get_by_label("Handle or e-mail").fill("dor")
    await page.get_by_role("button", name="Search").click()
    rows = page.locator("#accounts tbody tr")
    await expect(rows).to_have_count(1)
    await expect(rows.locator(".wallet")).to_have_text("30.00 EUR")
    await page.get_by_role("link", name="@dora").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("@dora")
    await expect(page.locator("#wallet-table tbody tr")).to_have_count(1)
    await expect(page.get_by_role("img", name=re.compile("wallet"))).to_be_visible()

    # And closes last month from the money page
    await page.goto(instance.base_url + "/admin/money")
    await page.get_by_role("button", name="Close the month").click()
    await expect(page).to_have_url(re.compile(r"/admin/runs/\d+$"))
    await _until_done(page)
    # Then the run says what the close did, and dora's history shows her budget leaving
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Month close of {LAST_MONTH}")
    await expect(page.locator(".donors")).to_have_text("1 of 1")
    await expect(page.locator(".shared")).to_contain_text("12.00 EUR")
    await page.goto(instance.base_url + "/admin/accounts/dora")
    await expect(page.locator("#wallet-table tbody tr")).to_have_count(2)
    await expect(page.locator("#wallet-table tbody tr").first).to_contain_text("18.00 EUR")

    # When cat asks for a payout, and the admin approves and exports it
    await asyncio.to_thread(on, instance, _cat_asks_for_a_payout)
    await page.goto(instance.base_url + "/admin/money")
    payouts = page.locator("#payouts")
    await expect(payouts.get_by_role("link", name="@cat")).to_be_visible()
    await payouts.get_by_role("button", name=re.compile("^Approve payout")).click()
    await page.get_by_role("button", name="Export", exact=True).click()
    await _until_done(page)
    await expect(page.locator(".batch")).to_contain_text("1 payout, 10.00 EUR")
    await expect(page.locator(".confirmed")).to_contain_text("not yet confirmed")

    # And confirms the batch as paid, behind its confirmation
    await page.goto(instance.base_url + "/admin/money")
    confirm = page.get_by_role("button", name=re.compile(r"^Confirm batch \d+ as paid"))
    await expect(confirm).to_be_hidden()
    await page.locator("#batches summary").click()
    await confirm.click()
    await _until_done(page)
    # Then the batch is booked as paid
    await page.goto(instance.base_url + "/admin/money")
    await expect(page.locator("#batches .state")).to_contain_text("confirmed")
    await page.screenshot(path=str(tmp_path / "admin-money.png"), full_page=True)
