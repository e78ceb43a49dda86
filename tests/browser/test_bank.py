"""The admin imports a bank statement in Chromium on a 390 px wide screen, against a real
instance: the donor's page shows the bank account and her reference; the upload's preview
lists every credit before anything is booked; confirming books the matched one, once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.async_api import Page, expect

from tests.browser.test_imports import _fits
from tests.money.test_bank import statement
from tests.support.instances import LiveInstance

CONFIG = """[bank]
name = "Likewise Test e.V."
iban = "DE89370400440532013000"
bic = "COBADEFFXXX"
"""


async def _log_in(page: Page, base: str, name: str) -> None:
    await page.goto(f"{base}/login")
    await page.get_by_label("Username or e-mail").fill(name)
    await page.get_by_label("Password").fill("correct horse")
    await page.get_by_role("button", name="Log in").click()


async def test_the_admin_previews_and_confirms_a_statement_on_a_phone(
    instances: Callable[..., LiveInstance], page: Page, tmp_path: Path
) -> None:
    instance = instances(autostart=False)
    instance.data_dir.mkdir(parents=True)
    (instance.data_dir / "config.toml").write_text(CONFIG)
    for name, extra in (("ann", ()), ("boss", ("--admin",))):
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
    # The donor reads where to send money, and her reference
    await _log_in(page, base, "ann")
    await page.goto(f"{base}/money")
    await expect(page.locator(".bank-iban")).to_have_text("DE89 3704 0044 0532 0130 00")
    reference = (await page.locator(".bank-reference").inner_text()).strip()
    assert reference.startswith("RF")
    await _fits(page)
    await page.get_by_text("Menu", exact=True).click()  # on a phone the header is a menu
    await page.get_by_role("button", name="Log out").click()
    # The admin uploads the bank's statement: a preview, nothing booked yet
    ann_id = int(reference.replace(" ", "")[6:])
    file = tmp_path / "statement.xml"
    file.write_bytes(statement("camt053_day1.xml", {"ann": ann_id, "bob": 999}))
    await _log_in(page, base, "boss")
    await page.goto(f"{base}/admin/money/bank")
    await _fits(page)
    await page.get_by_label("Statement file").set_input_files(str(file))
    await page.get_by_role("button", name="Preview").click()
    lines = page.locator("tr.bank-line .goes-to")
    await expect(lines).to_have_text(["@ann", "unmatched", "unmatched"])
    await expect(page.locator(".summary")).to_contain_text("1 credit(s) match a donor")
    await _fits(page)
    await page.screenshot(path=str(tmp_path / "bank-preview-390.png"), full_page=True)
    # Confirming books Ann's 50.00 and lists the other two to assign
    await page.get_by_role("button", name="Book the matched credits").click()
    await expect(page.get_by_role("status")).to_contain_text("booked 1 credit(s), 50.00 EUR")
    await expect(page.locator("tr.waiting-credit")).to_have_count(2)
    await _fits(page)
    # The same file again books nothing more
    await page.get_by_label("Statement file").set_input_files(str(file))
    await page.get_by_role("button", name="Preview").click()
    await expect(lines).to_have_text(["already imported"] * 3)
    await page.get_by_role("button", name="Book the matched credits").click()
    await expect(page.get_by_role("status")).to_contain_text("booked 0 credit(s)")
    checked = instance.cli("ledger", "check")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    await page.goto(f"{base}/admin/money")
    await expect(page.locator("tr.credit")).to_have_count(1)
    await expect(page.locator("tr.credit")).to_contain_text("@boss")
