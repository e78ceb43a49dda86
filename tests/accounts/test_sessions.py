"""Browser sessions end on the server: logging out, logging out everywhere and a password
change stop every copy of the cookie at once (the signed cookie alone held for 14 days)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import itsdangerous
from starlette.applications import Starlette

from server.settings import Settings
from tests.conftest import TEST_DOMAIN
from tests.support.accounts import csrf_from, log_in, make_account, make_token

COOKIE = "likewise_session"
ME = "/api/v1/accounts/verify_credentials"
SESSIONS = "/api/v1/likewise/sessions"


@asynccontextmanager
async def browser(app: Starlette, cookie: str | None = None) -> AsyncIterator[httpx.AsyncClient]:
    """Another browser on the same instance; `cookie`: a session cookie copied into it."""
    transport = httpx.ASGITransport(app=app, client=("127.0.0.2", 50001))
    cookies = {COOKIE: cookie} if cookie else None
    async with httpx.AsyncClient(
        transport=transport, base_url=f"http://{TEST_DOMAIN}", cookies=cookies
    ) as client:
        yield client


def _cookie(client: httpx.AsyncClient) -> str:
    value = client.cookies.get(COOKIE)
    assert value, "not logged in"
    return value


async def _csrf(client: httpx.AsyncClient) -> str:
    return csrf_from((await client.get("/account")).text)


async def test_a_copied_cookie_stops_working_after_logout(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_account(app, "alice")
    await log_in(client, "alice")
    async with browser(app, _cookie(client)) as thief:
        assert (await thief.get(ME)).status_code == 200
        logout = await client.post("/logout", data={"csrf_token": await _csrf(client)})
        assert logout.status_code == 303
        assert (await client.get(ME)).status_code == 401
        assert (await thief.get(ME)).status_code == 401
        page = await thief.get("/money")
        assert page.status_code == 303 and page.headers["location"].startswith("/login")


async def test_log_out_everywhere_ends_every_session(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_account(app, "alice")
    await make_account(app, "bob")
    await log_in(client, "alice")
    async with browser(app) as laptop, browser(app) as bobs:
        await log_in(laptop, "alice")
        await log_in(bobs, "bob")
        async with browser(app, _cookie(laptop)) as copy:
            page = await client.get("/account")
            assert page.status_code == 200
            assert page.text.count('class="session"') == 2
            assert "Log out everywhere" in page.text
            ended = await client.post(
                "/account/sessions/end", data={"csrf_token": csrf_from(page.text)}
            )
            assert ended.status_code == 303 and ended.headers["location"] == "/login"
            for each in (client, laptop, copy):
                assert (await each.get(ME)).status_code == 401
        assert (await bobs.get(ME)).status_code == 200  # someone else's session holds
    await log_in(client, "alice")
    assert (await client.get(ME)).status_code == 200


async def test_log_out_everywhere_needs_the_form_token(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_account(app, "alice")
    await log_in(client, "alice")
    refused = await client.post("/account/sessions/end", data={"csrf_token": "forged"})
    assert refused.status_code == 403
    assert (await client.get(ME)).status_code == 200


async def test_the_sessions_api_lists_and_ends_them(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    alice = await make_account(app, "alice")
    await log_in(client, "alice")
    async with browser(app) as laptop:
        await log_in(laptop, "alice")
        listed = await client.get(SESSIONS)
        assert listed.status_code == 200
        assert sorted(s["current"] for s in listed.json()) == [False, True]
        reader = {"Authorization": f"Bearer {await make_token(app, alice, 'read')}"}
        refused = await client.delete(SESSIONS, headers=reader)
        assert refused.status_code == 403
        assert "write:accounts" in refused.json()["error"]
        writer = {"Authorization": f"Bearer {await make_token(app, alice, 'write:accounts')}"}
        ended = await client.delete(SESSIONS, headers=writer)
        assert ended.status_code == 200 and ended.json() == {"ended": 2}
        assert (await laptop.get(ME)).status_code == 401
        # A token is no browser session: it still works.
        assert (await client.get(SESSIONS, headers=reader)).json() == []


async def test_a_browser_ends_its_sessions_through_the_api_with_the_csrf_header(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_account(app, "alice")
    await log_in(client, "alice")
    assert (await client.delete(SESSIONS)).status_code == 403
    csrf = await _csrf(client)
    ended = await client.delete(SESSIONS, headers={"X-CSRF-Token": csrf})
    assert ended.json() == {"ended": 1}
    assert (await client.get(ME)).status_code == 401


async def test_a_password_change_ends_the_other_sessions(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_account(app, "alice")
    await log_in(client, "alice")
    async with browser(app) as laptop:
        await log_in(laptop, "alice")
        form = {"current_password": "correct horse", "new_password": "battery staple"}
        changed = await client.post(
            "/account/password", data={**form, "csrf_token": await _csrf(client)}
        )
        assert changed.status_code == 303
        page = await client.get("/account")
        assert "Your password is changed; 1 other session ended." in page.text
        assert (await client.get(ME)).status_code == 200
        assert (await laptop.get(ME)).status_code == 401
        assert (await log_in(laptop, "alice", "correct horse")).status_code == 401
        assert (await log_in(laptop, "alice", "battery staple")).status_code == 303


async def test_a_wrong_current_password_changes_nothing(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_account(app, "alice")
    await log_in(client, "alice")
    async with browser(app) as laptop:
        await log_in(laptop, "alice")
        for current, new in [("wrong horse", "battery staple"), ("correct horse", "short")]:
            form = {"current_password": current, "new_password": new}
            answer = await client.post(
                "/account/password", data={**form, "csrf_token": await _csrf(client)}
            )
            assert answer.status_code == 422
            assert 'class="error"' in answer.text
        assert (await laptop.get(ME)).status_code == 200
        assert (await log_in(laptop, "alice", "correct horse")).status_code == 303


def _likewise(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIKEWISE_")}
    env.update(LIKEWISE_DATABASE_URL=settings.database_url, LIKEWISE_DOMAIN=settings.domain)
    return subprocess.run(
        [sys.executable, "-m", "server.cli", *args, "--data", str(settings.data_dir)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


async def test_users_password_in_the_cli_ends_every_session(
    app: Starlette, client: httpx.AsyncClient, settings: Settings
) -> None:
    await make_account(app, "alice")
    await log_in(client, "alice")
    result = _likewise(settings, "users", "password", "alice", "--password", "battery staple")
    assert result.returncode == 0, result.stderr
    assert "new password for @alice; 1 session(s) ended" in result.stdout
    assert (await client.get(ME)).status_code == 401
    assert (await log_in(client, "alice", "battery staple")).status_code == 303
    short = _likewise(settings, "users", "password", "alice", "--password", "short")
    assert short.returncode == 1 and "at least 8 characters" in short.stderr


async def test_suspension_ends_the_sessions(
    app: Starlette, client: httpx.AsyncClient, settings: Settings
) -> None:
    await make_account(app, "alice")
    await log_in(client, "alice")
    assert _likewise(settings, "users", "suspend", "alice").returncode == 0
    assert _likewise(settings, "users", "unsuspend", "alice").returncode == 0
    assert (await client.get(ME)).status_code == 401


def _signed(settings: Settings, data: dict[str, object]) -> str:
    """A cookie as Starlette's SessionMiddleware signs it."""
    payload = base64.b64encode(json.dumps(data).encode())
    return itsdangerous.TimestampSigner(settings.secret_key).sign(payload).decode()


async def test_a_cookie_naming_an_account_is_no_session(
    app: Starlette, client: httpx.AsyncClient, settings: Settings
) -> None:
    """Cookies of before: signed, naming the account id. They no longer log anyone in."""
    alice = await make_account(app, "alice")
    async with browser(app, _signed(settings, {"account_id": alice.id})) as old:
        assert (await old.get(ME)).status_code == 401
    async with browser(app, _signed(settings, {"key": "guessed"})) as guess:
        assert (await guess.get(ME)).status_code == 401


async def test_the_account_page_asks_to_log_in(client: httpx.AsyncClient) -> None:
    page = await client.get("/account")
    assert page.status_code == 303 and page.headers["location"] == "/login?next=/account"
