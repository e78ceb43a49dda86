"""ActivityPub documents of this instance's actors and notes (not on the models)."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from activitypub.builders import (
    ActorSpec,
    Json,
    NoteSpec,
    PaymentLinkSpec,
    build_announce,
    build_application_actor,
    build_note,
    build_person,
)
from activitypub.jsonld import PUBLIC_COLLECTION
from server.models import Account, Actor, Identity, MediaAttachment, Note
from server.render.mastodon import DEFAULT_HEADER, field_value_html, media_url, profile_fields
from server.settings import Settings

DEFAULT_AVATAR = "/static/avatar.png"


def payment_url(settings: Settings, username: str) -> str:
    return f"{settings.base_url}/@{username}/support"


def linked_account_field(identity: Identity) -> tuple[str, str]:
    """A claimed fediverse account elsewhere as a profile field (named by its handle) whose
    value is one link with rel="me" and the URL as its text, the only shape Mastodon
    verifies: that account's profile links here, so its server can mark the field verified.
    An identity on another network (Bluesky, …) is named by its network, its value the
    handle, linked to its profile where one is known."""
    if identity.network != "fediverse":
        text = html.escape(identity.handle or identity.external_id)
        if not identity.profile_url.startswith(("https://", "http://")):
            return identity.network.capitalize(), text
        href = html.escape(identity.profile_url)
        return identity.network.capitalize(), f'<a href="{href}" rel="me">{text}</a>'
    href = html.escape(identity.profile_url or identity.external_id)
    return identity.handle or "Fediverse", f'<a href="{href}" rel="me">{href}</a>'


def render_person(
    settings: Settings, actor: Actor, account: Account, linked: Sequence[Identity] = ()
) -> Json:
    """`linked`: the fediverse accounts elsewhere the account has claimed (profile fields)."""
    spec = ActorSpec(
        id=actor.uri,
        username=actor.username,
        inbox=actor.inbox,
        outbox=actor.outbox,
        followers=actor.followers_url or f"{actor.uri}/followers",
        following=f"{actor.uri}/following",
        shared_inbox=actor.shared_inbox,
        public_key_pem=actor.public_key_pem,
        name=account.display_name or account.username,
        summary=account.summary,
        url=actor.url,
        icon_url=media_url(settings, account.avatar_path, DEFAULT_AVATAR),
        icon_media_type=_media_type(account.avatar_path),
        manually_approves_followers=account.locked,
        discoverable=account.discoverable,
        published=account.created_at,
        payment_links=(
            PaymentLinkSpec(
                href=payment_url(settings, account.username),
                name=f"Support {account.username} on {settings.name} ({settings.currency})",
            ),
        ),
        profile_fields=(
            *((name, field_value_html(value)) for name, value in profile_fields(account)),
            *(linked_account_field(identity) for identity in linked),
        ),
    )
    person = build_person(spec)
    if account.header_path:
        header = media_url(settings, account.header_path, DEFAULT_HEADER)
        person["image"] = {
            "type": "Image",
            "url": header,
            "mediaType": _media_type(account.header_path),
        }
    return person


def _media_type(name: str) -> str:
    return "image/jpeg" if name.endswith(".jpg") else "image/png"


def render_instance_actor(settings: Settings, actor: Actor) -> Json:
    spec = ActorSpec(
        id=actor.uri,
        username=actor.username,
        inbox=actor.inbox,
        outbox=actor.outbox,
        followers=f"{actor.uri}/followers",
        following=f"{actor.uri}/following",
        shared_inbox=actor.shared_inbox,
        public_key_pem=actor.public_key_pem,
        name=actor.name,
        url=actor.url,
        discoverable=False,
        ed25519_multibase=actor.ed25519_public_multibase or None,
    )
    return build_application_actor(spec)


@dataclass(frozen=True)
class NoteExtras:
    """What a note's document names besides the note: the actors it mentions, its hashtags
    (linked under `tags_url`), and the author of the note it replies to."""

    mentions: Sequence[Actor] = ()
    tags: Sequence[str] = ()
    tags_url: str = ""
    reply_author: str = ""
    attachments: Sequence[MediaAttachment] = ()
    files_url: str = ""  # where the attachments' files are served, ending in /


def note_audience(
    note: Note, author: Actor, extras: NoteExtras = NoteExtras()
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Mastodon's addressing: public to everyone, cc the followers; unlisted the other way
    round; private to the followers; direct to the mentioned alone. The mentioned (and the
    replied-to author) are cc'd on all but direct notes."""
    followers = author.followers_url or f"{author.uri}/followers"
    named = tuple(dict.fromkeys(actor.uri for actor in extras.mentions))
    if note.visibility == "direct":
        return named, ()
    others = tuple(dict.fromkeys((*named, extras.reply_author) if extras.reply_author else named))
    others = tuple(uri for uri in others if uri != author.uri)
    if note.visibility == "public":
        return (PUBLIC_COLLECTION,), (followers, *others)
    if note.visibility == "unlisted":
        return (followers,), (PUBLIC_COLLECTION, *others)
    return (followers,), others


def note_tags(extras: NoteExtras) -> tuple[dict[str, object], ...]:
    mentioned: list[dict[str, object]] = [
        {"type": "Mention", "href": actor.uri, "name": f"@{actor.username}@{actor.domain}"}
        for actor in extras.mentions
    ]
    hashtags: list[dict[str, object]] = [
        {"type": "Hashtag", "href": f"{extras.tags_url}/{tag}", "name": f"#{tag}"}
        for tag in extras.tags
    ]
    return (*mentioned, *hashtags)


def render_note(note: Note, author: Actor, extras: NoteExtras = NoteExtras()) -> Json:
    to, cc = note_audience(note, author, extras)
    document = build_note(
        NoteSpec(
            id=note.uri,
            attributed_to=author.uri,
            content=note.content,
            published=note.published_at,
            to=to,
            cc=cc,
            url=note.url or None,
            in_reply_to=note.in_reply_to or None,
            summary=note.summary or None,
            sensitive=note.sensitive,
            updated=note.updated_at,
            tags=note_tags(extras),
        )
    )
    if note.language:
        document["contentMap"] = {note.language: note.content}
    if extras.attachments:
        document["attachment"] = [
            attachment_document(extras.files_url, media) for media in extras.attachments
        ]
    document["likes"] = f"{note.uri}/likes"
    document["shares"] = f"{note.uri}/shares"
    return document


def attachment_document(files_url: str, media: MediaAttachment) -> Json:
    """An image attachment as Mastodon sends it."""
    return {
        "type": "Document",
        "mediaType": media.content_type,
        "url": files_url + media.file_name,
        "name": media.description or None,
        "blurhash": media.blurhash or None,
        "focalPoint": [media.focus_x, media.focus_y],
        "width": media.width,
        "height": media.height,
    }


def render_announce(
    reblog: Note, author: Actor, original: Note, original_author: Actor, when: datetime
) -> Json:
    """The Announce of a reblog (its id the reblog's uri), as Mastodon addresses it."""
    followers = author.followers_url or f"{author.uri}/followers"
    if reblog.visibility == "private":
        to, cc = [followers], [original_author.uri]
    elif reblog.visibility == "unlisted":
        to, cc = [followers], [PUBLIC_COLLECTION, original_author.uri]
    else:
        to, cc = [PUBLIC_COLLECTION], [original_author.uri, followers]
    return build_announce(reblog.uri, author.uri, original.uri, when, to, cc)
