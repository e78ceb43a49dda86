"""In-process federation: several apps joined by an httpx transport routing host → app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import replace
from pathlib import Path

import httpx
from starlette.applications import Starlette

from server.app import create_app
from server.context import context
from server.settings import Settings
from tests.support.databases import DatabaseFactory
from tests.support.fakes.oauth2 import CLIENT_ID, CLIENT_SECRET
from tests.support.lifespan import app_lifespan


class Network(httpx.AsyncBaseTransport):
    def __init__(self) -> None:
        self.apps: dict[str, Starlette] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        app = self.apps.get(request.url.netloc.decode())
        if app is None:
            raise httpx.ConnectError(f"no host {request.url.host}", request=request)
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        return await transport.handle_async_request(request)

    def client(self, host: str) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=self, base_url=f"http://{host}")


def join(app: Starlette, network: Network) -> None:
    """Point the app's outgoing HTTP (routes and worker) at the network."""
    client = httpx.AsyncClient(transport=network)
    running = context(app)
    running.http = client
    running.worker.context = replace(running.worker.context, http_client=client)


def settings_for(tmp: Path, host: str, databases: DatabaseFactory) -> Settings:
    return Settings(
        data_dir=tmp / host,
        domain=host,
        database_url=databases.migrated(),
        dev=True,
        secret_key="test-secret-key-not-for-production",
        run_worker=False,
        delivery_backoff_scale=0.0,
    )


def settings_with_bridges(
    tmp: Path, host: str, databases: DatabaseFactory, tables: Mapping[str, Mapping[str, object]]
) -> Settings:
    """`settings_for`, with these `[bridges.<network>]` tables."""
    return settings_for(tmp, host, databases).replace(extra={"bridges": dict(tables)})


def bluesky_table(base: str) -> dict[str, object]:
    """The `[bridges.bluesky]` table of an instance reading the fake Bluesky at `base`."""
    return {"base_url": base, "directory_url": base}


def oauth_table(base: str, **more: object) -> dict[str, object]:
    """A `[bridges.<network>]` table for an OAuth network's fake at `base`, with the shared
    test client's id and secret (and `more` keys of the network's own)."""
    return {"base_url": base, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, **more}


@asynccontextmanager
async def running(network: Network, settings: Settings) -> AsyncIterator[Starlette]:
    app = create_app(settings)
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(app_lifespan(app))
        join(app, network)
        network.apps[settings.domain] = app
        yield app
