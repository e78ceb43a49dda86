"""benchmarks/bridges.py's baseline: the same accounts' pages read by the bridges library
alone, over real HTTP (recorded) and then replayed from memory, with no database. Each network
is built as the server builds it (`bridges.registry.build_network` with the instance's
`[bridges.<name>]` configuration). Answers are kept per account and URL: several networks ask
every account's likes at the same URL, the token in a header telling whose they are."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

from bridges.base import Credentials, Network
from bridges.errors import RateLimited
from bridges.registry import build_network
from server.connections.networks import network_config
from server.settings import Settings

Answer = tuple[int, list[tuple[str, str]], bytes]


@dataclass(frozen=True)
class Connected:
    network: str
    external_id: str
    handle: str
    credentials: Credentials


class Keyed(httpx.AsyncBaseTransport):
    """A transport that knows whose pages it carries (`account`, set by `library_round`)."""

    account: str = ""


class Recording(Keyed):
    """Real HTTP, keeping each answer so that it can be replayed from memory."""

    def __init__(self) -> None:
        self.real = httpx.AsyncHTTPTransport()
        self.pages: dict[tuple[str, str], Answer] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.real.handle_async_request(request)
        body = await response.aread()
        await response.aclose()
        headers = [(k, v) for k, v in response.headers.multi_items() if k != "content-encoding"]
        self.pages[self.account, str(request.url)] = (response.status_code, headers, body)
        return httpx.Response(response.status_code, headers=headers, content=body)

    async def aclose(self) -> None:
        await self.real.aclose()


class Replaying(Keyed):
    """The recorded answers, from memory."""

    def __init__(self, pages: dict[tuple[str, str], Answer]) -> None:
        self.pages = pages

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        status, headers, body = self.pages[self.account, str(request.url)]
        return httpx.Response(status, headers=headers, content=body)


def replaying(pages: dict[tuple[str, str], Answer]) -> Replaying:
    return Replaying(pages)


@dataclass(frozen=True)
class LibraryRun:
    seconds: float
    requests: int
    likes: int
    limited: int  # accounts left unread when a fake answered 429 (a tight --*-limit)
    seconds_by_network: dict[str, float] = field(default_factory=dict)


async def library_round(
    transport: Keyed, settings: Settings, connected: Sequence[Connected]
) -> LibraryRun:
    """Every account's pages, one after the other, through `list_likes` and its cursors."""
    async with httpx.AsyncClient(transport=transport, timeout=30) as http:
        networks: dict[str, Network] = {
            name: build_network(name, http, network_config(settings, name))
            for name in sorted({one.network for one in connected})
        }
        requests = likes = limited = 0
        spent: dict[str, float] = dict.fromkeys(networks, 0.0)
        started = time.perf_counter()
        for one in connected:
            transport.account = f"{one.network} {one.external_id}"
            cursor: str | None = None
            began = time.perf_counter()
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
            spent[one.network] += time.perf_counter() - began
        return LibraryRun(time.perf_counter() - started, requests, likes, limited, spent)
