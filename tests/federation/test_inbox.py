from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func
from sqlmodel import select
from starlette.applications import Starlette

from activitypub.keys import generate_rsa_key_pair
from activitypub.signatures import sign_request
from server.context import context
from server.models import Follow, InboxItem, NoteLike
from server.social.notes import local_actor
from tests.support.accounts import make_account, make_token
from tests.support.inbox import INBOX, post_note, send
from tests.support.network import Network
from tests.support.remote import RemoteActor


async def _count(app: Starlette, model: Any) -> int:
    async with context(app).db.session() as session:
        return int((await session.exec(select(func.count()).select_from(model))).one())


async def test_a_signed_like_is_stored_then_counted_once(
    alpha: Starlette, network: Network, mastodon: RemoteActor
) -> None:
    # Given a post on alpha
    status = await post_note(alpha, network)
    like = mastodon.like(status["uri"])
    # When the Like arrives twice (shared inbox, then the personal inbox)
    first = await send(network, *mastodon.signed(INBOX, like))
    personal = "http://alpha.test/users/carol/inbox"
    again = await send(network, *mastodon.signed(personal, like), url=personal)
    await context(alpha).worker.drain()
    # Then both are answered 202 (senders retry after timeouts), stored and counted once
    assert first.status_code == 202
    assert again.status_code == 202
    assert await _count(alpha, InboxItem) == 1
    async with network.client("alpha.test") as http:
        shown = (await http.get(f"/api/v1/statuses/{status['id']}")).json()
    assert shown["favourites_count"] == 1
    # When the Undo arrives, matched on the inner Like id
    undo = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{like['id']}/undo",
        "type": "Undo",
        "actor": mastodon.uri,
        "object": {k: v for k, v in like.items() if k != "@context"},
    }
    assert (await send(network, *mastodon.signed(INBOX, undo))).status_code == 202
    await context(alpha).worker.drain()
    assert await _count(alpha, NoteLike) == 0


async def test_the_actor_is_cached_with_sanitized_html(
    alpha: Starlette, network: Network, mastodon: RemoteActor
) -> None:
    status = await post_note(alpha, network)
    await send(network, *mastodon.signed(INBOX, mastodon.like(status["uri"])))
    from server.models import Actor

    async with context(alpha).db.session() as session:
        bob = (await session.exec(select(Actor).where(Actor.uri == mastodon.uri))).one()
    assert "<script>" not in bob.summary
    assert "<script>" not in bob.name
    assert bob.shared_inbox == "http://mastodon.test/inbox"


def _tampered(mastodon: RemoteActor, note_uri: str) -> dict[str, tuple[bytes, dict[str, str]]]:
    like = mastodon.like(note_uri)
    body, headers = mastodon.signed(INBOX, like)
    other_body = json.dumps({**like, "id": f"{mastodon.uri}#likes/999"}).encode()
    stale = sign_request(
        "POST",
        INBOX,
        {"Content-Type": "application/activity+json"},
        body,
        mastodon.key_id,
        mastodon.keys.private_pem,
        now=datetime.now(UTC) - timedelta(hours=2),
    )
    stranger = generate_rsa_key_pair()
    wrong_key = sign_request("POST", INBOX, {}, body, mastodon.key_id, stranger.private_pem)
    someone_else = json.dumps({**like, "actor": "http://mastodon.test/users/eve"}).encode()
    return {
        "body": (other_body, headers),
        "digest": (body, {**headers, "Digest": "SHA-256=AAAA"}),
        "date": (body, stale),
        "wrong key": (body, wrong_key),
        "wrong actor": (someone_else, mastodon.signed(INBOX, someone_else)[1]),
        "no signature": (body, {k: v for k, v in headers.items() if k != "Signature"}),
        "no date": (body, {k: v for k, v in headers.items() if k != "Date"}),
        "utf-16": mastodon.signed(INBOX, json.dumps(like).encode("utf-16")),
    }


async def test_every_tampering_is_refused_and_stores_nothing(
    alpha: Starlette, network: Network, mastodon: RemoteActor
) -> None:
    status = await post_note(alpha, network)
    for name, (body, headers) in _tampered(mastodon, status["uri"]).items():
        response = await send(network, body, headers)
        assert response.status_code in (400, 401), (name, response.status_code, response.text)
    assert await _count(alpha, InboxItem) == 0


