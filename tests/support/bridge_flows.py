"""The steps a bridged network's tests take against its fake on loopback: a network's
config from the fake's base URL and the shared OAuth test client, connecting through the
fake's authorization page, and reading one whole polling round by following cursors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, Protocol
from urllib.parse import parse_qs, urlsplit

import httpx

from bridges.base import Connection, ConnectStart, Credentials, LikesPage, NetworkConfig
from tests.support.fakes.oauth2 import CLIENT_ID, CLIENT_SECRET


class Connects(Protocol):
    async def start_connect(self, handle: str, redirect_uri: str, state: str) -> ConnectStart: ...

    async def finish_connect(
        self, pending: Mapping[str, str], callback: Mapping[str, str], redirect_uri: str
    ) -> Connection: ...


class Lists(Protocol):
    async def list_likes(self, credentials: Credentials, cursor: str | None) -> LikesPage: ...


def redirect_for(name: str) -> str:
    """The callback address Likewise gives network `name` when connecting."""
    return f"https://likewise.example/connect/{name}/callback"


def config(
    base: str, client_id: str = CLIENT_ID, client_secret: str = CLIENT_SECRET
) -> NetworkConfig:
    """A network's config pointing at a fake served at `base` on loopback."""
    return NetworkConfig(
        client_id=client_id, client_secret=client_secret, base_url=base, allow_private=True
    )


async def follow(http: httpx.AsyncClient, start: ConnectStart) -> str:
    """Open the fake's authorization page (which signs the donor in at once): the callback
    address it redirects to."""
    answer = await http.get(start.redirect_to)
    assert answer.status_code in (302, 307), answer.text
    return answer.headers["location"]


def query_of(location: str) -> dict[str, str]:
    """A callback address's query, one value a key."""
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


async def authorize(
    net: Connects, http: httpx.AsyncClient, redirect: str, handle: str = "", state: str = "state-1"
) -> tuple[dict[str, str], dict[str, str]]:
    """Start connecting and follow the fake's authorization page back: pending and callback."""
    start = await net.start_connect(handle, redirect, state)
    callback = query_of(await follow(http, start))
    return dict(start.pending), callback


async def connect(
    net: Connects, http: httpx.AsyncClient, redirect: str, handle: str = "", state: str = "state-1"
) -> Connection:
    """Connect through the fake's authorization page, as a donor does."""
    pending, callback = await authorize(net, http, redirect, handle, state)
    return await net.finish_connect(pending, callback, redirect)


async def read_round(
    net: Lists,
    credentials: Credentials,
    cursor: str | None,
    ids: Literal["item_id", "like_id"] = "item_id",
) -> tuple[list[str], str | None]:
    """One polling round as the server runs it: the ids seen (each like's `ids` field),
    and the cursor to keep."""
    seen: list[str] = []
    while True:
        page = await net.list_likes(credentials, cursor)
        seen += [getattr(like, ids) for like in page.likes]
        if page.next_cursor is None:
            return seen, page.cursor_to_keep
        cursor = page.next_cursor
