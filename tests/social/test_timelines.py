"""Timelines: home (what one follows and one's own, as far as one may see it), public
(local, remote), hashtag; all paged by max_id/since_id/min_id/limit with a Link header."""

from __future__ import annotations

from typing import Any

import httpx
from mastodon import Mastodon
from starlette.applications import Starlette

from server.context import context
from server.models import Actor, Note
from tests.support.instances import LiveInstance
from tests.support.live import FAST, Start, user
from tests.support.statuses import follow_locally, post_status, user_with_token


async def _remote_note(app: Starlette, text: str) -> int:
    """A public note by zoe on remote.test, as the inbox would have cached it."""
    async with context(app).db.transaction() as session:
        zoe = Actor(
            uri="https://remote.test/users/zoe",
            username="zoe",
            domain="remote.test",
            inbox="https://remote.test/users/zoe/inbox",
        )
        session.add(zoe)
        await session.flush()
        note = Note(
            uri="https://remote.test/notes/1",
            author_id=zoe.id or 0,
            content=f"<p>{text}</p>",
        )
        session.add(note)
        await session.flush()
        return int(note.id or 0)


def _app(instance: LiveInstance, auth: dict[str, str]) -> Mastodon:
    token = auth["Authorization"].removeprefix("Bearer ")
    return Mastodon(access_token=token, api_base_url=instance.base_url, version_check_mode="none")


def _next(app: Mastodon, page: Any) -> list[Any]:
    """The page after `page`, by its Link header."""
    found = app.fetch_next(page)
    assert found is not None
    return list(found)


