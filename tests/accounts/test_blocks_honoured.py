"""Blocks are honoured where the fediverse reaches the blocker: a blocked actor's (or a
blocked domain's) signed Likes, follows and posts are dropped, and blocking cuts follows
both ways and tells the blocked actor's server."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select
from starlette.applications import Starlette

from server.accounts.relations import hidden_actor_ids
from server.context import context
from server.models import Actor, Follow, InboxItem, Note, NoteLike
from tests.support.accounts import make_token
from tests.support.inbox import deliver, make_activity, make_note, post_note
from tests.support.network import Network
from tests.support.remote import RemoteActor


async def _actor_id(app: Starlette, uri: str) -> int:
    async with context(app).db.session() as session:
        actor = (await session.exec(select(Actor).where(Actor.uri == uri))).one()
    return int(actor.id or 0)


async def _likes(app: Starlette) -> list[NoteLike]:
    async with context(app).db.session() as session:
        return list((await session.exec(select(NoteLike))).all())


async def _item(app: Starlette, activity_id: str) -> InboxItem:
    async with context(app).db.session() as session:
        query = select(InboxItem).where(InboxItem.activity_id == activity_id)
        return (await session.exec(query)).one()


async def _carol_token(app: Starlette) -> dict[str, str]:
    from server.models import Account

    async with context(app).db.session() as session:
        carol = (await session.exec(select(Account).where(Account.username == "carol"))).one()
    return {"Authorization": f"Bearer {await make_token(app, carol, 'read write follow')}"}


async def test_a_blocked_actors_like_and_follow_are_dropped_and_follows_cut(
    alpha: Starlette, network: Network, mastodon: RemoteActor
) -> None:
    # Given carol's post, and bob on Mastodon following her
    status: dict[str, Any] = await post_note(alpha, network)
    follow = make_activity(mastodon, "Follow", 1, "http://alpha.test/users/carol")
    await deliver(alpha, network, mastodon, follow)
    bob_id = await _actor_id(alpha, mastodon.uri)
    auth = await _carol_token(alpha)
    # When carol blocks bob
    async with network.client("alpha.test") as http:
        blocked = await http.post(f"/api/v1/accounts/r{bob_id}/block", headers=auth)
        listed = await http.get("/api/v1/blocks", headers=auth)
    assert blocked.status_code == 200, blocked.text
    assert blocked.json()["blocking"] is True and blocked.json()["followed_by"] is False
    assert [account["id"] for account in listed.json()] == [f"r{bob_id}"]
    # Then the follow is gone and bob's server is sent a Block
    async with context(alpha).db.session() as session:
        assert (await session.exec(select(Follow))).all() == []
    await context(alpha).worker.drain()
    sent = [a for a in mastodon.server.activities() if a["type"] == "Block"]
    assert [(a["actor"], a["object"]) for a in sent] == [
        ("http://alpha.test/users/carol", mastodon.uri)
    ]
    # When bob likes her post (a plain, signed Like: the inbox's bulk path)
    like = make_activity(mastodon, "Like", 2, status["uri"])
    await deliver(alpha, network, mastodon, like)
    # Then no like is recorded, and the inbox says why
    assert await _likes(alpha) == []
    item = await _item(alpha, like["id"])
    assert item.state == "ignored" and "blocks" in item.error
    # And his new follow is dropped too
    again = make_activity(mastodon, "Follow", 3, "http://alpha.test/users/carol")
    await deliver(alpha, network, mastodon, again)
    async with context(alpha).db.session() as session:
        assert (await session.exec(select(Follow))).all() == []
    # When carol unblocks him, his next like counts
    async with network.client("alpha.test") as http:
        unblocked = await http.post(f"/api/v1/accounts/r{bob_id}/unblock", headers=auth)
    assert unblocked.json()["blocking"] is False
    await deliver(alpha, network, mastodon, make_activity(mastodon, "Like", 4, status["uri"]))
    assert [like.actor_uri for like in await _likes(alpha)] == [mastodon.uri]
    await context(alpha).worker.drain()
    undo = [a for a in mastodon.server.activities() if a["type"] == "Undo"]
    assert undo and undo[-1]["object"]["type"] == "Block"


async def test_a_blocked_domains_likes_are_dropped_and_its_posts_hidden(
    alpha: Starlette, network: Network, mastodon: RemoteActor
) -> None:
    # Given carol's post, known to bob's server
    status = await post_note(alpha, network)
    await deliver(
        alpha,
        network,
        mastodon,
        make_activity(mastodon, "Follow", 1, "http://alpha.test/users/carol"),
    )
    auth = await _carol_token(alpha)
    # When carol blocks bob's whole domain
    async with network.client("alpha.test") as http:
        added = await http.post(
            "/api/v1/domain_blocks", data={"domain": mastodon.server.host}, headers=auth
        )
        listed = await http.get("/api/v1/domain_blocks", headers=auth)
    assert added.status_code == 200, added.text
    assert listed.json() == [mastodon.server.host]
    # Then his follow from there is removed, his Like and EmojiReact are dropped
    async with context(alpha).db.session() as session:
        assert (await session.exec(select(Follow))).all() == []
    await deliver(alpha, network, mastodon, make_activity(mastodon, "Like", 2, status["uri"]))
    assert await _likes(alpha) == []
    # And his post, which nobody here follows, is not stored
    note = make_note(mastodon, "<p>hello</p>")
    await deliver(alpha, network, mastodon, make_activity(mastodon, "Create", 3, note))
    async with context(alpha).db.session() as session:
        assert (await session.exec(select(Note).where(Note.uri == note["id"]))).first() is None
        hidden = await hidden_actor_ids(session, int(status["account"]["id"]))
    assert await _actor_id(alpha, mastodon.uri) in hidden
    # When she lifts the domain block, his Like counts again
    async with network.client("alpha.test") as http:
        removed = await http.request(
            "DELETE",
            "/api/v1/domain_blocks",
            params={"domain": mastodon.server.host},
            headers=auth,
        )
    assert removed.status_code == 200
    await deliver(alpha, network, mastodon, make_activity(mastodon, "Like", 4, status["uri"]))
    assert len(await _likes(alpha)) == 1


async def test_a_muted_actor_is_hidden_but_its_likes_still_count(
    alpha: Starlette, network: Network, mastodon: RemoteActor
) -> None:
    status = await post_note(alpha, network)
    await deliver(
        alpha,
        network,
        mastodon,
        make_activity(mastodon, "Follow", 1, "http://alpha.test/users/carol"),
    )
    bob_id = await _actor_id(alpha, mastodon.uri)
    auth = await _carol_token(alpha)
    async with network.client("alpha.test") as http:
        muted = await http.post(
            f"/api/v1/accounts/r{bob_id}/mute", json={"notifications": False}, headers=auth
        )
        listed = await http.get("/api/v1/mutes", headers=auth)
    assert muted.json()["muting"] is True
    assert muted.json()["muting_notifications"] is False
    assert muted.json()["followed_by"] is True  # a mute cuts no follow
    assert [account["id"] for account in listed.json()] == [f"r{bob_id}"]
    await deliver(alpha, network, mastodon, make_activity(mastodon, "Like", 2, status["uri"]))
    assert len(await _likes(alpha)) == 1
    async with context(alpha).db.session() as session:
        hidden = await hidden_actor_ids(session, int(status["account"]["id"]))
        others = await session.exec(select(Actor.id).where(col(Actor.id) != bob_id))
    assert hidden == {bob_id} and not hidden & set(others.all())
    async with network.client("alpha.test") as http:
        unmuted = await http.post(f"/api/v1/accounts/r{bob_id}/unmute", headers=auth)
    assert unmuted.json()["muting"] is False
