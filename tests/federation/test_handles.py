"""Handles and the addresses their servers give: WebFinger answers 400 to a resource it
cannot read (RFC 7033), a visitor is sent only to an http(s) address on their handle's own
host, and a handle whose server names an actor elsewhere needs that host to confirm it."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest
from starlette.applications import Starlette

from activitypub.webfinger import build_jrd
from tests.support.accounts import csrf_from, make_account, make_token
from tests.support.inbox import post_note
from tests.support.network import Network
from tests.support.remote import RemoteActor, RemoteServer, serve_remote

MALFORMED = ["", "acct:", "acct:carol", "carol@", "acct:@alpha.test", "http://", "https:///x"]


@pytest.mark.parametrize("resource", [None, *MALFORMED])
async def test_webfinger_answers_400_to_a_missing_or_malformed_resource(
    alpha: Starlette, network: Network, resource: str | None
) -> None:
    params = {} if resource is None else {"resource": resource}
    async with network.client("alpha.test") as http:
        response = await http.get("/.well-known/webfinger", params=params)
    assert response.status_code == 400
    assert response.json()["error"]


@pytest.mark.parametrize(
    "resource",
    ["acct:nobody@alpha.test", "acct:carol@elsewhere.test", "http://alpha.test/users/nobody"],
)
async def test_webfinger_answers_404_to_a_well_formed_unknown_resource(
    alpha: Starlette, network: Network, resource: str
) -> None:
    await make_account(alpha, "carol")
    async with network.client("alpha.test") as http:
        response = await http.get("/.well-known/webfinger", params={"resource": resource})
        found = await http.get(
            "/.well-known/webfinger", params={"resource": "acct:carol@alpha.test"}
        )
    assert response.status_code == 404
    assert found.status_code == 200


async def _remote_interaction(alpha: Starlette, network: Network, template: str) -> httpx.Response:
    visitor = serve_remote(network, "visitor.test")
    visitor.jrds["dave"] = build_jrd(
        "dave",
        "visitor.test",
        "http://visitor.test/users/dave",
        "http://visitor.test/@dave",
        subscribe_template=template,
    )
    status = await post_note(alpha, network)
    async with network.client("alpha.test") as browser:
        page = await browser.get(f"/@carol/{status['id']}")
        return await browser.post(
            "/remote_interaction",
            data={
                "handle": "dave@visitor.test",
                "uri": status["uri"],
                "csrf_token": csrf_from(page.text),
            },
        )


@pytest.mark.parametrize(
    "template",
    [
        "javascript:alert(document.cookie)//{uri}",
        "//evil.example/authorize_interaction?uri={uri}",
        "https://other.host/authorize_interaction?uri={uri}",
        "http://visitor.test@evil.example/authorize_interaction?uri={uri}",
        "http://evil.example\\@visitor.test/authorize_interaction?uri={uri}",
        "data:text/html,<script>alert(1)</script>{uri}",
    ],
)
async def test_remote_interaction_refuses_an_address_off_the_handles_host(
    alpha: Starlette, network: Network, template: str
) -> None:
    response = await _remote_interaction(alpha, network, template)
    assert response.status_code == 422
    assert "location" not in response.headers


async def test_remote_interaction_sends_the_visitor_to_their_own_host(
    alpha: Starlette, network: Network
) -> None:
    template = "http://visitor.test/authorize_interaction?uri={uri}"
    response = await _remote_interaction(alpha, network, template)
    assert response.status_code == 303
    uri = "http://alpha.test/users/carol/statuses/"
    assert response.headers["location"].startswith(
        f"http://visitor.test/authorize_interaction?uri={quote(uri, safe='')}"
    )


async def _search(app: Starlette, network: Network, query: str) -> httpx.Response:
    account = await make_account(app, "searcher")
    token = await make_token(app, account)
    async with network.client("alpha.test") as http:
        return await http.get(
            "/api/v2/search",
            params={"q": query, "resolve": "true"},
            headers={"Authorization": f"Bearer {token}"},
        )


def _alias_elsewhere(network: Network) -> tuple[RemoteServer, RemoteActor]:
    """alice@visitor.test, whose server names an actor on good.example."""
    good = serve_remote(network, "good.example")
    victim = RemoteActor(good, "victim")
    victim.publish()
    visitor = serve_remote(network, "visitor.test")
    visitor.jrds["alice"] = build_jrd(
        "alice", "visitor.test", victim.uri, "http://visitor.test/@alice"
    )
    return good, victim


async def test_a_handle_naming_an_actor_elsewhere_needs_that_hosts_confirmation(
    alpha: Starlette, network: Network
) -> None:
    good, victim = _alias_elsewhere(network)
    del good.jrds["victim"]  # good.example's WebFinger does not know the name
    response = await _search(alpha, network, "alice@visitor.test")
    assert response.status_code == 404
    assert victim.uri in response.json()["error"]


async def test_a_handle_naming_an_actor_elsewhere_that_confirms_it_resolves(
    alpha: Starlette, network: Network
) -> None:
    _, victim = _alias_elsewhere(network)
    response = await _search(alpha, network, "alice@visitor.test")
    assert response.status_code == 200, response.text
    [account] = response.json()["accounts"]
    assert (account["uri"], account["acct"]) == (victim.uri, "victim@good.example")
