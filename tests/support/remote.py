"""The one fake remote fediverse server: an ASGI app that serves its actors' documents,
notes and other documents by path, WebFinger for its published actors, NodeInfo, and
inboxes that record every POST with its headers. A test shapes it at will (an honest
server, or one that lies about others' keys, inboxes and names) and speaks for its actors
(`RemoteActor`: signed Likes, Blocks, Undos, replies) with their own RSA keys.

It runs in process on a `Network` (`serve_remote`) or on a loopback port (`serving`)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from activitypub.jsonld import ACTIVITY_JSON, JRD_JSON
from activitypub.keys import RsaKeyPair, generate_rsa_key_pair
from activitypub.signatures import sign_request, verify_request
from activitypub.webfinger import build_jrd
from tests.support.instances import free_port
from tests.support.network import Network
from tests.support.payloads import load_text

AS = "https://www.w3.org/ns/activitystreams"
PUBLIC = f"{AS}#Public"
NODEINFO_SCHEMA = "http://nodeinfo.diaspora.software/ns/schema/"


def data_keys() -> RsaKeyPair:
    """The fixed RSA key pair under tests/data (the captured payloads are signed with it)."""
    return RsaKeyPair(
        public_pem=load_text("ap_rsa_public.pem"), private_pem=load_text("ap_rsa_private.pem")
    )


@dataclass(frozen=True)
class Received:
    """One POST the server was sent: its path, headers (lower-cased names) and body."""

    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def activity(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.body)
        return document


@dataclass
class RemoteServer:
    """One remote host. GET serves `documents` by path (`document_at`), WebFinger serves
    `jrds` by user name (`jrd_for`), paths in `gone` answer 410, and every POST is recorded
    in `received` and answered 202."""

    host: str = "mastodon.test"
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    jrds: dict[str, dict[str, Any]] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)
    received: list[Received] = field(default_factory=list)
    software: str = "mastodon"

    @property
    def base(self) -> str:
        return f"http://{self.host}"

    def document_at(self, path: str) -> dict[str, Any] | None:
        """What GET `path` serves: `documents`, else NodeInfo as the server's software."""
        if path in self.documents:
            return self.documents[path]
        if path == "/.well-known/nodeinfo":
            href = f"{self.base}/nodeinfo/2.0"
            return {"links": [{"rel": f"{NODEINFO_SCHEMA}2.0", "href": href}]}
        if path == "/nodeinfo/2.0":
            return {
                "version": "2.0",
                "software": {"name": self.software, "version": "4.3.0"},
                "protocols": ["activitypub"],
                "services": {"inbound": [], "outbound": []},
                "openRegistrations": False,
                "usage": {"users": {"total": len(self.jrds)}},
                "metadata": {},
            }
        return None

    def jrd_for(self, user: str) -> dict[str, Any] | None:
        return self.jrds.get(user)

    def activities(self) -> list[dict[str, Any]]:
        """The bodies of what was sent, in order."""
        return [item.activity for item in self.received]

    def notices(self) -> list[Received]:
        """What arrived that creates a note, in order."""
        return [item for item in self.received if item.activity.get("type") == "Create"]

    def check_signed_by(self, item: Received, key_id: str, public_pem: str) -> None:
        """Verify a POST's HTTP signature as this server would (raises if it fails)."""
        signed = verify_request("POST", item.path, item.headers, item.body, public_pem)
        assert signed.key_id == key_id

    def join(self, network: Network) -> RemoteServer:
        network.apps[self.host] = self.app()
        return self

    def app(self) -> Starlette:
        async def webfinger(request: Request) -> Response:
            user, _, host = (
                request.query_params.get("resource", "").removeprefix("acct:").partition("@")
            )
            jrd = self.jrd_for(user) if host == self.host else None
            if jrd is None:
                return Response(status_code=404)
            return JSONResponse(jrd, media_type=JRD_JSON)

        async def document(request: Request) -> Response:
            path = request.url.path
            if path in self.gone:
                return JSONResponse({"error": "gone"}, status_code=410)
            found = self.document_at(path)
            if found is None:
                return Response(status_code=404)
            return JSONResponse(found, media_type=ACTIVITY_JSON)

        async def inbox(request: Request) -> Response:
            headers = {name.lower(): value for name, value in request.headers.items()}
            self.received.append(Received(request.url.path, headers, await request.body()))
            return Response(status_code=202)

        return Starlette(
            routes=[
                Route("/.well-known/webfinger", webfinger),
                Route("/{path:path}", document, methods=["GET"]),
                Route("/{path:path}", inbox, methods=["POST"]),
            ]
        )


def serve_remote(network: Network, host: str) -> RemoteServer:
    """A new remote server on the in-process network."""
    return RemoteServer(host).join(network)


