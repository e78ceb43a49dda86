"""CORS as Mastodon serves it: browser clients (Elk, Phanpy) call the API and the OAuth
endpoints from another origin; the pages do not take part."""

from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from tests.support.accounts import make_account, make_token

PREFLIGHT = {
    "Origin": "https://elk.zone",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization, content-type",
}


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/statuses",
        "/api/v1/apps",
        "/oauth/token",
        "/oauth/revoke",
        "/.well-known/oauth-authorization-server",
        "/nodeinfo/2.0",
    ],
)
async def test_preflight_is_answered(client: httpx.AsyncClient, path: str) -> None:
    response = await client.options(path, headers=PREFLIGHT)
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert "POST" in response.headers["access-control-allow-methods"]
    allowed = response.headers["access-control-allow-headers"].lower()
    for header in ("authorization", "content-type", "idempotency-key"):
        assert header in allowed


async def test_answers_carry_the_headers(app: Starlette, client: httpx.AsyncClient) -> None:
    token = await make_token(app, await make_account(app, "alice"))
    response = await client.get(
        "/api/v1/accounts/verify_credentials",
        headers={"Authorization": f"Bearer {token}", "Origin": "https://elk.zone"},
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"
    assert "Link" in response.headers["access-control-expose-headers"]
    refused = await client.get("/api/v1/accounts/verify_credentials")
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == "*"
    # a route that sends its own (WebFinger) still sends the header once
    webfinger = await client.get("/.well-known/webfinger?resource=acct:nobody@likewise.test")
    assert webfinger.headers.get_list("access-control-allow-origin") == ["*"]


async def test_pages_take_no_part(client: httpx.AsyncClient) -> None:
    for path in ("/oauth/authorize", "/login"):
        response = await client.get(path, headers={"Origin": "https://elk.zone"})
        assert "access-control-allow-origin" not in response.headers
        preflight = await client.options(path, headers=PREFLIGHT)
        assert preflight.status_code == 405


async def test_a_plain_options_is_still_a_405(client: httpx.AsyncClient) -> None:
    response = await client.options("/api/v1/likewise/budget")
    assert response.status_code == 405
