"""Deleting a status answers it as it was with its `text` as typed, as Mastodon does, so
that apps can "delete and redraft": mentions, tags and line breaks as written, not the
HTML made of them. Reading a status never shows the text."""

from __future__ import annotations

import httpx
from starlette.applications import Starlette

from tests.support.statuses import user_with_token

TYPED = "Hello @bob!\n\nLook at the #kites & the <gulls>"


async def test_the_deleted_status_comes_back_with_its_text(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    _, carol = await user_with_token(app, "carol")
    _, bob = await user_with_token(app, "bob")
    posted = await client.post("/api/v1/statuses", json={"status": TYPED}, headers=carol)
    assert posted.status_code == 200, posted.text
    status = posted.json()
    assert status["text"] is None and "<p>" in status["content"]
    read = await client.get(f"/api/v1/statuses/{status['id']}", headers=carol)
    assert read.json()["text"] is None

    refused = await client.delete(f"/api/v1/statuses/{status['id']}", headers=bob)
    assert refused.status_code == 404
    deleted = await client.delete(f"/api/v1/statuses/{status['id']}", headers=carol)
    assert deleted.status_code == 200, deleted.text
    body = deleted.json()
    assert body["text"] == TYPED
    assert body["id"] == status["id"] and body["content"] == status["content"]
    gone = await client.get(f"/api/v1/statuses/{status['id']}", headers=carol)
    assert gone.status_code == 404


async def test_undoing_a_reblog_by_delete_has_no_text(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    _, carol = await user_with_token(app, "carol")
    _, bob = await user_with_token(app, "bob")
    posted = await client.post("/api/v1/statuses", json={"status": "kites"}, headers=carol)
    shared = await client.post(f"/api/v1/statuses/{posted.json()['id']}/reblog", headers=bob)
    assert shared.status_code == 200, shared.text
    undone = await client.delete(f"/api/v1/statuses/{shared.json()['id']}", headers=bob)
    assert undone.status_code == 200, undone.text
    assert undone.json()["text"] is None
    assert undone.json()["reblog"]["id"] == posted.json()["id"]
