"""An instance (alpha.test, in process) whose outgoing requests reach both the in-process
network (remote fediverse servers, its own inbox) and real fakes on loopback ports (the
fake Mastodon API), and a donor logged in to it through the web pages."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update
from starlette.applications import Starlette

from server.connections.polling import enqueue_due
from server.context import context
from server.db.engine import Database
from server.models import ConnectedAccount
from server.models.base import utcnow
from server.settings import Settings
from tests.support.accounts import log_in, make_account
from tests.support.databases import DatabaseFactory
from tests.support.fakes.bluesky import FakeBluesky
from tests.support.fakes.mastodon_api import FakeMastodonApi
from tests.support.fakes.server import serve
from tests.support.network import Network, settings_for


class Mixed(httpx.AsyncBaseTransport):
    """Hosts of the in-process network go there; any other goes over real HTTP."""

    def __init__(self, network: Network) -> None:
        self.network = network
        self.real = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.netloc.decode() in self.network.apps:
            return await self.network.handle_async_request(request)
        return await self.real.handle_async_request(request)

    async def aclose(self) -> None:
        await self.real.aclose()


@pytest.fixture
def bluesky() -> Iterator[FakeBluesky]:
    """The fake Bluesky (AppView, PDS and PLC directory in one) on a loopback port."""
    fake = FakeBluesky()
    with serve(fake):
        yield fake


@pytest.fixture
def alpha_settings(tmp_path: Path, databases: DatabaseFactory, bluesky: FakeBluesky) -> Settings:
    """alpha.test, with Bluesky pointed at the fake."""
    settings = settings_for(tmp_path, "alpha.test", databases)
    tables = {"bluesky": {"base_url": bluesky.base, "directory_url": bluesky.base}}
    return settings.replace(extra={"bridges": tables})


@pytest.fixture
async def instance(alpha: Starlette, network: Network) -> AsyncIterator[Starlette]:
    client = httpx.AsyncClient(transport=Mixed(network))
    running = context(alpha)
    running.http = client
    running.worker.context = replace(running.worker.context, http_client=client)
    yield alpha
    await client.aclose()


@pytest.fixture
def fake() -> Iterator[FakeMastodonApi]:
    """The fake Mastodon API on a loopback port; its user `donor` approves at once."""
    api = FakeMastodonApi()
    with serve(api):
        yield api


@dataclass
class Donor:
    app: Starlette
    web: httpx.AsyncClient  # logged in, through the in-process network
    account_id: int

    @property
    def db(self) -> Database:
        return context(self.app).db

    async def poll(self) -> int:
        """Make every connected account due, queue their polls, run the worker."""
        async with self.db.transaction() as session:
            await session.exec(
                update(ConnectedAccount).values(next_poll_at=utcnow() - timedelta(seconds=1))
            )
        return await self.poll_without_moving_the_clock()

    async def poll_without_moving_the_clock(self) -> int:
        """Queue the polls that are due now and run the worker; returns how many jobs ran."""
        await enqueue_due(self.db)
        return await context(self.app).worker.drain()


@pytest.fixture
async def donor(instance: Starlette, network: Network) -> AsyncIterator[Donor]:
    account = await make_account(instance, "dora")
    async with network.client("alpha.test") as web:
        answer = await log_in(web, "dora")
        assert answer.status_code == 303, answer.text
        yield Donor(instance, web, account.id or 0)