def _ids(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [status["id"] for status in answer.json()]


async def test_home_shows_followed_and_own_posts_as_far_as_visible(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    # Given dave follows carol, not erin
    dave_account, dave = await user_with_token(app, "dave")
    carol_account, carol = await user_with_token(app, "carol")
    _, erin = await user_with_token(app, "erin")
    await follow_locally(app, dave_account, carol_account)
    public = await post_status(client, carol, status="public")
    private = await post_status(client, carol, status="followers only", visibility="private")
    await post_status(client, carol, status="to erin alone @erin", visibility="direct")
    to_dave = await post_status(client, carol, status="to @dave alone", visibility="direct")
    await post_status(client, erin, status="erin's")
    own = await post_status(client, dave, status="dave's")
    # When dave reads his home timeline
    home = await client.get("/api/v1/timelines/home", headers=dave)
    # Then he sees his own, carol's public and private, and the direct one to him
    assert _ids(home) == [own, to_dave, private, public]
    carol_home = await client.get("/api/v1/timelines/home", headers=carol)
    assert public in _ids(carol_home) and own not in _ids(carol_home)
    anonymous = await client.get("/api/v1/timelines/home")
    assert anonymous.status_code == 401 and "error" in anonymous.json()


async def test_home_pages_by_max_id_since_id_and_min_id(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    _, dave = await user_with_token(app, "dave")
    posts = [await post_status(client, dave, status=f"post {n}") for n in range(5)]
    first = await client.get("/api/v1/timelines/home", params={"limit": 2}, headers=dave)
    assert _ids(first) == [posts[4], posts[3]]
    older = await client.get(first.links["next"]["url"], headers=dave)
    assert _ids(older) == [posts[2], posts[1]]
    assert f"max_id={posts[3]}" in first.links["next"]["url"]
    assert f"min_id={posts[4]}" in first.links["prev"]["url"]
    back = await client.get(older.links["prev"]["url"], headers=dave)
    assert _ids(back) == [posts[4], posts[3]]
    since = await client.get(
        "/api/v1/timelines/home", params={"since_id": posts[1], "limit": 2}, headers=dave
    )
    assert _ids(since) == [posts[4], posts[3]]
    minimum = await client.get(
        "/api/v1/timelines/home", params={"min_id": posts[1], "limit": 2}, headers=dave
    )
    assert _ids(minimum) == [posts[3], posts[2]]
    empty = await client.get("/api/v1/timelines/home", params={"max_id": posts[0]}, headers=dave)
    assert _ids(empty) == [] and "link" not in empty.headers
    bad = await client.get("/api/v1/timelines/home", params={"max_id": "x"}, headers=dave)
    assert bad.status_code == 400 and "error" in bad.json()


async def test_public_timeline_local_remote_and_by_hashtag(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    _, carol = await user_with_token(app, "carol")
    remote = str(await _remote_note(app, "from afar"))
    local = await post_status(client, carol, status="hello #Likewise")
    await post_status(client, carol, status="quiet", visibility="unlisted")
    await post_status(client, carol, status="mine", visibility="private")
    everything = await client.get("/api/v1/timelines/public")
    assert _ids(everything) == [local, remote]
    assert _ids(await client.get("/api/v1/timelines/public", params={"local": "true"})) == [local]
    assert _ids(await client.get("/api/v1/timelines/public", params={"remote": "true"})) == [remote]
    tagged = await client.get("/api/v1/timelines/tag/likewise")
    assert _ids(tagged) == [local]
    assert _ids(await client.get("/api/v1/timelines/tag/LIKEWISE")) == [local]
    assert _ids(await client.get("/api/v1/timelines/tag/other")) == []
    assert "next" in tagged.links
    bad = await client.get("/api/v1/timelines/tag/no%20such")
    assert bad.status_code == 400 and "error" in bad.json()


async def test_timelines_leave_out_muted_blocked_and_domain_blocked_authors(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    dave_account, dave = await user_with_token(app, "dave")
    carol_account, carol = await user_with_token(app, "carol")
    _, erin = await user_with_token(app, "erin")
    await follow_locally(app, dave_account, carol_account)
    remote = str(await _remote_note(app, "from afar"))
    carols = await post_status(client, carol, status="carol's")
    erins = await post_status(client, erin, status="erin's")
    # When dave mutes carol, blocks erin and blocks remote.test
    muted = await client.post(f"/api/v1/accounts/{carol_account.id}/mute", headers=dave)
    erin_id = (await client.get(f"/api/v1/statuses/{erins}")).json()["account"]["id"]
    blocked = await client.post(f"/api/v1/accounts/{erin_id}/block", headers=dave)
    domain = await client.post(
        "/api/v1/domain_blocks", data={"domain": "remote.test"}, headers=dave
    )
    assert [muted.status_code, blocked.status_code, domain.status_code] == [200, 200, 200]
    # Then his timelines leave them out; others still see them
    assert _ids(await client.get("/api/v1/timelines/home", headers=dave)) == []
    assert _ids(await client.get("/api/v1/timelines/public", headers=dave)) == []
    assert _ids(await client.get("/api/v1/timelines/public")) == [erins, carols, remote]


def test_mastodon_py_posts_replies_reads_pages_favourites_and_bookmarks(
    instances: Start,
) -> None:
    """Mastodon.py against a live instance, with tokens from `likewise tokens create`."""
    instance = instances(env=FAST)
    ann = _app(instance, user(instance, "ann"))
    ben = _app(instance, user(instance, "ben"))
    # ann posts five times and replies to her first post
    posts = [ann.status_post(f"post {n} #daily") for n in range(5)]
    reply = ann.status_post("and a reply", in_reply_to_id=posts[0]["id"])
    assert reply["in_reply_to_id"] == posts[0]["id"]
    thread = ann.status_context(posts[0]["id"])
    assert [s["id"] for s in thread["descendants"]] == [reply["id"]]
    assert [s["id"] for s in ben.status_context(reply["id"])["ancestors"]] == [posts[0]["id"]]
    # Home, two at a time, by the Link header (fetch_next)
    page = ann.timeline_home(limit=2)
    seen = [s["id"] for s in page]
    while page := ann.fetch_next(page):
        seen.extend(s["id"] for s in page)
    assert seen == [reply["id"], *[p["id"] for p in reversed(posts)]]
    public = ben.timeline_public(limit=3)
    older = _next(ben, public)
    assert [s["id"] for s in public + older] == seen
    assert [s["id"] for s in ben.timeline_hashtag("daily", limit=40)] == [
        p["id"] for p in reversed(posts)
    ]
    # ben favourites two posts, lists them, unfavourites one; bookmarks one
    for status in posts[:2]:
        assert ben.status_favourite(status["id"])["favourited"] is True
    assert [s["id"] for s in ben.favourites()] == [posts[1]["id"], posts[0]["id"]]
    first = ben.favourites(limit=1)
    assert [s["id"] for s in _next(ben, first)] == [posts[0]["id"]]
    assert ben.status_unfavourite(posts[1]["id"])["favourited"] is False
    assert [s["id"] for s in ben.favourites()] == [posts[0]["id"]]
    assert ben.status(posts[0]["id"])["favourites_count"] == 1
    assert ben.status_bookmark(posts[2]["id"])["bookmarked"] is True
    assert [s["id"] for s in ben.bookmarks()] == [posts[2]["id"]]
    assert ben.status_unbookmark(posts[2]["id"])["bookmarked"] is False
    assert ben.bookmarks() == []
