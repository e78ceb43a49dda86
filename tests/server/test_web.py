from __future__ import annotations

import httpx
import pytest
from starlette.applications import Starlette

from server.context import context
from server.settings import Settings
from tests.support.accounts import csrf_from, log_in, make_account


async def test_home_page_says_what_the_instance_is(client: httpx.AsyncClient) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert "Likewise" in response.text
    assert "monthly budget" in response.text
    assert 'href="/signup"' in response.text


async def test_sign_up_logs_the_new_user_in(client: httpx.AsyncClient) -> None:
    page = await client.get("/signup")
    response = await client.post(
        "/signup",
        data={
            "username": "Alice",
            "email": "alice@example.org",
            "password": "correct horse",
            "csrf_token": csrf_from(page.text),
        },
    )
    assert response.status_code == 303
    home = await client.get("/")
    assert "@alice" in home.text
    assert "You are logged in" in home.text


async def test_sign_up_without_csrf_token_is_refused(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    response = await client.post(
        "/signup",
        data={"username": "mallory", "email": "m@example.org", "password": "correct horse"},
        headers={"accept": "text/html"},
    )
    assert response.status_code == 403
    async with context(app).db.session() as session:
        from server.accounts.accounts import count_accounts

        assert await count_accounts(session) == 0


async def test_sign_up_errors_are_shown_on_the_form(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_account(app, "bob")
    page = await client.get("/signup")
    token = csrf_from(page.text)
    cases = {
        ("bob", "other@example.org", "correct horse"): "already taken",
        ("b@d name", "x@example.org", "correct horse"): "letters, digits or underscores",
        ("carol", "not-an-email", "correct horse"): "not an e-mail address",
        ("carol", "carol@example.org", "short"): "at least 8 characters",
        ("admin", "admin@example.org", "correct horse"): "reserved",
    }
    for (username, email, password), message in cases.items():
        response = await client.post(
            "/signup",
            data={"username": username, "email": email, "password": password, "csrf_token": token},
        )
        assert response.status_code in (409, 422), (username, response.status_code)
        assert message in response.text


async def test_sign_up_can_be_switched_off(settings: Settings) -> None:
    from server.app import create_app
    from tests.support.lifespan import app_lifespan

    closed = create_app(settings.replace(registrations=False))
    async with app_lifespan(closed):
        transport = httpx.ASGITransport(app=closed)
        async with httpx.AsyncClient(transport=transport, base_url="http://likewise.test") as c:
            page = await c.get("/signup", headers={"accept": "text/html"})
            home = await c.get("/")
    assert page.status_code == 403
    assert "sign-up is closed" in page.text
    assert 'href="/signup"' not in home.text


async def test_log_in_and_out(app: Starlette, client: httpx.AsyncClient) -> None:
    await make_account(app, "alice")
    response = await log_in(client, "alice")
    assert response.status_code == 303
    home = await client.get("/")
    assert "@alice" in home.text
    logout = await client.post("/logout", data={"csrf_token": csrf_from(home.text)})
    assert logout.status_code == 303
    assert "@alice" not in (await client.get("/")).text


async def test_log_in_by_email_and_wrong_password(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_account(app, "alice")
    wrong = await log_in(client, "alice", password="wrong password")
    assert wrong.status_code == 401
    assert "Wrong username or password" in wrong.text
    by_email = await log_in(client, "ALICE@example.org")
    assert by_email.status_code == 303


@pytest.mark.parametrize(
    ("next_url", "location"),
    [
        ("//evil.example/", "/"),
        ("/\\evil.example/", "/"),
        ("/\t/evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/money?tab=1", "/money?tab=1"),
    ],
)
async def test_log_in_never_redirects_off_site(
    app: Starlette, client: httpx.AsyncClient, next_url: str, location: str
) -> None:
    await make_account(app, "alice")
    page = await client.get("/login")
    response = await client.post(
        "/login",
        params={"next": next_url},
        data={"login": "alice", "password": "correct horse", "csrf_token": csrf_from(page.text)},
    )
    assert response.headers["location"] == location


async def test_session_cookie_is_http_only_and_lax(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_account(app, "alice")
    response = await log_in(client, "alice")
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=lax" in cookie
    assert "secure" not in cookie  # dev mode over http


async def test_production_cookies_are_secure(settings: Settings) -> None:
    from server.app import create_app
    from tests.support.lifespan import app_lifespan

    production = create_app(settings.replace(dev=False, domain="likewise.example"))
    async with app_lifespan(production):
        transport = httpx.ASGITransport(app=production)
        async with httpx.AsyncClient(transport=transport, base_url="https://likewise.example") as c:
            page = await c.get("/login")
    assert "secure" in page.headers["set-cookie"].lower()


async def test_unknown_page_is_a_404_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/no-such-page", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert ">This page could not be found</h1>" in response.text
