"""In Chromium against a real instance: a form refused for several fields shows every message
next to its field with a summary at the top, keeping what was typed (sign-up, the payout
request); a forgotten password is reset through the e-mailed link (the console backend writes
the message to the data directory, as in development)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path

from playwright.async_api import Page, expect
from sqlmodel import select

from server.db.engine import Database
from server.models import Account, LedgerKind, TransferKind
from server.money.ledger import Owner, TransferSpec, ledger_account_ids, post_transfer
from server.settings import Settings
from tests.support.instances import LiveInstance

LINK = re.compile(r"https?://\S+/password/reset/[A-Za-z0-9_-]+")


async def _log_in(page: Page, instance: LiveInstance, name: str, password: str) -> None:
    await page.goto(instance.base_url + "/login")
    await page.get_by_label("Username or e-mail").fill(name)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Log in").click()


async def test_sign_up_shows_every_wrong_field_at_once(
    instances: Callable[..., LiveInstance], page: Page, tmp_path: Path
) -> None:
    instance = instances()
    instance.cli("users", "create", "erin", "--email", "erin@example.org", "--password", "x" * 12)
    await page.goto(instance.base_url + "/signup")
    await page.get_by_label("Username").fill("erin")
    await page.get_by_label("Display name (optional)").fill("Erin Two")
    await page.get_by_label("E-mail").fill("erin@nowhere")
    await page.get_by_label("Password (at least 8 characters)").fill("short")
    await page.get_by_role("button", name="Sign up").click()
    summary = page.locator(".error-summary")
    await expect(summary).to_contain_text("Please correct the 3 fields marked below.")
    await expect(summary.get_by_role("link")).to_have_count(3)
    await expect(page.locator("#username-error")).to_have_text("that username is already taken")
    await expect(page.locator("#email-error")).to_have_text("that is not an e-mail address")
    await expect(page.locator("#password-error")).to_have_text(
        "password must have at least 8 characters"
    )
    await expect(page.get_by_label("Username")).to_have_attribute("aria-invalid", "true")
    await expect(page.get_by_label("Display name (optional)")).to_have_value("Erin Two")
    await expect(page.get_by_label("E-mail")).to_have_value("erin@nowhere")
    await page.screenshot(path=str(tmp_path / "signup-errors.png"), full_page=True)
    # A link of the summary takes the person to its field
    await summary.get_by_role("link", name="that is not an e-mail address").click()
    await expect(page).to_have_url(re.compile(r"#email$"))


async def _give_available(instance: LiveInstance, username: str, amount: int) -> None:
    """The creator's available balance, as a claim leaves it: credited to the wallet by the
    CLI, then moved over in the ledger."""
    instance.cli("wallet", "credit", username, f"{amount / 100:.2f}", "--reference", "seed")
    settings = Settings(data_dir=instance.data_dir, database_url=instance.database_url)
    db = Database(instance.database_url)
    try:
        async with db.transaction() as session:
            account = (
                await session.exec(select(Account).where(Account.username == username))
            ).one()
            source = Owner(LedgerKind.donor_wallet, account_id=account.id)
            target = Owner(LedgerKind.creator_available, account_id=account.id)
            ids = await ledger_account_ids(session, settings, [source, target])
            spec = TransferSpec(
                "test:available", ids[source], ids[target], amount, TransferKind.escrow_claim
            )
            await post_transfer(session, spec)
    finally:
        await db.dispose()


async def test_the_payout_form_shows_every_wrong_field_at_once(
    instances: Callable[..., LiveInstance], page: Page, tmp_path: Path
) -> None:
    instance = instances()
    instance.cli("users", "create", "cat", "--email", "cat@example.org", "--password", "x" * 12)
    await _give_available(instance, "cat", 3000)
    await _log_in(page, instance, "cat", "x" * 12)
    await page.goto(instance.base_url + "/money/creator")
    await page.get_by_label(re.compile(r"^Amount")).fill("5,00")
    await page.get_by_label("Account holder").fill("   ")
    await page.get_by_label("IBAN").fill("DE00 0000")
    await page.get_by_role("button", name="Request a payout").click()
    summary = page.locator(".error-summary")
    await expect(summary).to_contain_text("Please correct the 3 fields marked below.")
    await expect(page.locator("#amount-error")).to_contain_text("is not an amount like 10.00")
    await expect(page.locator("#name-error")).to_have_text(
        "give the account holder's name (1-70 characters)"
    )
    await expect(page.locator("#iban-error")).to_contain_text("that IBAN is not valid")
    await expect(page.get_by_label(re.compile(r"^Amount"))).to_have_value("5,00")
    await expect(page.get_by_label("IBAN")).to_have_value("DE00 0000")
    await page.screenshot(path=str(tmp_path / "payout-errors.png"), full_page=True)
    # Corrected, the same form requests the payout
    await page.get_by_label(re.compile(r"^Amount")).fill("12.00")
    await page.get_by_label("Account holder").fill("Cat Doe")
    await page.get_by_label("IBAN").fill("DE89370400440532013000")
    await page.get_by_role("button", name="Request a payout").click()
    await expect(page.get_by_role("status").first).to_contain_text("Payout requested")


async def _reset_message(instance: LiveInstance) -> EmailMessage:
    folder = instance.data_dir / "mail"
    for _ in range(100):  # the link is sent just after the answer
        found = sorted(folder.glob("*.eml")) if folder.exists() else []
        if found:
            message = message_from_bytes(found[-1].read_bytes(), policy=default)
            assert isinstance(message, EmailMessage)
            return message
        await asyncio.sleep(0.1)
    raise AssertionError("no message was written to the data directory")


async def test_a_forgotten_password_is_reset_through_the_e_mailed_link(
    instances: Callable[..., LiveInstance], page: Page, tmp_path: Path
) -> None:
    instance = instances()
    instance.cli("users", "create", "fay", "--email", "fay@example.org", "--password", "x" * 12)
    # Given Fay on the log-in page, her password forgotten
    await page.goto(instance.base_url + "/login")
    await page.get_by_role("link", name="Forgot your password?").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Forgot your password?")
    await page.get_by_label("Username or e-mail").fill("fay@example.org")
    await page.get_by_role("button", name="Send me a link").click()
    await expect(page.get_by_role("status")).to_contain_text(
        "If an account here goes by that name or address"
    )
    # When she opens the link of the message
    message = await _reset_message(instance)
    assert message["To"] == "fay@example.org"
    body = message.get_body(("plain",))
    assert body is not None
    link = LINK.search(body.get_content())
    assert link is not None
    await page.goto(link.group(0))
    await expect(page.get_by_role("heading", level=1)).to_have_text("Set a new password")
    await page.get_by_label("New password (at least 8 characters)").fill("short")
    await page.get_by_role("button", name="Set password").click()
    await expect(page.locator("#new_password-error")).to_have_text(
        "password must have at least 8 characters"
    )
    await page.get_by_label("New password (at least 8 characters)").fill("her new password")
    await page.get_by_role("button", name="Set password").click()
    # Then she is on the log-in page, told so, and logs in with the new password
    await expect(page).to_have_url(re.compile(r"/login$"))
    await expect(page.get_by_role("status")).to_contain_text("Your new password is set")
    await page.screenshot(path=str(tmp_path / "reset-done.png"), full_page=True)
    await _log_in(page, instance, "fay", "her new password")
    await expect(page.locator(".welcome")).to_contain_text("@fay")
    # And the link works no more
    await page.goto(link.group(0))
    await expect(page.get_by_role("alert")).to_contain_text("expired or was used already")
