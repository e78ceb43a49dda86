"""The automatic top-up on "Add money" in Chromium on a 390 px wide screen, against a real
instance and the fake Stripe on loopback: the donor saves a card on Stripe's setup page,
chooses 3 months, and reads on /money why the worker's charge did not go through. The
section fits a phone and axe-core finds no serious or critical violation, light and dark."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import pytest
from playwright.async_api import Page, expect

from tests.browser.test_imports import _fits
from tests.browser.test_money_history import _axe
from tests.money.test_stripe_top_up import stripe_table
from tests.support.fakes.server import serve
from tests.support.fakes.stripe import FakeStripe
from tests.support.instances import LiveInstance


@pytest.fixture
def fake() -> Iterator[FakeStripe]:
    stripe = FakeStripe()
    with serve(stripe):
        yield stripe


async def test_a_donor_saves_a_card_chooses_months_and_reads_a_decline(
    instances: Callable[..., LiveInstance], page: Page, fake: FakeStripe
) -> None:
    instance = instances(autostart=False, args=["--no-worker"])
    instance.data_dir.mkdir(parents=True)
    lines = "\n".join(f"{k} = {json.dumps(v)}" for k, v in stripe_table(fake.base_url).items())
    (instance.data_dir / "config.toml").write_text(f"[stripe]\n{lines}\n")
    fake.knobs.webhook_url = f"{instance.base_url}/webhooks/stripe"
    fake.knobs.card_outcome = "card_declined"
    instance.cli(
        "users", "create", "ann", "--email", "a@example.org", "--password", "correct horse"
    )
    instance.start()
    base = instance.base_url
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.goto(f"{base}/login")
    await page.get_by_label("Username or e-mail").fill("ann")
    await page.get_by_label("Password").fill("correct horse")
    await page.get_by_role("button", name="Log in").click()
    # Stripe's setup page saves the card and sends Ann back
    await page.goto(f"{base}/money/add")
    await page.get_by_role("button", name="Save a card for automatic top-ups").click()
    await expect(page.locator(".auto-saved")).to_have_text("A card is saved for automatic top-ups.")
    # She keeps her wallet at 3 months of her 5.00 budget
    await page.get_by_label("Keep my wallet at").select_option("3")
    await page.get_by_role("button", name="Save the top-up").click()
    await expect(page.locator(".auto-state")).to_have_text(
        "On: your wallet is kept at 3 months of budget."
    )
    await _fits(page)
    assert await _axe(page) == []
    # The worker charges; the card is declined: /money says so, and nothing was added
    await page.set_viewport_size({"width": 390, "height": 844})
    instance.cli("worker", "--once")
    await page.goto(f"{base}/money")
    await expect(page.get_by_text("did not go through (the card was declined)")).to_be_visible()
    await _fits(page)
    assert fake.intents_created == 1
    assert "ledger OK" in instance.cli("ledger", "check").stdout
