"""The admin marks an unmatched bank credit returned, in Chromium on a 390 px wide screen
against a real instance: Carol Nobody's transfer (no reference) waits among the unmatched
credits; under "Return…" the admin ticks that the bank sent it back and marks it returned:
it leaves the list for "Returned credits", nothing is booked, and the ledger checks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.async_api import Page, expect

from tests.browser.test_bank import CONFIG, _log_in
from tests.browser.test_imports import _fits
from tests.browser.test_money_history import _axe
from tests.money.test_bank import statement
from tests.support.instances import LiveInstance


async def test_the_admin_marks_an_unmatched_credit_returned(
    instances: Callable[..., LiveInstance], page: Page, tmp_path: Path
) -> None:
    # Given an instance with a bank account and an admin, and a confirmed statement where
    # Ann's reference matches and Bob's and Carol's name nobody
    instance = instances(autostart=False)
    instance.data_dir.mkdir(parents=True)
    (instance.data_dir / "config.toml").write_text(CONFIG)
    for name, extra in (("ann", ()), ("boss", ("--admin",))):
        instance.cli(
            "users", "create", name, "--email", f"{name}@example.org",
            "--password", "correct horse", *extra,
        )  # fmt: skip
    file = tmp_path / "statement.xml"
    file.write_bytes(statement("camt053_day1.xml", {"ann": 1, "bob": 999}))
    assert "2 unmatched" in instance.cli("bank", "import", str(file), "--yes").stdout
    instance.start()
    base = instance.base_url
    await page.set_viewport_size({"width": 390, "height": 844})
    await _log_in(page, base, "boss")
    await page.goto(f"{base}/admin/money/bank")
    waiting = page.locator("tr.waiting-credit")
    await expect(waiting).to_have_count(2)
    carols = waiting.filter(has_text="Carol Nobody")
    # When the admin opens "Return…" under Carol's credit
    await carols.locator("summary").click()
    box = carols.get_by_role("checkbox", name="I have sent this money back through the bank")
    button = carols.get_by_role("button", name="Mark credit")
    await expect(box).to_be_visible()
    await _fits(page)
    await page.screenshot(path=str(tmp_path / "bank-return-open-390.png"), full_page=True)
    # Then without the tick the form is not sent
    await button.click()
    await expect(waiting).to_have_count(2)
    assert await box.evaluate("box => !box.validity.valid")
    # And with it the credit is marked returned and leaves the list
    await box.check()
    await button.click()
    await expect(page.get_by_role("status")).to_contain_text(
        "(7.00 EUR from Carol Nobody) marked returned; nothing was booked."
    )
    await expect(waiting).to_have_count(1)
    await expect(waiting).to_contain_text("Bob Sample")
    returned = page.locator("li.returned-credit")
    await expect(returned).to_have_count(1)
    await expect(returned).to_contain_text("7.00 EUR from Carol Nobody")
    await expect(returned).to_contain_text("by @boss")
    await _fits(page)
    await page.screenshot(path=str(tmp_path / "bank-returned-390.png"), full_page=True)
    await page.locator("tr.waiting-credit summary").click()  # Bob's form open too
    assert await _axe(page) == []
    # And the page reloaded (the POST not resent) shows the same; the books still balance
    await page.reload()
    await expect(page.locator("li.returned-credit")).to_have_count(1)
    assert "ledger OK" in instance.cli("ledger", "check").stdout
