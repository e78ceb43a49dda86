"""The admin assigns a bank credit nobody's reference matched, in Chromium on a 390 px wide
screen against a real instance: after importing the statement, Bob's transfer (his reference
mistyped) waits among the unmatched credits; assigned to @bob it books once, leaves the list,
and Bob's money page shows it in his wallet, as a line of his history and as the guide's
first step done."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.async_api import Page, expect

from tests.browser.test_bank import CONFIG, _log_in
from tests.browser.test_imports import _fits
from tests.money.test_bank import statement
from tests.support.instances import LiveInstance


async def test_the_admin_assigns_an_unmatched_credit_to_a_donor(
    instances: Callable[..., LiveInstance], page: Page, tmp_path: Path
) -> None:
    # Given an instance with a bank account, Ann, Bob and an admin
    instance = instances(autostart=False)
    instance.data_dir.mkdir(parents=True)
    (instance.data_dir / "config.toml").write_text(CONFIG)
    for name, extra in (("ann", ()), ("bob", ()), ("boss", ("--admin",))):
        instance.cli(
            "users",
            "create",
            name,
            "--email",
            f"{name}@example.org",
            "--password",
            "correct horse",
            *extra,
        )
    instance.start()
    base = instance.base_url
    await page.set_viewport_size({"width": 390, "height": 844})
    # And a statement where Ann's reference matches and Bob's names no account
    file = tmp_path / "statement.xml"
    file.write_bytes(statement("camt053_day1.xml", {"ann": 1, "bob": 999}))
    await _log_in(page, base, "boss")
    await page.goto(f"{base}/admin/money/bank")
    await page.get_by_label("Statement file").set_input_files(str(file))
    await page.get_by_role("button", name="Preview").click()
    await page.get_by_role("button", name="Book the matched credits").click()
    await expect(page.get_by_role("status")).to_contain_text("booked 1 credit(s), 50.00 EUR")
    waiting = page.locator("tr.waiting-credit")
    await expect(waiting).to_have_count(2)
    # When the admin assigns Bob Sample's 12.34 to @bob
    bobs = waiting.filter(has_text="Bob Sample")
    await bobs.get_by_role("textbox").fill("bob")
    await _fits(page)
    await bobs.get_by_role("button", name="Assign").click()
    # Then it is booked to Bob and leaves the list; the other still waits
    await expect(page.get_by_role("status")).to_contain_text("Credited 12.34 EUR to @bob")
    await expect(waiting).to_have_count(1)
    await expect(waiting).to_contain_text("Carol Nobody")
    await _fits(page)
    await page.screenshot(path=str(tmp_path / "bank-assigned-390.png"), full_page=True)
    # And an unknown name is refused with the form kept, nothing booked
    await waiting.get_by_role("textbox").fill("nobody-here")
    await waiting.get_by_role("button", name="Assign").click()
    await expect(page.locator("p.error, .error").first).to_be_visible()
    await expect(page.locator("tr.waiting-credit")).to_have_count(1)
    assert "ledger OK" in instance.cli("ledger", "check").stdout
    # Bob sees the money in his wallet, as a line of his history and the guide's first step
    await page.context.clear_cookies()
    await _log_in(page, base, "bob")
    await page.goto(f"{base}/money")
    await expect(page.locator("dd.wallet")).to_have_text("12.34 EUR")
    line = page.locator("tr.wallet-line.funding")
    await expect(line.locator(".what")).to_have_text(["Money added"])
    await expect(line.locator(".amount")).to_have_text(["+12.34 EUR"])
    await expect(page.locator('li[data-step="add-money"]')).to_have_class("guide-step done")
    await _fits(page)
