"""The terms of service and the privacy policy: a default saying the admin has not written
them yet, then what the admin wrote at /admin/terms (plain text: paragraphs, escaped); linked
from every page's footer and the sign-up form, and named in the instance API."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette

from server.social.instance_texts import MAX_CHARACTERS
from tests.support.accounts import csrf_from, log_in, make_account


async def test_the_pages_say_the_admin_has_not_written_them_yet(
    client: httpx.AsyncClient,
) -> None:
    for path, title in (("/terms", "Terms of service"), ("/privacy", "Privacy policy")):
        page = await client.get(path)
        assert page.status_code == 200
        assert f"<h1>{title}</h1>" in page.text
        assert f"has not written the {title.lower()} yet" in page.text
    home = await client.get("/")
    assert 'href="/terms"' in home.text and 'href="/privacy"' in home.text
    signup = await client.get("/signup")
    assert "you agree to this instance's" in signup.text
    assert 'href="/terms">terms of service</a>' in signup.text


async def test_the_admin_writes_both_and_everyone_reads_them(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_account(app, "root1", admin=True)
    await log_in(client, "root1")
    assert 'href="/admin/terms"' in (await client.get("/terms")).text  # where admins write
    page = await client.get("/admin/terms")
    assert page.status_code == 200
    terms = "Be kind.\nNo spam.\n\nLikes are <b>donations</b>."
    saved = await client.post(
        "/admin/terms",
        data={
            "terms": terms,
            "privacy": "We keep your e-mail.",
            "csrf_token": csrf_from(page.text),
        },
    )
    assert saved.status_code == 303 and saved.headers["location"] == "/admin/terms"
    again = await client.get("/admin/terms")
    assert "are saved" in again.text and "Likes are &lt;b&gt;donations&lt;/b&gt;." in again.text
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50001))
    anonymous = httpx.AsyncClient(transport=transport, base_url=str(client.base_url))
    async with anonymous:
        shown = await anonymous.get("/terms")
        assert "<p>Be kind.<br>No spam.</p>" in shown.text
        assert "<p>Likes are &lt;b&gt;donations&lt;/b&gt;.</p>" in shown.text
        assert "has not written" not in shown.text and "Last changed" in shown.text
        assert 'href="/admin/terms"' not in shown.text
        assert "We keep your e-mail." in (await anonymous.get("/privacy")).text
    # Emptied, a page says again that it is not written
    cleared = await client.post(
        "/admin/terms", data={"terms": "", "privacy": "", "csrf_token": csrf_from(page.text)}
    )
    assert cleared.status_code == 303
    assert "has not written the terms of service yet" in (await client.get("/terms")).text


async def test_both_texts_too_long_are_refused_at_once_and_kept(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_account(app, "root1", admin=True)
    await log_in(client, "root1")
    page = await client.get("/admin/terms")
    long = "x" * (MAX_CHARACTERS + 1)
    refused = await client.post(
        "/admin/terms",
        data={"terms": long, "privacy": long + "y", "csrf_token": csrf_from(page.text)},
    )
    assert refused.status_code == 422
    assert 'id="terms-error"' in refused.text and 'id="privacy-error"' in refused.text
    assert "Please correct the 2 fields marked below." in refused.text
    assert long + "y" in refused.text
    assert "has not written" in (await client.get("/terms")).text


async def test_only_an_admin_writes_them(app: Starlette, client: httpx.AsyncClient) -> None:
    assert (await client.get("/admin/terms", headers={"Accept": "text/html"})).status_code in (
        303,
        401,
    )
    await make_account(app, "alice")
    await log_in(client, "alice")
    page = await client.get("/account")
    refused = await client.post(
        "/admin/terms",
        data={"terms": "Mine now", "privacy": "", "csrf_token": csrf_from(page.text)},
    )
    assert refused.status_code == 403
    assert "Mine now" not in (await client.get("/terms")).text


async def test_the_instance_api_names_both_pages(client: httpx.AsyncClient) -> None:
    urls = (await client.get("/api/v2/instance")).json()["configuration"]["urls"]
    base = str(client.base_url).rstrip("/")
    assert urls["terms_of_service"] == f"{base}/terms"
    assert urls["privacy_policy"] == f"{base}/privacy"


async def test_the_instance_api_serves_both_as_mastodon_does(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    # Before the admin writes anything: the default privacy policy, no terms (404)
    policy = await client.get("/api/v1/instance/privacy_policy")
    assert policy.status_code == 200 and set(policy.json()) == {"updated_at", "content"}
    assert "has not written the privacy policy yet" in policy.json()["content"]
    assert (await client.get("/api/v1/instance/terms_of_service")).status_code == 404
    # The admin writes both
    await make_account(app, "root1", admin=True)
    await log_in(client, "root1")
    page = await client.get("/admin/terms")
    form = {"terms": "Be kind.\nNo <spam>.", "privacy": "We keep your e-mail.", "csrf_token": ""}
    form["csrf_token"] = csrf_from(page.text)
    assert (await client.post("/admin/terms", data=form)).status_code == 303
    # Then apps read them as HTML, escaped, with their dates
    terms = (await client.get("/api/v1/instance/terms_of_service")).json()
    assert terms["content"] == "<p>Be kind.<br>No &lt;spam&gt;.</p>"
    assert terms["effective"] is True and terms["succeeded_by"] is None
    assert len(terms["effective_date"]) == 10  # YYYY-MM-DD
    policy = (await client.get("/api/v1/instance/privacy_policy")).json()
    assert policy["content"] == "<p>We keep your e-mail.</p>"
    assert policy["updated_at"][:10] == terms["effective_date"]
