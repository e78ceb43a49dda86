"""The streaming API against a live instance: a WebSocket client (the `websockets` library)
receives the statuses posted and the notifications made after it connected, and Mastodon.py
uploads an image, reads notifications and streams the user's events over server-sent
events, as apps do."""

from __future__ import annotations

import asyncio
import io
import json
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from mastodon import Mastodon, StreamListener
from PIL import Image
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from tests.support.instances import LiveInstance

WAIT = 30.0  # generous: the instance shares the machine with other tests


def _token(instance: LiveInstance, username: str, scopes: str = "read write follow") -> str:
    instance.cli(
        "users", "create", username, "--email", f"{username}@example.org",
        "--password", "correct horse",
    )  # fmt: skip
    return instance.cli("tokens", "create", username, "--scopes", scopes).stdout.strip()


def _ws_url(instance: LiveInstance, query: str) -> str:
    return instance.base_url.replace("http://", "ws://") + "/api/v1/streaming?" + query


async def _api(instance: LiveInstance, token: str, path: str, **data: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=instance.base_url) as http:
        answer = await http.post(path, data=data, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def _next(ws: ClientConnection, event: str) -> dict[str, Any]:
    """The next message of kind `event`, its payload parsed."""
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        if message.get("event") == event:
            message["payload"] = json.loads(message["payload"])
            result: dict[str, Any] = message
            return result


async def test_a_websocket_receives_updates_and_notifications(
    instances: Callable[..., LiveInstance],
) -> None:
    instance = instances()
    ann, bob = _token(instance, "ann"), _token(instance, "bob")
    async with connect(_ws_url(instance, f"stream=user&access_token={ann}")) as ws:
        # When ann posts, her home stream sends the status
        posted = await _api(instance, ann, "/api/v1/statuses", status="streamed hello")
        update = await _next(ws, "update")
        assert update["stream"] == ["user"]
        assert update["payload"]["id"] == posted["id"]
        assert update["payload"]["content"] == "<p>streamed hello</p>"
        # and when bob favourites it, the notification follows
        await _api(instance, bob, f"/api/v1/statuses/{posted['id']}/favourite")
        notification = await _next(ws, "notification")
        assert notification["payload"]["type"] == "favourite"
        assert notification["payload"]["account"]["username"] == "bob"
        assert notification["payload"]["status"]["id"] == posted["id"]
        # A subscription to the public stream sends bob's public post there too
        await ws.send(json.dumps({"type": "subscribe", "stream": "public:local"}))
        await ws.send(json.dumps({"type": "subscribe", "stream": "hashtag:nope"}))
        error = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
        assert error["status"] == 400 and "error" in error
        await asyncio.sleep(1.5)  # the subscription is read before the post is written
        from_bob = await _api(instance, bob, "/api/v1/statuses", status="for everyone")
        public = await _next(ws, "update")
        assert public["stream"] == ["public:local"]
        assert public["payload"]["id"] == from_bob["id"]
        # A deleted status is announced as deleted
        async with httpx.AsyncClient(base_url=instance.base_url) as http:
            gone = await http.delete(
                f"/api/v1/statuses/{posted['id']}", headers={"Authorization": f"Bearer {ann}"}
            )
        assert gone.status_code == 200, gone.text
        deleted = await _next(ws, "delete")
        assert deleted["payload"] == int(posted["id"])  # the id as text, as Mastodon sends it
    assert "Traceback" not in instance.read_log()


async def test_websocket_tokens_and_scopes(instances: Callable[..., LiveInstance]) -> None:
    instance = instances()
    ann = _token(instance, "ann")
    # The token may come as the WebSocket subprotocol, as browsers send it
    async with connect(_ws_url(instance, "stream=public"), subprotocols=[ann]) as ws:  # type: ignore[list-item]
        assert ws.subprotocol == ann
        posted = await _api(instance, ann, "/api/v1/statuses", status="by protocol")
        assert (await _next(ws, "update"))["payload"]["id"] == posted["id"]
    for query in (
        "stream=user&access_token=wrong",
        "stream=user",
        f"stream=nope&access_token={ann}",
    ):
        with pytest.raises(InvalidStatus):
            async with connect(_ws_url(instance, query)):
                pass
    writer = _token(instance, "wendy", "write")
    with pytest.raises(InvalidStatus):
        async with connect(_ws_url(instance, f"stream=user&access_token={writer}")):
            pass
    async with httpx.AsyncClient(base_url=instance.base_url) as http:
        denied = await http.get("/api/v1/streaming/user", params={"access_token": "wrong"})
        assert denied.status_code == 401 and "error" in denied.json()
        unknown = await http.get("/api/v1/streaming", params={"access_token": ann})
        assert unknown.status_code == 400


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (640, 480), (30, 120, 60)).save(out, "PNG")
    return out.getvalue()


class _Listener(StreamListener):
    def __init__(self) -> None:
        self.updates: list[Any] = []
        self.notifications: list[Any] = []
        self.arrived = threading.Event()

    def on_update(self, status: Any) -> None:
        self.updates.append(status)
        self.arrived.set()

    def on_notification(self, notification: Any) -> None:
        self.notifications.append(notification)
        self.arrived.set()


def test_mastodon_py_uploads_reads_notifications_and_streams(
    instances: Callable[..., LiveInstance],
) -> None:
    instance = instances()
    ann, bob = _token(instance, "ann"), _token(instance, "bob")
    api = Mastodon(access_token=ann, api_base_url=instance.base_url, version_check_mode="none")
    media = api.media_post(_png(), mime_type="image/png", description="a green field")
    assert media["type"] == "image" and media["meta"]["original"]["width"] == 640
    assert media["description"] == "a green field" and media["blurhash"]
    assert httpx.get(media["url"]).headers["content-type"] == "image/png"
    posted = api.status_post("a picture", media_ids=[media["id"]])
    assert [item["id"] for item in posted["media_attachments"]] == [media["id"]]
    other = Mastodon(access_token=bob, api_base_url=instance.base_url, version_check_mode="none")
    other.status_favourite(posted["id"])
    notifications = api.notifications()
    assert [n["type"] for n in notifications] == ["favourite"]
    assert notifications[0]["account"]["acct"] == "bob"

    listener = _Listener()
    handle = api.stream_user(listener, run_async=True)
    try:
        assert not listener.arrived.wait(1.5)  # nothing from before it connected
        later = api.status_post("streamed to Mastodon.py")
        assert listener.arrived.wait(WAIT)
        assert [status["id"] for status in listener.updates] == [later["id"]]
    finally:
        handle.close()
    assert "Traceback" not in instance.read_log()
