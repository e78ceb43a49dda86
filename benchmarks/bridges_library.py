"""benchmarks/bridges.py's baseline: the same accounts' pages read by the bridges library
alone, over real HTTP (recorded) and then replayed from memory, with no database."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import httpx

from bridges.base import Credentials, Network, NetworkConfig
from bridges.bluesky import BlueskyNetwork
from bridges.errors import RateLimited
from bridges.fediverse import FediverseNetwork
from server.settings import Settings


@dataclass(frozen=True)
class Connected:
    network: str
    external_id: str
    handle: str
    credentials: Credentials


class Recording(httpx.AsyncBaseTransport):
    """Real HTTP, keeping each answer so that it can be replayed from memory."""

    def __init__(self) -> None:
        self.real = httpx.AsyncHTTPTransport()
        self.pages: dict[str, tuple[int, list[tuple[str, str]], bytes]] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.real.handle_async_request(request)
        body = await response.aread()
        await response.aclose()
        headers = [(k, v) for k, v in response.headers.multi_items() if k != "content-encoding"]
        self.pages[str(request.url)] = (response.status_code, headers, body)
        return httpx.Response(response.status_code, headers=headers, content=body)

    async def aclose(self) -> None:
        await self.real.aclose()


def replaying(pages: dict[str, tuple[int, list[tuple[str, str]], bytes]]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        status, headers, body = pages[str(request.url)]
        return httpx.Response(status, headers=headers, content=body)

    return httpx.MockTransport(answer)


@dataclass(frozen=True)
class LibraryRun:
    seconds: float
    requests: int
    likes: int
    limited: int  # accounts left unread when a fake answered 429 (a tight --*-limit)


async def library_round(
    transport: httpx.AsyncBaseTransport, settings: Settings, connected: Sequence[Connected]
) -> LibraryRun:
    """Every account's pages, one after the other, through `list_likes` and its cursors."""
    config = NetworkConfig(allow_private=True)
    bluesky = settings.bridges["bluesky"]
    async with httpx.AsyncClient(transport=transport, timeout=30) as http:
        networks: dict[str, Network] = {
            "fediverse": FediverseNetwork(http, config),
            "bluesky": BlueskyNetwork(
                http,
                NetworkConfig(
                    base_url=bluesky["base_url"],
                    directory_url=bluesky["directory_url"],
                    allow_private=True,
                ),
            ),
        }
        requests = likes = limited = 0
        started = time.perf_counter()
        for one in connected:
            cursor: str | None = None
            while True:
                try:
                    page = await networks[one.network].list_likes(one.credentials, cursor)
                except RateLimited:
                    limited += 1
                    break
                requests, likes = requests + 1, likes + len(page.likes)
                if page.next_cursor is None:
                    break
                cursor = page.next_cursor
        return LibraryRun(time.perf_counter() - started, requests, likes, limited)
