"""A creator claims her Mastodon account on the creator page, in Chromium, against a real
instance and a Mastodon-shaped server on loopback ports."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect

from tests.support.instances import LiveInstance
from tests.support.mastodon import FakeMastodonServer, field_link
from tests.support.remote import serving


@pytest.fixture
def mastodon() -> Iterator[FakeMastodonServer]:
    fake = FakeMastodonServer()
    fake.add("bob")
    with serving(fake) as running:
        yield running


def _liked_and_closed(instance: LiveInstance, mastodon: FakeMastodonServer) -> None:
    """dora likes bob's post through the money API; the month is closed early."""
    instance.cli("users", "create", "dora", "--email", "d@example.org", "--password", "pw-123456")
    instance.cli("wallet", "credit", "dora", "20.00", "--reference", "bank-1")
    token = instance.cli("tokens", "create", "dora").stdout.strip().split()[-1]
    auth = {"Authorization": f"Bearer {token}"}
    api = f"{instance.base_url}/api/v1/likewise"
    liked = httpx.post(f"{api}/likes", json={"uri": mastodon.post("bob")}, headers=auth)
    assert liked.status_code == 201, liked.text
    running = httpx.get(f"{api}/me", headers=auth).json()["period"]["id"]
    closed = instance.cli("period", "close", "--period", running, "--force")
    assert ": closed" in closed.stdout, closed.stdout + closed.stderr


async def test_a_creator_claims_her_mastodon_account_on_the_creator_page(
    instances: Callable[..., LiveInstance],
    mastodon: FakeMastodonServer,
    page: Page,
    tmp_path: Path,
) -> None:
    # Given 5.00 EUR set aside for bob's Mastodon account
    instance = instances()
    _liked_and_closed(instance, mastodon)
    # And cat signs up and opens what she received
    await page.goto(instance.base_url + "/signup")
    await page.get_by_label("Username").fill("cat")
    await page.get_by_label("E-mail").fill("cat@example.org")
    await page.get_by_label("Password").fill("correct horse")
    await page.get_by_role("button", name="Sign up").click()
    await page.goto(instance.base_url + "/money/creator")
    profile = f"{instance.base_url}/@cat"
    await expect(page.locator("code.profile-url")).to_have_text(profile)
    # When she names bob's account before its profile links to hers
    handle = f"@bob@{mastodon.host}"
    await page.get_by_label("Your account elsewhere").fill(handle)
    await page.get_by_role("button", name="Claim this account").click()
    # Then the page says exactly what to add, and nothing moved
    alert = page.get_by_role("alert")
    await expect(alert).to_contain_text(f"whose value is just {profile}")
    await expect(page.locator("dd.available")).to_have_text("0.00 EUR")
    await page.screenshot(path=str(tmp_path / "claim-link-missing.png"), full_page=True)
    # When bob's profile gets the field and she claims again
    mastodon.add("bob", ("Likewise", field_link(profile)))
    await expect(page.get_by_label("Your account elsewhere")).to_have_value(handle)
    await page.get_by_role("button", name="Claim this account").click()
    # Then the money is hers, and her profile links back to bob with rel="me"
    await expect(page.get_by_role("status")).to_contain_text("Claimed 5.00 EUR")
    await expect(page.locator("dd.available")).to_have_text("5.00 EUR")
    await expect(page.locator("tr.received .amount")).to_have_text("5.00 EUR")
    await page.screenshot(path=str(tmp_path / "claim-done.png"), full_page=True)
    await page.goto(profile)
    link = page.get_by_role("link", name=handle)
    await expect(link).to_have_attribute("rel", "me")
    await expect(link).to_have_attribute("href", mastodon.profile("bob"))
    assert "ledger OK" in instance.cli("ledger", "check").stdout
    assert "Traceback" not in instance.read_log()
