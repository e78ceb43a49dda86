"""What the instance publishes about its local actors over ActivityPub: the actor document,
the outbox's latest public notes, follower and following counts, a note and who liked it.
Each function reads in a session of its own; an unknown or suspended user, or a note that is
missing, deleted, private or another author's, is NotFound."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.builders import Json
from server.db.engine import Database
from server.domain_errors import NotFound
from server.escrow.claims import person_document
from server.models import Actor, Follow, Note
from server.models.federation import FollowState
from server.render.activitypub import NoteExtras
from server.settings import Settings
from server.social.notes import like_count, like_ids, local_profile, note_extras, share_count


@dataclass(frozen=True)
class Outbox:
    actor: Actor
    total: int  # public notes ever published, deleted ones included
    notes: list[Note]  # the latest public ones not deleted, newest first


@dataclass(frozen=True)
class FollowCount:
    actor: Actor
    total: int


@dataclass(frozen=True)
class PublishedNote:
    note: Note
    author: Actor
    extras: NoteExtras = field(default_factory=NoteExtras)


@dataclass(frozen=True)
class NoteCollection:
    note: Note
    total: int
    items: list[str] | None  # the liking actors' ids, shown to the note's author only


async def require_local(db: Database, username: str) -> None:
    """NotFound unless `username` is a local user who is not suspended."""
    async with db.session() as session:
        await local_profile(session, username)


async def actor_document(db: Database, settings: Settings, username: str) -> Json:
    async with db.session() as session:
        account, actor = await local_profile(session, username)
        return await person_document(session, settings, account, actor)


async def outbox(db: Database, username: str, limit: int) -> Outbox:
    async with db.session() as session:
        _, actor = await local_profile(session, username)
        public = (
            Note.author_id == actor.id,
            Note.visibility == "public",
            col(Note.reblog_of_id).is_(None),
        )
        total_query = select(func.count()).select_from(Note).where(*public)
        total = int((await session.exec(total_query)).one())
        query = select(Note).where(
            *public, col(Note.deleted_at).is_(None), col(Note.reblog_of_id).is_(None)
        )
        notes = (await session.exec(query.order_by(col(Note.id).desc()).limit(limit))).all()
    return Outbox(actor, total, list(notes))


async def follow_count(db: Database, username: str, *, followers: bool) -> FollowCount:
    """How many accepted follows the user has: of it (`followers`), else by it."""
    async with db.session() as session:
        _, actor = await local_profile(session, username)
        column = Follow.followee_id if followers else Follow.follower_id
        query = select(func.count()).select_from(Follow).where(column == actor.id)
        total = int((await session.exec(query.where(Follow.state == FollowState.accepted))).one())
    return FollowCount(actor, total)


async def _note(session: AsyncSession, username: str, note_id: int) -> PublishedNote:
    _, author = await local_profile(session, username)
    note = await session.get(Note, note_id)
    if note is None or note.author_id != author.id or note.deleted_at is not None:
        raise NotFound("no such note")
    if note.visibility in ("private", "direct") or note.reblog_of_id is not None:
        raise NotFound("no such note")
    return PublishedNote(note, author, await note_extras(session, note, author))


async def published_note(db: Database, username: str, note_id: int) -> PublishedNote:
    async with db.session() as session:
        return await _note(session, username, note_id)


async def note_likes(
    db: Database, username: str, note_id: int, signer: str | None
) -> NoteCollection:
    """The note's like count; and who liked it when `signer` is its author."""
    async with db.session() as session:
        found = await _note(session, username, note_id)
        total = await like_count(session, found.note.id or 0)
        mine = signer == found.author.uri
        items = await like_ids(session, found.note.id or 0) if mine else None
    return NoteCollection(found.note, total, items)


async def note_shares(db: Database, username: str, note_id: int) -> NoteCollection:
    async with db.session() as session:
        found = await _note(session, username, note_id)
        total = await share_count(session, found.note.id or 0)
    return NoteCollection(found.note, total, None)
