"""Pure functions building outgoing ActivityStreams documents as JSON-ready dicts.

Top-level documents carry `@context`; objects embedded in an activity do not
(Mastodon's shape). Ids are chosen by the caller: this library never invents URLs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from activitypub.jsonld import (
    ACTIVITYSTREAMS_CONTEXT,
    CID_CONTEXT,
    MASTODON_EXTENSIONS,
    SECURITY_V1_CONTEXT,
)

Json = dict[str, object]
Reference = str | Mapping[str, object]


def format_datetime(moment: datetime) -> str:
    """ActivityStreams date-time in UTC with a `Z`, seconds precision (as Mastodon)."""
    return moment.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def _without_context(value: Reference) -> Reference:
    if isinstance(value, Mapping):
        return {key: item for key, item in value.items() if key != "@context"}
    return value


@dataclass(frozen=True)
class PaymentLinkSpec:
    """An FEP-0ea0 payment link for an actor's `attachment`."""

    href: str
    name: str = "Likewise"
    rel: str | tuple[str, ...] = "payment"
    media_type: str | None = None


@dataclass(frozen=True)
class ActorSpec:
    """What `build_person` and `build_application_actor` need; URLs come from the caller."""

    id: str
    username: str
    inbox: str
    outbox: str
    followers: str
    following: str
    shared_inbox: str
    public_key_pem: str
    name: str = ""
    summary: str = ""
    url: str | None = None
    icon_url: str | None = None
    icon_media_type: str | None = None
    manually_approves_followers: bool = False
    discoverable: bool = True
    published: datetime | None = None
    payment_links: tuple[PaymentLinkSpec, ...] = ()
    profile_fields: tuple[tuple[str, str], ...] = ()
    ed25519_multibase: str | None = None
    extra_context: Mapping[str, object] = field(default_factory=dict)

    @property
    def key_id(self) -> str:
        return f"{self.id}#main-key"

    @property
    def ed25519_key_id(self) -> str:
        return f"{self.id}#ed25519-key"


def _attachments(spec: ActorSpec) -> list[Json]:
    items: list[Json] = [
        {"type": "PropertyValue", "name": name, "value": value}
        for name, value in spec.profile_fields
    ]
    for link in spec.payment_links:
        rel: object = list(link.rel) if isinstance(link.rel, tuple) else link.rel
        item: Json = {"type": "Link", "name": link.name, "href": link.href, "rel": rel}
        if link.media_type:
            item["mediaType"] = link.media_type
        items.append(item)
    return items


def _actor(spec: ActorSpec, actor_type: str) -> Json:
    context: list[object] = [ACTIVITYSTREAMS_CONTEXT, SECURITY_V1_CONTEXT]
    if spec.ed25519_multibase:
        context.append(CID_CONTEXT)
    context.append({**MASTODON_EXTENSIONS, **spec.extra_context})
    actor: Json = {
        "@context": context,
        "id": spec.id,
        "type": actor_type,
        "preferredUsername": spec.username,
        "name": spec.name,
        "summary": spec.summary,
        "url": spec.url or spec.id,
        "inbox": spec.inbox,
        "outbox": spec.outbox,
        "followers": spec.followers,
        "following": spec.following,
        "endpoints": {"sharedInbox": spec.shared_inbox},
        "manuallyApprovesFollowers": spec.manually_approves_followers,
        "discoverable": spec.discoverable,
        "publicKey": {"id": spec.key_id, "owner": spec.id, "publicKeyPem": spec.public_key_pem},
        "attachment": _attachments(spec),
    }
    if spec.published:
        actor["published"] = format_datetime(spec.published)
    if spec.icon_url:
        icon: Json = {"type": "Image", "url": spec.icon_url}
        if spec.icon_media_type:
            icon["mediaType"] = spec.icon_media_type
        actor["icon"] = icon
    if spec.ed25519_multibase:
        actor["assertionMethod"] = [
            {
                "id": spec.ed25519_key_id,
                "type": "Multikey",
                "controller": spec.id,
                "publicKeyMultibase": spec.ed25519_multibase,
            }
        ]
    return actor


def build_person(spec: ActorSpec) -> Json:
    return _actor(spec, "Person")


def build_application_actor(spec: ActorSpec) -> Json:
    """The instance actor: `Application`, served without requiring a signature."""
    actor = _actor(spec, "Application")
    actor["manuallyApprovesFollowers"] = True
    actor["discoverable"] = False
    return actor


@dataclass(frozen=True)
class NoteSpec:
    id: str
    attributed_to: str
    content: str
    published: datetime
    to: tuple[str, ...]
    cc: tuple[str, ...] = ()
    url: str | None = None
    in_reply_to: str | None = None
    summary: str | None = None
    sensitive: bool = False
    updated: datetime | None = None
    tags: tuple[Mapping[str, object], ...] = ()


