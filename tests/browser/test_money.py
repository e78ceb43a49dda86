from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
from playwright.async_api import Page, expect
from sqlmodel import select

from server.accounts.actors import actor_uri
from server.db.engine import Database
from server.donations.budget import update_donor_settings
from server.donations.periods import period_of, period_start, previous_period
from server.models import Period
from server.models.base import utcnow
from server.settings import Settings
from tests.support.instances import LiveInstance
from tests.support.ledger import fediverse_thing, like


def _local_post(instance: LiveInstance) -> str:
    instance.cli(
        "users", "create", "cat", "--email", "cat@example.org", "--password", "correct horse"
    )
    token = instance.cli("tokens", "create", "cat").stdout.strip().split()[-1]
    created = httpx.post(
        f"{instance.base_url}/api/v1/statuses",
        json={"status": "My first song"},
        headers={"Authorization": f"Bearer {token}"},
    )
    created.raise_for_status()
    return str(created.json()["url"])


async def test_a_donor_sets_a_budget_likes_with_the_button_and_sees_the_share(
    instances: Callable[..., LiveInstance], page: Page, tmp_path: Path
) -> None:
    # Given an instance with a creator's post and a funded donor
    instance = instances()
    post_url = _local_post(instance)
    instance.cli(
        "users", "create", "dora", "--email", "d@example.org", "--password", "correct horse"
    )
    instance.cli("wallet", "credit", "dora", "20.00", "--reference", "bank-1")
    await page.goto(instance.base_url + "/login")
    await page.get_by_label("Username or e-mail").fill("dora")
    await page.get_by_label("Password").fill("correct horse")
    await page.get_by_role("button", name="Log in").click()
    # When she sets her monthly budget
    await page.goto(instance.base_url + "/money")
    await page.get_by_label("Monthly budget").fill("6.00")
    await page.get_by_role("button", name="Save").click()
    await expect(page.locator(".budget")).to_contain_text("6.00 EUR")
    # And likes the post with its button
    await page.goto(f"{instance.base_url}/button?url={quote(post_url, safe='')}")
    await page.get_by_role("button", name="Like this").click()
    await expect(page.get_by_role("status")).to_contain_text("Liked.")
    # Then her dashboard shows the projected share and a pie chart slice with a title
    await page.get_by_role("link", name="Your budget and this month's likes").click()
    await expect(page.locator("td.share")).to_have_text(["6.00 EUR"])
    chart = page.get_by_role("img", name="How 6.00 EUR would be shared among 1 likes")
    await expect(chart).to_be_visible()
    await expect(chart.locator("path title")).to_contain_text(["6.00 EUR (100.0%)"])
    await page.get_by_role("link", name="Show the shares as a table").click()
    await page.screenshot(path=str(tmp_path / "money-dashboard.png"), full_page=True)


async def _liked_before_cat_joined(instance: LiveInstance) -> None:
    """Dora liked a post by cat's actor last month, before cat had an account."""
    settings = Settings(
        data_dir=instance.data_dir, domain=instance.domain, database_url=instance.database_url
    )
    db = Database(instance.database_url)
    try:
        async with db.transaction() as session:
            await update_donor_settings(session, settings, 1, monthly_budget=600)
        actor = actor_uri(settings, "cat")
        at = period_start(previous_period(period_of(utcnow()))) + timedelta(days=5)
        await like(db, settings, 1, fediverse_thing(f"{actor}/statuses/1", actor), at=at)
    finally:
        await db.dispose()


async def _last_month_closed(instance: LiveInstance) -> None:
    db = Database(instance.database_url)
    try:
        for _ in range(120):
            async with db.session() as session:
                last = previous_period(period_of(utcnow()))
                stage = (await session.exec(select(Period.stage).where(Period.id == last))).first()
            if stage == "closed":
                return
            await asyncio.sleep(0.5)
        raise AssertionError(f"last month was not closed:\n{instance.read_log()}")
    finally:
        await db.dispose()


async def test_what_supporters_set_aside_before_she_joined_is_hers_when_she_joins(
    instances: Callable[..., LiveInstance], page: Page, tmp_path: Path
) -> None:
    # Given a like last month for cat's actor before she joined, closed by the worker
    instance = instances(autostart=False)
    instance.cli(
        "users", "create", "dora", "--email", "d@example.org", "--password", "correct horse"
    )
    instance.cli("wallet", "credit", "dora", "20.00", "--reference", "bank-1")
    await _liked_before_cat_joined(instance)
    instance.start()
    await _last_month_closed(instance)
    # When the admin creates cat's account
    created = instance.cli(
        "users", "create", "cat", "--email", "c@example.org", "--password", "correct horse"
    )
    assert "@cat received 6.00 EUR" in created.stdout
    # And cat logs in and opens what she received
    await page.goto(instance.base_url + "/login")
    await page.get_by_label("Username or e-mail").fill("cat")
    await page.get_by_label("Password").fill("correct horse")
    await page.get_by_role("button", name="Log in").click()
    await page.goto(instance.base_url + "/money/creator")
    # Then the money is in her available balance, shown as set aside for her, none waiting
    await expect(page.locator("dd.available")).to_have_text("6.00 EUR")
    received = page.locator("tr.received")
    await expect(received.locator("td").first).to_have_text(f"{instance.base_url}/users/cat")
    await expect(received.locator(".amount")).to_have_text("6.00 EUR")
    await expect(page.locator("tr.waiting")).to_have_count(0)
    await page.screenshot(path=str(tmp_path / "creator-received.png"), full_page=True)
    assert "ledger OK" in instance.cli("ledger", "check").stdout
