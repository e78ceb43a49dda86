"""Incoming ActivityStreams JSON parsed into typed, frozen objects at the edge.

Everything hostile or malformed raises `InvalidActivity` with a message naming
the field; nothing else escapes. The raw mapping stays on each object (`data`)
for the few callers that need an extension field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from activitypub.errors import InvalidActivity
from activitypub.jsonld import PUBLIC_COLLECTION
from activitypub.origin import same_origin

MAX_DEPTH = 16
MAX_NODES = 10_000
MAX_URI_LENGTH = 2048
PUBLIC_ALIASES = frozenset({PUBLIC_COLLECTION, "as:Public", "Public"})

# A JSON object as received; named so `Activity.object` does not shadow the builtin.
JsonObject = Mapping[str, object]


PLAIN_SCALARS = frozenset({str, int, bool, type(None)})


def check_shape(data: object) -> Mapping[str, object]:
    """Require a JSON object within the nesting and size limits (checked iteratively)."""
    if not isinstance(data, Mapping):
        raise InvalidActivity(f"expected a JSON object, got {type(data).__name__}")
    if len(data) < MAX_NODES:
        for value in data.values():
            if type(value) not in PLAIN_SCALARS:
                break
        else:
            return data  # flat, as most activities are (a Like): within every limit
    stack: list[tuple[object, int]] = [(data, 1)]
    nodes = 0
    while stack:
        value, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise InvalidActivity(f"document has more than {MAX_NODES} values")
        if depth > MAX_DEPTH:
            raise InvalidActivity(f"document nests deeper than {MAX_DEPTH} levels")
        if type(value) in PLAIN_SCALARS:  # most values; skips the slower ABC checks
            continue
        if isinstance(value, Mapping):
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list | tuple):
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, float) and not math.isfinite(value):
            raise InvalidActivity("document contains a non-finite number")
    return data


# `\s` is exactly str.isspace(); with the C0 controls, what no URI may contain.
UNSAFE_URI_CHARACTER = re.compile(r"[\s\x00-\x1f]")
# Accepted by the full check below too: scheme, a host name, a port from 1 to 65535,
# then printable ASCII (so nothing `UNSAFE_URI_CHARACTER` finds).
PLAIN_HTTP_URI = re.compile(
    r"https?://[A-Za-z0-9.-]+"
    r"(?::(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?"
    r"(?:[/?#][!-~]*)?"
)


def parse_uri(value: object, name: str, *, http_only: bool = True) -> str:
    """An absolute URI (http or https with a host, unless `http_only` is false)."""
    # Inboxes and settlement batches parse many URIs: the common shape skips the rest.
    if type(value) is str and len(value) <= MAX_URI_LENGTH and PLAIN_HTTP_URI.fullmatch(value):
        return value
    if not isinstance(value, str) or not value:
        raise InvalidActivity(f"{name} must be a non-empty string")
    if len(value) > MAX_URI_LENGTH or UNSAFE_URI_CHARACTER.search(value):
        raise InvalidActivity(f"{name} is not a valid URI")
    return check_uri_parts(value, name, http_only=http_only)


def check_uri_parts(value: str, name: str, *, http_only: bool = True) -> str:
    """The full check of a URI's parts (what the fast path of `parse_uri` stands in for)."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as error:
        raise InvalidActivity(f"{name} is not a valid URI: {error}") from error
    if http_only:
        if parts.scheme not in {"http", "https"} or not parts.hostname:
            raise InvalidActivity(f"{name} must be an absolute http(s) URI")
        if port == 0:
            raise InvalidActivity(f"{name} has an invalid port")
    elif not parts.scheme or not parts.scheme.isascii() or not parts.scheme[0].isalpha():
        raise InvalidActivity(f"{name} must be an absolute URI")
    return value


def optional_str(data: Mapping[str, object], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidActivity(f"{key} must be a string")
    return value


def optional_bool(data: Mapping[str, object], key: str) -> bool | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, bool):
        raise InvalidActivity(f"{key} must be a boolean")
    return value


def parse_type(data: Mapping[str, object], name: str = "type") -> str:
    value = data.get("type")
    if isinstance(value, list) and value:
        value = value[0]
    if not isinstance(value, str) or not value or len(value) > 256:
        raise InvalidActivity(f"{name} must be a non-empty string")
    return value


