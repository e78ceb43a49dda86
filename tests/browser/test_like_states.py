"""A post's like button in Chromium on a 390 px wide screen, against a real instance: a
like given while the budget is paused says it is not counted, and is counted when liked
again after resuming; one's own post says one's own work never counts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.async_api import Page, expect
from sqlmodel import select

from server.db.engine import Database
from server.donations.budget import update_donor_settings
from server.models import Account
from server.settings import Settings
from tests.support.instances import LiveInstance

PASSWORD = "correct horse"
WIDEST = """[...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > 390)
  .map(e => e.tagName + '.' + e.className + ':' + Math.round(e.getBoundingClientRect().right))
  .slice(0, 5).join(' ')"""


async def _fits(page: Page) -> None:
    wide = await page.evaluate(WIDEST)
    assert wide == "", f"{page.url} is wider than 390 px: {wide}"


def _post(instance: LiveInstance) -> str:
    """cat's post, written through the client API: its page's URL."""
    instance.cli("users", "create", "cat", "--email", "cat@example.org", "--password", PASSWORD)
    token = instance.cli("tokens", "create", "cat").stdout.strip().split()[-1]
    created = httpx.post(
        f"{instance.base_url}/api/v1/statuses",
        json={"status": "My first song"},
        headers={"Authorization": f"Bearer {token}"},
    )
    created.raise_for_status()
    return str(created.json()["url"])


async def _pause(instance: LiveInstance, username: str, paused: bool) -> None:
    settings = Settings(
        data_dir=instance.data_dir, domain=instance.domain, database_url=instance.database_url
    )
    db = Database(instance.database_url)
    try:
        async with db.transaction() as session:
            found = await session.exec(select(Account.id).where(Account.username == username))
            await update_donor_settings(session, settings, found.one() or 0, paused=paused)
    finally:
        await db.dispose()


async def _log_in(page: Page, instance: LiveInstance, name: str) -> None:
    await page.goto(instance.base_url + "/login")
    await page.get_by_label("Username or e-mail").fill(name)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator('form[action="/logout"]')).to_have_count(1)  # in the menu


async def test_a_paused_like_says_so_and_counts_once_liked_again_on_a_phone(
    instances: Callable[..., LiveInstance], page: Page, tmp_path: Path
) -> None:
    # Given cat's post, and dora, whose budget is paused, on a phone
    instance = instances()
    post = _post(instance)
    instance.cli("users", "create", "dora", "--email", "d@example.org", "--password", PASSWORD)
    await _pause(instance, "dora", True)
    await page.set_viewport_size({"width": 390, "height": 844})
    await _log_in(page, instance, "dora")
    # When she likes the post
    await page.goto(post)
    await page.get_by_role("button", name="Like", exact=True).click()
    # Then the page says her like is not counted, and where to resume
    note = page.get_by_role("note")
    await expect(note).to_contain_text("Your budget is paused: this like is not counted")
    await expect(note.get_by_role("link", name="Resume your budget")).to_be_visible()
    await expect(page.get_by_role("button", name="Like again this month")).to_have_count(0)
    await _fits(page)
    await page.screenshot(path=str(tmp_path / "like-paused-390.png"), full_page=True)
    # When she resumes her budget and opens the post again
    await _pause(instance, "dora", False)
    await page.reload()
    # Then it offers to count her like this month, and liking again counts it
    await expect(page.locator(".like-state")).to_contain_text("Liked, but not counted")
    await _fits(page)
    await page.get_by_role("button", name="Like again this month").click()
    await expect(page.get_by_role("button", name="Unlike")).to_be_visible()
    await expect(page.get_by_role("button", name="Like again this month")).to_have_count(0)
    await expect(page.get_by_role("note")).to_have_count(0)


async def test_ones_own_post_says_ones_own_work_never_counts_on_a_phone(
    instances: Callable[..., LiveInstance], page: Page, tmp_path: Path
) -> None:
    instance = instances()
    post = _post(instance)
    await page.set_viewport_size({"width": 390, "height": 844})
    await _log_in(page, instance, "cat")
    await page.goto(post)
    await page.get_by_role("button", name="Like", exact=True).click()
    await expect(page.get_by_role("note")).to_contain_text(
        "This is your own post: liking your own work never counts"
    )
    await expect(page.get_by_role("button", name="Unlike")).to_be_visible()
    await _fits(page)
    await page.screenshot(path=str(tmp_path / "like-own-390.png"), full_page=True)
