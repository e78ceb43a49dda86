"""Posts: local notes written by creators, remote notes cached, likes and shares counted."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from sqlalchemy import delete, exists, func, or_
from sqlalchemy.sql import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.builders import build_create, build_delete
from activitypub.errors import InvalidDocument
from activitypub.jsonld import PUBLIC_COLLECTION
from activitypub.vocab import NoteDocument, parse_note
from server.domain_errors import Kind, NotFound, ServiceError
from server.federation.delivery import deliver, follower_inboxes
from server.federation.origins import own_url
from server.federation.remote import domain_of, sanitize_html
from server.models import (
    Account,
    Actor,
    Follow,
    MediaAttachment,
    Note,
    NoteLike,
    NoteMention,
    NoteShare,
    NoteTag,
    OAuthApplication,
    StatusIdempotency,
)
from server.models.base import utcnow
from server.models.federation import FollowState
from server.render.activitypub import NoteExtras, render_note
from server.render.media import ATTACHMENTS_PATH
from server.render.statuses import StatusView
from server.settings import Settings
from server.social.media import attach, for_notes, remote_attachments
from server.social.mentions import link_text, read_tags

VISIBILITIES = ("public", "unlisted", "private", "direct")
MAX_STATUS_CHARS = 5000
LANGUAGE = re.compile(r"[a-zA-Z]{2,3}(?:-[a-zA-Z0-9]{2,8})?")


class InvalidStatus(ServiceError):
    kind = Kind.invalid
    code = "invalid_status"


@dataclass(frozen=True)
class NewStatus:
    text: str
    visibility: str = "public"
    summary: str = ""
    sensitive: bool = False
    idempotency_key: str | None = None
    in_reply_to_id: int | None = None
    language: str = ""
    media_ids: tuple[int, ...] = ()
    application_id: int | None = None  # the OAuth app of the token that posts it


def text_to_html(text: str) -> str:
    paragraphs = [part.strip() for part in text.replace("\r\n", "\n").split("\n\n")]
    return "".join(
        "<p>" + html.escape(part).replace("\n", "<br>") + "</p>" for part in paragraphs if part
    )


async def local_actor(session: AsyncSession, account_id: int) -> Actor:
    actor = (await session.exec(select(Actor).where(Actor.account_id == account_id))).first()
    if actor is None:
        raise NotFound("this account has no actor")
    return actor


def _check(status: NewStatus) -> None:
    if not status.text.strip() and not status.media_ids:
        raise InvalidStatus("the status is empty", field="status")
    if len(status.text) > MAX_STATUS_CHARS:
        raise InvalidStatus(f"the status is longer than {MAX_STATUS_CHARS} characters")
    if status.visibility not in VISIBILITIES:
        raise InvalidStatus(f"visibility must be one of {', '.join(VISIBILITIES)}")
    if status.language and not LANGUAGE.fullmatch(status.language):
        raise InvalidStatus("language must be an ISO 639 code", field="language")


async def _idempotent(session: AsyncSession, account_id: int, key: str | None) -> Note | None:
    if not key:
        return None
    query = select(StatusIdempotency).where(
        StatusIdempotency.account_id == account_id, StatusIdempotency.key == key
    )
    row = (await session.exec(query)).first()
    return None if row is None else await session.get(Note, row.note_id)


async def _parent(session: AsyncSession, note_id: int | None, author: Actor) -> Note | None:
    """The note replied to, which the author must be able to see."""
    if note_id is None:
        return None
    parent = await session.get(Note, note_id)
    if parent is None or parent.deleted_at is not None or parent.reblog_of_id is not None:
        raise NotFound("the status replied to does not exist")
    if not await can_see(session, parent, author.id):
        raise NotFound("the status replied to does not exist")
    return parent


async def _store_extras(
    session: AsyncSession, note: Note, actors: list[Actor], tags: list[str]
) -> None:
    await _store_extras_ids(session, note, [actor.id or 0 for actor in actors], tags)


async def _recipients(
    session: AsyncSession, note: Note, author: Actor, extras: NoteExtras, reply: Actor | None
) -> list[str]:
    """Where the Create goes: the followers (not for a direct note), the mentioned remote
    actors, and the remote author replied to unless the note is direct."""
    inboxes = [] if note.visibility == "direct" else await follower_inboxes(session, author)
    others = [*extras.mentions, *([reply] if reply and note.visibility != "direct" else [])]
    remote = [actor for actor in others if not actor.is_local and actor.tombstoned_at is None]
    return [*inboxes, *(actor.shared_inbox or actor.inbox for actor in remote)]


async def create_status(
    session: AsyncSession,
    settings: Settings,
    account: Account,
    status: NewStatus,
    mentioned: Mapping[str, Actor] | None = None,
) -> Note:
    """Write a local note and queue its Create for the followers' inboxes, the mentioned
    and the author replied to. `mentioned`: the actors the text's mentions name, found
    beforehand (`mentions.handles` keys)."""
    _check(status)
    account_id = account.id or 0
    existing = await _idempotent(session, account_id, status.idempotency_key)
    if existing is not None:
        return existing
    author = await local_actor(session, account_id)
    parent = await _parent(session, status.in_reply_to_id, author)
    linked = link_text(status.text, mentioned or {}, settings.domain, settings.base_url)
    note = Note(
        uri=f"urn:uuid:{uuid.uuid4()}",
        author_id=author.id or 0,
        account_id=account_id,
        is_local=True,
        content=linked.html,
        summary=status.summary[:2000],
        visibility=status.visibility,
        sensitive=status.sensitive or bool(status.summary),
        language=status.language.lower(),
        in_reply_to=parent.uri if parent else "",
        in_reply_to_id=parent.id if parent else None,
        in_reply_to_author_id=parent.author_id if parent else None,
        application_id=status.application_id,
        source_text=status.text,
    )
    session.add(note)
    await session.flush()
    note.uri = f"{author.uri}/statuses/{note.id}"
    note.url = f"{settings.base_url}/@{account.username}/{note.id}"
    session.add(note)
    await _store_extras(session, note, linked.mentions, linked.tags)
    if status.idempotency_key:
        session.add(
            StatusIdempotency(
                account_id=account_id, key=status.idempotency_key[:255], note_id=note.id or 0
            )
        )
    reply = await session.get(Actor, parent.author_id) if parent else None
    extras = NoteExtras(
        linked.mentions,
        linked.tags,
        f"{settings.base_url}/tags",
        reply.uri if reply else "",
        await attach(session, account_id, note.id or 0, list(status.media_ids)),
        settings.base_url + ATTACHMENTS_PATH,
    )
    create = build_create(f"{note.uri}/activity", author.uri, render_note(note, author, extras))
    await deliver(session, author, create, await _recipients(session, note, author, extras, reply))
    return note


def _origin(actor: Actor) -> str:
    """A local actor's instance's base URL, from its URI."""
    parts = urlsplit(actor.uri)
    return f"{parts.scheme}://{parts.netloc}"


def tags_url(actor: Actor) -> str:
    """Where a local actor's instance lists a hashtag's notes: `<origin>/tags`."""
    return f"{_origin(actor)}/tags"


async def note_extras(session: AsyncSession, note: Note, author: Actor) -> NoteExtras:
    """What a stored local note's document names besides itself."""
    mentions = await session.exec(
        select(Actor)
        .join(NoteMention, col(NoteMention.actor_id) == col(Actor.id))
        .where(NoteMention.note_id == note.id)
        .order_by(col(NoteMention.id))
    )
    tags = await session.exec(
        select(NoteTag.name).where(NoteTag.note_id == note.id).order_by(col(NoteTag.id))
    )
    reply = await session.get(Actor, note.in_reply_to_author_id or 0)
    media = await for_notes(session, [note.id or 0])
    return NoteExtras(
        list(mentions.all()),
        list(tags.all()),
        tags_url(author),
        reply.uri if reply else "",
        media.get(note.id or 0, []),
        _origin(author) + ATTACHMENTS_PATH,
    )


