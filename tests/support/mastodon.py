"""A Mastodon-shaped server for claim tests: WebFinger, actors and posts in the shapes of
the captured payloads (tests/data/ap_mastodon_*.json), profile fields written as Mastodon
writes them, an inbox that records what it is sent. Served in process (an app for
tests/federation's Network) or on a loopback port (`serving`, for real instances)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from activitypub.jsonld import ACTIVITY_JSON
from tests.support.payloads import load_json, load_text
from tests.support.instances import free_port

CAPTURED_HOST = "https://mastodon.example"
STATUS_ID = "113000000000000001"


def field_link(url: str) -> str:
    """A URL typed into a Mastodon profile field, as Mastodon renders it in the actor."""
    scheme, _, rest = url.partition("://")
    return (
        f'<a href="{url}" target="_blank" rel="nofollow noopener me" translate="no">'
        f'<span class="invisible">{scheme}://</span><span class="">{rest}</span>'
        '<span class="invisible"></span></a>'
    )


def mention(url: str, name: str) -> str:
    """A mention in a profile field: a link to the profile, but no claim to it."""
    return (
        f'<span class="h-card" translate="no"><a href="{url}" class="u-url mention">'
        f"@<span>{name}</span></a></span>"
    )


def _rehosted(document: Any, base: str, name: str) -> Any:
    text = json.dumps(document)
    text = text.replace(f"{CAPTURED_HOST}/users/bob", f"{base}/users/{name}")
    text = text.replace(f"{CAPTURED_HOST}/@bob", f"{base}/@{name}")
    text = text.replace(CAPTURED_HOST, base)
    return json.loads(text)


@dataclass
class FakeMastodonServer:
    """Accounts by name, each with its profile fields as (name, HTML value) pairs."""

    host: str = "mastodon.test"
    fields: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    received: list[dict[str, Any]] = field(default_factory=list)

    @property
    def base(self) -> str:
        return f"http://{self.host}"

    def actor(self, name: str) -> str:
        return f"{self.base}/users/{name}"

    def profile(self, name: str) -> str:
        return f"{self.base}/@{name}"

    def post(self, name: str) -> str:
        return f"{self.actor(name)}/statuses/{STATUS_ID}"

    def add(self, name: str, *fields: tuple[str, str]) -> None:
        self.fields[name] = [("Website", field_link("https://bob.example")), *fields]

    def document(self, name: str) -> dict[str, Any]:
        document: dict[str, Any] = _rehosted(load_json("ap_mastodon_actor.json"), self.base, name)
        document["preferredUsername"] = name
        document["attachment"] = [
            {"type": "PropertyValue", "name": label, "value": value}
            for label, value in self.fields[name]
        ]
        document["publicKey"]["publicKeyPem"] = load_text("ap_rsa_public.pem")
        return document

    def note(self, name: str) -> dict[str, Any]:
        create = _rehosted(load_json("ap_mastodon_create_note.json"), self.base, name)
        note: dict[str, Any] = create["object"]
        note["@context"] = create["@context"]
        return note

    def app(self) -> Starlette:
        def known(request: Request) -> str:
            name = str(request.path_params["name"])
            if name not in self.fields:
                raise _Missing()
            return name

        async def webfinger(request: Request) -> Response:
            user, _, host = (
                request.query_params.get("resource", "").removeprefix("acct:").partition("@")
            )
            if host != self.host or user not in self.fields:
                return Response(status_code=404)
            links = [
                {
                    "rel": "http://webfinger.net/rel/profile-page",
                    "type": "text/html",
                    "href": self.profile(user),
                },
                {"rel": "self", "type": ACTIVITY_JSON, "href": self.actor(user)},
            ]
            jrd = {
                "subject": f"acct:{user}@{self.host}",
                "aliases": [self.profile(user), self.actor(user)],
                "links": links,
            }
            return JSONResponse(jrd, media_type="application/jrd+json")

        async def actor(request: Request) -> Response:
            return JSONResponse(self.document(known(request)), media_type=ACTIVITY_JSON)

        async def status(request: Request) -> Response:
            return JSONResponse(self.note(known(request)), media_type=ACTIVITY_JSON)

        async def inbox(request: Request) -> Response:
            self.received.append(json.loads(await request.body()))
            return Response(status_code=202)

        async def missing(_: Request, __: Exception) -> Response:
            return Response(status_code=404)

        return Starlette(
            routes=[
                Route("/.well-known/webfinger", webfinger),
                Route("/users/{name}", actor),
                Route("/@{name}", actor),  # Mastodon answers its profile URL with the actor too
                Route(f"/users/{{name}}/statuses/{STATUS_ID}", status),
                Route("/users/{name}/inbox", inbox, methods=["POST"]),
                Route("/inbox", inbox, methods=["POST"]),
            ],
            exception_handlers={_Missing: missing},
        )


class _Missing(Exception):
    pass


@contextmanager
def serving(server: FakeMastodonServer) -> Iterator[FakeMastodonServer]:
    """Serve the fake with uvicorn on a free loopback port (server.host becomes it)."""
    port = free_port()
    server.host = f"127.0.0.1:{port}"
    config = uvicorn.Config(
        server.app(), host="127.0.0.1", port=port, log_level="warning", lifespan="off", ws="none"
    )
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not running.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the fake Mastodon server did not start")
        time.sleep(0.05)
    try:
        yield server
    finally:
        running.should_exit = True
        thread.join(timeout=10)
