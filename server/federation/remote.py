"""Remote actors and objects: fetched through one client, cached as rows, refreshed on need.

Fetches happen outside any database transaction (SQLite holds its write lock from BEGIN).
"""

from __future__ import annotations

import html
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import httpx
import nh3
from sqlmodel import select

from activitypub.client import ActivityPubClient, Signer
from activitypub.errors import ActivityPubError, UnexpectedContentType, UnexpectedStatus
from activitypub.jsonld import is_activity_content_type
from activitypub.keys import key_belongs_to
from activitypub.origin import same_origin
from activitypub.vocab import ActorDocument, ProfileField, PublicKey, parse_actor
from activitypub.webfinger import is_valid_username
from server.accounts.actors import instance_actor
from server.db.engine import Database
from server.domain_errors import Kind, ServiceError
from server.federation.origins import same_host
from server.models import Actor
from server.models.base import utcnow
from server.settings import Settings
from server.text_checks import CONTROL_AND_C1, without_control_characters

ACTOR_TTL_SECONDS = 24 * 3600
KEY_REFETCH_INTERVAL = 60.0


class RemoteError(ServiceError):
    kind = Kind.upstream
    code = "remote_error"

    @property
    def gone(self) -> bool:
        """The other server answered that the thing is not there (404) or gone for good
        (410); any other failure (down, slow, nonsense) may pass."""
        cause = self.__cause__
        return isinstance(cause, UnexpectedStatus) and cause.status in (404, 410)


class NotAnActor(RemoteError):
    """The document fetched is there, but it is no actor."""


class InvalidActor(NotAnActor):
    """An actor this instance refuses: no valid username, or its inbox on another origin."""

    kind = Kind.invalid
    code = "invalid_actor"


def sanitize_html(html: str) -> str:
    return nh3.clean(html, link_rel="nofollow noopener noreferrer")


