"""Mastodon's streaming API: `/api/v1/streaming` as a WebSocket (subscribe and unsubscribe
messages, events as JSON), and the same streams as server-sent events over plain GET
(`/api/v1/streaming/user`, `/public`, ...), as Mastodon.py and other clients read them.

A stream needs a token: the `Authorization` header, the `access_token` parameter, or (for
a WebSocket from a browser) the `Sec-WebSocket-Protocol` header. No session cookie opens
one: another site's page could otherwise read a signed-in person's stream.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Match, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from server.context import context
from server.domain_errors import ServiceError, Unauthorized
from server.errors import BadRequest
from server.render.notifications import render_notification
from server.render.statuses import render_status
from server.settings import Settings
from server.social import streaming
from server.social.streaming import Stream, StreamEvent

POLL_SECONDS = 1.0
HEARTBEAT_POLLS = 15  # an SSE comment this often keeps proxies from closing a quiet stream
SSE_PATHS = {
    "/api/v1/streaming/user": "user",
    "/api/v1/streaming/user/notification": "user:notification",
    "/api/v1/streaming/public": "public",
    "/api/v1/streaming/public/local": "public:local",
    "/api/v1/streaming/public/remote": "public:remote",
}


def _token(conn: HTTPConnection) -> tuple[str, str | None]:
    """The token, and the subprotocol to answer with when the token came as one."""
    scheme, _, token = conn.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip(), None
    if conn.query_params.get("access_token"):
        return conn.query_params["access_token"], None
    protocol = conn.headers.get("sec-websocket-protocol", "").split(",")[0].strip()
    if protocol:
        return protocol, protocol
    raise Unauthorized("streaming needs an access token")


def _message(settings: Settings, event: StreamEvent) -> dict[str, Any]:
    """An event as Mastodon sends it: the payload is JSON text inside the JSON."""
    if event.status is not None:
        payload = json.dumps(render_status(settings, event.status))
    elif event.notification is not None:
        payload = json.dumps(render_notification(settings, event.notification))
    else:
        payload = str(event.deleted_id)
    return {"stream": event.stream, "event": event.event, "payload": payload}


async def _events(settings: Settings, stream: Stream) -> AsyncIterator[str]:
    yield ":)\n\n"
    deadline = time.monotonic() + settings.stream_seconds
    quiet = 0
    while time.monotonic() < deadline:
        await asyncio.sleep(min(POLL_SECONDS, settings.stream_seconds))
        try:
            events = await stream.poll()
        except Unauthorized:
            return
        for event in events:
            message = _message(settings, event)
            yield f"event: {message['event']}\ndata: {message['payload']}\n\n"
        quiet = 0 if events else quiet + 1
        if quiet and quiet % HEARTBEAT_POLLS == 0:
            yield ":thump\n\n"


async def server_sent_events(request: Request) -> Response:
    name = SSE_PATHS.get(request.url.path) or request.query_params.get("stream", "")
    if not name:
        raise BadRequest("name a stream: ?stream=user, public, public:local...", field="stream")
    token, _ = _token(request)
    app = context(request)
    stream = await streaming.open_stream(app.db, app.settings, token, [name])
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(
        _events(app.settings, stream), media_type="text/event-stream", headers=headers
    )


async def _listen(websocket: WebSocket, stream: Stream) -> None:
    """Subscribe and unsubscribe messages, until the client goes."""
    while True:
        try:
            text = await websocket.receive_text()
        except WebSocketDisconnect:
            return
        try:
            message = json.loads(text)
            kind, name = message.get("type"), message.get("stream")
            if kind == "subscribe" and isinstance(name, str):
                stream.subscribe(name)
            elif kind == "unsubscribe" and isinstance(name, str):
                stream.unsubscribe(name)
            else:
                raise BadRequest("send {'type': 'subscribe' or 'unsubscribe', 'stream': …}")
        except (ValueError, AttributeError, RecursionError):
            await websocket.send_json({"error": "the message is not a JSON object", "status": 400})
        except ServiceError as error:
            await websocket.send_json({"error": str(error), "status": 400})


async def _pump(websocket: WebSocket, settings: Settings, stream: Stream) -> None:
    """Events as they come, until the stream's time is up or its token is revoked."""
    deadline = time.monotonic() + settings.stream_seconds
    while time.monotonic() < deadline:
        await asyncio.sleep(min(POLL_SECONDS, settings.stream_seconds))
        try:
            events = await stream.poll()
        except Unauthorized:
            await websocket.close(code=1008, reason="the access token was revoked")
            return
        for event in events:
            await websocket.send_json(_message(settings, event))
    await websocket.close(code=1001, reason="reconnect, please")


async def websocket_streaming(websocket: WebSocket) -> None:
    app = context(websocket)
    try:
        token, protocol = _token(websocket)
        names = [websocket.query_params["stream"]] if websocket.query_params.get("stream") else []
        stream = await streaming.open_stream(app.db, app.settings, token, names)
    except ServiceError as error:
        await websocket.close(code=1008, reason=str(error)[:120])  # before accept: HTTP 403
        return
    await websocket.accept(subprotocol=protocol)
    pump = asyncio.create_task(_pump(websocket, app.settings, stream))
    listen = asyncio.create_task(_listen(websocket, stream))
    try:
        await asyncio.wait({pump, listen}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (pump, listen):
            task.cancel()
        await asyncio.gather(pump, listen, return_exceptions=True)


class StreamingRoute(Route):
    """One path for both: plain GET streams server-sent events, an upgrade a WebSocket."""

    def __init__(self, path: str) -> None:
        super().__init__(path, server_sent_events, methods=["GET"])
        self.websocket = WebSocketRoute(path, websocket_streaming)

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "websocket":
            return self.websocket.matches(scope)
        return super().matches(scope)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self.websocket.handle(scope, receive, send)
        else:
            await super().handle(scope, receive, send)


routes = [
    StreamingRoute("/api/v1/streaming"),
    *(Route(path, server_sent_events, methods=["GET"]) for path in SSE_PATHS),
]
