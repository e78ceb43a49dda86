"""Pasting a post's or a profile's web address into an app's search finds it: `/@name` and
`/@name/ID` serve ActivityPub JSON to whoever asks for it, and the resolver follows a page's
`rel=alternate` activity link, on the page's own origin only."""

from __future__ import annotations

from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Mount, Route

from tests.support.accounts import make_account, make_token
from tests.support.network import Network
from tests.support.remote import RemoteServer, mastodon_bob

ACTIVITY = {"Accept": "application/activity+json"}
LD_PROFILE = {"Accept": 'application/ld+json; profile="https://www.w3.org/ns/activitystreams"'}


async def _post(network: Network, app: Starlette, host: str, name: str) -> dict[str, Any]:
    account = await make_account(app, name)
    token = await make_token(app, account)
    async with network.client(host) as http:
        posted = await http.post(
            "/api/v1/statuses",
            json={"status": "a post worth a like"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert posted.status_code == 200, posted.text
    status: dict[str, Any] = posted.json()
    return status


async def _search(network: Network, app: Starlette, host: str, query: str) -> httpx.Response:
    account = await make_account(app, "dave")
    token = await make_token(app, account, "read write follow")
    async with network.client(host) as http:
        return await http.get(
            "/api/v2/search",
            params={"q": query, "resolve": "true"},
            headers={"Authorization": f"Bearer {token}"},
        )


async def test_profile_and_post_pages_serve_activitypub_when_asked(
    alpha: Starlette, network: Network
) -> None:
    status = await _post(network, alpha, "alpha.test", "bob")
    async with network.client("alpha.test") as http:
        actor = await http.get("/@bob", headers=ACTIVITY)
        note = await http.get(f"/@bob/{status['id']}", headers=LD_PROFILE)
        page = await http.get(f"/@bob/{status['id']}", headers={"Accept": "text/html"})
        profile = await http.get("/@bob", headers={"Accept": "text/html"})
    assert actor.headers["content-type"].startswith("application/activity+json")
    assert actor.json()["id"] == "http://alpha.test/users/bob"
    assert actor.json()["type"] == "Person"
    assert note.json()["id"] == status["uri"]
    assert note.json()["type"] == "Note"
    assert page.headers["content-type"].startswith("text/html")
    assert f'<link rel="alternate" type="application/activity+json" href="{status["uri"]}">' in (
        page.text
    )
    assert (
        '<link rel="alternate" type="application/activity+json" '
        'href="http://alpha.test/users/bob">' in profile.text
    )


async def test_a_pasted_post_link_of_another_instance_is_found(
    alpha: Starlette, beta: Starlette, network: Network
) -> None:
    # Given bob's post on beta, at its web address
    status = await _post(network, beta, "beta.test", "bob")
    web_address = f"http://beta.test/@bob/{status['id']}"
    assert status["url"] == web_address
    # When dave on alpha pastes it into search
    found = await _search(network, alpha, "alpha.test", web_address)
    # Then alpha fetched and cached the post
    assert found.status_code == 200, found.text
    assert [s["uri"] for s in found.json()["statuses"]] == [status["uri"]]
    assert found.json()["statuses"][0]["account"]["acct"] == "bob@beta.test"


async def test_a_pasted_profile_link_of_another_instance_is_found(
    alpha: Starlette, beta: Starlette, network: Network
) -> None:
    await make_account(beta, "bob")
    found = await _search(network, alpha, "alpha.test", "http://beta.test/@bob")
    assert found.status_code == 200, found.text
    assert [a["acct"] for a in found.json()["accounts"]] == ["bob@beta.test"]


def _html_pages(server: RemoteServer, pages: dict[str, str]) -> Starlette:
    """`server` with web pages in front: each path in `pages` is HTML whose head links to the
    given activity URL; everything else is the server's ActivityPub documents."""

    async def page(request: Request) -> Response:
        link = pages[request.url.path]
        return HTMLResponse(
            f'<html><head><link rel="alternate" type="application/activity+json" href="{link}">'
            "</head><body>a post</body></html>"
        )

    routes: list[Route | Mount] = [Route(path, page) for path in pages]
    return Starlette(routes=[*routes, Mount("/", app=server.app())])


async def test_a_page_s_alternate_link_is_followed_on_its_own_origin(
    alpha: Starlette, network: Network
) -> None:
    # Given a server that answers HTML even to ActivityPub requests, linking its post
    server = RemoteServer("mastodon.test")
    bob = mastodon_bob(server)
    note = bob.publish_post(1)
    network.apps[server.host] = _html_pages(server, {"/@bob/1": "/users/bob/statuses/1"})
    # When the page's address is pasted on alpha
    found = await _search(network, alpha, "alpha.test", "http://mastodon.test/@bob/1")
    # Then the post it links is found
    assert found.status_code == 200, found.text
    assert [s["uri"] for s in found.json()["statuses"]] == [note["id"]]


async def test_a_page_linking_another_origin_is_not_followed(
    alpha: Starlette, beta: Starlette, network: Network
) -> None:
    # Given a post on beta, and a page elsewhere that claims it as its own document
    status = await _post(network, beta, "beta.test", "carol")
    server = RemoteServer("pages.test")
    network.apps[server.host] = _html_pages(server, {"/claimed": status["uri"]})
    # When that page is pasted on alpha
    found = await _search(network, alpha, "alpha.test", "http://pages.test/claimed")
    # Then nothing is found: a page speaks only for its own origin
    assert found.status_code == 404
    assert "error" in found.json()
