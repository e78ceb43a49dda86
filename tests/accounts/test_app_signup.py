"""Signing up from an app (POST /api/v1/accounts with the app's own token), as Mastodon
does: open registrations, the terms agreed, a user token back; refusals in Mastodon's
422 shape. And the password grant, only when the admin turns it on."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from server.app import create_app
from server.settings import Settings
from tests.accounts.oauth_steps import App, bearer, register
from tests.conftest import TEST_DOMAIN
from tests.support.accounts import make_account
from tests.support.lifespan import app_lifespan

SIGN_UP = {
    "username": "carol",
    "email": "carol@example.org",
    "password": "a long password",
    "agreement": "true",
    "locale": "en",
}


async def _app_token(client: httpx.AsyncClient, app: App, scope: str = "read write") -> str:
    answer = await client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "scope": scope,
        },
    )
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


async def test_an_app_signs_a_person_up(client: httpx.AsyncClient) -> None:
    registered = await register(client)
    token = await _app_token(client, registered)
    answer = await client.post("/api/v1/accounts", data=SIGN_UP, headers=bearer(token))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "Bearer" and body["scope"] == "read write"
    me = await client.get(
        "/api/v1/accounts/verify_credentials", headers=bearer(body["access_token"])
    )
    assert me.status_code == 200 and me.json()["username"] == "carol"


async def test_refusals_take_mastodon_s_shape(app: Starlette, client: httpx.AsyncClient) -> None:
    await make_account(app, "alice")
    registered = await register(client)
    token = await _app_token(client, registered)
    taken = await client.post(
        "/api/v1/accounts", data={**SIGN_UP, "username": "alice"}, headers=bearer(token)
    )
    assert taken.status_code == 422
    assert taken.json()["error"].startswith("Validation failed")
    assert taken.json()["details"]["username"][0]["error"] == "ERR_TAKEN"
    unagreed = await client.post(
        "/api/v1/accounts", json={**SIGN_UP, "agreement": False}, headers=bearer(token)
    )
    assert unagreed.status_code == 422
    assert unagreed.json()["details"]["agreement"][0]["error"] == "ERR_ACCEPTED"
    short = await client.post(
        "/api/v1/accounts", data={**SIGN_UP, "password": "short"}, headers=bearer(token)
    )
    assert short.status_code == 422 and "password" in short.json()["details"]


async def test_only_an_app_token_with_write_accounts_signs_up(
    client: httpx.AsyncClient,
) -> None:
    anonymous = await client.post("/api/v1/accounts", data=SIGN_UP)
    assert anonymous.status_code == 401
    registered = await register(client)
    reader = await _app_token(client, registered, "read")
    refused = await client.post("/api/v1/accounts", data=SIGN_UP, headers=bearer(reader))
    assert refused.status_code == 403


@pytest.fixture
async def closed_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.replace(registrations=False, oauth_password_grant=True))
    async with app_lifespan(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url=f"http://{TEST_DOMAIN}"
        ) as client:
            yield client


async def test_closed_registrations_refuse_apps_too(
    closed_client: httpx.AsyncClient,
) -> None:
    registered = await register(closed_client)
    token = await _app_token(closed_client, registered)
    answer = await closed_client.post("/api/v1/accounts", data=SIGN_UP, headers=bearer(token))
    assert answer.status_code == 403
    assert "closed" in answer.json()["error"]


async def test_the_password_grant_when_the_admin_enables_it(
    closed_client: httpx.AsyncClient, settings: Settings
) -> None:
    from server.accounts.accounts import NewAccount, create_account
    from server.db.engine import Database

    db = Database(settings.database_url)
    async with db.transaction() as session:
        await create_account(
            session, settings, NewAccount("alice", "alice@example.org", "correct horse")
        )
    await db.dispose()
    registered = await register(closed_client)
    data = {
        "grant_type": "password",
        "username": "alice",
        "password": "correct horse",
        "client_id": registered.client_id,
        "client_secret": registered.client_secret,
        "scope": "read",
    }
    answer = await closed_client.post("/oauth/token", data=data)
    assert answer.status_code == 200, answer.text
    me = await closed_client.get(
        "/api/v1/accounts/verify_credentials", headers=bearer(answer.json()["access_token"])
    )
    assert me.json()["username"] == "alice"
    wrong = await closed_client.post("/oauth/token", data={**data, "password": "wrong!!!"})
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    metadata = (await closed_client.get("/.well-known/oauth-authorization-server")).json()
    assert "password" in metadata["grant_types_supported"]
