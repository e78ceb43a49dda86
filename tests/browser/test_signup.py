from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.async_api import Page, expect

from tests.support.instances import LiveInstance


async def test_sign_up_log_out_and_log_in_again(
    instances: Callable[..., LiveInstance], page: Page, tmp_path: Path
) -> None:
    instance = instances()
    # Given a new visitor on the home page
    await page.goto(instance.base_url + "/")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Likewise")
    # When they sign up
    await page.get_by_role("link", name="Create an account").click()
    await page.get_by_label("Username").fill("dora")
    await page.get_by_label("E-mail").fill("dora@example.org")
    await page.get_by_label("Password (at least 8 characters)").fill("correct horse")
    await page.get_by_role("button", name="Sign up").click()
    # Then they land on the home page, logged in
    await expect(page.locator(".welcome")).to_contain_text("@dora")
    await page.screenshot(path=str(tmp_path / "home-logged-in.png"))
    # And can log out and back in
    await page.get_by_role("button", name="Log out").click()
    await expect(page.get_by_role("link", name="Log in").first).to_be_visible()
    await page.get_by_role("link", name="Log in").first.click()
    await page.get_by_label("Username or e-mail").fill("dora")
    await page.get_by_label("Password").fill("correct horse")
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator(".welcome")).to_contain_text("You are logged in")


async def test_wrong_password_is_explained(
    instances: Callable[..., LiveInstance], page: Page
) -> None:
    instance = instances()
    instance.cli(
        "users", "create", "erin", "--email", "erin@example.org", "--password", "correct horse"
    )
    await page.goto(instance.base_url + "/login")
    await page.get_by_label("Username or e-mail").fill("erin")
    await page.get_by_label("Password").fill("not the password")
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("alert")).to_have_text("Wrong username or password.")