async def store_remote_note(
    session: AsyncSession, author: Actor, data: Mapping[str, object], *, create: bool
) -> Note | None:
    """Cache (or refresh) a remote note whose author is `author`; foreign ids refused. Its
    `url` is kept only on the note's own host (else the id is its address): a page
    elsewhere is not the author's to name."""
    parsed = parse_note(data)
    if parsed.attributed_to != author.uri or domain_of(parsed.id) != domain_of(author.uri):
        raise InvalidDocument("the note's author or host does not match the sender")
    note = (await session.exec(select(Note).where(Note.uri == parsed.id))).first()
    if note is None:
        if not create:
            return None
        note = Note(uri=parsed.id, author_id=author.id or 0, is_local=False)
    elif note.is_local:
        raise InvalidDocument("a remote actor cannot change a local note")
    note.url = own_url(parsed.url, parsed.id)
    note.content = sanitize_html(parsed.content or "")
    note.summary = html.escape(parsed.summary or "")[:2000]
    note.sensitive = parsed.sensitive
    note.published_at = parsed.published or note.published_at or utcnow()
    note.updated_at = parsed.updated
    note.visibility = _remote_visibility(parsed, author)
    note.language = _content_language(parsed.data.get("contentMap"))
    await _link_reply(session, note, parsed.in_reply_to or "")
    session.add(note)
    await session.flush()
    await _store_remote_tags(session, note, parsed.data.get("tag"))
    await _store_remote_media(session, note, parsed.data.get("attachment"))
    return note


