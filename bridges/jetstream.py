"""Bluesky's Jetstream: likes of chosen accounts as they happen, over one WebSocket.

The subscription asks for `app.bsky.feed.like` commits only, with `requireHello`: nothing
flows until the first `options_update` names the accounts (DIDs, up to 10,000), so the list
never rides in the URL, and a changed list is sent on the same socket. The cursor is the
last event's `time_us`; a reconnect rewinds it a few seconds, since events are handled
idempotently (a like already seen is no second click). Polling stays the fallback: a like
the stream missed is found by the next round.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Protocol
from urllib.parse import urlencode, urlsplit

from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import WebSocketException

from bridges.bluesky import LIKE, JetstreamLike, parse_jetstream_event
from bridges.errors import BadPayload, NetworkDown

PUBLIC_URL = "wss://jetstream2.us-east.bsky.network/subscribe"
MAX_DIDS = 10_000  # the most `wantedDids` one subscription may name
REWIND_US = 5_000_000  # a reconnect replays the last five seconds
MAX_MESSAGE_BYTES = 64 * 1024  # a like event is well under 1 KiB


class Socket(Protocol):
    """What the listener needs of a WebSocket (cancelling `recv` loses no message)."""

    async def send(self, message: str) -> None: ...

    async def recv(self) -> str | bytes: ...


def subscribe_url(base: str, cursor: int | None = None) -> str:
    """The subscription address: likes only, paused until the hello, from `cursor` (less
    the rewind) when resuming."""
    parts = urlsplit(base)
    if parts.scheme not in ("wss", "ws") or not parts.netloc:
        raise ValueError(f"a Jetstream address must be ws:// or wss://, not {base!r}")
    query: list[tuple[str, str]] = [
        ("wantedCollections", LIKE),
        ("requireHello", "true"),
        ("maxMessageSizeBytes", str(MAX_MESSAGE_BYTES)),
    ]
    if cursor is not None:
        query.append(("cursor", str(max(cursor - REWIND_US, 0))))
    return parts._replace(query=urlencode(query)).geturl()


def options_update(dids: Sequence[str]) -> str:
    """The subscriber's message that sets (or changes) which accounts it follows."""
    payload = {
        "wantedCollections": [LIKE],
        "wantedDids": sorted(dids)[:MAX_DIDS],
        "maxMessageSizeBytes": MAX_MESSAGE_BYTES,
    }
    return json.dumps({"type": "options_update", "payload": payload})


def read_event(message: str | bytes) -> JetstreamLike | None:
    """One message of the stream as a like created or deleted (None: an event of another
    kind); BadPayload when it is malformed or larger than any like event."""
    if len(message) > MAX_MESSAGE_BYTES:
        raise BadPayload(f"a Jetstream event of {len(message)} bytes")
    return parse_jetstream_event(message)


@asynccontextmanager
async def connect(
    url: str, *, user_agent: str, open_timeout: float = 10.0
) -> AsyncIterator[Socket]:
    """A WebSocket to Jetstream (`websockets`), its failures as NetworkDown."""
    try:
        async with ws_connect(
            url,
            user_agent_header=user_agent,
            open_timeout=open_timeout,
            max_size=16 * MAX_MESSAGE_BYTES,  # larger ones are refused one by one
            compression="deflate",
        ) as socket:
            yield socket
    except (OSError, TimeoutError, WebSocketException) as error:
        raise NetworkDown(f"Jetstream at {urlsplit(url).netloc}: {error}") from error