def build_note(spec: NoteSpec) -> Json:
    note: Json = {
        "@context": ACTIVITYSTREAMS_CONTEXT,
        "id": spec.id,
        "type": "Note",
        "attributedTo": spec.attributed_to,
        "content": spec.content,
        "published": format_datetime(spec.published),
        "to": list(spec.to),
        "cc": list(spec.cc),
        "url": spec.url or spec.id,
        "inReplyTo": spec.in_reply_to,
        "summary": spec.summary,
        "sensitive": spec.sensitive,
        "tag": [dict(tag) for tag in spec.tags],
    }
    if spec.updated:
        note["updated"] = format_datetime(spec.updated)
    return note


def _activity(kind: str, activity_id: str, actor: str, obj: Reference) -> Json:
    return {
        "@context": ACTIVITYSTREAMS_CONTEXT,
        "id": activity_id,
        "type": kind,
        "actor": actor,
        "object": _without_context(obj),
    }


def _audience(obj: Reference, key: str, given: Sequence[str] | None) -> list[str]:
    if given is not None:
        return list(given)
    value = obj.get(key) if isinstance(obj, Mapping) else None
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def build_create(activity_id: str, actor: str, obj: Mapping[str, object]) -> Json:
    """Create of `obj`; addressing and `published` copied from the object."""
    activity = _activity("Create", activity_id, actor, obj)
    activity["to"] = _audience(obj, "to", None)
    activity["cc"] = _audience(obj, "cc", None)
    if "published" in obj:
        activity["published"] = obj["published"]
    return activity


def build_update(
    activity_id: str, actor: str, obj: Reference, to: Sequence[str] | None = None
) -> Json:
    activity = _activity("Update", activity_id, actor, obj)
    activity["to"] = _audience(obj, "to", to)
    activity["cc"] = _audience(obj, "cc", None if to is None else ())
    return activity


def build_delete(
    activity_id: str, actor: str, object_id: str, to: Sequence[str], tombstone: bool = True
) -> Json:
    """Delete of a post (as a Tombstone, like Mastodon) or of an actor (`tombstone=False`)."""
    obj: Reference = {"id": object_id, "type": "Tombstone"} if tombstone else object_id
    activity = _activity("Delete", activity_id, actor, obj)
    activity["to"] = list(to)
    return activity


def build_follow(activity_id: str, actor: str, target: str) -> Json:
    return _activity("Follow", activity_id, actor, target)


def build_accept(activity_id: str, actor: str, obj: Reference) -> Json:
    return _activity("Accept", activity_id, actor, obj)


def build_reject(activity_id: str, actor: str, obj: Reference) -> Json:
    return _activity("Reject", activity_id, actor, obj)


def build_undo(activity_id: str, actor: str, obj: Mapping[str, object]) -> Json:
    return _activity("Undo", activity_id, actor, obj)


def build_like(activity_id: str, actor: str, object_id: str) -> Json:
    """Mastodon's Like shape: no addressing (`<actor>#likes/<n>` ids are fine)."""
    return _activity("Like", activity_id, actor, object_id)


def build_announce(
    activity_id: str,
    actor: str,
    object_id: str,
    published: datetime,
    to: Sequence[str],
    cc: Sequence[str] = (),
) -> Json:
    activity = _activity("Announce", activity_id, actor, object_id)
    activity.update(published=format_datetime(published), to=list(to), cc=list(cc))
    return activity


def _collection(
    kind: str,
    collection_id: str,
    total_items: int,
    items: Sequence[Reference] | None,
    first: str | None,
) -> Json:
    collection: Json = {
        "@context": ACTIVITYSTREAMS_CONTEXT,
        "id": collection_id,
        "type": kind,
        "totalItems": total_items,
    }
    if items is not None:
        key = "orderedItems" if kind == "OrderedCollection" else "items"
        collection[key] = [_without_context(item) for item in items]
    if first is not None:
        collection["first"] = first
    return collection


def build_collection(
    collection_id: str,
    total_items: int,
    items: Sequence[Reference] | None = None,
    first: str | None = None,
) -> Json:
    return _collection("Collection", collection_id, total_items, items, first)


def build_ordered_collection(
    collection_id: str,
    total_items: int,
    items: Sequence[Reference] | None = None,
    first: str | None = None,
) -> Json:
    return _collection("OrderedCollection", collection_id, total_items, items, first)


def build_ordered_collection_page(
    page_id: str,
    part_of: str,
    items: Sequence[Reference],
    next_page: str | None = None,
    prev_page: str | None = None,
) -> Json:
    page: Json = {
        "@context": ACTIVITYSTREAMS_CONTEXT,
        "id": page_id,
        "type": "OrderedCollectionPage",
        "partOf": part_of,
        "orderedItems": [_without_context(item) for item in items],
    }
    if next_page:
        page["next"] = next_page
    if prev_page:
        page["prev"] = prev_page
    return page
