"""OAuth tokens meet the API's per-endpoint scope checks: a read token cannot favourite,
`follow` and `profile` grant what Mastodon's do, another person's token reads their own
account only, and the money API takes OAuth tokens with the right scopes."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette

from server.accounts.tokens import scope_allows
from tests.accounts.oauth_steps import App, bearer, code_for, exchange, register
from tests.support.accounts import log_in, make_account, make_token


async def _token(client: httpx.AsyncClient, app: App, scope: str) -> str:
    code = await code_for(client, app, scope=scope)
    answer = await exchange(client, app, code)
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


async def test_a_read_token_cannot_favourite(app: Starlette, client: httpx.AsyncClient) -> None:
    alice = await make_account(app, "alice")
    writer = await make_token(app, alice, "read write")
    posted = await client.post("/api/v1/statuses", data={"status": "hello"}, headers=bearer(writer))
    assert posted.status_code == 200, posted.text
    await make_account(app, "bob")
    registered = await register(client, scopes="read write")
    await log_in(client, "bob")
    reader = await _token(client, registered, "read")
    status_id = posted.json()["id"]
    refused = await client.post(f"/api/v1/statuses/{status_id}/favourite", headers=bearer(reader))
    assert refused.status_code == 403
    assert "write:favourites" in refused.json()["error"]
    liker = await _token(client, registered, "read write:favourites")
    liked = await client.post(f"/api/v1/statuses/{status_id}/favourite", headers=bearer(liker))
    assert liked.status_code == 200, liked.text
    assert liked.json()["favourited"] is True


async def test_an_app_cannot_get_scopes_it_did_not_register(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_account(app, "alice")
    registered = await register(client, scopes="read")
    await log_in(client, "alice")
    answer = await client.get(
        "/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": registered.client_id,
            "redirect_uri": "myapp://oauth-callback",
            "scope": "read write",
        },
    )
    assert answer.status_code == 302
    assert "error=invalid_scope" in answer.headers["location"]


async def test_another_person_s_token_cannot_act_for_you(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    alice = await make_account(app, "alice")
    posted = await client.post(
        "/api/v1/statuses",
        data={"status": "mine"},
        headers=bearer(await make_token(app, alice, "read write")),
    )
    await make_account(app, "bob")
    registered = await register(client)
    await log_in(client, "bob")
    bobs = await _token(client, registered, "read write")
    me = await client.get("/api/v1/accounts/verify_credentials", headers=bearer(bobs))
    assert me.json()["username"] == "bob"
    status_id = posted.json()["id"]
    deleted = await client.delete(f"/api/v1/statuses/{status_id}", headers=bearer(bobs))
    assert deleted.status_code in (403, 404)
    still = await client.get(f"/api/v1/statuses/{status_id}", headers=bearer(bobs))
    assert still.status_code == 200 and still.json()["account"]["username"] == "alice"


async def test_the_money_api_takes_oauth_tokens_by_scope(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_account(app, "alice")
    registered = await register(client)
    await log_in(client, "alice")
    reader = await _token(client, registered, "read")
    assert (await client.get("/api/v1/likewise/budget", headers=bearer(reader))).status_code == 200
    refused = await client.put(
        "/api/v1/likewise/budget", json={"monthly_budget": "5.00"}, headers=bearer(reader)
    )
    assert refused.status_code == 403
    writer = await _token(client, registered, "read write")
    saved = await client.put(
        "/api/v1/likewise/budget", json={"monthly_budget": "5.00"}, headers=bearer(writer)
    )
    assert saved.status_code == 200, saved.text


async def test_profile_reads_verify_credentials_only(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_account(app, "alice")
    registered = await register(client, scopes="profile")
    await log_in(client, "alice")
    token = await _token(client, registered, "profile")
    me = await client.get("/api/v1/accounts/verify_credentials", headers=bearer(token))
    assert me.status_code == 200 and me.json()["username"] == "alice"
    other = await client.get("/api/v1/likewise/budget", headers=bearer(token))
    assert other.status_code == 403


def test_follow_grants_what_mastodon_s_legacy_scope_does() -> None:
    follow = frozenset({"follow"})
    for scope in ("read:follows", "write:follows", "read:blocks", "write:mutes"):
        assert scope_allows(follow, scope)
    assert not scope_allows(follow, "write:statuses")
    assert not scope_allows(follow, "read:statuses")
    assert scope_allows(frozenset({"write"}), "write:favourites")
    assert not scope_allows(frozenset({"read"}), "write:favourites")
