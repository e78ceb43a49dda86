"""Shared steps for tests that talk to an app over HTTP."""

from __future__ import annotations

import re
from typing import Any

import httpx
from starlette.applications import Starlette

from server.accounts.accounts import NewAccount, create_account
from server.accounts.tokens import create_token
from server.context import context
from server.models import Account

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_INPUT.search(html)
    if match is None:
        raise AssertionError("page has no CSRF token field")
    return match.group(1)


async def make_account(
    app: Starlette, username: str = "alice", *, admin: bool = False, password: str = "correct horse"
) -> Account:
    async with context(app).db.transaction() as session:
        return await create_account(
            session,
            context(app).settings,
            NewAccount(username, f"{username}@example.org", password, is_admin=admin),
        )


async def make_token(app: Starlette, account: Account, scopes: str = "read write") -> str:
    async with context(app).db.transaction() as session:
        return await create_token(session, account, scopes)


async def bearer(app: Starlette, username: str, scopes: str = "read write") -> dict[str, str]:
    """A new account's Authorization header, for the client API."""
    account = await make_account(app, username)
    return {"Authorization": f"Bearer {await make_token(app, account, scopes)}"}


async def post_status(
    client: httpx.AsyncClient, auth: dict[str, str], **body: Any
) -> dict[str, Any]:
    """A status posted through the client API: its Status entity."""
    answer = await client.post("/api/v1/statuses", json=body, headers=auth)
    assert answer.status_code == 200, answer.text
    status: dict[str, Any] = answer.json()
    return status


async def log_in(
    client: httpx.AsyncClient, login: str, password: str = "correct horse"
) -> httpx.Response:
    page = await client.get("/login")
    return await client.post(
        "/login",
        data={"login": login, "password": password, "csrf_token": csrf_from(page.text)},
    )


async def sign_up(client: httpx.AsyncClient, name: str) -> httpx.Response:
    """Sign up through the web form, as a browser would."""
    page = await client.get("/signup")
    return await client.post(
        "/signup",
        data={
            "username": name,
            "email": f"{name}@example.org",
            "password": "correct horse",
            "display_name": "",
            "csrf_token": csrf_from(page.text),
        },
    )
