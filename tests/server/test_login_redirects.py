"""A page that needs a log-in sends a logged-out browser to the log-in page with `next=`
(the page's path and query), and the log-in comes back there; the APIs and a form sent
without a log-in still answer 401; `next=` never leaves the site."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette

from tests.support.accounts import csrf_from, make_account

HTML = {"accept": "text/html,application/xhtml+xml"}
PAGES = [
    "/compose",
    "/account",
    "/money",
    "/money/creator",
    "/admin/money",
    "/admin/peers",
    "/admin/money/bank",
    "/admin/networks",
    "/settings/profile",
    "/settings/tokens",
    "/settings/applications",
    "/settings/imports",
    "/settings/connections",
    "/authorize_interaction?uri=https%3A%2F%2Fremote.example%2F%40carla%2F1",
]


def _next_of(response: httpx.Response) -> str:
    target = urlsplit(response.headers["location"])
    assert target.path == "/login", response.headers["location"]
    return parse_qs(target.query)["next"][0]


@pytest.mark.parametrize("address", PAGES)
async def test_a_page_that_needs_a_log_in_redirects_there_with_next(
    client: httpx.AsyncClient, address: str
) -> None:
    response = await client.get(address, headers=HTML)
    assert response.status_code == 303, (address, response.status_code)
    assert _next_of(response) == address


async def test_the_log_in_comes_back_to_the_page_with_its_query(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    # Given ann, logged out, opening the remote-interaction page of a post elsewhere
    await make_account(app, "ann")
    address = "/authorize_interaction?uri=https%3A%2F%2Fremote.example%2F%40carla%2F1"
    redirected = await client.get(address, headers=HTML)
    # When she logs in on the page it sent her to
    login = await client.get(redirected.headers["location"], headers=HTML)
    form = {"login": "ann", "password": "correct horse", "csrf_token": csrf_from(login.text)}
    done = await client.post(redirected.headers["location"], data=form, headers=HTML)
    # Then she is sent back to that page, query and all
    assert done.status_code == 303
    assert done.headers["location"] == address


async def test_apis_and_forms_without_a_log_in_still_answer_401(
    client: httpx.AsyncClient,
) -> None:
    api = await client.get("/api/v1/likewise/budget", headers=HTML)
    machine = await client.get("/compose", headers={"accept": "application/json"})
    form = await client.post("/compose", data={"status": "hi"}, headers=HTML)
    assert api.status_code == 401
    assert machine.status_code == 401 and machine.json()["code"] == "unauthorized"
    assert form.status_code in (401, 403)  # no session: no CSRF token either


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "/\tevil.example",
        "javascript:alert(1)",
        "evil.example",
    ],
)
async def test_the_log_in_never_follows_next_off_the_site(
    app: Starlette, client: httpx.AsyncClient, target: str
) -> None:
    await make_account(app, "ann")
    page = await client.get("/login", params={"next": target}, headers=HTML)
    form = {"login": "ann", "password": "correct horse", "csrf_token": csrf_from(page.text)}
    done = await client.post("/login", params={"next": target}, data=form, headers=HTML)
    assert done.status_code == 303 and done.headers["location"] == "/"


async def test_signing_up_from_a_page_comes_back_to_it(client: httpx.AsyncClient) -> None:
    # Given a visitor sent to sign up from a post (the post's "sign up to like" link)
    page = await client.get("/signup", params={"next": "/@carla/1"}, headers=HTML)
    assert 'action="/signup?next=/%40carla/1"' in page.text
    # When she signs up on that form
    form = {
        "username": "newcomer",
        "email": "newcomer@example.org",
        "password": "correct horse",
        "csrf_token": csrf_from(page.text),
    }
    done = await client.post("/signup", params={"next": "/@carla/1"}, data=form, headers=HTML)
    # Then she is back on the post, logged in
    assert done.status_code == 303 and done.headers["location"] == "/@carla/1"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example/"])
async def test_signing_up_never_follows_next_off_the_site(
    client: httpx.AsyncClient, target: str
) -> None:
    page = await client.get("/signup", params={"next": target}, headers=HTML)
    form = {
        "username": "newcomer",
        "email": "newcomer@example.org",
        "password": "correct horse",
        "csrf_token": csrf_from(page.text),
    }
    done = await client.post("/signup", params={"next": target}, data=form, headers=HTML)
    assert done.status_code == 303 and done.headers["location"] == "/"
