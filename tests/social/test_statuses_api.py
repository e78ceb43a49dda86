"""The client API's statuses: posting with replies, hashtags, spoilers and language; the
Status entity's fields; a thread's context; who liked; the favourites list; and the
`likewise` field (payable, the viewer's projected share)."""

from __future__ import annotations

import io

import httpx
from PIL import Image
from starlette.applications import Starlette

from server.context import context
from server.donations.budget import update_donor_settings
from server.models import Actor, Identity, Note, Peer, PeerState
from server.money.funding import Funding, credit_wallet
from tests.support.accounts import bearer, make_account, make_token, post_status

STATUS_FIELDS = {
    "id",
    "created_at",
    "in_reply_to_id",
    "in_reply_to_account_id",
    "sensitive",
    "spoiler_text",
    "visibility",
    "language",
    "uri",
    "url",
    "replies_count",
    "reblogs_count",
    "favourites_count",
    "edited_at",
    "favourited",
    "reblogged",
    "muted",
    "bookmarked",
    "pinned",
    "content",
    "filtered",
    "reblog",
    "application",
    "account",
    "media_attachments",
    "mentions",
    "tags",
    "emojis",
    "card",
    "poll",
    "likewise",
}


async def test_a_reply_with_a_hashtag_a_spoiler_and_a_language(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    # Given carol's post
    carol = await bearer(app, "carol")
    dave = await bearer(app, "dave")
    first = await post_status(client, carol, status="A thread about #Cats")
    # When dave replies to it, mentioning her, behind a spoiler, in French
    reply = await post_status(
        client,
        dave,
        status="@carol oui #chats",
        in_reply_to_id=first["id"],
        spoiler_text="chats",
        language="fr",
    )
    # Then the reply names what it replies to, its mention and its tag
    assert set(reply) >= STATUS_FIELDS
    assert reply["in_reply_to_id"] == first["id"]
    assert reply["in_reply_to_account_id"] == first["account"]["id"]
    assert reply["spoiler_text"] == "chats" and reply["sensitive"] is True
    assert reply["language"] == "fr"
    assert reply["mentions"] == [
        {
            "id": first["account"]["id"],
            "username": "carol",
            "url": "http://likewise.test/@carol",
            "acct": "carol",
        }
    ]
    assert reply["tags"] == [{"name": "chats", "url": "http://likewise.test/tags/chats"}]
    assert (
        '<span class="h-card" translate="no"><a href="http://likewise.test/@carol" '
        'class="u-url mention">@<span>carol</span></a></span>' in reply["content"]
    )
    assert (
        '<a href="http://likewise.test/tags/chats" class="mention hashtag" rel="tag">'
        "#<span>chats</span></a>" in reply["content"]
    )
    assert first["tags"] == [{"name": "cats", "url": "http://likewise.test/tags/cats"}]
    # And the first post counts the reply
    again = (await client.get(f"/api/v1/statuses/{first['id']}")).json()
    assert again["replies_count"] == 1


async def test_context_lists_ancestors_and_descendants_depth_first(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    carol = await bearer(app, "carol")
    root = await post_status(client, carol, status="root")
    a = await post_status(client, carol, status="a", in_reply_to_id=root["id"])
    a1 = await post_status(client, carol, status="a1", in_reply_to_id=a["id"])
    b = await post_status(client, carol, status="b", in_reply_to_id=root["id"])
    hidden = await post_status(
        client, carol, status="b1", in_reply_to_id=b["id"], visibility="direct"
    )
    # When anyone reads the thread around a
    around_a = (await client.get(f"/api/v1/statuses/{a['id']}/context")).json()
    around_root = (await client.get(f"/api/v1/statuses/{root['id']}/context")).json()
    mine = (await client.get(f"/api/v1/statuses/{root['id']}/context", headers=carol)).json()
    # Then ancestors come oldest first, descendants depth first; a direct reply only to carol
    assert [s["id"] for s in around_a["ancestors"]] == [root["id"]]
    assert [s["id"] for s in around_a["descendants"]] == [a1["id"]]
    assert [s["id"] for s in around_root["descendants"]] == [a["id"], a1["id"], b["id"]]
    assert [s["id"] for s in mine["descendants"]] == [a["id"], a1["id"], b["id"], hidden["id"]]
    assert (await client.get(f"/api/v1/statuses/{hidden['id']}")).status_code == 404


async def test_replying_to_what_does_not_exist_or_cannot_be_seen_is_refused(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    carol = await bearer(app, "carol")
    dave = await bearer(app, "dave")
    secret = await post_status(client, carol, status="just me", visibility="direct")
    for target in ("999999", secret["id"], "abc"):
        answer = await client.post(
            "/api/v1/statuses", json={"status": "re", "in_reply_to_id": target}, headers=dave
        )
        assert answer.status_code == 404, answer.text
        assert "error" in answer.json()
    bad = await client.post(
        "/api/v1/statuses", json={"status": "x", "language": "not a code"}, headers=dave
    )
    assert bad.status_code == 422 and "error" in bad.json()
    odd = await client.post("/api/v1/statuses", json={"status": ["x"]}, headers=dave)
    assert odd.status_code == 400 and "error" in odd.json()


async def test_favourites_list_and_favourited_by_page_with_link_headers(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    # Given three posts by carol, liked by dave and erin
    carol = await bearer(app, "carol")
    dave = await bearer(app, "dave")
    erin = await bearer(app, "erin")
    posts = [await post_status(client, carol, status=f"post {n}") for n in range(3)]
    for post in posts:
        liked = await client.post(f"/api/v1/statuses/{post['id']}/favourite", headers=dave)
        assert liked.json()["favourited"] is True
    await client.post(f"/api/v1/statuses/{posts[0]['id']}/favourite", headers=erin)
    # When dave pages through his favourites two at a time
    first = await client.get("/api/v1/favourites", params={"limit": 2}, headers=dave)
    body = first.json()
    assert [s["id"] for s in body] == [posts[2]["id"], posts[1]["id"]]
    assert all(s["favourited"] for s in body)
    next_url = first.links["next"]["url"]
    second = await client.get(next_url, headers=dave)
    assert [s["id"] for s in second.json()] == [posts[0]["id"]]
    newer = await client.get(first.links["prev"]["url"], headers=dave)
    assert newer.json() == []
    # Then favourited_by names both likers, newest first, as accounts
    people = await client.get(f"/api/v1/statuses/{posts[0]['id']}/favourited_by")
    assert [a["username"] for a in people.json()] == ["erin", "dave"]
    assert "next" in people.links
    assert (await client.get("/api/v1/favourites", headers=carol)).json() == []
    # And a read-only token may not favourite
    token = await make_token(app, await make_account(app, "frank"), "read")
    refused = await client.post(
        f"/api/v1/statuses/{posts[0]['id']}/favourite",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert refused.status_code == 403


async def test_likewise_field_projects_the_viewers_share(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    # Given dave with 10.00 in his wallet and a 9.00 budget, and carol's three posts
    settings = context(app).settings
    carol = await bearer(app, "carol")
    dave_account = await make_account(app, "dave")
    dave = {"Authorization": f"Bearer {await make_token(app, dave_account)}"}
    async with context(app).db.transaction() as session:
        await credit_wallet(session, settings, Funding(dave_account.id or 0, 1000, "seed"))
        await update_donor_settings(session, settings, dave_account.id or 0, monthly_budget=900)
    posts = [await post_status(client, carol, status=f"post {n}") for n in range(3)]
    fee = 900 * settings.fee_bps // 10_000
    # When he has liked nothing, a like would take the whole budget less the fee
    seen = (await client.get(f"/api/v1/statuses/{posts[0]['id']}", headers=dave)).json()
    assert seen["likewise"] == {
        "payable": True,
        "projected_share": {"amount": 900 - fee, "currency": settings.currency},
    }
    # When he likes two, each is half of it, the first taking the odd minor unit
    for post in posts[:2]:
        await client.post(f"/api/v1/statuses/{post['id']}/favourite", headers=dave)
    pot = 900 - fee
    shares = [
        (await client.get(f"/api/v1/statuses/{p['id']}", headers=dave)).json()["likewise"]
        for p in posts
    ]
    assert [s["projected_share"]["amount"] for s in shares] == [
        pot // 2 + pot % 2,
        pot // 2,
        pot // 3,
    ]
    # And nobody's share is shown to an anonymous reader, nor to the author herself
    anonymous = (await client.get(f"/api/v1/statuses/{posts[0]['id']}")).json()
    assert anonymous["likewise"] == {"payable": True, "projected_share": None}
    own = (await client.get(f"/api/v1/statuses/{posts[0]['id']}", headers=carol)).json()
    assert own["likewise"]["projected_share"] is None


def _png() -> bytes:
    image = Image.new("RGB", (64, 48), (200, 40, 40))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


async def test_media_ids_attach_uploads_and_only_media_filters(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    carol = await bearer(app, "carol")
    uploaded = await client.post(
        "/api/v2/media", files={"file": ("a.png", _png(), "image/png")}, headers=carol
    )
    assert uploaded.status_code in (200, 202), uploaded.text
    media_id = uploaded.json()["id"]
    # When carol posts with it, as a form with media_ids[] and as JSON without text
    posted = await client.post(
        "/api/v1/statuses", data={"status": "look", "media_ids[]": [media_id]}, headers=carol
    )
    assert posted.status_code == 200, posted.text
    [attachment] = posted.json()["media_attachments"]
    assert attachment["id"] == media_id
    assert attachment["meta"]["original"]["width"] == 64
    await post_status(client, carol, status="no picture")
    # Then only_media keeps the post with the picture
    media_only = await client.get("/api/v1/timelines/public", params={"only_media": "true"})
    assert [s["id"] for s in media_only.json()] == [posted.json()["id"]]
    # And the note's document carries the attachment
    document = await client.get(
        posted.json()["uri"], headers={"Accept": "application/activity+json"}
    )
    [sent] = document.json()["attachment"]
    assert sent["type"] == "Document" and sent["url"] == attachment["url"]
    # A second use of the same upload, or an id that is no upload, is refused
    again = await client.post(
        "/api/v1/statuses", json={"status": "", "media_ids": [media_id]}, headers=carol
    )
    assert again.status_code == 422 and "error" in again.json()
    bad = await client.post(
        "/api/v1/statuses", json={"status": "x", "media_ids": ["x"]}, headers=carol
    )
    assert bad.status_code == 400 and "error" in bad.json()


async def _remote_post(app: Starlette, host: str, name: str) -> str:
    async with context(app).db.transaction() as session:
        author = Actor(uri=f"https://{host}/users/{name}", username=name, domain=host)
        session.add(author)
        await session.flush()
        note = Note(uri=f"https://{host}/notes/{name}", author_id=author.id or 0)
        session.add(note)
        await session.flush()
        return str(note.id)


async def test_remote_authors_are_payable_when_claimed_or_on_an_active_peer(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    claimed = await _remote_post(app, "far.test", "claimed")
    peered = await _remote_post(app, "peer.test", "peered")
    nobody = await _remote_post(app, "far.test", "nobody")
    owner = await make_account(app, "owner")
    async with context(app).db.transaction() as session:
        session.add(
            Identity(
                network="fediverse",
                external_id="https://far.test/users/claimed",
                claimed_account_id=owner.id,
            )
        )
        session.add(
            Peer(domain="peer.test", state=PeerState.active, currency="EUR", credit_limit=0)
        )
    payable = [
        (await client.get(f"/api/v1/statuses/{status_id}")).json()["likewise"]["payable"]
        for status_id in (claimed, peered, nobody)
    ]
    assert payable == [True, True, False]
