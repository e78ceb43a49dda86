"""The client API's account endpoints over HTTP: one's credentials with real counts and
source, profile editing with images, any account by id, handle or search, its statuses."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from mastodon import Mastodon
from PIL import Image
from starlette.applications import Starlette

from server.context import context
from tests.support.accounts import make_account, make_token
from tests.support.instances import LiveInstance


def png(width: int = 64, height: int = 64, colour: tuple[int, ...] = (200, 30, 30, 255)) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", (width, height), colour).save(out, format="PNG")
    return out.getvalue()


def jpeg(width: int = 300, height: int = 100) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 120, 200)).save(out, format="JPEG")
    return out.getvalue()


async def _auth(app: Starlette, name: str, scopes: str = "read write follow") -> dict[str, str]:
    account = await make_account(app, name)
    return {"Authorization": f"Bearer {await make_token(app, account, scopes)}"}


async def _post(client: httpx.AsyncClient, auth: dict[str, str], text: str, **extra: Any) -> str:
    response = await client.post("/api/v1/statuses", data={"status": text, **extra}, headers=auth)
    assert response.status_code == 200, response.text
    return str(response.json()["id"])


async def test_verify_credentials_has_source_and_real_counts(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    alice = await _auth(app, "alice")
    bob = await _auth(app, "bob")
    await _post(client, alice, "one")
    await _post(client, alice, "two")
    me = (await client.get("/api/v1/accounts/verify_credentials", headers=alice)).json()
    followed = await client.post(f"/api/v1/accounts/{me['id']}/follow", headers=bob)
    assert followed.json()["following"] is True
    body = (await client.get("/api/v1/accounts/verify_credentials", headers=alice)).json()
    assert (body["statuses_count"], body["followers_count"], body["following_count"]) == (2, 1, 0)
    assert body["last_status_at"] is not None and len(body["last_status_at"]) == 10
    assert body["source"]["privacy"] == "public"
    assert body["source"]["fields"] == [] and body["source"]["note"] == ""
    assert body["source"]["follow_requests_count"] == 0
    bob_me = (await client.get("/api/v1/accounts/verify_credentials", headers=bob)).json()
    assert bob_me["following_count"] == 1


async def test_update_credentials_with_images_fields_and_source(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    alice = await _auth(app, "alice")
    form = {
        "display_name": "Alice A.",
        "note": "I draw & paint.\n\nSupport me!",
        "locked": "true",
        "bot": "false",
        "discoverable": "false",
        "fields_attributes[0][name]": "Website",
        "fields_attributes[0][value]": "https://alice.example/portfolio",
        "fields_attributes[1][name]": "Pronouns",
        "fields_attributes[1][value]": "she/her <b>",
        "source[privacy]": "unlisted",
        "source[sensitive]": "true",
        "source[language]": "fr",
    }
    files = {"avatar": ("me.png", png(), "image/png"), "header": ("h.jpg", jpeg(), "image/jpeg")}
    response = await client.patch(
        "/api/v1/accounts/update_credentials", data=form, files=files, headers=alice
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["display_name"] == "Alice A." and body["locked"] is True
    assert body["discoverable"] is False and body["bot"] is False
    assert body["note"] == "<p>I draw &amp; paint.</p><p>Support me!</p>"
    assert body["source"]["note"] == "I draw & paint.\n\nSupport me!"
    assert body["source"]["privacy"] == "unlisted" and body["source"]["sensitive"] is True
    assert body["source"]["language"] == "fr"
    assert [f["name"] for f in body["fields"]] == ["Website", "Pronouns"]
    assert 'rel="nofollow noopener me"' in body["fields"][0]["value"]
    assert body["fields"][1]["value"] == "she/her &lt;b&gt;"
    assert body["source"]["fields"][0]["value"] == "https://alice.example/portfolio"
    # The images are served from the data directory, re-encoded
    assert body["avatar"].startswith("http://likewise.test/media/accounts/")
    avatar = await client.get(body["avatar"].removeprefix("http://likewise.test"))
    header = await client.get(body["header"].removeprefix("http://likewise.test"))
    assert avatar.status_code == 200 and avatar.headers["content-type"] == "image/png"
    assert header.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(header.content)).size == (300, 100)
    stored = list((context(app).settings.data_dir / "media" / "accounts").iterdir())
    assert len(stored) == 2
    # A new avatar replaces the old file
    again = await client.patch(
        "/api/v1/accounts/update_credentials",
        files={"avatar": ("b.png", png(colour=(0, 0, 0, 0)), "image/png")},
        headers=alice,
    )
    assert again.json()["avatar"] != body["avatar"]
    assert again.json()["display_name"] == "Alice A."  # untouched
    assert len(list((context(app).settings.data_dir / "media" / "accounts").iterdir())) == 2
    old = await client.get(body["avatar"].removeprefix("http://likewise.test"))
    assert old.status_code == 404


async def test_update_credentials_takes_json(app: Starlette, client: httpx.AsyncClient) -> None:
    alice = await _auth(app, "alice")
    response = await client.patch(
        "/api/v1/accounts/update_credentials",
        json={
            "note": "hi",
            "fields_attributes": [{"name": "a", "value": "b"}],
            "source": {"privacy": "private"},
        },
        headers=alice,
    )
    assert response.status_code == 200, response.text
    assert response.json()["source"]["privacy"] == "private"
    assert response.json()["fields"][0]["name"] == "a"


async def test_bad_profile_updates_are_refused_with_4xx(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    alice = await _auth(app, "alice")
    url = "/api/v1/accounts/update_credentials"
    five = {f"fields_attributes[{i}][{k}]": f"{k}{i}" for i in range(5) for k in ("name", "value")}
    cases: list[dict[str, Any]] = [
        {"files": {"avatar": ("x.png", b"not an image at all", "image/png")}},
        {"files": {"avatar": ("big.png", png(4097, 10), "image/png")}},
        {"files": {"header": ("x.gif", b"GIF89a" + b"\x00" * 20, "image/gif")}},
        {"data": five},
        {"data": {"display_name": "x" * 31}},
        {"data": {"note": "x" * 501}},
        {"data": {"locked": "maybe"}},
        {"data": {"source[privacy]": "everyone"}},
        {"data": {"source[language]": "french!"}},
        {"data": {"fields_attributes[0][name]": "n", "fields_attributes[0][value]": "v" * 256}},
    ]
    for case in cases:
        response = await client.patch(url, headers=alice, **case)
        assert 400 <= response.status_code < 500, (case, response.text)
        assert "error" in response.json()
    body = (await client.get("/api/v1/accounts/verify_credentials", headers=alice)).json()
    assert body["display_name"] == "alice" and body["fields"] == []
    assert not (context(app).settings.data_dir / "media" / "accounts").exists() or not list(
        (context(app).settings.data_dir / "media" / "accounts").iterdir()
    )
    read_only = await _auth(app, "reader", "read")
    refused = await client.patch(url, data={"note": "x"}, headers=read_only)
    assert refused.status_code == 403


async def test_accounts_by_id_lookup_and_search(app: Starlette, client: httpx.AsyncClient) -> None:
    alice = await _auth(app, "alice")
    await _auth(app, "alicia")
    me = (await client.get("/api/v1/accounts/verify_credentials", headers=alice)).json()
    got = await client.get(f"/api/v1/accounts/{me['id']}")
    assert got.status_code == 200 and got.json()["username"] == "alice"
    for missing in ("999999", "r999999", "abc", "r", "-1"):
        assert (await client.get(f"/api/v1/accounts/{missing}")).status_code == 404
    found = await client.get("/api/v1/accounts/lookup", params={"acct": "@alice@likewise.test"})
    assert found.json()["id"] == me["id"]
    assert (
        await client.get("/api/v1/accounts/lookup", params={"acct": "nobody"})
    ).status_code == 404
    assert (await client.get("/api/v1/accounts/lookup", params={"acct": ""})).status_code == 422
    hits = await client.get("/api/v1/accounts/search", params={"q": "ali"}, headers=alice)
    assert sorted(a["username"] for a in hits.json()) == ["alice", "alicia"]
    one = await client.get(
        "/api/v1/accounts/search", params={"q": "ali", "limit": "1"}, headers=alice
    )
    assert len(one.json()) == 1
    none = await client.get("/api/v1/accounts/search", params={"q": "%"}, headers=alice)
    assert none.json() == []


async def test_account_statuses_filter_and_page(app: Starlette, client: httpx.AsyncClient) -> None:
    alice = await _auth(app, "alice")
    bob = await _auth(app, "bob")
    ids = [await _post(client, alice, f"post {n}") for n in range(5)]
    await _post(client, alice, "only mine", visibility="private")
    me = (await client.get("/api/v1/accounts/verify_credentials", headers=alice)).json()
    url = f"/api/v1/accounts/{me['id']}/statuses"
    first = await client.get(url, params={"limit": "2"}, headers=bob)
    assert [s["id"] for s in first.json()] == [ids[4], ids[3]]
    assert 'rel="next"' in first.headers["link"]
    next_url = first.headers["link"].split(">")[0].lstrip("<")
    second = await client.get(next_url, headers=bob)
    assert [s["id"] for s in second.json()] == [ids[2], ids[1]]
    own = await client.get(url, headers=alice)
    assert len(own.json()) == 6
    assert (await client.get(url, params={"pinned": "true"})).json() == []
    assert len((await client.get(url, params={"exclude_replies": "true"})).json()) == 5
    assert (await client.get(url, params={"only_media": "true"})).json() == []
    assert (await client.get(url, params={"limit": "x"})).status_code == 400
    # A post with an image, and a reblog of bob's post
    uploaded = await client.post(
        "/api/v2/media", files={"file": ("p.png", png(), "image/png")}, headers=alice
    )
    assert uploaded.status_code in (200, 202), uploaded.text
    pictured = await _post(client, alice, "look", **{"media_ids[]": uploaded.json()["id"]})
    bobs = await _post(client, bob, "bob's post")
    reblogged = await client.post(f"/api/v1/statuses/{bobs}/reblog", headers=alice)
    assert reblogged.status_code == 200, reblogged.text
    media = (await client.get(url, params={"only_media": "true"})).json()
    assert [s["id"] for s in media] == [pictured]
    assert media[0]["media_attachments"][0]["type"] == "image"
    newest = (await client.get(url, params={"limit": "1"})).json()[0]
    assert newest["reblog"]["id"] == bobs
    plain = (await client.get(url, params={"exclude_reblogs": "true", "limit": "1"})).json()
    assert [s["id"] for s in plain] == [pictured]


def _token(instance: LiveInstance, name: str) -> str:
    instance.cli(
        "users", "create", name, "--email", f"{name}@example.org", "--password", "pw-12345678"
    )
    created = instance.cli("tokens", "create", name, "--scopes", "read write follow")
    return created.stdout.strip().split()[-1]


def test_mastodon_py_reads_edits_follows_and_blocks(
    instances: Callable[..., LiveInstance], tmp_path: Path
) -> None:
    instance = instances()
    ann = Mastodon(
        access_token=_token(instance, "ann"),
        api_base_url=instance.base_url,
        version_check_mode="none",
    )
    ben = Mastodon(
        access_token=_token(instance, "ben"),
        api_base_url=instance.base_url,
        version_check_mode="none",
    )
    me = ann.account_verify_credentials()
    assert me.username == "ann" and me.source.privacy == "public"
    avatar = tmp_path / "avatar.png"
    avatar.write_bytes(png(128, 128))
    with avatar.open("rb") as image:
        edited = ann.account_update_credentials(
            display_name="Ann Example",
            note="Knits.",
            avatar=image,
            avatar_mime_type="image/png",
            fields=[("Website", "https://ann.example")],
        )
    assert edited.display_name == "Ann Example"
    assert "/media/accounts/" in edited.avatar
    assert httpx.get(edited.avatar).status_code == 200
    assert edited.fields[0].name == "Website"
    found = ben.account_lookup("ann")
    assert found.id == me.id and found.display_name == "Ann Example"
    relationship = ben.account_follow(found.id)
    assert relationship.following is True
    assert ben.account_relationships([found.id])[0].following is True
    assert ann.account_verify_credentials().followers_count == 1
    assert [a.username for a in ann.account_followers(me.id)] == ["ben"]
    assert ben.account_unfollow(found.id).following is False
    ben.account_follow(found.id)
    blocked = ann.account_block(ben.account_verify_credentials().id)
    assert blocked.blocking is True and blocked.followed_by is False
    assert [a.username for a in ann.blocks()] == ["ben"]
    assert ben.account_relationships([found.id])[0].blocked_by is True
    ann.account_unblock(blocked.id)
    assert ann.blocks() == []