class _AlternateLinks(HTMLParser):
    """The hrefs of a page's `<link rel="alternate">` to an ActivityPub document."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = {name: value or "" for name, value in attrs}
        rels = named.get("rel", "").lower().split()
        if tag == "link" and "alternate" in rels and is_activity_content_type(named.get("type")):
            self.hrefs.append(named.get("href", "").strip())


def activity_link(page_url: str, page: str) -> str | None:
    """Where an HTML page says its ActivityPub document is: the first `rel=alternate`
    activity link on the page's own origin (docs/security.md: a page speaks only for its
    own origin); links elsewhere are ignored."""
    parser = _AlternateLinks()
    parser.feed(page)
    for href in parser.hrefs:
        linked = urljoin(page_url, href)
        if linked.startswith(("https://", "http://")) and same_host(linked, page_url):
            return linked
    return None


def domain_of(uri: str) -> str:
    return urlsplit(uri).netloc.lower()


def build_client(settings: Settings, http: httpx.AsyncClient) -> ActivityPubClient:
    return ActivityPubClient(
        http,
        allow_private=settings.dev,
        allow_http=settings.dev,
        user_agent=f"Likewise (+{settings.base_url})",
    )


async def instance_signer(db: Database, settings: Settings) -> Signer:
    async with db.session() as session:
        actor = await instance_actor(session, settings)
    if actor is None or not actor.private_key_pem:
        raise RemoteError("the instance actor has no key")
    return Signer(actor.key_id, actor.private_key_pem)


def signer_of(actor: Actor) -> Signer:
    if not actor.private_key_pem:
        raise RemoteError(f"{actor.uri} is not a local actor")
    return Signer(actor.key_id, actor.private_key_pem)


def _own(doc: ActorDocument, url: str | None) -> str | None:
    return url if url is not None and same_origin(url, doc.id) else None


def checked_actor(doc: ActorDocument) -> ActorDocument:
    """The actor as far as its own origin vouches for it (DESIGN: the origin of a URL decides
    who it belongs to). A username Mastodon would refuse, or an inbox elsewhere, refuses the
    actor (InvalidActor); other endpoints elsewhere and keys that are not the actor's own
    are dropped, and a profile URL elsewhere falls back to the id, as Mastodon does."""
    name = doc.preferred_username or ""
    if not is_valid_username(name):
        raise InvalidActor(f"{doc.id} has no valid preferredUsername ({name[:64]!r})")
    if not same_origin(doc.inbox, doc.id):
        raise InvalidActor(f"{doc.id} names an inbox on another origin ({doc.inbox[:256]})")
    return replace(
        doc,
        outbox=_own(doc, doc.outbox),
        followers=_own(doc, doc.followers),
        following=_own(doc, doc.following),
        shared_inbox=_own(doc, doc.shared_inbox),
        url=_own(doc, doc.url),
        public_key=own_key(doc),
        assertion_methods=tuple(
            key for key in doc.assertion_methods if key_belongs_to(doc.id, key.id, key.controller)
        ),
    )


def own_key(doc: ActorDocument) -> PublicKey | None:
    key = doc.public_key
    return key if key is not None and key_belongs_to(doc.id, key.id, key.owner) else None


def plain_text(text: str) -> str:
    """A name as plain text: markup dropped (a script's text with it), entities read back,
    control characters gone. Stored so, it is escaped once where it is shown (a page), and
    sent as it is in JSON; never stored as HTML entities."""
    return without_control_characters(html.unescape(nh3.clean(text, tags=set())), CONTROL_AND_C1)


MAX_FIELDS = 16


def stored_fields(fields: Sequence[ProfileField]) -> str:
    """Profile fields as the actor row keeps them: JSON, names as plain text, values as
    sanitized HTML (as a summary is), at most MAX_FIELDS."""
    kept = [
        {"name": plain_text(one.name)[:255], "value": sanitize_html(one.value[:2048])}
        for one in fields[:MAX_FIELDS]
    ]
    return json.dumps(kept, separators=(",", ":")) if kept else ""


def apply_actor_document(actor: Actor, doc: ActorDocument) -> None:
    """Refresh a cached remote actor from its document (InvalidActor changes nothing)."""
    declares_key = doc.public_key is not None
    doc = checked_actor(doc)
    actor.type = doc.type
    actor.username = doc.preferred_username or ""
    actor.domain = domain_of(doc.id)
    actor.inbox = doc.inbox
    actor.outbox = doc.outbox or ""
    actor.shared_inbox = doc.shared_inbox or ""
    actor.followers_url = doc.followers or ""
    actor.name = plain_text(doc.name or "")[:255]
    actor.summary = sanitize_html(doc.summary or "")
    actor.url = doc.url or doc.id
    actor.icon_url = doc.icon_url or ""
    actor.header_url = doc.image_url or ""
    actor.fields = stored_fields(doc.fields)
    if doc.public_key is not None:
        actor.key_id, actor.public_key_pem = doc.public_key.id, doc.public_key.pem
    elif declares_key:  # a key that is not the actor's own: none is kept
        actor.key_id, actor.public_key_pem = "", ""
    payment = next((link.href for link in doc.payment_links), "")
    actor.payment_link = payment
    actor.fetched_at = utcnow()
    actor.updated_at = utcnow()
    actor.tombstoned_at = None


async def store_actor(db: Database, doc: ActorDocument) -> Actor:
    """Insert or refresh the cached row of a remote actor."""
    async with db.transaction() as session:
        actor = (await session.exec(select(Actor).where(Actor.uri == doc.id))).first()
        if actor is not None and actor.is_local:
            return actor
        if actor is None:
            actor = Actor(uri=doc.id, username="", domain=domain_of(doc.id))
        apply_actor_document(actor, doc)
        session.add(actor)
        await session.flush()
        return actor


@dataclass
class RemoteActors:
    """Fetches and caches remote actors; keeps public keys in memory for the inbox.

    `keys` maps an exact key id to (owner URI, PEM). An entry is made only from the key's
    own URL: the stored actor at that URL, or the actor the URL serves or names as owner,
    holding that very key on its own origin."""

    db: Database
    settings: Settings
    client: ActivityPubClient
    keys: dict[str, tuple[str, str]] = field(default_factory=dict)
    key_of: dict[str, str] = field(default_factory=dict)
    refetched: dict[str, float] = field(default_factory=dict)

    async def fetch_document(self, uri: str) -> dict[str, object]:
        """The ActivityPub document at `uri`; when `uri` is a web page (a post or profile
        link someone pasted), the document its `rel=alternate` link names on its origin."""
        signer = await instance_signer(self.db, self.settings)
        try:
            try:
                return await self.client.fetch(uri, signer)
            except UnexpectedContentType:
                linked = await self._alternate_of(uri)
                if linked is None:
                    raise
                return await self.client.fetch(linked, signer)
        except ActivityPubError as error:
            raise RemoteError(f"could not fetch {uri}: {error}") from error

    async def _alternate_of(self, page_url: str) -> str | None:
        """The page's activity link, read from its HTML under the client's guards (address
        checks, redirects, size limit); a link on another origin than the page's own (after
        redirects) or the URL pasted is not followed."""
        client = self.client
        page = await client._guarded(client._get(page_url, "text/html", None))
        if "html" not in (page.content_type or "").lower():
            return None
        linked = activity_link(page.url, page.body.decode("utf-8", errors="replace"))
        return linked if linked is not None and same_host(linked, page_url) else None

    async def fetch_actor(self, uri: str) -> Actor:
        actor, _ = await self.fetch_actor_document(uri)
        return actor

    async def fetch_actor_document(self, uri: str) -> tuple[Actor, ActorDocument]:
        """Fetch an actor afresh: its cached row, refreshed, and the parsed document (with
        what the row does not keep, such as profile fields)."""
        document = await self.fetch_document(uri)
        if document.get("type") not in {"Person", "Service", "Application", "Group"} and (
            isinstance(document.get("owner"), str)
        ):
            document = await self.fetch_document(str(document["owner"]))
        try:
            parsed = parse_actor(document)
        except ActivityPubError as error:
            raise NotAnActor(f"{uri} is not an actor: {error}") from error
        checked = checked_actor(parsed)  # before anything is stored
        actor = await store_actor(self.db, parsed)
        self._forget(actor.uri)  # the next signature looks the key up again
        return actor, checked

    async def get_actor(self, uri: str, *, refresh: bool = False) -> Actor:
        """The cached actor, fetched when unknown or stale."""
        async with self.db.session() as session:
            actor = (await session.exec(select(Actor).where(Actor.uri == uri))).first()
        if actor is not None and (actor.is_local or (not refresh and _fresh(actor))):
            return actor
        return await self.fetch_actor(uri)

    def known_key(self, key_id: str) -> tuple[str, str] | None:
        """(owner actor URI, public PEM) if the key is in memory; no I/O."""
        return self.keys.get(key_id)

    async def key_for(self, key_id: str, *, refresh: bool = False) -> tuple[str, str] | None:
        """(owner actor URI, public PEM) for a keyId; `refresh` refetches (throttled)."""
        if not refresh:
            cached = self.keys.get(key_id)
            if cached is not None:
                return cached
            row = await self._stored_owner(key_id)
            if row is not None:
                return self._remember(key_id, row)
        else:
            last = self.refetched.get(key_id, 0.0)
            if time.monotonic() - last < KEY_REFETCH_INTERVAL:
                return None
            self.refetched[key_id] = time.monotonic()
        owner = self.keys.pop(key_id, ("", ""))[0]
        self.key_of.pop(owner, None)
        actor = await self.fetch_actor(key_id.split("#", 1)[0])
        if not _holds(actor, key_id):
            return None
        return self._remember(key_id, actor)

    async def _stored_owner(self, key_id: str) -> Actor | None:
        """The stored actor whose own URL the key id is a fragment of, holding exactly that
        key (as Mastodon finds keys); any other key is resolved at its URL."""
        query = select(Actor).where(Actor.uri == key_id.split("#", 1)[0], Actor.key_id == key_id)
        async with self.db.session() as session:
            row = (await session.exec(query)).first()
        return row if row is not None and _holds(row, key_id) else None

    def _remember(self, key_id: str, actor: Actor) -> tuple[str, str]:
        self._forget(actor.uri)
        self.keys[key_id] = (actor.uri, actor.public_key_pem)
        self.key_of[actor.uri] = key_id
        return self.keys[key_id]

    def _forget(self, actor_uri: str) -> None:
        key_id = self.key_of.pop(actor_uri, None)
        if key_id is not None and self.keys.get(key_id, ("", ""))[0] == actor_uri:
            del self.keys[key_id]


def _holds(actor: Actor, key_id: str) -> bool:
    """Whether the actor's row holds this exact key, on the actor's own origin (rows stored
    before keys were checked may not)."""
    return actor.key_id == key_id and bool(actor.public_key_pem) and same_origin(key_id, actor.uri)


def _fresh(actor: Actor) -> bool:
    if actor.fetched_at is None:
        return False
    fetched = actor.fetched_at
    return (utcnow() - fetched).total_seconds() < ACTOR_TTL_SECONDS
