"""`GET /api/v1/statuses/:id/source`: the text an app starts editing from, as typed."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette

from tests.support.accounts import bearer

TYPED = "Hello @bob!\n\nLook at the #kites & the <gulls>"


async def test_a_status_source_is_its_text_as_typed_and_its_spoiler(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    # Given carol's status behind a spoiler
    carol = await bearer(app, "carol")
    body = {"status": TYPED, "spoiler_text": "birds"}
    posted = await client.post("/api/v1/statuses", json=body, headers=carol)
    assert posted.status_code == 200, posted.text
    status_id = posted.json()["id"]
    # When she (or another reader) asks for its source
    mine = await client.get(f"/api/v1/statuses/{status_id}/source", headers=carol)
    theirs = await client.get(
        f"/api/v1/statuses/{status_id}/source", headers=await bearer(app, "bob")
    )
    # Then it is the text as typed, not the HTML made of it
    assert mine.status_code == 200, mine.text
    assert mine.json() == {"id": status_id, "text": TYPED, "spoiler_text": "birds"}
    assert theirs.json() == mine.json()


async def test_a_private_status_source_is_not_found_by_others(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    carol = await bearer(app, "carol")
    body = {"status": "for followers", "visibility": "private"}
    status_id = (await client.post("/api/v1/statuses", json=body, headers=carol)).json()["id"]
    path = f"/api/v1/statuses/{status_id}/source"
    assert (await client.get(path, headers=carol)).json()["text"] == "for followers"
    hidden = await client.get(path, headers=await bearer(app, "bob"))
    assert hidden.status_code == 404
    assert "error" in hidden.json()


async def test_a_status_source_needs_a_reading_token(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    carol = await bearer(app, "carol")
    status_id = (await client.post("/api/v1/statuses", json={"status": "x"}, headers=carol)).json()[
        "id"
    ]
    path = f"/api/v1/statuses/{status_id}/source"
    assert (await client.get(path)).status_code == 401
    writer = await bearer(app, "dave", scopes="write")
    assert (await client.get(path, headers=writer)).status_code == 403
    for wrong in ("nope", "0", "99999999"):
        missing = await client.get(f"/api/v1/statuses/{wrong}/source", headers=carol)
        assert missing.status_code == 404, wrong
