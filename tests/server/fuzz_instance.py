"""The app the route fuzz test attacks: every route it serves, one running instance on its
own event loop (hypothesis drives it from the test's thread), seeded with an admin, a user
with a post, a remote actor and an active settlement peer; and the identities probes use."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, cast

import httpx
from cryptography.hazmat.primitives.asymmetric import ed25519
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route

from activitypub.errors import ActivityPubError
from activitypub.keys import ed25519_public_to_multibase, generate_ed25519_key
from activitypub.settlement import sign_document
from activitypub.signatures import sign_request
from server.app import create_app
from server.context import context
from server.middleware import DirectRoutes
from server.models import Peer, PeerState
from server.money.funding import Funding, credit_wallet
from server.settings import Settings
from tests.server.fuzzing import Probe
from tests.support.accounts import csrf_from, log_in, make_account, make_token
from tests.support.databases import DatabaseFactory
from tests.support.lifespan import app_lifespan
from tests.support.network import Network, join, settings_for
from tests.support.remote import RemoteActor, RemoteServer, mastodon_bob

T = TypeVar("T")
HOST = "likewise.test"
ADMIN_SCOPES = "read write follow push profile admin:read admin:write"
# Requests that may end or replace the admin's browser session: it is checked after them.
SESSION_PATHS = ("/login", "/logout", "/signup", "/account/", "/api/v1/likewise/sessions")


def served_routes() -> list[tuple[str, str]]:
    """(method, path template) of every route a real app serves, HEAD aside (it is GET):
    its router's routes and those `DirectRoutes` serves ahead of the router."""
    app = create_app(
        Settings(
            data_dir=Path("/nonexistent"),
            domain=HOST,
            database_url="sqlite+aiosqlite://",
            secret_key="routes-only",
        )
    )
    direct: list[BaseRoute] = []
    for middleware in app.user_middleware:
        if middleware.cls is cast(Any, DirectRoutes):
            direct += cast(list[BaseRoute], middleware.kwargs["routes"])
    found: set[tuple[str, str]] = set()
    for route in [*app.routes, *direct]:
        if isinstance(route, Mount):
            found.add(("GET", route.path + "/{path}"))
        elif isinstance(route, Route):
            found.update((method, route.path) for method in route.methods or () if method != "HEAD")
        else:
            raise AssertionError(f"a route the fuzz test does not know how to reach: {route!r}")
    return sorted(found, key=lambda pair: (pair[1], pair[0]))


@dataclass
class Instance:
    app: Starlette
    loop: asyncio.AbstractEventLoop
    mastodon: RemoteActor
    peer_key: ed25519.Ed25519PrivateKey
    existing: dict[str, list[str]] = field(default_factory=dict)
    token: str = ""
    session_cookie: str = ""
    csrf: str = ""
    errors: list[str] = field(default_factory=list)

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=120)

    def client(self) -> httpx.AsyncClient:
        """A client without memory: each probe carries its own identity."""
        transport = httpx.ASGITransport(
            app=self.app, raise_app_exceptions=False, client=("127.0.0.1", 50000)
        )
        return httpx.AsyncClient(transport=transport, base_url=f"http://{HOST}")

    async def open_session(self) -> None:
        async with self.client() as client:
            response = await log_in(client, "ann")
            assert response.status_code in (302, 303), response.text
            page = await client.get("/money")
            self.csrf = csrf_from(page.text)
            self.session_cookie = client.cookies["likewise_session"]

    async def keep_session(self) -> None:
        """Log in again if a probe logged the admin's session out."""
        async with self.client() as client:
            cookie = f"likewise_session={self.session_cookie}"
            me = await client.get("/api/v1/likewise/me", headers={"cookie": cookie})
        if me.status_code != 200:
            await self.open_session()

    def headers_for(self, probe: Probe, body: bytes) -> list[tuple[bytes, bytes]]:
        """Identity first (a header's first value is the one read), the hostile ones after."""
        headers: list[tuple[bytes, bytes]] = []
        if probe.signed:
            url = f"http://{HOST}{probe.path}"
            signed = sign_request(
                probe.method, url, {}, body, self.mastodon.key_id, self.mastodon.keys.private_pem
            )
            headers += [(name.lower().encode(), value.encode()) for name, value in signed.items()]
        else:
            headers.append((b"host", HOST.encode()))
        if probe.body.content_type is not None:
            headers.append((b"content-type", probe.body.content_type))
        if probe.identity == "token":
            headers.append((b"authorization", f"Bearer {self.token}".encode()))
        elif probe.identity == "session":
            headers.append((b"cookie", f"likewise_session={self.session_cookie}".encode()))
            if probe.csrf:
                headers.append((b"x-csrf-token", self.csrf.encode()))
        return headers + list(probe.headers)

    def body_of(self, probe: Probe) -> bytes:
        """The body; a settlement document signed with the peer's key (if it still can be)."""
        if probe.settlement is not None:
            method = f"{self.mastodon.uri}#ed25519-key"
            try:
                document = sign_document(probe.settlement, self.peer_key, method)
            except ActivityPubError:  # a mutated actor no key can sign for: sent as it is
                document = probe.settlement
            return json.dumps(document).encode()
        return probe.body.encode(self.csrf if probe.identity == "session" and probe.csrf else None)

    async def send(self, probe: Probe) -> httpx.Response:
        body = self.body_of(probe)
        target = probe.path + (f"?{probe.query}" if probe.query else "")
        async with self.client() as client:
            request = client.build_request(
                probe.method, target, content=body, headers=self.headers_for(probe, body)
            )
            response = await client.send(request)
        if probe.path.startswith(SESSION_PATHS):
            await self.keep_session()
        return response