def _remote_visibility(parsed: NoteDocument, author: Actor) -> str:
    public = PUBLIC_COLLECTION
    if public in parsed.to:
        return "public"
    if public in parsed.cc:
        return "unlisted"
    followers = author.followers_url or f"{author.uri}/followers"
    return "private" if followers in (*parsed.to, *parsed.cc) else "direct"


def _content_language(content_map: object) -> str:
    if isinstance(content_map, dict) and len(content_map) == 1:
        language = str(next(iter(content_map)))
        return language.lower() if LANGUAGE.fullmatch(language) else ""
    return ""


async def _link_reply(session: AsyncSession, note: Note, in_reply_to: str) -> None:
    note.in_reply_to = in_reply_to
    parent = None
    if in_reply_to:
        parent = (await session.exec(select(Note).where(Note.uri == in_reply_to))).first()
    note.in_reply_to_id = parent.id if parent else None
    note.in_reply_to_author_id = parent.author_id if parent else None


async def _store_remote_tags(session: AsyncSession, note: Note, tags: object) -> None:
    """A remote note's mentions of actors we hold, and its hashtags (replacing earlier)."""
    read = read_tags(tags)
    await session.exec(delete(NoteMention).where(col(NoteMention.note_id) == note.id))
    await session.exec(delete(NoteTag).where(col(NoteTag.note_id) == note.id))
    actors: list[int] = []
    if read.mentions:
        query = select(Actor.id).where(col(Actor.uri).in_(read.mentions))
        actors = [int(actor_id or 0) for actor_id in (await session.exec(query)).all()]
    await _store_extras_ids(session, note, actors, read.hashtags)


async def _store_remote_media(session: AsyncSession, note: Note, attachments: object) -> None:
    """A remote note's attachments, as links to where they live (replacing earlier)."""
    await session.exec(delete(MediaAttachment).where(col(MediaAttachment.note_id) == note.id))
    for row in remote_attachments(attachments):
        row.note_id = note.id
        session.add(row)


async def _store_extras_ids(
    session: AsyncSession, note: Note, actor_ids: list[int], tags: list[str]
) -> None:
    for actor_id in actor_ids:
        session.add(NoteMention(note_id=note.id or 0, actor_id=actor_id))
    for tag in tags:
        session.add(NoteTag(note_id=note.id or 0, name=tag))


async def with_applications(
    session: AsyncSession, views: Sequence[StatusView], viewer_account_id: int | None
) -> list[StatusView]:
    """`views` with the app each of the viewer's own statuses was posted from: Mastodon
    shows a status's `application` to its author only. One query, when any needs it."""

    def shown(view: StatusView | None) -> bool:
        return (
            view is not None
            and viewer_account_id is not None
            and view.note.application_id is not None
            and view.note.account_id == viewer_account_id
        )

    wanted = {
        shown_view.note.application_id
        for view in views
        for shown_view in (view, view.reblog)
        if shown_view is not None and shown(shown_view)
    }
    if not wanted:
        return list(views)
    query = select(OAuthApplication).where(col(OAuthApplication.id).in_(wanted))
    apps = {
        row.id: {"name": row.name, "website": row.website or None}
        for row in (await session.exec(query)).all()
    }

    def filled(view: StatusView) -> StatusView:
        reblog = filled(view.reblog) if view.reblog is not None else None
        app = apps.get(view.note.application_id) if shown(view) else None
        return replace(view, application=app, reblog=reblog)

    return [filled(view) for view in views]


async def get_note(session: AsyncSession, note_id: int) -> Note:
    note = await session.get(Note, note_id)
    if note is None or note.deleted_at is not None:
        raise NotFound("no such status")
    return note


