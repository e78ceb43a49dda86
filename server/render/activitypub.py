"""ActivityPub documents of this instance's actors and notes (not on the models)."""

from __future__ import annotations

import html
from collections.abc import Sequence

from activitypub.builders import (
    ActorSpec,
    Json,
    NoteSpec,
    PaymentLinkSpec,
    build_application_actor,
    build_note,
    build_person,
)
from activitypub.jsonld import PUBLIC_COLLECTION
from server.models import Account, Actor, Identity, Note
from server.settings import Settings

DEFAULT_AVATAR = "/static/avatar.png"


def payment_url(settings: Settings, username: str) -> str:
    return f"{settings.base_url}/@{username}/support"


def linked_account_field(identity: Identity) -> tuple[str, str]:
    """A claimed fediverse account elsewhere as a profile field (named by its handle) whose
    value is one link with rel="me" and the URL as its text, the only shape Mastodon
    verifies: that account's profile links here, so its server can mark the field verified."""
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
        icon_url=settings.base_url + DEFAULT_AVATAR,
        icon_media_type="image/png",
        manually_approves_followers=account.locked,
        discoverable=account.discoverable,
        published=account.created_at,
        payment_links=(
            PaymentLinkSpec(
                href=payment_url(settings, account.username),
                name=f"Support {account.username} on {settings.name} ({settings.currency})",
            ),
        ),
        profile_fields=tuple(linked_account_field(identity) for identity in linked),
    )
    return build_person(spec)


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


def note_audience(note: Note, author: Actor) -> tuple[tuple[str, ...], tuple[str, ...]]:
    followers = author.followers_url or f"{author.uri}/followers"
    if note.visibility == "public":
        return (PUBLIC_COLLECTION,), (followers,)
    if note.visibility == "unlisted":
        return (followers,), (PUBLIC_COLLECTION,)
    return (followers,), ()


def render_note(note: Note, author: Actor) -> Json:
    to, cc = note_audience(note, author)
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
        )
    )
    document["likes"] = f"{note.uri}/likes"
    document["shares"] = f"{note.uri}/shares"
    return document
