"""Click ids are never handed out twice: a stale DELETE /clicks/{id} finds nothing newer."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette

from tests.support.accounts import make_account, make_token

LIKES = "/api/v1/likewise/likes"
CLICKS = "/api/v1/likewise/clicks"


async def test_a_deleted_clicks_id_is_not_reused(app: Starlette, client: httpx.AsyncClient) -> None:
    ann = await make_account(app, "ann")
    headers = {"Authorization": f"Bearer {await make_token(app, ann)}"}
    for url in ("https://blog.example/a", "https://blog.example/b"):
        liked = await client.post(LIKES, json={"uri": url}, headers=headers)
        assert liked.status_code == 201, liked.text
    clicks = (await client.get(CLICKS, headers=headers)).json()
    newest = max(clicks, key=lambda click: int(click["id"]))
    # Given the newest click removed (the highest id: the one SQLite would hand out again)
    removed = await client.delete(f"{CLICKS}/{newest['id']}", headers=headers)
    assert removed.status_code == 204
    # When a new like is recorded
    again = await client.post(LIKES, json={"uri": "https://blog.example/c"}, headers=headers)
    assert again.status_code == 201, again.text
    listed = (await client.get(CLICKS, headers=headers)).json()
    after = {click["uri"]: click["id"] for click in listed}
    # Then it has an id of its own, and the stale delete does not remove it
    assert after["https://blog.example/c"] != newest["id"]
    stale = await client.delete(f"{CLICKS}/{newest['id']}", headers=headers)
    assert stale.status_code == 404
    remaining = (await client.get(CLICKS, headers=headers)).json()
    assert sorted(click["uri"] for click in remaining) == [
        "https://blog.example/a",
        "https://blog.example/c",
    ]