class ErrorLog(logging.Handler):
    """Keeps the tracebacks the app logs for unhandled errors."""

    def __init__(self, into: list[str]) -> None:
        super().__init__(logging.ERROR)
        self.into = into
        self.setFormatter(logging.Formatter("%(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.into.append(self.format(record))


async def _seed(instance: Instance) -> None:
    """An admin with money and a bearer token, a user with a post the admin liked, and
    the remote actor's server as an active settlement peer."""
    app, mastodon = instance.app, instance.mastodon
    admin = await make_account(app, "ann", admin=True)
    carol = await make_account(app, "carol")
    instance.token = await make_token(app, admin, ADMIN_SCOPES)
    async with context(app).db.transaction() as session:
        await credit_wallet(
            session, context(app).settings, Funding(int(admin.id or 0), 5000, "seed")
        )
        session.add(
            Peer(
                domain=mastodon.server.host,
                state=PeerState.active,
                proposed_by="them",
                currency="EUR",
                credit_limit=100_000,
                actor_uri=mastodon.uri,
                inbox=f"{mastodon.uri}/inbox",
                ed25519_multibase=ed25519_public_to_multibase(instance.peer_key.public_key()),
            )
        )
    carol_token = await make_token(app, carol)
    async with instance.client() as client:
        posted = await client.post(
            "/api/v1/statuses", json={"status": "hello"}, headers=_bearer(carol_token)
        )
        note_id, note_uri = str(posted.json()["id"]), str(posted.json()["uri"])
        liked = await client.post(
            "/api/v1/likewise/likes", json={"uri": note_uri}, headers=_bearer(instance.token)
        )
        assert liked.status_code == 201, liked.text
        clicks = await client.get("/api/v1/likewise/clicks", headers=_bearer(instance.token))
    await instance.open_session()
    instance.existing = {
        "username": ["ann", "carol", "nobody"],
        "note_id": [note_id],
        "status_id": [note_id],
        "click_id": [str(clicks.json()[0]["id"])],
        "identity_id": ["1", "2"],
        "account_id": ["1", "2"],
        "payout_id": ["1"],
        "payment_id": ["1"],
        "settlement_id": ["1"],
        "decision": ["approve", "reject", "confirm", "refuse"],
        "action": ["accept", "reject", "suspend", "resume", "active"],
        "domain": [mastodon.server.host, HOST],
        "version": ["2.0", "2.1"],
        "path": ["style.css", "avatar.png"],
    }


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@contextlib.contextmanager
def running(tmp: Path, databases: DatabaseFactory) -> Iterator[Instance]:
    """The seeded instance, served on an event loop of its own until the block ends."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    network, mastodon = Network(), mastodon_bob(RemoteServer())
    network.apps[mastodon.server.host] = mastodon.server.app()
    # Streams end at once: the probes' client reads every answer to its end.
    app = create_app(settings_for(tmp, HOST, databases).replace(stream_seconds=0.01))
    network.apps[HOST] = app
    instance = Instance(app, loop, mastodon, generate_ed25519_key())
    started, stop = threading.Event(), asyncio.Event()
    handler = ErrorLog(instance.errors)
    logging.getLogger("likewise.errors").addHandler(handler)

    async def serve() -> None:
        async with app_lifespan(app):
            join(app, network)
            await _seed(instance)
            started.set()
            await stop.wait()

    async def finish() -> None:
        stop.set()

    serving = asyncio.run_coroutine_threadsafe(serve(), loop)
    try:
        while not started.wait(timeout=0.1):
            if serving.done():
                serving.result()  # raises what went wrong in the seeding
        yield instance
    finally:
        instance.run(finish())
        serving.result(timeout=30)
        logging.getLogger("likewise.errors").removeHandler(handler)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
