"""A new donor in Chromium, against a real instance and the fake Stripe on loopback: the money
page's guide leads her to add money (paid on the fake Stripe's page; the wallet is credited
from its signed webhook), set a budget and like a post, ticking each step; then she reads
when the month closes and what leaves her wallet, and the pie chart's legend. At 390 px the
page fits the screen."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from playwright.async_api import Page, expect

from server.donations.outlook import close_day, day_words
from server.donations.periods import period_of
from server.models.base import utcnow
from tests.browser.test_imports import _fits
from tests.browser.test_money import _local_post
from tests.money.test_stripe import fake, stripe_table
from tests.support.fakes.stripe import FakeStripe
from tests.support.instances import LiveInstance

__all__ = ["fake"]  # the fake Stripe on loopback, the fixture of tests/money/test_stripe.py


def _with_stripe(instances: Callable[..., LiveInstance], stripe: FakeStripe) -> LiveInstance:
    instance = instances(autostart=False)
    instance.data_dir.mkdir(parents=True)
    table = stripe_table(stripe.base_url)
    lines = "\n".join(f"{key} = {json.dumps(value)}" for key, value in table.items())
    (instance.data_dir / "config.toml").write_text(f"[stripe]\n{lines}\n")
    stripe.knobs.webhook_url = f"{instance.base_url}/webhooks/stripe"
    return instance


async def test_a_new_donor_follows_the_guide_pays_likes_and_reads_the_close(
    instances: Callable[..., LiveInstance], fake: FakeStripe, page: Page, tmp_path: Path
) -> None:
    # Given an instance taking card payments through (the fake) Stripe, and a creator's post
    instance = _with_stripe(instances, fake)
    instance.cli(
        "users", "create", "nina", "--email", "n@example.org", "--password", "correct horse"
    )
    instance.start()
    post_url = _local_post(instance)
    base = instance.base_url
    await page.goto(f"{base}/login")
    await page.get_by_label("Username or e-mail").fill("nina")
    await page.get_by_label("Password").fill("correct horse")
    await page.get_by_role("button", name="Log in").click()
    # When the new donor opens her money page, the guide shows three steps, none done
    await page.goto(f"{base}/money")
    guide = page.locator("section.money-guide")
    await expect(guide.get_by_role("heading")).to_have_text("Getting started: three steps")
    await expect(guide.locator("li.guide-step.todo")).to_have_count(3)
    await expect(page.locator(".outlook-warning")).to_contain_text("Your wallet is empty")
    await page.screenshot(path=str(tmp_path / "guide-new.png"), full_page=True)
    # Step 1: she adds 20.00, sees the fee, pays on Stripe's page and comes back credited
    await guide.get_by_role("link", name="Add money to your wallet").click()
    await page.get_by_label("Amount for your wallet").fill("20.00")
    await page.get_by_role("button", name="Show the fee").click()
    await expect(page.locator(".quote-total")).to_have_text("20.55 EUR")  # 0.25 + 1.5 % of 20.00
    await page.get_by_role("button", name="Pay 20.55 EUR with Stripe").click()
    await expect(page.get_by_role("status")).to_have_text("Received: 20.00 EUR is in your wallet.")
    assert [status for _, status in fake.deliveries] == [200]  # the signed webhook credited
    await page.get_by_role("link", name="Your budget and wallet").click()
    await expect(page.locator("dd.wallet")).to_have_text("20.00 EUR")
    await expect(guide.locator('li[data-step="add-money"]')).to_have_class("guide-step done")
    await expect(guide.locator("li.guide-step.todo")).to_have_count(2)
    # Step 2: she sets a budget of 6.00 from the guide's link
    await guide.get_by_role("link", name="Set your monthly budget").click()
    await page.get_by_label("Monthly budget").fill("6.00")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator(".budget")).to_contain_text("6.00 EUR")
    await expect(guide.locator('li[data-step="set-budget"]')).to_have_class("guide-step done")
    await expect(page.locator(".months-covered")).to_have_text(
        "Your wallet covers 3 months at 6.00 EUR a month."
    )
    await expect(page.locator(".close-sentence")).to_contain_text("No likes yet this month")
    # Step 3: she likes the post with its button
    await page.goto(f"{base}/button?url={quote(post_url, safe='')}")
    await page.get_by_role("button", name="Like this").click()
    await expect(page.get_by_role("status")).to_contain_text("Liked.")
    await page.goto(f"{base}/money")
    # Then the guide is gone, and the page says when the month closes and what leaves
    await expect(page.locator("section.money-guide")).to_have_count(0)
    on = day_words(close_day(period_of(utcnow())), utcnow().date())
    sentence = f"{on[:1].upper()}{on[1:]}, 6.00 EUR leaves your wallet, all for your one like."
    await expect(page.locator(".close-sentence")).to_have_text(sentence)
    await expect(page.locator(".outlook-warning")).to_have_count(0)
    # And the pie chart's legend names the post and its share
    legend = page.locator("ul.pie-legend li")
    await expect(legend).to_have_count(1)
    await expect(legend.locator(".legend-value")).to_have_text("6.00 EUR (100.0%)")
    await page.screenshot(path=str(tmp_path / "money-outlook-1280.png"), full_page=True)
    await page.set_viewport_size({"width": 390, "height": 844})
    await _fits(page)
    await page.screenshot(path=str(tmp_path / "money-outlook-390.png"), full_page=True)
    assert "ledger OK" in instance.cli("ledger", "check").stdout