async def test_unknown_types_are_accepted_and_ignored(
    alpha: Starlette, network: Network, mastodon: RemoteActor
) -> None:
    activity = {
        "id": f"{mastodon.uri}#odd/1",
        "type": "Flag",
        "actor": mastodon.uri,
        "object": "http://alpha.test/users/nobody",
    }
    response = await send(network, *mastodon.signed(INBOX, activity))
    await context(alpha).worker.drain()
    assert response.status_code == 202
    async with context(alpha).db.session() as session:
        item = (await session.exec(select(InboxItem))).one()
    assert item.state == "ignored"


@pytest.mark.parametrize("locked", [False, True])
async def test_follow_is_accepted_unless_locked(
    alpha: Starlette, network: Network, mastodon: RemoteActor, locked: bool
) -> None:
    account = await make_account(alpha, "carol")
    if locked:
        async with context(alpha).db.transaction() as session:
            account.locked = True
            session.add(account)
    follow = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{mastodon.uri}#follows/1",
        "type": "Follow",
        "actor": mastodon.uri,
        "object": "http://alpha.test/users/carol",
    }
    assert (await send(network, *mastodon.signed(INBOX, follow))).status_code == 202
    await context(alpha).worker.drain()
    async with context(alpha).db.session() as session:
        row = (await session.exec(select(Follow))).one()
    assert row.state == ("pending" if locked else "accepted")
    accepts = [item for item in mastodon.server.activities() if item["type"] == "Accept"]
    assert len(accepts) == (0 if locked else 1)
    if not locked:
        assert accepts[0]["object"]["id"] == follow["id"]
        # A post now reaches the follower's shared inbox.
        token = await make_token(alpha, account)
        async with network.client("alpha.test") as http:
            await http.post(
                "/api/v1/statuses",
                json={"status": "to my followers"},
                headers={"Authorization": f"Bearer {token}"},
            )
        await context(alpha).worker.drain()
        creates = [item for item in mastodon.server.activities() if item["type"] == "Create"]
        assert creates[0]["object"]["content"] == "<p>to my followers</p>"


async def test_a_rotated_key_is_refetched_once(
    alpha: Starlette, network: Network, mastodon: RemoteActor
) -> None:
    # Given alpha cached bob's first key
    status = await post_note(alpha, network)
    assert (
        await send(network, *mastodon.signed(INBOX, mastodon.like(status["uri"])))
    ).status_code == 202
    # When bob rotates his key and signs with the new one
    mastodon.rotate_key()
    undo = {
        "id": f"{mastodon.uri}#likes/1/undo",
        "type": "Undo",
        "actor": mastodon.uri,
        "object": mastodon.like(status["uri"]),
    }
    response = await send(network, *mastodon.signed(INBOX, undo))
    # Then the actor is refetched and the signature verifies
    assert response.status_code == 202


async def test_secure_mode_fetches_are_signed_by_the_instance_actor(
    alpha: Starlette, beta: Starlette, network: Network
) -> None:
    status = await post_note(alpha, network)
    context(alpha).settings = context(alpha).settings.replace(secure_mode=True)
    dave = await make_account(beta, "dave")
    token = await make_token(beta, dave)
    async with network.client("beta.test") as http:
        found = await http.get(
            "/api/v2/search",
            params={"q": status["uri"], "resolve": "true"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert found.status_code == 200, found.text
    assert found.json()["statuses"][0]["uri"] == status["uri"]
    async with network.client("alpha.test") as http:
        unsigned = await http.get(status["uri"], headers={"Accept": "application/activity+json"})
    assert unsigned.status_code == 401


async def test_likes_collection_lists_ids_only_to_the_owner(
    alpha: Starlette, network: Network, mastodon: RemoteActor
) -> None:
    status = await post_note(alpha, network)
    like = mastodon.like(status["uri"])
    await send(network, *mastodon.signed(INBOX, like))
    await context(alpha).worker.drain()

    async with context(alpha).db.session() as session:
        carol = await local_actor(session, 1)
    url = status["uri"] + "/likes"
    accept = {"Accept": "application/activity+json"}
    signed = sign_request("GET", url, accept, None, carol.key_id, carol.private_key_pem or "")
    async with network.client("alpha.test") as http:
        public = (await http.get(url, headers=accept)).json()
        owner = (await http.get(url, headers=signed)).json()
    assert public["totalItems"] == 1 and "items" not in public
    assert owner["items"] == [like["id"]]


async def test_an_unknown_users_inbox_is_a_404_and_stores_nothing(
    alpha: Starlette, network: Network, mastodon: RemoteActor
) -> None:
    status = await post_note(alpha, network)
    nobody = "http://alpha.test/users/nobody/inbox"
    response = await send(
        network, *mastodon.signed(nobody, mastodon.like(status["uri"])), url=nobody
    )
    assert response.status_code == 404
    assert await _count(alpha, InboxItem) == 0
