"""OAuth 2 as Mastodon serves it, through HTTP: apps, the code flow with PKCE, the token
endpoint's grants and refusals, revocation, and the server's metadata."""

from __future__ import annotations

import base64
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update
from starlette.applications import Starlette

from server.context import context
from server.models import OAuthCode
from server.models.base import utcnow
from tests.accounts.oauth_steps import (
    REDIRECT,
    VERIFIER,
    approve,
    authorize_params,
    bearer,
    challenge,
    code_for,
    consent_page,
    exchange,
    query_of,
    register,
)
from tests.support.accounts import csrf_from, log_in, make_account


async def test_an_app_registers_as_mastodon_answers(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/apps",
        json={
            "client_name": "Tusky",
            "redirect_uris": ["myapp://cb", "urn:ietf:wg:oauth:2.0:oob"],
            "scopes": "read write:favourites",
            "website": "https://tusky.app",
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "Tusky"
    assert body["redirect_uris"] == ["myapp://cb", "urn:ietf:wg:oauth:2.0:oob"]
    assert body["redirect_uri"] == "myapp://cb\nurn:ietf:wg:oauth:2.0:oob"
    assert body["scopes"] == ["read", "write:favourites"]
    assert body["vapid_key"] == ""
    assert body["client_id"] and body["client_secret"]
    assert isinstance(body["id"], str)


@pytest.mark.parametrize(
    "data",
    [
        {"client_name": "", "redirect_uris": REDIRECT},
        {"client_name": "x", "redirect_uris": ""},
        {"client_name": "x", "redirect_uris": "not a uri"},
        {"client_name": "x", "redirect_uris": REDIRECT, "scopes": "read everything"},
        {"client_name": "x", "redirect_uris": "myapp://" + "a" * 2000},
    ],
)
async def test_a_bad_registration_gets_422(client: httpx.AsyncClient, data: dict[str, str]) -> None:
    response = await client.post("/api/v1/apps", data=data)
    assert response.status_code == 422
    assert "error" in response.json()


async def test_the_code_flow_with_pkce_gives_a_working_token(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    # Given an app and a logged-in person
    await make_account(app, "alice")
    registered = await register(client)
    await log_in(client, "alice")
    # When they authorize it with a PKCE challenge and the app trades the code
    page = await consent_page(
        client,
        authorize_params(registered, code_challenge=challenge(), code_challenge_method="S256"),
    )
    assert "Test App" in page.text and "write" in page.text
    code = await code_for(
        client, registered, code_challenge=challenge(), code_challenge_method="S256"
    )
    answer = await exchange(client, registered, code, code_verifier=VERIFIER)
    # Then the token reads the account and carries the scopes asked for
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "read write"
    assert isinstance(body["created_at"], int)
    assert body["refresh_token"]
    me = await client.get(
        "/api/v1/accounts/verify_credentials", headers=bearer(body["access_token"])
    )
    assert me.status_code == 200 and me.json()["username"] == "alice"
    verified = await client.get(
        "/api/v1/apps/verify_credentials", headers=bearer(body["access_token"])
    )
    assert verified.status_code == 200 and verified.json()["name"] == "Test App"


async def test_a_pkce_mismatch_is_refused(app: Starlette, client: httpx.AsyncClient) -> None:
    await make_account(app, "alice")
    registered = await register(client)
    await log_in(client, "alice")
    code = await code_for(
        client, registered, code_challenge=challenge(), code_challenge_method="S256"
    )
    wrong = await exchange(client, registered, code, code_verifier=VERIFIER + "x")
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"
    missing = await exchange(client, registered, code)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"


async def test_a_plain_challenge_is_refused(app: Starlette, client: httpx.AsyncClient) -> None:
    await make_account(app, "alice")
    registered = await register(client)
    await log_in(client, "alice")
    params = authorize_params(registered, code_challenge=challenge(), code_challenge_method="plain")
    answer = await consent_page(client, params)
    assert answer.status_code == 302
    assert query_of(answer.headers["location"])["error"] == "invalid_request"


async def test_a_redirect_uri_must_match_exactly(app: Starlette, client: httpx.AsyncClient) -> None:
    await make_account(app, "alice")
    registered = await register(client)
    await log_in(client, "alice")
    page = await consent_page(
        client, authorize_params(registered, redirect_uri=REDIRECT + "/other")
    )
    assert page.status_code == 400
    assert "location" not in page.headers  # never sent to an unregistered place
    code = await code_for(client, registered)
    wrong = await exchange(client, registered, code, redirect_uri="myapp://elsewhere")
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"


async def test_a_code_works_once(app: Starlette, client: httpx.AsyncClient) -> None:
    await make_account(app, "alice")
    registered = await register(client)
    await log_in(client, "alice")
    code = await code_for(client, registered)
    assert (await exchange(client, registered, code)).status_code == 200
    again = await exchange(client, registered, code)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert again.json()["error_description"]


async def test_an_expired_code_is_refused(app: Starlette, client: httpx.AsyncClient) -> None:
    await make_account(app, "alice")
    registered = await register(client)
    await log_in(client, "alice")
    code = await code_for(client, registered)
    async with context(app).db.transaction() as session:
        past = utcnow() - timedelta(seconds=1)
        await session.exec(update(OAuthCode).values(expires_at=past))
    answer = await exchange(client, registered, code)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


async def test_a_code_is_bound_to_its_client(app: Starlette, client: httpx.AsyncClient) -> None:
    await make_account(app, "alice")
    registered, other = await register(client), await register(client)
    await log_in(client, "alice")
    code = await code_for(client, registered)
    answer = await exchange(client, other, code)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"


async def test_a_wrong_secret_is_refused(app: Starlette, client: httpx.AsyncClient) -> None:
    registered = await register(client)
    answer = await client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": registered.client_id,
            "client_secret": "wrong",
        },
    )
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_client"
    basic = base64.b64encode(f"{registered.client_id}:wrong".encode()).decode()
    by_header = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert by_header.status_code == 401 and by_header.json()["error"] == "invalid_client"


async def test_deny_redirects_with_access_denied(app: Starlette, client: httpx.AsyncClient) -> None:
    await make_account(app, "alice")
    registered = await register(client)
    await log_in(client, "alice")
    answer = await approve(client, authorize_params(registered), decision="deny")
    assert answer.status_code == 302
    assert answer.headers["location"].startswith(REDIRECT + "?")
    query = query_of(answer.headers["location"])
    assert query["error"] == "access_denied" and query["state"] == "xyz"
    assert "code" not in query


async def test_not_logged_in_goes_to_the_login_page_and_back(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_account(app, "alice")
    registered = await register(client)
    first = await consent_page(client, authorize_params(registered))
    assert first.status_code == 303
    assert first.headers["location"].startswith("/login?next=%2Foauth%2Fauthorize%3F")
    page = await client.get(first.headers["location"])
    logged = await client.post(
        first.headers["location"],
        data={"login": "alice", "password": "correct horse", "csrf_token": csrf_from(page.text)},
    )
    assert logged.status_code == 303
    back = await client.get(logged.headers["location"])
    assert back.status_code == 200 and "Authorize" in back.text
    forced = await consent_page(client, authorize_params(registered, force_login="true"))
    assert forced.status_code == 303 and "force_login" not in forced.headers["location"]


async def test_oob_shows_the_code_on_a_page(app: Starlette, client: httpx.AsyncClient) -> None:
    await make_account(app, "alice")
    oob = "urn:ietf:wg:oauth:2.0:oob"
    registered = await register(client, redirect=oob)
    await log_in(client, "alice")
    answer = await approve(client, authorize_params(registered, redirect_uri=oob))
    assert answer.status_code == 200
    code = answer.text.split('id="code" type="text" readonly value="')[1].split('"')[0]
    token = await exchange(client, registered, code, redirect_uri=oob)
    assert token.status_code == 200, token.text


async def test_client_credentials_reach_only_app_endpoints(client: httpx.AsyncClient) -> None:
    registered = await register(client)
    answer = await client.post(
        "/oauth/token",
        auth=(registered.client_id, registered.client_secret),
        data={"grant_type": "client_credentials", "scope": "read"},
    )
    assert answer.status_code == 200, answer.text
    assert "refresh_token" not in answer.json()
    token = answer.json()["access_token"]
    verified = await client.get("/api/v1/apps/verify_credentials", headers=bearer(token))
    assert verified.status_code == 200 and verified.json()["name"] == "Test App"
    me = await client.get("/api/v1/accounts/verify_credentials", headers=bearer(token))
    assert me.status_code == 401


async def test_refresh_tokens_rotate(app: Starlette, client: httpx.AsyncClient) -> None:
    await make_account(app, "alice")
    registered = await register(client)
    await log_in(client, "alice")
    first = (await exchange(client, registered, await code_for(client, registered))).json()
    data = {
        "grant_type": "refresh_token",
        "refresh_token": first["refresh_token"],
        "client_id": registered.client_id,
        "client_secret": registered.client_secret,
    }
    second = await client.post("/oauth/token", data=data)
    assert second.status_code == 200, second.text
    fresh = second.json()
    assert fresh["refresh_token"] != first["refresh_token"]
    assert fresh["scope"] == "read write"
    again = await client.post("/oauth/token", data=data)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    me = await client.get(
        "/api/v1/accounts/verify_credentials", headers=bearer(fresh["access_token"])
    )
    assert me.status_code == 200


async def test_a_revoked_token_fails(app: Starlette, client: httpx.AsyncClient) -> None:
    await make_account(app, "alice")
    registered = await register(client)
    await log_in(client, "alice")
    token = (await exchange(client, registered, await code_for(client, registered))).json()
    revoked = await client.post(
        "/oauth/revoke",
        data={
            "token": token["access_token"],
            "client_id": registered.client_id,
            "client_secret": registered.client_secret,
        },
    )
    assert revoked.status_code == 200 and revoked.json() == {}
    me = await client.get(
        "/api/v1/accounts/verify_credentials", headers=bearer(token["access_token"])
    )
    assert me.status_code == 401


async def test_unsupported_grant_and_password_grant_off(client: httpx.AsyncClient) -> None:
    registered = await register(client)
    for grant in ("implicit", "password"):
        answer = await client.post(
            "/oauth/token",
            data={
                "grant_type": grant,
                "username": "alice",
                "password": "correct horse",
                "client_id": registered.client_id,
                "client_secret": registered.client_secret,
            },
        )
        assert answer.status_code == 400
        assert answer.json()["error"] == "unsupported_grant_type"


async def test_the_metadata_names_the_endpoints(client: httpx.AsyncClient) -> None:
    response = await client.get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200
    body = response.json()
    assert body["issuer"] == "http://likewise.test/"
    assert body["token_endpoint"] == "http://likewise.test/oauth/token"
    assert body["code_challenge_methods_supported"] == ["S256"]
    assert "password" not in body["grant_types_supported"]
    assert {"read", "write:favourites", "follow", "profile"} <= set(body["scopes_supported"])
