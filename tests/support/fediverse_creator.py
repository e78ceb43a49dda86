"""A remote fediverse server with one creator, bob, for the creator-notice tests: it serves
bob's actor and posts, records every POST to his inboxes with its headers, and speaks for
bob (signed Block, Undo, replies) with the key in tests/data."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from activitypub.jsonld import ACTIVITY_JSON
from activitypub.signatures import sign_request, verify_request
from tests.support.payloads import load_text

AS = "https://www.w3.org/ns/activitystreams"


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def activity(self) -> dict[str, Any]:
        document: dict[str, Any] = json.loads(self.body)
        return document


@dataclass
class FediverseCreator:
    base: str = "http://mastodon.test"
    received: list[Received] = field(default_factory=list)
    gone: bool = False
    public_pem: str = field(default_factory=lambda: load_text("ap_rsa_public.pem"))
    private_pem: str = field(default_factory=lambda: load_text("ap_rsa_private.pem"))

    @property
    def host(self) -> str:
        return urlsplit(self.base).netloc

    @property
    def actor(self) -> str:
        return f"{self.base}/users/bob"

    @property
    def key_id(self) -> str:
        return f"{self.actor}#main-key"

    def post_uri(self, number: int = 1) -> str:
        return f"{self.actor}/statuses/{number}"

    def document(self) -> dict[str, Any]:
        return {
            "@context": [AS, "https://w3id.org/security/v1"],
            "id": self.actor,
            "type": "Person",
            "preferredUsername": "bob",
            "name": "Bob",
            "url": f"{self.base}/@bob",
            "inbox": f"{self.actor}/inbox",
            "outbox": f"{self.actor}/outbox",
            "followers": f"{self.actor}/followers",
            "endpoints": {"sharedInbox": f"{self.base}/inbox"},
            "publicKey": {"id": self.key_id, "owner": self.actor, "publicKeyPem": self.public_pem},
        }

    def post(self, number: int) -> dict[str, Any]:
        return {
            "@context": AS,
            "id": self.post_uri(number),
            "type": "Note",
            "attributedTo": self.actor,
            "content": f"<p>post {number}</p>",
            "published": "2026-01-05T10:00:00Z",
            "to": [f"{AS}#Public"],
            "cc": [f"{self.actor}/followers"],
        }

    def app(self) -> Starlette:
        async def actor(_: Request) -> Response:
            if self.gone:
                return JSONResponse({"error": "gone"}, status_code=410)
            return JSONResponse(self.document(), media_type=ACTIVITY_JSON)

        async def status(request: Request) -> Response:
            return JSONResponse(self.post(request.path_params["n"]), media_type=ACTIVITY_JSON)

        async def inbox(request: Request) -> Response:
            headers = {name.lower(): value for name, value in request.headers.items()}
            self.received.append(Received(request.url.path, headers, await request.body()))
            return Response(status_code=202)

        return Starlette(
            routes=[
                Route("/users/bob", actor),
                Route("/users/bob/statuses/{n:int}", status),
                Route("/users/bob/inbox", inbox, methods=["POST"]),
                Route("/inbox", inbox, methods=["POST"]),
            ]
        )

    def notices(self) -> list[Received]:
        """What arrived that creates a note (the notices), in order."""
        return [item for item in self.received if item.activity.get("type") == "Create"]

    def check_signed_by(self, item: Received, key_id: str, public_pem: str) -> None:
        """Verify a POST's HTTP signature as bob's server would (raises if it fails)."""
        signed = verify_request("POST", item.path, item.headers, item.body, public_pem)
        assert signed.key_id == key_id

    # --- bob speaks -------------------------------------------------------------------

    def signed(self, url: str, activity: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(activity).encode()
        headers = sign_request(
            "POST", url, {"Content-Type": ACTIVITY_JSON}, body, self.key_id, self.private_pem
        )
        return body, headers

    def block(self, target: str, number: int = 1) -> dict[str, Any]:
        return {
            "@context": AS,
            "id": f"{self.actor}#blocks/{number}",
            "type": "Block",
            "actor": self.actor,
            "object": target,
        }

    def undo(self, activity: dict[str, Any]) -> dict[str, Any]:
        inner = {key: value for key, value in activity.items() if key != "@context"}
        return {
            "@context": AS,
            "id": f"{activity['id']}/undo",
            "type": "Undo",
            "actor": self.actor,
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
            "actor": self.actor,
            "to": [to],
            "cc": [],
            "object": {
                "id": note_id,
                "type": "Note",
                "attributedTo": self.actor,
                "inReplyTo": in_reply_to,
                "content": f"<p>{mention} {text}</p>",
                "published": "2026-01-05T10:00:00Z",
                "to": [to],
                "cc": [],
                "tag": [{"type": "Mention", "href": to, "name": f"@{urlsplit(to).hostname}"}],
            },
        }
