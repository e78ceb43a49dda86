"""What an actor document may say is believed only where its own origin vouches for it:
its inbox, endpoints and profile URL on the actor's origin, and a username Mastodon would
accept. The inbox refuses an actor it cannot believe (4xx); the Mastodon API shows
`user@host` for the others."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlmodel import select
from starlette.applications import Starlette

from server.context import context
from server.models import Actor
from tests.support.accounts import make_account, make_token
from tests.support.inbox import post_note
from tests.support.network import Network
from tests.support.remote import AS, RemoteActor, RemoteServer, serve_remote

INBOX = "http://alpha.test/inbox"
BAD_USERNAMES = ["bob<script>", "bob smith", "bob@evil.example", ".bob", "", "b" * 256, None]


@pytest.fixture
def good(network: Network) -> RemoteServer:
    return serve_remote(network, "good.example")


async def send(network: Network, body: bytes, headers: dict[str, str]) -> httpx.Response:
    async with network.client("alpha.test") as http:
        return await http.post(INBOX, content=body, headers=headers)


async def _row(app: Starlette, uri: str) -> Actor | None:
    async with context(app).db.session() as session:
        row: Actor | None = (await session.exec(select(Actor).where(Actor.uri == uri))).first()
        return row


async def _search(app: Starlette, network: Network, query: str) -> httpx.Response:
    account = await make_account(app, "searcher")
    token = await make_token(app, account)
    async with network.client("alpha.test") as http:
        return await http.get(
            "/api/v2/search",
            params={"q": query, "resolve": "true"},
            headers={"Authorization": f"Bearer {token}"},
        )


@pytest.mark.parametrize("username", BAD_USERNAMES)
async def test_an_actor_with_an_invalid_username_is_refused_at_the_inbox(
    alpha: Starlette, network: Network, good: RemoteServer, username: str | None
) -> None:
    note = (await post_note(alpha, network))["uri"]
    actor = RemoteActor(good, "odd")
    actor.publish(preferredUsername=username)
    response = await send(network, *actor.signed(INBOX, actor.like(note)))
    assert response.status_code == 401
    assert "preferredUsername" in response.json()["error"]
    assert await _row(alpha, actor.uri) is None


async def test_an_actor_with_an_invalid_username_is_not_resolved(
    alpha: Starlette, network: Network, good: RemoteServer
) -> None:
    actor = RemoteActor(good, "odd")
    actor.publish(preferredUsername="bob<script>")
    response = await _search(alpha, network, actor.uri)
    assert response.status_code == 422
    assert "preferredUsername" in response.json()["error"]
    assert await _row(alpha, actor.uri) is None


@pytest.mark.parametrize("name", ["bob", "Bob_2", "bob.smith", "bob-smith"])
async def test_a_valid_username_shows_as_user_at_host(
    alpha: Starlette, network: Network, good: RemoteServer, name: str
) -> None:
    actor = RemoteActor(good, name)
    actor.publish()
    by_url = await _search(alpha, network, actor.uri)
    assert by_url.status_code == 200, by_url.text
    [account] = by_url.json()["accounts"]
    assert (account["username"], account["acct"]) == (name, f"{name}@good.example")


async def test_an_actor_whose_inbox_is_elsewhere_is_refused(
    alpha: Starlette, network: Network, good: RemoteServer
) -> None:
    note = (await post_note(alpha, network))["uri"]
    actor = RemoteActor(good, "bounce")
    actor.publish(inbox="http://victim.example/inbox")
    response = await send(network, *actor.signed(INBOX, actor.like(note)))
    assert response.status_code == 401
    assert "inbox" in response.json()["error"]
    assert await _row(alpha, actor.uri) is None


async def test_endpoints_and_a_profile_url_elsewhere_are_not_kept(
    alpha: Starlette, network: Network, good: RemoteServer
) -> None:
    note = (await post_note(alpha, network))["uri"]
    actor = RemoteActor(good, "wanderer")
    elsewhere = "http://evil.example"
    actor.publish(
        outbox=f"{elsewhere}/outbox",
        followers=f"{elsewhere}/followers",
        url=f"{elsewhere}/@wanderer",
        endpoints={"sharedInbox": f"{elsewhere}/inbox"},
    )
    response = await send(network, *actor.signed(INBOX, actor.like(note)))
    assert response.status_code == 202, response.text
    row = await _row(alpha, actor.uri)
    assert row is not None
    assert (row.outbox, row.followers_url, row.shared_inbox) == ("", "", "")
    assert row.url == actor.uri  # as Mastodon does: a profile URL elsewhere falls back to the id
    assert row.inbox == f"{actor.uri}/inbox"


def _update(actor: RemoteActor, document: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": AS,
        "id": f"{actor.uri}#updates/1",
        "type": "Update",
        "actor": actor.uri,
        "to": [f"{AS}#Public"],
        "object": document,
    }


async def test_an_update_cannot_bring_an_invalid_username_or_anothers_key(
    alpha: Starlette, network: Network, good: RemoteServer
) -> None:
    note = (await post_note(alpha, network))["uri"]
    actor = RemoteActor(good, "changer")
    actor.publish()
    assert (await send(network, *actor.signed(INBOX, actor.like(note)))).status_code == 202
    # When it sends an Update with a username Mastodon refuses
    renamed = actor.document(preferredUsername="changer<b>")
    sent = await send(network, *actor.signed(INBOX, _update(actor, renamed)))
    await context(alpha).worker.drain()
    row = await _row(alpha, actor.uri)
    assert sent.status_code == 202 and row is not None
    assert row.username == "changer"
    # When it sends an Update declaring a key of another origin
    foreign = {"id": "http://evil.example/users/x#main-key", "owner": actor.uri}
    rekeyed = actor.document(publicKey={**foreign, "publicKeyPem": actor.keys.public_pem})
    update = {**_update(actor, rekeyed), "id": f"{actor.uri}#updates/2"}
    sent = await send(network, *actor.signed(INBOX, update))
    await context(alpha).worker.drain()
    row = await _row(alpha, actor.uri)
    assert sent.status_code == 202 and row is not None
    assert row.key_id != foreign["id"]
