"""Mastodon.py signs in to a live instance as an app does: it registers, sends the person
to the real log-in and consent pages (driven in Chromium), trades the code shown on the
out-of-band page for a token, then posts and reads the account; or, redirected to the
app's loopback address, gets the code and state there, force_login asking for a log-in
even with a session."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from mastodon import Mastodon
from playwright.async_api import Page, Route, expect

from tests.support.instances import LiveInstance

OOB = "urn:ietf:wg:oauth:2.0:oob"
CALLBACK = "http://127.0.0.1:9/oauth-callback"  # caught in the browser: nothing listens
SCOPES = ["read", "write", "follow"]
# Nothing on the page, its header included, reaches past a phone's width.
WIDEST = """[...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > 390)
  .map(e => e.tagName + '.' + e.className + ':' + Math.round(e.getBoundingClientRect().right))
  .slice(0, 5).join(' ')"""
SETTINGS = ("/settings/applications", "/settings/tokens", "/settings/password")


async def test_mastodon_py_signs_in_through_the_pages(
    instances: Callable[..., LiveInstance], page: Page
) -> None:
    instance = instances()
    instance.cli(
        "users", "create", "dora", "--email", "dora@example.org", "--password", "correct horse"
    )
    # Given an app registered by Mastodon.py
    client_id, client_secret = await asyncio.to_thread(
        Mastodon.create_app,
        "Mastodon.py test",
        scopes=SCOPES,
        redirect_uris=OOB,
        api_base_url=instance.base_url,
    )
    api = Mastodon(
        client_id=client_id,
        client_secret=client_secret,
        api_base_url=instance.base_url,
        version_check_mode="created",  # reads /api/v2/instance
    )
    url = await asyncio.to_thread(
        api.auth_request_url, redirect_uris=OOB, scopes=SCOPES, state="s1", allow_http=True
    )
    # When the person logs in and authorizes it in the browser
    await page.goto(url)
    await page.get_by_label("Username or e-mail").fill("dora")
    await page.get_by_label("Password").fill("correct horse")
    await page.get_by_role("button", name="Log in").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Authorize Mastodon.py test?")
    await expect(page.locator(".scopes")).to_contain_text("follow")
    await page.get_by_role("button", name="Authorize").click()
    code = await page.locator("#code").input_value()
    # Then Mastodon.py trades the code and acts as the person
    token = await asyncio.to_thread(
        api.log_in, code=code, redirect_uri=OOB, scopes=SCOPES, allow_http=True
    )
    assert token
    me = await asyncio.to_thread(api.account_verify_credentials)
    assert me["username"] == "dora"
    posted = await asyncio.to_thread(api.status_post, "Hello from Mastodon.py")
    assert "Hello from Mastodon.py" in posted["content"]
    assert posted["account"]["username"] == "dora"
    app = await asyncio.to_thread(api.app_verify_credentials)
    assert app["name"] == "Mastodon.py test"


async def test_consent_and_settings_pages_fit_a_phone(
    instances: Callable[..., LiveInstance], page: Page, tmp_path: Path
) -> None:
    instance = instances()
    instance.cli(
        "users", "create", "dora", "--email", "dora@example.org", "--password", "correct horse"
    )
    client_id, _ = await asyncio.to_thread(
        Mastodon.create_app,
        "A phone app with a rather long name",
        scopes=SCOPES,
        redirect_uris=OOB,
        api_base_url=instance.base_url,
    )
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.goto(f"{instance.base_url}/login")
    await page.get_by_label("Username or e-mail").fill("dora")
    await page.get_by_label("Password").fill("correct horse")
    await page.get_by_role("button", name="Log in").click()
    consent = (
        f"{instance.base_url}/oauth/authorize?response_type=code&client_id={client_id}"
        f"&redirect_uri={OOB}&scope=read+write+follow"
    )
    for path in (consent, *(instance.base_url + p for p in SETTINGS)):
        await page.goto(path)
        wide = await page.evaluate(WIDEST)
        assert wide == "", f"{path} is wider than 390 px: {wide}"
    await page.goto(instance.base_url + "/settings/tokens")
    await page.screenshot(path=str(tmp_path / "tokens-390.png"), full_page=True)
    await page.get_by_label("Name", exact=True).fill("phone")
    await page.get_by_role("button", name="Create token").click()
    await expect(page.locator("#new-token")).not_to_have_value("")


async def test_mastodon_py_redirect_flow_with_force_login(
    instances: Callable[..., LiveInstance], page: Page
) -> None:
    instance = instances()
    for name in ("dora", "emil"):
        instance.cli(
            "users", "create", name, "--email", f"{name}@example.org", "--password", "correct horse"
        )
    client_id, client_secret = await asyncio.to_thread(
        Mastodon.create_app,
        "Redirecting app",
        scopes=SCOPES,
        redirect_uris=CALLBACK,
        api_base_url=instance.base_url,
    )
    api = Mastodon(client_id, client_secret, api_base_url=instance.base_url)
    caught: list[str] = []

    async def catch(route: Route) -> None:  # the app's loopback listener
        caught.append(route.request.url)
        await route.fulfill(status=200, body="signed in")

    await page.route(CALLBACK + "**", catch)
    # Given dora is logged in on the instance
    await page.goto(f"{instance.base_url}/login")
    await page.get_by_label("Username or e-mail").fill("dora")
    await page.get_by_label("Password").fill("correct horse")
    await page.get_by_role("button", name="Log in").click()
    # When the app asks with force_login, emil logs in on the same browser and authorizes
    url = await asyncio.to_thread(
        api.auth_request_url,
        redirect_uris=CALLBACK,
        scopes=SCOPES,
        force_login=True,
        state="s2",
        allow_http=True,
    )
    await page.goto(url)
    await page.get_by_label("Username or e-mail").fill("emil")
    await page.get_by_label("Password").fill("correct horse")
    await page.get_by_role("button", name="Log in").click()
    await page.get_by_role("button", name="Authorize").click()
    await expect(page.locator("body")).to_have_text("signed in")
    # Then the redirect carries the code and state, and the token is emil's
    query = parse_qs(urlsplit(caught[0]).query)
    assert query["state"] == ["s2"]
    await asyncio.to_thread(
        api.log_in, code=query["code"][0], redirect_uri=CALLBACK, scopes=SCOPES, allow_http=True
    )
    me = await asyncio.to_thread(api.account_verify_credentials)
    assert me["username"] == "emil"
