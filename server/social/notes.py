"""Posts: local notes written by creators, remote notes cached, likes and shares counted."""

from __future__ import annotations

import html
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.builders import build_create, build_delete
from activitypub.errors import InvalidDocument
from activitypub.jsonld import PUBLIC_COLLECTION
from activitypub.vocab import parse_note
from server.domain_errors import Kind, NotFound, ServiceError
from server.federation.delivery import deliver, follower_inboxes
from server.federation.origins import own_url
from server.federation.remote import domain_of, sanitize_html
from server.models import Account, Actor, Follow, Note, NoteLike, NoteShare, StatusIdempotency
from server.models.base import utcnow
from server.models.federation import FollowState
from server.render.activitypub import render_note
from server.render.statuses import StatusView
from server.settings import Settings

VISIBILITIES = ("public", "unlisted", "private")
MAX_STATUS_CHARS = 5000


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
    if not status.text.strip():
        raise InvalidStatus("the status is empty", field="status")
    if len(status.text) > MAX_STATUS_CHARS:
        raise InvalidStatus(f"the status is longer than {MAX_STATUS_CHARS} characters")
    if status.visibility not in VISIBILITIES:
        raise InvalidStatus(f"visibility must be one of {', '.join(VISIBILITIES)}")


async def _idempotent(session: AsyncSession, account_id: int, key: str | None) -> Note | None:
    if not key:
        return None
    query = select(StatusIdempotency).where(
        StatusIdempotency.account_id == account_id, StatusIdempotency.key == key
    )
    row = (await session.exec(query)).first()
    return None if row is None else await session.get(Note, row.note_id)


async def create_status(
    session: AsyncSession, settings: Settings, account: Account, status: NewStatus
) -> Note:
    """Write a local note and queue its Create for the followers' inboxes."""
    _check(status)
    account_id = account.id or 0
    existing = await _idempotent(session, account_id, status.idempotency_key)
    if existing is not None:
        return existing
    author = await local_actor(session, account_id)
    note = Note(
        uri=f"urn:uuid:{uuid.uuid4()}",
        author_id=author.id or 0,
        account_id=account_id,
        is_local=True,
        content=text_to_html(status.text),
        summary=status.summary[:2000],
        visibility=status.visibility,
        sensitive=status.sensitive,
    )
    session.add(note)
    await session.flush()
    note.uri = f"{author.uri}/statuses/{note.id}"
    note.url = f"{settings.base_url}/@{account.username}/{note.id}"
    session.add(note)
    if status.idempotency_key:
        session.add(
            StatusIdempotency(
                account_id=account_id, key=status.idempotency_key[:255], note_id=note.id or 0
            )
        )
    document = render_note(note, author)
    create = build_create(f"{note.uri}/activity", author.uri, document)
    await deliver(session, author, create, await follower_inboxes(session, author))
    return note


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
    note.in_reply_to = parsed.in_reply_to or ""
    note.published_at = parsed.published or note.published_at or utcnow()
    note.updated_at = parsed.updated
    public = PUBLIC_COLLECTION
    note.visibility = (
        "public" if public in parsed.to else "unlisted" if public in parsed.cc else "private"
    )
    session.add(note)
    await session.flush()
    return note


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
    return note.visibility != "private" or (viewer_id is not None and note.account_id == viewer_id)


async def recent_notes(session: AsyncSession, author_id: int, limit: int = 20) -> list[Note]:
    query = select(Note).where(
        Note.author_id == author_id,
        col(Note.deleted_at).is_(None),
        col(Note.visibility).in_(("public", "unlisted")),
    )
    return list((await session.exec(query.order_by(col(Note.id).desc()).limit(limit))).all())


async def local_profile(session: AsyncSession, username: str) -> tuple[Account, Actor]:
    query = select(Account, Actor).join(Actor, col(Actor.account_id) == col(Account.id))
    row = (await session.exec(query.where(Account.username == username))).first()
    if row is None or row[0].suspended_at is not None:
        raise NotFound("no such user")
    return row[0], row[1]


async def home_timeline(session: AsyncSession, account_id: int, limit: int = 20) -> list[Note]:
    """The account's own notes and those of actors it follows (accepted), newest first."""
    me = await local_actor(session, account_id)
    followed = select(Follow.followee_id).where(
        Follow.follower_id == me.id, Follow.state == FollowState.accepted
    )
    query = select(Note).where(
        col(Note.deleted_at).is_(None),
        (col(Note.author_id) == me.id) | col(Note.author_id).in_(followed),
    )
    return list((await session.exec(query.order_by(col(Note.id).desc()).limit(limit))).all())


async def delete_status(session: AsyncSession, account: Account, note: Note) -> None:
    """Tombstone our note and tell the followers who received it."""
    if not note.is_local or note.account_id != account.id:
        raise NotFound("no such status")
    author = await local_actor(session, account.id or 0)
    note.deleted_at = utcnow()
    note.content = ""
    session.add(note)
    activity = build_delete(f"{note.uri}#delete", author.uri, note.uri, [PUBLIC_COLLECTION])
    await deliver(session, author, activity, await follower_inboxes(session, author))
