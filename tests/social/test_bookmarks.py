"""Bookmarks: kept per account, shown as `bookmarked` to their owner alone, listed newest
bookmark first with a Link header."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette

from tests.support.accounts import make_account, make_token


async def _auth(app: Starlette, name: str, scopes: str = "read write") -> dict[str, str]:
    account = await make_account(app, name)
    return {"Authorization": f"Bearer {await make_token(app, account, scopes)}"}


async def test_bookmark_list_and_unbookmark(app: Starlette, client: httpx.AsyncClient) -> None:
    carol = await _auth(app, "carol")
    dave = await _auth(app, "dave")
    ids = []
    for n in range(3):
        posted = await client.post("/api/v1/statuses", json={"status": f"p{n}"}, headers=carol)
        ids.append(posted.json()["id"])
    # When dave bookmarks the first, then the third (twice)
    for status_id in (ids[0], ids[2], ids[2]):
        marked = await client.post(f"/api/v1/statuses/{status_id}/bookmark", headers=dave)
        assert marked.json()["bookmarked"] is True
    # Then his list has them newest bookmark first, one page at a time
    first = await client.get("/api/v1/bookmarks", params={"limit": 1}, headers=dave)
    assert [s["id"] for s in first.json()] == [ids[2]]
    second = await client.get(first.links["next"]["url"], headers=dave)
    assert [s["id"] for s in second.json()] == [ids[0]]
    assert (await client.get(second.links["next"]["url"], headers=dave)).json() == []
    # And nobody else sees them as bookmarked
    assert (await client.get(f"/api/v1/statuses/{ids[2]}", headers=carol)).json()[
        "bookmarked"
    ] is False
    assert (await client.get("/api/v1/bookmarks", headers=carol)).json() == []
    # When he removes one
    removed = await client.post(f"/api/v1/statuses/{ids[2]}/unbookmark", headers=dave)
    assert removed.json()["bookmarked"] is False
    listed = await client.get("/api/v1/bookmarks", headers=dave)
    assert [s["id"] for s in listed.json()] == [ids[0]]


async def test_bookmarks_need_their_scopes(app: Starlette, client: httpx.AsyncClient) -> None:
    carol = await _auth(app, "carol")
    posted = await client.post("/api/v1/statuses", json={"status": "x"}, headers=carol)
    reader = await _auth(app, "reader", "read")
    refused = await client.post(f"/api/v1/statuses/{posted.json()['id']}/bookmark", headers=reader)
    assert refused.status_code == 403
    assert (await client.get("/api/v1/bookmarks")).status_code == 401
    hidden = await client.post(
        "/api/v1/statuses",
        json={"status": "secret", "visibility": "private"},
        headers=carol,
    )
    other = await _auth(app, "other")
    missing = await client.post(f"/api/v1/statuses/{hidden.json()['id']}/bookmark", headers=other)
    assert missing.status_code == 404
