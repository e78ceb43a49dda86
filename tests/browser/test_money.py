from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.support.instances import LiveInstance

pytestmark = [pytest.mark.browser, pytest.mark.live]


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
