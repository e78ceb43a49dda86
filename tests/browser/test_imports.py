"""A donor imports an Instagram export in Chromium on a 390 px wide screen, against a real
instance (its own worker reads the file): upload, the progress page, the preview, confirm."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.async_api import Page, expect

from tests.imports.support import instagram_export, long_ago, this_month
from tests.support.instances import LiveInstance

# Nothing on the page, its header included, reaches past a phone's width.
WIDEST = """[...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > 390)
  .map(e => e.tagName + '.' + e.className + ':' + Math.round(e.getBoundingClientRect().right))
  .slice(0, 5).join(' ')"""


async def _fits(page: Page) -> None:
    wide = await page.evaluate(WIDEST)
    assert wide == "", f"{page.url} is wider than 390 px: {wide}"


async def test_a_donor_uploads_previews_and_confirms_an_export_on_a_phone(
    instances: Callable[..., LiveInstance], page: Page, tmp_path: Path
) -> None:
    instance = instances()
    instance.cli(
        "users", "create", "dora", "--email", "dora@example.org", "--password", "correct horse"
    )
    export = tmp_path / "liked_posts.json"
    export.write_bytes(
        instagram_export(
            [
                ("a.photographer.longer_name", "CaaaaaaaaA1", this_month(1)),
                ("bob_makes", "CbbbbbbbbB2", this_month(2)),
                ("carol", "CccccccccC3", long_ago()),
            ]
        )
    )
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.goto(f"{instance.base_url}/login")
    await page.get_by_label("Username or e-mail").fill("dora")
    await page.get_by_label("Password").fill("correct horse")
    await page.get_by_role("button", name="Log in").click()
    # The upload form fits a phone
    await page.goto(f"{instance.base_url}/settings/imports")
    await _fits(page)
    await page.get_by_label("Network").select_option("instagram")
    await page.get_by_label("The export file or zip").set_input_files(str(export))
    await page.get_by_role("button", name="Upload and read").click()
    # The worker reads it; the page turns into the preview by itself
    await expect(page.locator("#in-period")).to_have_text("2", timeout=20_000)
    await expect(page.locator("#older")).to_have_text("1")
    await expect(page.locator("#found")).to_have_text("3")
    await expect(page.locator("ul.older")).to_contain_text("@carol")
    await _fits(page)
    await page.screenshot(path=str(tmp_path / "import-preview-390.png"), full_page=True)
    # Confirming counts the two likes of this month
    await page.get_by_role("button", name="Confirm: count 2 likes").click()
    await expect(page.get_by_role("status")).to_have_text("Confirmed: 2 likes counted.")
    await expect(page.locator("#counted")).to_have_text("2")
    await _fits(page)
    await page.screenshot(path=str(tmp_path / "import-counted-390.png"), full_page=True)
    await page.goto(f"{instance.base_url}/money")
    await expect(page.locator("body")).to_contain_text("bob_makes")