def id_of(value: object, name: str) -> str:
    """The id of a reference: a URI string, an object with `id`, or a list's first item."""
    if type(value) is str:
        return parse_uri(value, name)
    if isinstance(value, list):
        if not value:
            raise InvalidActivity(f"{name} is an empty list")
        value = value[0]
    if isinstance(value, Mapping):
        value = value.get("id")
    return parse_uri(value, name)


def optional_id(data: Mapping[str, object], key: str) -> str | None:
    value = data.get(key)
    return None if value is None else id_of(value, key)


def parse_audience(data: Mapping[str, object], key: str) -> tuple[str, ...]:
    value = data.get(key)
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    result = []
    for item in items:
        if isinstance(item, str) and item in PUBLIC_ALIASES:
            result.append(PUBLIC_COLLECTION)
        else:
            result.append(id_of(item, key))
    return tuple(result)


def parse_datetime(data: Mapping[str, object], key: str) -> datetime | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise InvalidActivity(f"{key} must be an ISO 8601 date-time string")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as error:
        raise InvalidActivity(f"{key} is not an ISO 8601 date-time") from error
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class EmbeddedObject:
    """An object given inline (a Note in a Create, a Like in an Undo, a Follow in an Accept)."""

    id: str | None
    type: str
    actor_id: str | None
    object_id: str | None
    content: str | None
    data: JsonObject = field(repr=False, compare=False)


ActivityObject = str | EmbeddedObject


@dataclass(frozen=True)
class Activity:
    """`objects` holds every object given (`object` may be an array); `object` is the only
    one, or None when there are none or several."""

    id: str
    type: str
    actor_id: str
    object: ActivityObject | None
    to: tuple[str, ...]
    cc: tuple[str, ...]
    published: datetime | None
    content: str | None
    data: JsonObject = field(repr=False, compare=False)
    objects: tuple[ActivityObject, ...] = ()

    # An inbox builds one per request: filling the instance's dict at once costs a third of
    # the generated frozen __init__, which calls object.__setattr__ field by field.
    def __init__(
        self,
        id: str,
        type: str,
        actor_id: str,
        object: ActivityObject | None,
        to: tuple[str, ...],
        cc: tuple[str, ...],
        published: datetime | None,
        content: str | None,
        data: JsonObject,
        objects: tuple[ActivityObject, ...] | None = None,
    ) -> None:
        fields = self.__dict__
        fields["id"], fields["type"], fields["actor_id"] = id, type, actor_id
        fields["object"], fields["to"], fields["cc"] = object, to, cc
        fields["published"], fields["content"], fields["data"] = published, content, data
        fields["objects"] = (() if object is None else (object,)) if objects is None else objects

    @property
    def object_id(self) -> str | None:
        if isinstance(self.object, EmbeddedObject):
            return self.object.id
        return self.object

    @property
    def object_type(self) -> str | None:
        return self.object.type if isinstance(self.object, EmbeddedObject) else None

    @property
    def is_public(self) -> bool:
        return PUBLIC_COLLECTION in self.to or PUBLIC_COLLECTION in self.cc

    def about(self, item: ActivityObject) -> Activity:
        """This activity as if `item` were its only object (one of several, handled alone)."""
        return Activity(
            self.id,
            self.type,
            self.actor_id,
            item,
            self.to,
            self.cc,
            self.published,
            self.content,
            self.data,
        )


def _reference_id(data: Mapping[str, object], key: str) -> str | None:
    """Like `optional_id`, but an inline object without an id gives None."""
    value = data.get(key)
    if isinstance(value, Mapping) and value.get("id") is None:
        return None
    return optional_id(data, key)


def parse_embedded(data: Mapping[str, object], name: str = "object") -> EmbeddedObject:
    object_id = data.get("id")
    actor = data.get("actor", data.get("attributedTo"))
    return EmbeddedObject(
        id=None if object_id is None else parse_uri(object_id, f"{name}.id"),
        type=parse_type(data, f"{name}.type"),
        actor_id=None if actor is None else id_of(actor, f"{name}.actor"),
        object_id=_reference_id(data, "object"),
        content=optional_str(data, "content"),
        data=data,
    )


