"""Reblogs: a Status of its own wrapping the shared one, counted and listed, shown to the
followers' home timelines, sent as an Announce to followers and the shared note's author,
and undone with an Undo."""

from __future__ import annotations

import httpx
from sqlmodel import select
from starlette.applications import Starlette

from server.context import context
from server.models import Follow
from server.models.federation import FollowState
from tests.support.accounts import bearer, make_account, make_token, post_status
from tests.support.inbox import INBOX, send
from tests.support.network import Network
from tests.support.remote import RemoteActor

PUBLIC = "https://www.w3.org/ns/activitystreams#Public"


async def test_reblog_wraps_counts_lists_and_undoes(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    carol = await bearer(app, "carol")
    dave = await bearer(app, "dave")
    post = await post_status(client, carol, status="share me")
    # When dave reblogs it (twice: the second changes nothing)
    first = await client.post(f"/api/v1/statuses/{post['id']}/reblog", headers=dave)
    again = await client.post(f"/api/v1/statuses/{post['id']}/reblog", headers=dave)
    reblog = first.json()
    # Then the answer is his reblog wrapping carol's post
    assert first.status_code == 200, first.text
    assert again.json()["id"] == reblog["id"] != post["id"]
    assert reblog["account"]["username"] == "dave"
    assert reblog["reblog"]["id"] == post["id"]
    assert reblog["reblog"]["reblogged"] is True
    assert reblog["reblog"]["reblogs_count"] == 1
    assert reblog["content"] == ""
    people = await client.get(f"/api/v1/statuses/{post['id']}/reblogged_by")
    assert [a["username"] for a in people.json()] == ["dave"]
    # And reading the reblog's id shows the same; the public timeline leaves reblogs out
    assert (await client.get(f"/api/v1/statuses/{reblog['id']}")).json()["reblog"]["id"] == post[
        "id"
    ]
    public = (await client.get("/api/v1/timelines/public")).json()
    assert [s["id"] for s in public] == [post["id"]]
    dave_home = (await client.get("/api/v1/timelines/home", headers=dave)).json()
    assert [s["id"] for s in dave_home] == [reblog["id"]]
    # When he undoes it
    undone = await client.post(f"/api/v1/statuses/{reblog['id']}/unreblog", headers=dave)
    assert undone.json()["id"] == post["id"]
    assert undone.json()["reblogged"] is False
    assert undone.json()["reblogs_count"] == 0
    assert (await client.get(f"/api/v1/statuses/{reblog['id']}")).status_code == 404
    assert (await client.get("/api/v1/timelines/home", headers=dave)).json() == []


async def test_private_and_direct_posts_cannot_be_reblogged(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    carol = await bearer(app, "carol")
    private = await post_status(client, carol, status="mine", visibility="private")
    refused = await client.post(f"/api/v1/statuses/{private['id']}/reblog", headers=carol)
    assert refused.status_code == 403 and "error" in refused.json()
    missing = await client.post("/api/v1/statuses/424242/reblog", headers=carol)
    assert missing.status_code == 404


async def test_reblog_of_a_remote_post_announces_to_its_author(
    alpha: Starlette, network: Network, mastodon: RemoteActor
) -> None:
    # Given bob's post, found by carol on alpha
    auth = await bearer(alpha, "carol")
    note = mastodon.publish_post(3)
    async with network.client("alpha.test") as http:
        found = await http.get(
            "/api/v2/search", params={"q": note["id"], "resolve": "true"}, headers=auth
        )
        local_id = found.json()["statuses"][0]["id"]
        # When she reblogs it and then undoes it
        reblog = (await http.post(f"/api/v1/statuses/{local_id}/reblog", headers=auth)).json()
        await http.post(f"/api/v1/statuses/{local_id}/unreblog", headers=auth)
    await context(alpha).worker.drain()
    # Then bob's server got the Announce, then its Undo
    announce, undo = mastodon.server.activities()
    assert announce["type"] == "Announce"
    assert announce["id"] == reblog["uri"]
    assert announce["object"] == note["id"]
    assert announce["to"] == [PUBLIC]
    assert announce["cc"] == [mastodon.uri, "http://alpha.test/users/carol/followers"]
    assert undo["type"] == "Undo"
    assert undo["object"]["id"] == announce["id"]


async def test_a_followed_remote_actors_announce_reaches_the_home_timeline(
    alpha: Starlette, network: Network, mastodon: RemoteActor
) -> None:
    # Given carol on alpha follows bob, and dave posted
    carol_account = await make_account(alpha, "carol")
    carol = {"Authorization": f"Bearer {await make_token(alpha, carol_account)}"}
    dave = await bearer(alpha, "dave")
    async with network.client("alpha.test") as http:
        followed = await http.post(
            "/api/v1/follows", data={"uri": "bob@mastodon.test"}, headers=carol
        )
        assert followed.status_code == 200, followed.text
        post = await post_status(http, dave, status="worth sharing")
    async with context(alpha).db.transaction() as session:
        follow = (await session.exec(select(Follow))).one()
        follow.state = FollowState.accepted
        session.add(follow)
    # When bob announces dave's post
    announce = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{mastodon.uri}/statuses/77/activity",
        "type": "Announce",
        "actor": mastodon.uri,
        "object": post["uri"],
        "to": [PUBLIC],
        "cc": [f"{mastodon.uri}/followers"],
    }
    assert (await send(network, *mastodon.signed(INBOX, announce))).status_code == 202
    await context(alpha).worker.drain()
    async with network.client("alpha.test") as http:
        home = (await http.get("/api/v1/timelines/home", headers=carol)).json()
        counted = (await http.get(f"/api/v1/statuses/{post['id']}")).json()
    # Then carol's home shows bob's reblog of it, and dave's post counts it
    assert [(s["account"]["acct"], s["reblog"]["id"]) for s in home] == [
        ("bob@mastodon.test", post["id"])
    ]
    assert counted["reblogs_count"] == 1
    # When bob undoes it, it leaves her home timeline
    assert (
        await send(network, *mastodon.signed(INBOX, mastodon.undo(announce)))
    ).status_code == 202
    await context(alpha).worker.drain()
    async with network.client("alpha.test") as http:
        assert (await http.get("/api/v1/timelines/home", headers=carol)).json() == []
        assert (await http.get(f"/api/v1/statuses/{post['id']}")).json()["reblogs_count"] == 0
