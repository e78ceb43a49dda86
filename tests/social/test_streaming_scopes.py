"""The `user` stream filters its events by the token's scopes: a token with
`read:statuses` but not `read:notifications` gets the home timeline's updates and no
notifications, over a WebSocket and over server-sent events alike."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
from websockets.asyncio.client import connect

from tests.support.instances import LiveInstance

WAIT = 30.0


def _user(instance: LiveInstance, username: str) -> str:
    instance.cli(
        "users", "create", username, "--email", f"{username}@example.org",
        "--password", "correct horse",
    )  # fmt: skip
    return _token(instance, username, "read write follow")


def _token(instance: LiveInstance, username: str, scopes: str) -> str:
    return instance.cli("tokens", "create", username, "--scopes", scopes).stdout.strip()


async def _post(instance: LiveInstance, token: str, path: str, **data: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=instance.base_url, timeout=WAIT) as http:
        answer = await http.post(path, data=data, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def _sse_until(instance: LiveInstance, token: str, last: asyncio.Future[str]) -> list[str]:
    """The event names of the SSE `user` stream, until an update of the status `last`
    names arrives."""
    events: list[str] = []
    name = ""
    async with (
        httpx.AsyncClient(base_url=instance.base_url, timeout=WAIT) as http,
        http.stream("GET", "/api/v1/streaming/user", params={"access_token": token}) as answer,
    ):
        assert answer.status_code == 200
        async for line in answer.aiter_lines():
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
                events.append(name)
            elif line.startswith("data: ") and name == "update" and last.done():
                if json.loads(line.removeprefix("data: "))["id"] == last.result():
                    return events
    return events


async def test_user_stream_sends_notifications_only_to_tokens_that_may_read_them(
    instances: Callable[..., LiveInstance],
) -> None:
    instance = instances()
    ann, bob = _user(instance, "ann"), _user(instance, "bob")
    statuses_only = _token(instance, "ann", "read:statuses")
    base = instance.base_url.replace("http://", "ws://") + "/api/v1/streaming?stream=user"
    last: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    sse = asyncio.create_task(_sse_until(instance, statuses_only, last))
    async with (
        connect(f"{base}&access_token={statuses_only}") as narrow,
        connect(f"{base}&access_token={ann}") as full,
    ):
        await asyncio.sleep(1.5)  # the streams are open before anything happens
        # When ann posts and bob favourites it, then ann posts again
        first = await _post(instance, ann, "/api/v1/statuses", status="first")
        await _post(instance, bob, f"/api/v1/statuses/{first['id']}/favourite")
        full_events: list[tuple[str, Any]] = []
        while len(full_events) < 2:
            message = json.loads(await asyncio.wait_for(full.recv(), WAIT))
            full_events.append((message["event"], json.loads(message["payload"])))
        second = await _post(instance, ann, "/api/v1/statuses", status="second")
        last.set_result(second["id"])
        narrow_events: list[tuple[str, Any]] = []
        while not narrow_events or narrow_events[-1][1].get("id") != second["id"]:
            message = json.loads(await asyncio.wait_for(narrow.recv(), WAIT))
            narrow_events.append((message["event"], json.loads(message["payload"])))
        # And the narrow token asks for notifications by name
        await narrow.send(json.dumps({"type": "subscribe", "stream": "user:notification"}))
        refused = json.loads(await asyncio.wait_for(narrow.recv(), WAIT))
    # Then the token with read:notifications got the update and the notification
    assert [event for event, _ in full_events] == ["update", "notification"]
    assert full_events[1][1]["type"] == "favourite"
    # And the one without got both updates and no notification, on either transport
    assert [event for event, _ in narrow_events] == ["update", "update"]
    assert [payload["id"] for _, payload in narrow_events] == [first["id"], second["id"]]
    assert await asyncio.wait_for(sse, WAIT) == ["update", "update"]
    assert refused["status"] == 400 and "read:notifications" in refused["error"]
    assert "Traceback" not in instance.read_log()
