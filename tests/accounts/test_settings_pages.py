"""The settings pages, through HTTP as a browser uses them: authorized apps (revoked),
personal access tokens (made with chosen scopes, shown once, revoked), the password."""

from __future__ import annotations

import re

import httpx
from starlette.applications import Starlette

from tests.accounts.oauth_steps import bearer, code_for, exchange, register
from tests.support.accounts import csrf_from, log_in, make_account

NEW_TOKEN = re.compile(r'id="new-token" type="text" readonly value="([^"]+)"')


async def test_pages_need_a_log_in(client: httpx.AsyncClient) -> None:
    for path in ("/settings/applications", "/settings/tokens", "/settings/password"):
        response = await client.get(path)
        assert response.status_code == 303
        assert response.headers["location"] == f"/login?next={path}"


async def test_an_authorized_app_is_listed_and_revoked(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_account(app, "alice")
    registered = await register(client)
    await log_in(client, "alice")
    token = (await exchange(client, registered, await code_for(client, registered))).json()
    page = await client.get("/settings/applications")
    assert page.status_code == 200
    assert "Test App" in page.text and "read write" in page.text
    action = re.search(r'action="(/settings/applications/\d+/revoke)"', page.text)
    assert action is not None
    revoked = await client.post(action.group(1), data={"csrf_token": csrf_from(page.text)})
    assert revoked.status_code == 303
    after = await client.get("/settings/applications")
    assert (
        "The app no longer has access to your account." in after.text
        and "Test App" not in after.text
    )
    me = await client.get(
        "/api/v1/accounts/verify_credentials", headers=bearer(token["access_token"])
    )
    assert me.status_code == 401


async def test_a_personal_token_is_shown_once_and_revoked(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_account(app, "alice")
    await log_in(client, "alice")
    page = await client.get("/settings/tokens")
    made = await client.post(
        "/settings/tokens",
        data={
            "name": "my script",
            "scopes": ["read", "write:favourites"],
            "csrf_token": csrf_from(page.text),
        },
    )
    assert made.status_code == 200
    shown = NEW_TOKEN.search(made.text)
    assert shown is not None
    token = shown.group(1)
    me = await client.get("/api/v1/accounts/verify_credentials", headers=bearer(token))
    assert me.status_code == 200 and me.json()["username"] == "alice"
    listed = await client.get("/settings/tokens")
    assert "my script" in listed.text and token not in listed.text
    assert "read write:favourites" in listed.text
    action = re.search(r'action="(/settings/tokens/\d+/revoke)"', listed.text)
    assert action is not None
    await client.post(action.group(1), data={"csrf_token": csrf_from(listed.text)})
    gone = await client.get("/api/v1/accounts/verify_credentials", headers=bearer(token))
    assert gone.status_code == 401


async def test_a_token_needs_a_scope_and_a_form_from_this_site(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_account(app, "alice")
    await log_in(client, "alice")
    page = await client.get("/settings/tokens")
    refused = await client.post(
        "/settings/tokens", data={"name": "none", "csrf_token": csrf_from(page.text)}
    )
    assert refused.status_code == 422 and "choose at least one scope" in refused.text
    forged = await client.post("/settings/tokens", data={"name": "x", "scopes": "read"})
    assert forged.status_code == 403


async def test_changing_the_password_ends_other_sessions(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_account(app, "alice")
    transport = client._transport
    async with httpx.AsyncClient(transport=transport, base_url=str(client.base_url)) as other:
        await log_in(other, "alice")
        await log_in(client, "alice")
        page = await client.get("/settings/password")
        wrong = await client.post(
            "/settings/password",
            data={
                "current_password": "not it",
                "new_password": "another horse",
                "csrf_token": csrf_from(page.text),
            },
        )
        assert wrong.status_code == 422 and "current password" in wrong.text
        changed = await client.post(
            "/settings/password",
            data={
                "current_password": "correct horse",
                "new_password": "another horse",
                "csrf_token": csrf_from(page.text),
            },
        )
        assert changed.status_code == 303
        after = await client.get("/settings/password")
        assert "Your password is changed; 1 other session ended." in after.text
        assert (await other.get("/settings/password")).status_code == 303
    assert (await log_in(client, "alice", "another horse")).status_code == 303
