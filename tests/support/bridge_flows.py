"""The steps a bridged network's tests take against its fake on loopback: a network's
config from the fake's base URL and the shared OAuth test client, connecting through the
fake's authorization page, and reading one whole polling round by following cursors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, Protocol
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from bridges.base import Connection, ConnectStart, Credentials, LikesPage, NetworkConfig
from bridges.errors import BadPayload, NetworkDown, TokenExpired, TokenRevoked
from tests.support.fakes.knobs import PageKnobs
from tests.support.fakes.oauth2 import CLIENT_ID, CLIENT_SECRET


class Connects(Protocol):
    async def start_connect(self, handle: str, redirect_uri: str, state: str) -> ConnectStart: ...

    async def finish_connect(
        self, pending: Mapping[str, str], callback: Mapping[str, str], redirect_uri: str
    ) -> Connection: ...


class Lists(Protocol):
    async def list_likes(self, credentials: Credentials, cursor: str | None) -> LikesPage: ...


class Refreshes(Lists, Protocol):
    async def refresh(self, credentials: Credentials) -> Credentials: ...


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


async def assert_hostile(
    net: Lists, credentials: Credentials, knobs: PageKnobs, knob: str, match: str | None = None
) -> None:
    """With the fake's `knob` on, reading the first page is a BadPayload (saying `match`)."""
    setattr(knobs, knob, True)
    with pytest.raises(BadPayload, match=match):
        await net.list_likes(credentials, None)


async def assert_down_once(net: Lists, credentials: Credentials, knobs: PageKnobs) -> None:
    """The fake answers the next read with a 5xx: NetworkDown."""
    knobs.fail_5xx = 1
    with pytest.raises(NetworkDown):
        await net.list_likes(credentials, None)


async def set_token(http: httpx.AsyncClient, base: str, state: str, user: str = "donor") -> None:
    """Make the fake's tokens of `user` "expired" or "revoked" (its OAuth provider's control)."""
    await http.post(f"{base}/_test/token", json={"user": user, "state": state})


async def assert_expired_then_revoked(
    net: Refreshes, http: httpx.AsyncClient, base: str, credentials: Credentials
) -> Credentials:
    """The provider expires the access token: reading is TokenExpired and a refresh renews
    it; the provider then revokes the grant: refreshing is TokenRevoked. The last renewed
    credentials, revoked now."""
    await set_token(http, base, "expired")
    with pytest.raises(TokenExpired):
        await net.list_likes(credentials, None)
    again = await net.refresh(credentials)
    await set_token(http, base, "revoked")
    with pytest.raises(TokenRevoked):
        await net.refresh(again)
    return again
