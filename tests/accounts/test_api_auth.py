from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from server.accounts.tokens import create_token, parse_scopes, scope_allows
from server.context import context
from server.domain_errors import ValidationFailed
from tests.support.accounts import log_in, make_account, make_token


async def test_bearer_token_reaches_the_api(app: Starlette, client: httpx.AsyncClient) -> None:
    alice = await make_account(app, "alice")
    token = await make_token(app, alice)
    response = await client.get(
        "/api/v1/accounts/verify_credentials", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["username"] == "alice"
    assert body["id"] == str(alice.id)
    assert body["url"] == "http://likewise.test/@alice"
    assert body["avatar"].endswith(".png")


async def test_browser_session_reaches_the_api(app: Starlette, client: httpx.AsyncClient) -> None:
    await make_account(app, "alice")
    await log_in(client, "alice")
    response = await client.get("/api/v1/accounts/verify_credentials")
    assert response.status_code == 200
    assert response.json()["username"] == "alice"


@pytest.mark.parametrize(
    "header",
    ["Bearer not-a-real-token", "Basic YWxpY2U6cGFzcw==", "Bearer ", "Token abc"],
)
async def test_bad_credentials_get_401(client: httpx.AsyncClient, header: str) -> None:
    response = await client.get(
        "/api/v1/accounts/verify_credentials", headers={"Authorization": header}
    )
    assert response.status_code == 401
    assert "error" in response.json()


async def test_no_credentials_get_401(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/accounts/verify_credentials")
    assert response.status_code == 401


async def test_token_without_the_scope_gets_403(app: Starlette, client: httpx.AsyncClient) -> None:
    alice = await make_account(app, "alice")
    token = await make_token(app, alice, scopes="write")
    response = await client.get(
        "/api/v1/accounts/verify_credentials", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 403
    assert "read:accounts" in response.json()["error"]


async def test_suspended_accounts_tokens_stop_working(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    from server.models import Account
    from server.models.base import utcnow

    alice = await make_account(app, "alice")
    token = await make_token(app, alice)
    async with context(app).db.transaction() as session:
        row = await session.get(Account, alice.id)
        assert row is not None
        row.suspended_at = utcnow()
        session.add(row)
    response = await client.get(
        "/api/v1/accounts/verify_credentials", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401


async def test_admin_scopes_need_an_admin(app: Starlette) -> None:
    alice = await make_account(app, "alice")
    async with context(app).db.transaction() as session:
        with pytest.raises(ValidationFailed, match="admin scopes"):
            await create_token(session, alice, "read admin:read")
    root = await make_account(app, "root_admin", admin=True)
    assert await make_token(app, root, "admin:read")


def test_scope_families() -> None:
    assert scope_allows(frozenset({"read"}), "read:accounts")
    assert scope_allows(frozenset({"read:accounts"}), "read:accounts")
    assert not scope_allows(frozenset({"read:statuses"}), "read:accounts")
    assert not scope_allows(frozenset({"write"}), "read")
    assert parse_scopes("read, write:statuses") == frozenset({"read", "write:statuses"})
    with pytest.raises(ValidationFailed):
        parse_scopes("everything")
    with pytest.raises(ValidationFailed):
        parse_scopes("")