async def like_count(session: AsyncSession, note_id: int) -> int:
    query = select(func.count()).select_from(NoteLike).where(NoteLike.note_id == note_id)
    return int((await session.exec(query)).one())


async def share_count(session: AsyncSession, note_id: int) -> int:
    query = select(func.count()).select_from(NoteShare).where(NoteShare.note_id == note_id)
    return int((await session.exec(query)).one())


async def like_ids(session: AsyncSession, note_id: int) -> list[str]:
    query = select(NoteLike.activity_id).where(NoteLike.note_id == note_id)
    return list((await session.exec(query.order_by(col(NoteLike.id)))).all())


async def liked_by(session: AsyncSession, note_id: int, actor_uri: str) -> NoteLike | None:
    query = select(NoteLike).where(NoteLike.note_id == note_id, NoteLike.actor_uri == actor_uri)
    return (await session.exec(query)).first()


async def status_view(session: AsyncSession, note: Note, viewer_id: int | None) -> StatusView:
    author = await session.get(Actor, note.author_id)
    if author is None:
        raise NotFound("the author is gone")
    account = await session.get(Account, note.account_id) if note.account_id else None
    favourited = False
    if viewer_id is not None:
        viewer = (await session.exec(select(Actor).where(Actor.account_id == viewer_id))).first()
        favourited = (
            viewer is not None and (await liked_by(session, note.id or 0, viewer.uri)) is not None
        )
    return StatusView(
        note=note,
        author=author,
        account=account,
        favourites=await like_count(session, note.id or 0),
        reblogs=await share_count(session, note.id or 0),
        favourited=favourited,
    )


def visible_to(note: Note, viewer_id: int | None) -> bool:
    """Public and unlisted notes to anyone, the others to their author (web pages)."""
    return note.visibility in ("public", "unlisted") or (
        viewer_id is not None and note.account_id == viewer_id
    )


def visible_clause(viewer_actor_id: int | None) -> ColumnElement[bool]:
    """Which notes an actor may read: public and unlisted ones, its own, the private ones
    of those it follows, and those that mention it."""
    public = col(Note.visibility).in_(("public", "unlisted"))
    if viewer_actor_id is None:
        return public
    followed = select(Follow.followee_id).where(
        Follow.follower_id == viewer_actor_id, Follow.state == FollowState.accepted
    )
    mentioned = exists().where(
        col(NoteMention.note_id) == col(Note.id), col(NoteMention.actor_id) == viewer_actor_id
    )
    return or_(
        public,
        col(Note.author_id) == viewer_actor_id,
        (col(Note.visibility) == "private") & col(Note.author_id).in_(followed),
        mentioned,
    )


async def can_see(session: AsyncSession, note: Note, viewer_actor_id: int | None) -> bool:
    if note.visibility in ("public", "unlisted"):
        return True
    query = select(Note.id).where(Note.id == note.id, visible_clause(viewer_actor_id))
    return (await session.exec(query)).first() is not None


async def recent_notes(session: AsyncSession, author_id: int, limit: int = 20) -> list[Note]:
    query = select(Note).where(
        Note.author_id == author_id,
        col(Note.deleted_at).is_(None),
        col(Note.visibility).in_(("public", "unlisted")),
        col(Note.reblog_of_id).is_(None),
    )
    return list((await session.exec(query.order_by(col(Note.id).desc()).limit(limit))).all())


async def local_profile(session: AsyncSession, username: str) -> tuple[Account, Actor]:
    query = select(Account, Actor).join(Actor, col(Actor.account_id) == col(Account.id))
    row = (await session.exec(query.where(Account.username == username))).first()
    if row is None or row[0].suspended_at is not None:
        raise NotFound("no such user")
    return row[0], row[1]


async def delete_status(
    session: AsyncSession, settings: Settings, account: Account, note: Note
) -> None:
    """Tombstone our note and tell those who received it."""
    if not note.is_local or note.account_id != account.id or note.reblog_of_id is not None:
        raise NotFound("no such status")
    author = await local_actor(session, account.id or 0)
    extras = await note_extras(session, note, author)
    reply = await session.get(Actor, note.in_reply_to_author_id or 0)
    inboxes = await _recipients(session, note, author, extras, reply)
    note.deleted_at = utcnow()
    note.content = ""
    session.add(note)
    activity = build_delete(f"{note.uri}#delete", author.uri, note.uri, [PUBLIC_COLLECTION])
    await deliver(session, author, activity, inboxes)
