"""In-process federation: several apps joined by an httpx transport routing host → app."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from activitypub.jsonld import ACTIVITY_JSON
from activitypub.signatures import sign_request
from server.app import create_app
from server.context import context
from server.settings import Settings
from tests.support.payloads import load_text
from tests.support.databases import DatabaseFactory


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


@asynccontextmanager
async def running(network: Network, settings: Settings) -> AsyncIterator[Starlette]:
    app = create_app(settings)
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(LifespanManager(app))
        join(app, network)
        network.apps[settings.domain] = app
        yield app


@dataclass
class FakeMastodon:
    """A remote server with one actor whose key is tests/data/ap_rsa_private.pem."""

    host: str = "mastodon.test"
    received: list[dict[str, Any]] = field(default_factory=list)
    public_pem: str = field(default_factory=lambda: load_text("ap_rsa_public.pem"))
    private_pem: str = field(default_factory=lambda: load_text("ap_rsa_private.pem"))

    @property
    def actor(self) -> str:
        return f"http://{self.host}/users/bob"

    @property
    def key_id(self) -> str:
        return f"{self.actor}#main-key"

    def document(self) -> dict[str, Any]:
        return {
            "@context": ["https://www.w3.org/ns/activitystreams", "https://w3id.org/security/v1"],
            "id": self.actor,
            "type": "Person",
            "preferredUsername": "bob",
            "name": "Bob <script>x</script>",
            "summary": "<p>hi<script>alert(1)</script></p>",
            "inbox": f"{self.actor}/inbox",
            "outbox": f"{self.actor}/outbox",
            "followers": f"{self.actor}/followers",
            "endpoints": {"sharedInbox": f"http://{self.host}/inbox"},
            "publicKey": {"id": self.key_id, "owner": self.actor, "publicKeyPem": self.public_pem},
        }

    def app(self) -> Starlette:
        async def actor(_: Request) -> Response:
            return JSONResponse(self.document(), media_type=ACTIVITY_JSON)

        async def inbox(request: Request) -> Response:
            self.received.append(json.loads(await request.body()))
            return Response(status_code=202)

        return Starlette(
            routes=[
                Route("/users/bob", actor),
                Route("/users/bob/inbox", inbox, methods=["POST"]),
                Route("/inbox", inbox, methods=["POST"]),
            ]
        )

    def signed(
        self, url: str, activity: dict[str, Any] | bytes, key_id: str | None = None
    ) -> tuple[bytes, dict[str, str]]:
        body = activity if isinstance(activity, bytes) else json.dumps(activity).encode()
        headers = sign_request(
            "POST",
            url,
            {"Content-Type": ACTIVITY_JSON},
            body,
            key_id or self.key_id,
            self.private_pem,
        )
        return body, headers