def _parse_one(value: object) -> ActivityObject:
    if type(value) is str:
        return parse_uri(value, "object", http_only=False)
    if isinstance(value, Mapping):
        return parse_embedded(value)
    return parse_uri(value, "object", http_only=False)


def _parse_objects(value: object) -> tuple[ActivityObject, ...]:
    """Each object of the activity: none, one, or (an array) several."""
    if value is None:
        return ()
    if isinstance(value, list):
        return tuple(_parse_one(item) for item in value)
    return (_parse_one(value),)


def parse_activity(data: object) -> Activity:
    """Validate an incoming activity's shape and return it typed."""
    document = check_shape(data)
    actor = document.get("actor")
    if actor is None:
        raise InvalidActivity("actor is required")
    objects = _parse_objects(document.get("object"))
    return Activity(
        id=parse_uri(document.get("id"), "id"),
        type=parse_type(document),
        actor_id=id_of(actor, "actor"),
        object=objects[0] if len(objects) == 1 else None,
        to=parse_audience(document, "to"),
        cc=parse_audience(document, "cc"),
        published=parse_datetime(document, "published"),
        content=optional_str(document, "content"),
        data=document,
        objects=objects,
    )


NOTE_TYPES = frozenset({"Note", "Article", "Page"})


def note_author(activity: Activity, note: EmbeddedObject) -> str | None:
    """Who wrote a note that `activity` carries inline: its `attributedTo`; without one, the
    activity's actor when the note's id is on the actor's origin (as Mastodon reads a
    Create); else None, as nobody can be said to have written it."""
    author = note.data.get("attributedTo")
    if author is not None:
        return id_of(author, "object.attributedTo")
    if note.id is not None and same_origin(note.id, activity.actor_id):
        return activity.actor_id
    return None


ACTOR_TYPES = frozenset({"Person", "Service", "Application", "Group", "Organization"})


@dataclass(frozen=True)
class PublicKey:
    id: str
    owner: str
    pem: str


@dataclass(frozen=True)
class Multikey:
    id: str
    controller: str
    public_key_multibase: str


@dataclass(frozen=True)
class PaymentLink:
    """FEP-0ea0: `{"type": "Link", "rel": "payment", "href": ...}` in `attachment`."""

    href: str
    name: str | None
    rel: tuple[str, ...]
    media_type: str | None


@dataclass(frozen=True)
class ProfileField:
    """A Mastodon profile field (`PropertyValue`); `value` is HTML."""

    name: str
    value: str


@dataclass(frozen=True)
class ActorDocument:
    id: str
    type: str
    inbox: str
    outbox: str | None
    followers: str | None
    following: str | None
    shared_inbox: str | None
    preferred_username: str | None
    name: str | None
    summary: str | None
    url: str | None
    icon_url: str | None
    public_key: PublicKey | None
    assertion_methods: tuple[Multikey, ...]
    payment_links: tuple[PaymentLink, ...]
    fields: tuple[ProfileField, ...]
    manually_approves_followers: bool
    discoverable: bool | None
    data: JsonObject = field(repr=False, compare=False)
    image_url: str | None = None  # the header image


def _as_list(value: object) -> list[object]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _link_href(value: object, name: str) -> str | None:
    """A URL given as a string, a Link/Image object (`href` or `url`), or a list of those."""
    for item in _as_list(value):
        if isinstance(item, str):
            return parse_uri(item, name)
        if isinstance(item, Mapping):
            inner = item.get("href", item.get("url"))
            if inner is not None:
                return _link_href(inner, name)
    return None


def _parse_public_key(value: object, actor_id: str) -> PublicKey | None:
    for item in _as_list(value):
        if isinstance(item, Mapping):
            pem = optional_str(item, "publicKeyPem")
            if not pem or len(pem) > 16_384:
                raise InvalidActivity("publicKey.publicKeyPem must be a PEM string")
            owner = item.get("owner", actor_id)
            return PublicKey(
                id=parse_uri(item.get("id"), "publicKey.id"),
                owner=id_of(owner, "publicKey.owner"),
                pem=pem,
            )
    return None


