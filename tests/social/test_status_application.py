"""A status's `application` (the app it was posted from) reaches its author wherever the
status does, as Mastodon shows it: the status, the timelines, the thread, bookmarks,
search, the notifications about it and the user stream. Others see null."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
from starlette.applications import Starlette
from websockets.asyncio.client import connect

from tests.accounts.oauth_steps import App, register
from tests.support.instances import LiveInstance
from tests.support.statuses import user_with_token

APP = {"name": "Test App", "website": None}
WAIT = 30.0


async def _signed_up(client: httpx.AsyncClient, app: App, username: str) -> dict[str, str]:
    grant = await client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "scope": "read write follow",
        },
    )
    assert grant.status_code == 200, grant.text
    answer = await client.post(
        "/api/v1/accounts",
        data={
            "username": username,
            "email": f"{username}@example.org",
            "password": "a long password",
            "agreement": "true",
        },
        headers={"Authorization": f"Bearer {grant.json()['access_token']}"},
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


async def _get(client: httpx.AsyncClient, path: str, auth: dict[str, str], **params: Any) -> Any:
    answer = await client.get(path, headers=auth, params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_the_author_sees_the_app_everywhere_the_status_goes(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    carol = await _signed_up(client, await register(client), "carol")
    _, bob = await user_with_token(app, "bob")
    first = await client.post("/api/v1/statuses", json={"status": "kites fly"}, headers=carol)
    assert first.status_code == 200, first.text
    status_id = first.json()["id"]
    reply = await client.post(
        "/api/v1/statuses",
        json={"status": "and so do gulls", "in_reply_to_id": status_id},
        headers=carol,
    )
    assert reply.status_code == 200, reply.text
    for path in (f"/api/v1/statuses/{status_id}/bookmark", f"/api/v1/statuses/{status_id}/reblog"):
        assert (await client.post(path, headers=carol)).status_code == 200
    liked = await client.post(f"/api/v1/statuses/{status_id}/favourite", headers=bob)
    assert liked.status_code == 200 and liked.json()["application"] is None

    home = await _get(client, "/api/v1/timelines/home", carol)
    assert [s["application"] for s in home if s["reblog"] is None] == [APP, APP]
    [shared] = [s for s in home if s["reblog"] is not None]
    assert shared["application"] is None and shared["reblog"]["application"] == APP
    thread = await _get(client, f"/api/v1/statuses/{reply.json()['id']}/context", carol)
    assert [s["application"] for s in thread["ancestors"]] == [APP]
    bookmarks = await _get(client, "/api/v1/bookmarks", carol)
    assert [s["application"] for s in bookmarks] == [APP]
    found = await _get(client, "/api/v2/search", carol, q="kites", type="statuses")
    assert [s["application"] for s in found["statuses"]] == [APP]
    by_url = await _get(client, "/api/v2/search", carol, q=first.json()["url"])
    assert [s["application"] for s in by_url["statuses"]] == [APP]
    notifications = await _get(client, "/api/v1/notifications", carol, **{"types[]": "favourite"})
    assert [n["status"]["application"] for n in notifications] == [APP]
    # bob reads the same statuses without the app
    public = await _get(client, "/api/v1/timelines/public", bob)
    assert public and all(s["application"] is None for s in public)
    context = await _get(client, f"/api/v1/statuses/{reply.json()['id']}/context", bob)
    assert [s["application"] for s in context["ancestors"]] == [None]


async def test_the_user_stream_sends_the_author_the_app(
    instances: Callable[..., LiveInstance],
) -> None:
    instance = instances()
    async with httpx.AsyncClient(base_url=instance.base_url) as http:
        carol = await _signed_up(http, await register(http), "carol")
        token = carol["Authorization"].removeprefix("Bearer ")
        url = instance.base_url.replace("http://", "ws://")
        async with connect(f"{url}/api/v1/streaming?stream=user&access_token={token}") as ws:
            posted = await http.post("/api/v1/statuses", data={"status": "live"}, headers=carol)
            assert posted.status_code == 200, posted.text
            while True:
                message = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
                if message.get("event") == "update":
                    break
    payload = json.loads(message["payload"])
    assert payload["id"] == posted.json()["id"] and payload["application"] == APP
    assert "Traceback" not in instance.read_log()
