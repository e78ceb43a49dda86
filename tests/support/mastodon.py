"""A Mastodon-shaped server for claim tests: WebFinger, actors and posts in the shapes of
the captured payloads (tests/data/ap_mastodon_*.json), profile fields written as Mastodon
writes them, an inbox that records what it is sent. It is the one fake remote server
(tests/support/remote.py) with Mastodon's documents: served in process on a `Network` or on
a loopback port (`serving`, for real instances)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from activitypub.jsonld import ACTIVITY_JSON
from tests.support.payloads import load_json, load_text
from tests.support.remote import RemoteServer

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
class FakeMastodonServer(RemoteServer):
    """The remote server with Mastodon's shapes: accounts by name, each with its profile
    fields as (name, HTML value) pairs."""

    fields: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

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

    def document_at(self, path: str) -> dict[str, Any] | None:
        """Mastodon answers an account's actor URL and its profile URL with the actor."""
        for prefix in ("/users/", "/@"):
            name = path.removeprefix(prefix)
            if path.startswith(prefix) and name in self.fields:
                return self.document(name)
        name, _, rest = path.removeprefix("/users/").partition("/")
        if path.startswith("/users/") and rest == f"statuses/{STATUS_ID}" and name in self.fields:
            return self.note(name)
        return super().document_at(path)

    def jrd_for(self, user: str) -> dict[str, Any] | None:
        if user not in self.fields:
            return None
        links = [
            {
                "rel": "http://webfinger.net/rel/profile-page",
                "type": "text/html",
                "href": self.profile(user),
            },
            {"rel": "self", "type": ACTIVITY_JSON, "href": self.actor(user)},
        ]
        return {
            "subject": f"acct:{user}@{self.host}",
            "aliases": [self.profile(user), self.actor(user)],
            "links": links,
        }