def _parse_multikeys(value: object, actor_id: str) -> tuple[Multikey, ...]:
    keys = []
    for item in _as_list(value):
        if isinstance(item, Mapping) and item.get("type") == "Multikey":
            multibase = optional_str(item, "publicKeyMultibase")
            if not multibase:
                raise InvalidActivity("Multikey needs publicKeyMultibase")
            keys.append(
                Multikey(
                    id=parse_uri(item.get("id"), "assertionMethod.id"),
                    controller=id_of(item.get("controller", actor_id), "controller"),
                    public_key_multibase=multibase,
                )
            )
    return tuple(keys)


def _rels(item: Mapping[str, object]) -> tuple[str, ...]:
    return tuple(rel for rel in _as_list(item.get("rel")) if isinstance(rel, str))


def _parse_attachments(value: object) -> tuple[tuple[PaymentLink, ...], tuple[ProfileField, ...]]:
    links, fields = [], []
    for item in _as_list(value):
        if not isinstance(item, Mapping):
            continue
        kind = item.get("type")
        if kind == "Link" and "payment" in _rels(item):
            links.append(
                PaymentLink(
                    href=parse_uri(item.get("href"), "payment link href", http_only=False),
                    name=optional_str(item, "name"),
                    rel=_rels(item),
                    media_type=optional_str(item, "mediaType"),
                )
            )
        elif kind == "PropertyValue":
            name, text = optional_str(item, "name"), optional_str(item, "value")
            if name is not None and text is not None:
                fields.append(ProfileField(name=name, value=text))
    return tuple(links), tuple(fields)


def _shared_inbox(document: JsonObject) -> str | None:
    endpoints = document.get("endpoints")
    if endpoints is None:
        return None
    if not isinstance(endpoints, Mapping):
        raise InvalidActivity("endpoints must be an object")
    return optional_id(endpoints, "sharedInbox")


def parse_actor(data: object) -> ActorDocument:
    document = check_shape(data)
    actor_id = parse_uri(document.get("id"), "id")
    actor_type = parse_type(document)
    if actor_type not in ACTOR_TYPES:
        raise InvalidActivity(f"{actor_type!r} is not an actor type")
    payment_links, fields = _parse_attachments(document.get("attachment"))
    return ActorDocument(
        id=actor_id,
        type=actor_type,
        inbox=id_of(document.get("inbox"), "inbox"),
        outbox=optional_id(document, "outbox"),
        followers=optional_id(document, "followers"),
        following=optional_id(document, "following"),
        shared_inbox=_shared_inbox(document),
        preferred_username=optional_str(document, "preferredUsername"),
        name=optional_str(document, "name"),
        summary=optional_str(document, "summary"),
        url=_link_href(document.get("url"), "url"),
        icon_url=_link_href(document.get("icon"), "icon"),
        image_url=_link_href(document.get("image"), "image"),
        public_key=_parse_public_key(document.get("publicKey"), actor_id),
        assertion_methods=_parse_multikeys(document.get("assertionMethod"), actor_id),
        payment_links=payment_links,
        fields=fields,
        manually_approves_followers=bool(optional_bool(document, "manuallyApprovesFollowers")),
        discoverable=optional_bool(document, "discoverable"),
        data=document,
    )


@dataclass(frozen=True)
class NoteDocument:
    id: str
    type: str
    attributed_to: str
    content: str | None
    summary: str | None
    url: str | None
    in_reply_to: str | None
    published: datetime | None
    updated: datetime | None
    to: tuple[str, ...]
    cc: tuple[str, ...]
    sensitive: bool
    data: JsonObject = field(repr=False, compare=False)


def parse_note(data: object) -> NoteDocument:
    """A Note (or Article, Page, Question...): any object with an author."""
    document = check_shape(data)
    author = document.get("attributedTo")
    if author is None:
        raise InvalidActivity("attributedTo is required")
    return NoteDocument(
        id=parse_uri(document.get("id"), "id"),
        type=parse_type(document),
        attributed_to=id_of(author, "attributedTo"),
        content=optional_str(document, "content"),
        summary=optional_str(document, "summary"),
        url=_link_href(document.get("url"), "url"),
        in_reply_to=optional_id(document, "inReplyTo"),
        published=parse_datetime(document, "published"),
        updated=parse_datetime(document, "updated"),
        to=parse_audience(document, "to"),
        cc=parse_audience(document, "cc"),
        sensitive=bool(optional_bool(document, "sensitive")),
        data=document,
    )
