"""Error pages for people: a browser gets a page from templates/error.html with a human
title ("This post could not be found") and plain words, an API client the same JSON as
before; what a library or the resolver said ("[Errno -2] Name or service not known") never
reaches a page as it was. And /favicon.ico answers with the SVG icon the pages link."""

from __future__ import annotations

import re

import httpx
import pytest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from server.context import context
from server.domain_errors import ValidationFailed
from server.errors import plain_message
from server.templating import STATIC_DIR
from tests.support.accounts import bearer, csrf_from, log_in, make_account, post_status

HTML = {"Accept": "text/html,application/xhtml+xml"}
H1 = re.compile(r"<h1[^>]*>(.*?)</h1>", re.S)


def _heading(page: httpx.Response) -> str:
    found = H1.findall(page.text)
    assert len(found) == 1, page.text
    return " ".join(found[0].split())


async def test_a_missing_post_profile_and_page_say_what_is_missing(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    auth = await bearer(app, "cat")
    status = await post_status(client, auth, status="A zine")
    for path, title in (
        (f"/@cat/{int(status['id']) + 1000}", "This post could not be found"),
        ("/@nobody", "This profile could not be found"),
        ("/@nobody/support", "This profile could not be found"),
        ("/no/such/page", "This page could not be found"),
    ):
        page = await client.get(path, headers=HTML)
        assert page.status_code == 404, path
        assert page.headers["content-type"].startswith("text/html")
        assert _heading(page) == title, path
        assert f"<title>{title} · " in page.text
        assert "Back to the home page" in page.text
        assert 'id="content"' in page.text and "Skip to content" in page.text
        assert "no such" not in page.text.lower(), path


async def test_api_paths_and_json_clients_still_get_json(client: httpx.AsyncClient) -> None:
    answer = await client.get("/api/v1/statuses/999999")
    assert answer.status_code == 404
    assert answer.json()["code"] == "not_found"
    answer = await client.get("/@nobody", headers={"Accept": "application/json"})
    assert answer.status_code == 404
    assert set(answer.json()) >= {"error", "code"}


async def test_an_admin_page_refused_to_a_donor_says_so_in_words(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    await make_account(app, "dora")
    await log_in(client, "dora")
    page = await client.get("/admin/money", headers=HTML)
    assert page.status_code == 403
    assert _heading(page) == "You cannot open this page"
    assert "ask this instance&#39;s admin" in page.text


@pytest.fixture
async def failing(app: Starlette) -> Starlette:
    """The app with two routes that fail as a bug and a rate limit would."""

    async def crash(request: Request) -> Response:
        raise RuntimeError("a bug: KeyError 'x' at line 3")

    async def slow_down(request: Request) -> Response:
        raise HTTPException(429, "Too Many Requests", headers={"Retry-After": "60"})

    app.router.routes.insert(0, Route("/test-crash", crash))
    app.router.routes.insert(0, Route("/test-slow-down", slow_down))
    return app


async def test_a_server_error_and_a_rate_limit_have_pages_too(failing: Starlette) -> None:
    transport = httpx.ASGITransport(app=failing, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://likewise.test") as http:
        crashed = await http.get("/test-crash", headers=HTML)
        assert crashed.status_code == 500
        assert _heading(crashed) == "Something went wrong on our side"
        assert "KeyError" not in crashed.text and "line 3" not in crashed.text
        assert 'href="/static/style.css"' in crashed.text  # the site's own layout
        limited = await http.get("/test-slow-down", headers=HTML)
        assert limited.status_code == 429
        assert limited.headers["retry-after"] == "60"
        assert _heading(limited) == "Too many requests"
        assert "wait a minute" in limited.text
        as_json = await http.get("/test-crash", headers={"Accept": "application/json"})
        assert as_json.json() == {"error": "internal error", "code": "internal"}


class FormRefused(ValidationFailed):
    """A refusal that names every wrong field of a form, as a form checked whole raises."""

    def __init__(self, fields: dict[str, str]) -> None:
        name, message = next(iter(fields.items()))
        super().__init__(message, field=name)
        self.fields = fields


async def test_a_form_shows_every_field_error_at_once(app: Starlette) -> None:
    async def refused(request: Request) -> Response:
        wrong = {
            "current_password": "that is not your password",
            "new_password": "a password has at least 8 characters",
        }
        page: Response = context(request).templates.TemplateResponse(
            request, "settings_password.html", {"error": FormRefused(wrong)}, status_code=422
        )
        return page

    app.router.routes.insert(0, Route("/test-refused", refused))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://likewise.test") as http:
        page = await http.get("/test-refused", headers=HTML)
    assert page.status_code == 422
    assert '<p class="error" id="current_password-error">that is not your password</p>' in page.text
    assert (
        '<p class="error" id="new_password-error">a password has at least 8 characters</p>'
        in page.text
    )
    assert page.text.count('aria-invalid="true"') == 2
    assert "Please correct the 2 fields marked below." in page.text


async def test_a_failed_remote_lookup_says_we_could_not_reach_that_server(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    # A visitor on a post enters a handle on a server whose name does not resolve
    auth = await bearer(app, "cat")
    status = await post_status(client, auth, status="A zine")
    post = await client.get(f"/@cat/{status['id']}", headers=HTML)
    answer = await client.post(
        "/remote_interaction",
        data={
            "handle": "me@nowhere.invalid",
            "uri": status["uri"],
            "csrf_token": csrf_from(post.text),
        },
        headers=HTML,
    )
    assert 400 <= answer.status_code < 500
    assert "We could not reach that server" in answer.text
    assert "me@nowhere.invalid could not be found." in answer.text
    assert "Errno" not in answer.text and "could not fetch" not in answer.text


@pytest.mark.parametrize(
    ("said", "shown"),
    [
        (
            "carla@zines.example could not be found: could not fetch "
            "https://zines.example/.well-known/webfinger?resource=acct:carla@zines.example: "
            "[Errno -2] Name or service not known",
            "carla@zines.example could not be found. We could not reach that server: "
            "no server answers to that name.",
        ),
        (
            "cannot read the NodeInfo of beta.example: [Errno 111] Connection refused",
            "cannot read the NodeInfo of beta.example. We could not reach that server.",
        ),
        (
            "Mastodon did not connect: Client error '401 Unauthorized' for url "
            "'https://m.example/oauth/token'\nFor more information check: https://developer",
            "Mastodon did not connect. That server answered with an error (401).",
        ),
        ("Bluesky: ReadTimeout('')", "Bluesky: that server took too long to answer."),
        (
            "liked_posts.json is not valid JSON (Expecting value: line 1 column 1 (char 0))",
            "liked_posts.json is not valid JSON",
        ),
        (
            "the file is not well-formed XML (mismatched tag: line 3, column 2)",
            "the file is not well-formed XML",
        ),
        ("that amount is below the minimum", "that amount is below the minimum"),
        ("", ""),
    ],
)
def test_developer_words_become_plain_words(said: str, shown: str) -> None:
    assert plain_message(said) == shown


async def test_the_favicon_is_linked_and_answers_at_favicon_ico(
    client: httpx.AsyncClient,
) -> None:
    home = await client.get("/", headers=HTML)
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in home.text
    icon = (STATIC_DIR / "favicon.svg").read_bytes()
    for path in ("/favicon.ico", "/static/favicon.svg"):
        answer = await client.get(path)
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("image/svg+xml")
        assert answer.content == icon
