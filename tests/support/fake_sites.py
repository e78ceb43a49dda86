"""Remote fediverse servers a test shapes at will: each serves the actor documents and
WebFinger answers it is given (an honest server, or one that lies about others' keys,
inboxes and names), and signs what its actors send with their own RSA keys."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from activitypub.jsonld import ACTIVITY_JSON, JRD_JSON
from activitypub.keys import RsaKeyPair, generate_rsa_key_pair
from activitypub.signatures import sign_request
from activitypub.webfinger import build_jrd
from tests.support.network import Network

AS = "https://www.w3.org/ns/activitystreams"


@dataclass
class Site:
    """One remote host: GET serves `documents` by path, WebFinger serves `jrds` by user."""

    host: str
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    jrds: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://{self.host}"

    def app(self) -> Starlette:
        async def webfinger(request: Request) -> Response:
            user, _, host = (
                request.query_params.get("resource", "").removeprefix("acct:").partition("@")
            )
            if host != self.host or user not in self.jrds:
                return Response(status_code=404)
            return JSONResponse(self.jrds[user], media_type=JRD_JSON)

        async def document(request: Request) -> Response:
            found = self.documents.get(request.url.path)
            if found is None:
                return Response(status_code=404)
            return JSONResponse(found, media_type=ACTIVITY_JSON)

        async def inbox(_: Request) -> Response:
            return Response(status_code=202)

        return Starlette(
            routes=[
                Route("/.well-known/webfinger", webfinger),
                Route("/{path:path}", document, methods=["GET"]),
                Route("/{path:path}", inbox, methods=["POST"]),
            ]
        )


def join_site(network: Network, host: str) -> Site:
    site = Site(host)
    network.apps[host] = site.app()
    return site


@dataclass
class RemoteActor:
    """An actor on a `Site`, with its own key pair; `publish` puts its document online."""

    site: Site
    name: str
    keys: RsaKeyPair = field(default_factory=generate_rsa_key_pair)

    @property
    def path(self) -> str:
        return f"/users/{self.name}"

    @property
    def uri(self) -> str:
        return self.site.base + self.path

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
            "url": f"{self.site.base}/@{self.name}",
            "inbox": f"{self.uri}/inbox",
            "outbox": f"{self.uri}/outbox",
            "followers": f"{self.uri}/followers",
            "endpoints": {"sharedInbox": f"{self.site.base}/inbox"},
            "publicKey": {
                "id": self.key_id,
                "owner": self.uri,
                "publicKeyPem": self.keys.public_pem,
            },
        }
        document.update(changes)
        return {key: value for key, value in document.items() if value is not None}

    def publish(self, **changes: Any) -> dict[str, Any]:
        document = self.document(**changes)
        self.site.documents[self.path] = document
        self.site.jrds[self.name] = build_jrd(
            self.name, self.site.host, self.uri, f"{self.site.base}/@{self.name}"
        )
        return document

    def like(self, note_uri: str, number: int = 1) -> dict[str, Any]:
        return {
            "@context": AS,
            "id": f"{self.uri}#likes/{number}",
            "type": "Like",
            "actor": self.uri,
            "object": note_uri,
        }

    def signed(
        self,
        url: str,
        activity: dict[str, Any],
        *,
        key_id: str | None = None,
        private_pem: str | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """A POST body and headers signed with this actor's key (or the key given)."""
        body = json.dumps(activity).encode()
        headers = sign_request(
            "POST",
            url,
            {"Content-Type": ACTIVITY_JSON},
            body,
            key_id or self.key_id,
            private_pem or self.keys.private_pem,
        )
        return body, headers
