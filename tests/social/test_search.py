"""`GET /api/v2/search`: this instance's own URLs and handles from the database (never
fetched from ourselves), accounts and hashtags by prefix, statuses among those the
searcher wrote or interacted with, and `type`, `limit`, `offset`."""

from __future__ import annotations

from typing import Any

import httpx
from starlette.applications import Starlette

from server.context import context
from server.models import Actor
from tests.support.accounts import bearer, post_status

SEARCH = "/api/v2/search"
EMPTY: dict[str, list[Any]] = {"accounts": [], "statuses": [], "hashtags": []}


async def _search(
    client: httpx.AsyncClient, auth: dict[str, str], q: str, **params: str
) -> dict[str, Any]:
    answer = await client.get(SEARCH, params={"q": q, **params}, headers=auth)
    assert answer.status_code == 200, (q, answer.text)
    found: dict[str, Any] = answer.json()
    return found


def _ids(found: dict[str, Any], kind: str) -> list[str]:
    return [item["id"] for item in found[kind]]


async def _me(client: httpx.AsyncClient, auth: dict[str, str]) -> str:
    me = await client.get("/api/v1/accounts/verify_credentials", headers=auth)
    return str(me.json()["id"])


async def test_own_web_urls_and_handles_resolve_from_the_database(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    # Given alice's public and private posts (the test app reaches no network: a fetch
    # of likewise.test would fail, so only a database lookup can answer)
    alice = await bearer(app, "alice", "read write")
    bob = await bearer(app, "bob", "read write")
    alice_id = await _me(client, alice)
    post = await post_status(client, alice, status="hello there")
    secret = await post_status(client, alice, status="for me", visibility="private")
    base = "http://likewise.test"
    # When bob pastes the post's web URL, its ActivityPub id, or the profile's URLs
    for q in (post["url"], post["url"] + "/", post["uri"], f"{base}/@alice/{post['id']}"):
        for resolve in ("true", "false"):
            found = await _search(client, bob, q, resolve=resolve)
            # Then the post is the one result
            assert _ids(found, "statuses") == [post["id"]], (q, resolve)
            assert found["accounts"] == [] and found["hashtags"] == []
    for q in (f"{base}/@alice", f"{base}/@alice/", f"{base}/users/alice", "@alice@likewise.test"):
        found = await _search(client, bob, q, resolve="true")
        assert _ids(found, "accounts") == [alice_id], q
        assert found["accounts"][0]["acct"] == "alice"
        assert found["statuses"] == []
    # And the handle without the leading @ and without resolve, the same
    assert _ids(await _search(client, bob, "alice@likewise.test"), "accounts") == [alice_id]
    # And `type` keeps out the other kind
    only_accounts = await _search(client, bob, post["url"], resolve="true", type="accounts")
    assert only_accounts == EMPTY
    # A private post is found only by those who may read it
    assert (await _search(client, bob, secret["url"], resolve="true")) == EMPTY
    mine = await _search(client, alice, secret["url"], resolve="true")
    assert _ids(mine, "statuses") == [secret["id"]]
    # Own URLs and handles naming nothing are empty answers, not errors
    for q in (
        f"{base}/@alice/999999",
        f"{base}/@bob/{post['id']}",
        f"{base}/@nobody",
        f"{base}/about",
        "@nobody@likewise.test",
    ):
        assert (await _search(client, bob, q, resolve="true")) == EMPTY, q


async def _remote_actor(app: Starlette, name: str, host: str, display: str = "") -> str:
    async with context(app).db.transaction() as session:
        actor = Actor(uri=f"https://{host}/users/{name}", username=name, domain=host, name=display)
        session.add(actor)
        await session.flush()
        return f"r{actor.id}"


async def test_words_find_accounts_by_prefix_local_first(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    # Given alice, alicia and bob here, and alina cached from remote.test
    alice = await bearer(app, "alice")
    alicia = await bearer(app, "alicia")
    bob = await bearer(app, "bob")
    ids = {"alice": await _me(client, alice), "alicia": await _me(client, alicia)}
    alina = await _remote_actor(app, "alina", "remote.test", "Alina from afar")
    renamed = await client.patch(
        "/api/v1/accounts/update_credentials", data={"display_name": "Wonder"}, headers=alicia
    )
    assert renamed.status_code == 200
    # When bob types the start of a name
    found = await _search(client, bob, "ali")
    # Then local accounts come first, then the remote one
    assert _ids(found, "accounts") == [ids["alice"], ids["alicia"], alina]
    assert found["accounts"][2]["acct"] == "alina@remote.test"
    # An exact username first, a display name's start, a domain, the @ form
    assert _ids(await _search(client, bob, "alicia"), "accounts")[0] == ids["alicia"]
    assert _ids(await _search(client, bob, "wond"), "accounts") == [ids["alicia"]]
    assert _ids(await _search(client, bob, "ali@remote"), "accounts") == [alina]
    assert _ids(await _search(client, bob, "@alina@remote.test"), "accounts") == [alina]
    assert _ids(await _search(client, bob, "ali@likewise.test"), "accounts") == [
        ids["alice"],
        ids["alicia"],
    ]
    # limit and offset page; type narrows
    assert _ids(await _search(client, bob, "ali", limit="1", offset="1"), "accounts") == [
        ids["alicia"]
    ]
    assert (await _search(client, bob, "ali", type="hashtags"))["accounts"] == []
    # Words matching nothing, markup-like text and a lone # are empty answers, not errors
    for q in ("zzz", "hello world", "%", "#", "<p>", "   "):
        assert (await _search(client, bob, q)) == EMPTY, q
    # Bad parameters are clear 400s
    for params in ({"type": "people"}, {"limit": "many"}, {"offset": "-1"}):
        refused = await client.get(SEARCH, params={"q": "ali", **params}, headers=bob)
        assert refused.status_code == 400 and "error" in refused.json(), params


async def test_hashtags_by_prefix_from_posts_anyone_may_read(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    alice = await bearer(app, "alice")
    bob = await bearer(app, "bob")
    await post_status(client, alice, status="#Gardening tips #garden")
    await post_status(client, alice, status="more #gardening")
    await post_status(client, alice, status="#gardensecret", visibility="private")
    # An exact name first, then the most used; private posts' tags stay hidden
    found = await _search(client, bob, "garden")
    assert [t["name"] for t in found["hashtags"]] == ["garden", "gardening"]
    assert found["hashtags"][0] == {
        "name": "garden",
        "url": "http://likewise.test/tags/garden",
        "history": [],
    }
    assert [t["name"] for t in (await _search(client, bob, "#GARD"))["hashtags"]] == [
        "gardening",
        "garden",
    ]
    # A # query looks for no accounts; type and limit apply
    hashed = await _search(client, bob, "#bob")
    assert hashed["accounts"] == []
    only = await _search(client, bob, "gard", type="hashtags", limit="1")
    assert [t["name"] for t in only["hashtags"]] == ["gardening"]
    assert only["accounts"] == [] and only["statuses"] == []


async def test_statuses_only_among_ones_own_and_interacted(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    alice = await bearer(app, "alice")
    bob = await bearer(app, "bob")
    tips = await post_status(client, alice, status="Tomato tips for #gardening")
    other = await post_status(client, alice, status="tomato soup")
    mine = await post_status(client, bob, status="my own tomato notes")
    # Bob finds his own post, not alice's he never touched
    assert _ids(await _search(client, bob, "tomato"), "statuses") == [mine["id"]]
    # Once he favourites one and bookmarks another, they are found too, newest first
    await client.post(f"/api/v1/statuses/{tips['id']}/favourite", headers=bob)
    await client.post(f"/api/v1/statuses/{other['id']}/bookmark", headers=bob)
    assert _ids(await _search(client, bob, "TOMATO"), "statuses") == [
        mine["id"],
        other["id"],
        tips["id"],
    ]
    # Words with punctuation are found as written (the stored HTML escapes it)
    quoted = await post_status(client, bob, status="don't drown the tomato & co")
    assert _ids(await _search(client, bob, "DON'T"), "statuses") == [quoted["id"]]
    assert _ids(await _search(client, bob, "tomato &"), "statuses") == [quoted["id"]]
    await client.delete(f"/api/v1/statuses/{quoted['id']}", headers=bob)
    # Every word must be in the text as read (markup is not text)
    assert _ids(await _search(client, bob, "tomato tips"), "statuses") == [tips["id"]]
    for markup in ("href", "hashtag", "mention", "class"):
        assert (await _search(client, bob, markup))["statuses"] == [], markup
    # type, limit, offset and account_id
    paged = await _search(client, bob, "tomato", type="statuses", limit="1", offset="1")
    assert _ids(paged, "statuses") == [other["id"]] and paged["accounts"] == []
    alice_id = await _me(client, alice)
    by_alice = await _search(client, bob, "tomato", account_id=alice_id)
    assert _ids(by_alice, "statuses") == [other["id"], tips["id"]]
    # Alice finds only her own (she interacted with nothing of bob's)
    assert _ids(await _search(client, alice, "tomato"), "statuses") == [other["id"], tips["id"]]


async def test_account_search_resolves_own_handles_from_the_database(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    # Given alice here (the test app reaches no network)
    alice = await bearer(app, "alice")
    bob = await bearer(app, "bob")
    alice_id = await _me(client, alice)
    url = "/api/v1/accounts/search"
    # When bob resolves her full handle, in either case, with or without the @
    for q in ("@alice@likewise.test", "alice@LIKEWISE.TEST", "@ALICE@likewise.test"):
        found = await client.get(url, params={"q": q, "resolve": "true"}, headers=bob)
        # Then she is found without a WebFinger request to ourselves
        assert found.status_code == 200, found.text
        assert [a["id"] for a in found.json()] == [alice_id], q
    # A handle here naming nobody is an empty list, as Mastodon answers
    nobody = await client.get(
        url, params={"q": "nobody@likewise.test", "resolve": "true"}, headers=bob
    )
    assert nobody.status_code == 200 and nobody.json() == []