@dataclass
class RemoteActor:
    """An actor on a `RemoteServer`, with its own key pair; `publish` puts its document
    (and its WebFinger answer) online."""

    server: RemoteServer
    name: str
    keys: RsaKeyPair = field(default_factory=generate_rsa_key_pair)
    changes: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> str:
        return f"/users/{self.name}"

    @property
    def uri(self) -> str:
        return self.server.base + self.path

    @property
    def key_id(self) -> str:
        return f"{self.uri}#main-key"

    def document(self, **changes: Any) -> dict[str, Any]:
        """The document as Mastodon serves it, with `changes` on top (None removes a key)."""
        document: dict[str, Any] = {
            "@context": [AS, "https://w3id.org/security/v1"],
            "id": self.uri,
            "type": "Person",
            "preferredUsername": self.name,
            "name": self.name.title(),
            "url": f"{self.server.base}/@{self.name}",
            "inbox": f"{self.uri}/inbox",
            "outbox": f"{self.uri}/outbox",
            "followers": f"{self.uri}/followers",
            "endpoints": {"sharedInbox": f"{self.server.base}/inbox"},
            "publicKey": {
                "id": self.key_id,
                "owner": self.uri,
                "publicKeyPem": self.keys.public_pem,
            },
        }
        document.update(changes)
        return {key: value for key, value in document.items() if value is not None}

    def publish(self, **changes: Any) -> dict[str, Any]:
        self.changes = changes
        document = self.document(**changes)
        self.server.documents[self.path] = document
        self.server.jrds[self.name] = build_jrd(
            self.name, self.server.host, self.uri, f"{self.server.base}/@{self.name}"
        )
        return document

    def rotate_key(self) -> None:
        """A new key pair, published in the actor's document as it was last published."""
        self.keys = generate_rsa_key_pair()
        self.publish(**self.changes)

    # --- what it wrote ----------------------------------------------------------------

    def post_uri(self, number: int = 1) -> str:
        return f"{self.uri}/statuses/{number}"

    def post(self, number: int = 1) -> dict[str, Any]:
        return {
            "@context": AS,
            "id": self.post_uri(number),
            "type": "Note",
            "attributedTo": self.uri,
            "content": f"<p>post {number}</p>",
            "published": "2026-01-05T10:00:00Z",
            "to": [PUBLIC],
            "cc": [f"{self.uri}/followers"],
        }

    def publish_post(self, number: int = 1) -> dict[str, Any]:
        note = self.post(number)
        self.server.documents[urlsplit(note["id"]).path] = note
        return note

    # --- what it says -----------------------------------------------------------------

    def like(self, note_uri: str, number: int = 1) -> dict[str, Any]:
        return {
            "@context": AS,
            "id": f"{self.uri}#likes/{number}",
            "type": "Like",
            "actor": self.uri,
            "object": note_uri,
        }

    def block(self, target: str, number: int = 1) -> dict[str, Any]:
        return {
            "@context": AS,
            "id": f"{self.uri}#blocks/{number}",
            "type": "Block",
            "actor": self.uri,
            "object": target,
        }

    def undo(self, activity: dict[str, Any]) -> dict[str, Any]:
        inner = {key: value for key, value in activity.items() if key != "@context"}
        return {
            "@context": AS,
            "id": f"{activity['id']}/undo",
            "type": "Undo",
            "actor": self.uri,
            "object": inner,
        }

    def reply(self, to: str, in_reply_to: str | None, text: str, number: int = 9) -> dict[str, Any]:
        """A direct reply as Mastodon writes one: the mention first, addressed only to `to`."""
        note_id = self.post_uri(number)
        mention = (
            f'<span class="h-card" translate="no"><a href="{to}" class="u-url mention">'
            f"@<span>{urlsplit(to).hostname}</span></a></span>"
        )
        return {
            "@context": AS,
            "id": f"{note_id}/activity",
            "type": "Create",
            "actor": self.uri,
            "to": [to],
            "cc": [],
            "object": {
                "id": note_id,
                "type": "Note",
                "attributedTo": self.uri,
                "inReplyTo": in_reply_to,
                "content": f"<p>{mention} {text}</p>",
                "published": "2026-01-05T10:00:00Z",
                "to": [to],
                "cc": [],
                "tag": [{"type": "Mention", "href": to, "name": f"@{urlsplit(to).hostname}"}],
            },
        }

    def signed(
        self,
        url: str,
        activity: dict[str, Any] | bytes,
        key_id: str | None = None,
        *,
        private_pem: str | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """A POST body and headers signed with this actor's key (or the key given)."""
        body = activity if isinstance(activity, bytes) else json.dumps(activity).encode()
        headers = sign_request(
            "POST",
            url,
            {"Content-Type": ACTIVITY_JSON},
            body,
            key_id or self.key_id,
            private_pem or self.keys.private_pem,
        )
        return body, headers


def mastodon_bob(server: RemoteServer) -> RemoteActor:
    """bob on `server`, with the key pair under tests/data, published; his name and summary
    carry markup a receiving server must sanitize."""
    bob = RemoteActor(server, "bob", keys=data_keys())
    bob.publish(
        name="Bob <script>x</script>", summary="<p>hi<script>alert(1)</script></p>", url=None
    )
    return bob


def fediverse_creator(server: RemoteServer) -> RemoteActor:
    """bob on `server`, a creator who never joined: his actor and his first post online,
    with the key pair under tests/data."""
    bob = RemoteActor(server, "bob", keys=data_keys())
    bob.publish()
    bob.publish_post(1)
    return bob


class _Serves(Protocol):
    host: str

    def app(self) -> Starlette: ...


S = TypeVar("S", bound=_Serves)


@contextmanager
def serving(server: S) -> Iterator[S]:
    """Serve a fake with uvicorn on a free loopback port (server.host becomes it)."""
    port = free_port()
    server.host = f"127.0.0.1:{port}"
    config = uvicorn.Config(
        server.app(),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        ws="websockets-sansio",
    )
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not running.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the fake remote server did not start")
        time.sleep(0.05)
    try:
        yield server
    finally:
        running.should_exit = True
        thread.join(timeout=10)
