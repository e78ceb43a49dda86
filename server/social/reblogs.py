"""Reblogs: a local account shares a note (a note of its own pointing at the shared one,
sent as an Announce to its followers and the note's author), and who liked or shared a note."""

from __future__ import annotations

import uuid
from typing import Any, cast

from sqlalchemy import delete
from sqlalchemy.sql import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.builders import build_undo
from server.db.paging import Page, in_order, paged
from server.domain_errors import Forbidden, NotFound
from server.federation.delivery import deliver, follower_inboxes
from server.models import Account, Actor, Follow, Note, NoteLike, NoteShare
from server.models.base import utcnow
from server.models.federation import FollowState
from server.render.activitypub import render_announce
from server.settings import Settings
from server.social.notes import local_actor

REBLOG_VISIBILITIES = ("public", "unlisted", "private")


async def original(session: AsyncSession, note: Note) -> Note:
    """The note a reblog shares, or the note itself."""
    if note.reblog_of_id is None:
        return note
    shared = await session.get(Note, note.reblog_of_id)
    if shared is None or shared.deleted_at is not None:
        raise NotFound("no such status")
    return shared


async def reblog_of(session: AsyncSession, actor: Actor, note: Note) -> Note | None:
    query = select(Note).where(
        Note.reblog_of_id == note.id, Note.author_id == actor.id, col(Note.deleted_at).is_(None)
    )
    return (await session.exec(query)).first()


async def _inboxes(session: AsyncSession, actor: Actor, author: Actor) -> list[str]:
    inboxes = await follower_inboxes(session, actor)
    if not author.is_local:
        inboxes.append(author.shared_inbox or author.inbox)
    return inboxes


async def reblog(
    session: AsyncSession, settings: Settings, account: Account, note: Note, visibility: str
) -> Note:
    """The account's reblog of the note (made once), its Announce queued."""
    shared = await original(session, note)
    if shared.visibility not in ("public", "unlisted"):
        raise Forbidden("this status cannot be reblogged")
    if visibility not in REBLOG_VISIBILITIES:
        visibility = "public"
    actor = await local_actor(session, account.id or 0)
    existing = await reblog_of(session, actor, shared)
    if existing is not None:
        return existing
    author = await session.get(Actor, shared.author_id)
    if author is None:
        raise NotFound("no such status")
    row = Note(
        uri=f"urn:uuid:{uuid.uuid4()}",
        author_id=actor.id or 0,
        account_id=account.id,
        is_local=True,
        visibility=visibility,
        reblog_of_id=shared.id,
    )
    session.add(row)
    await session.flush()
    row.uri = f"{actor.uri}/statuses/{row.id}/activity"
    row.url = f"{settings.base_url}/@{account.username}/{row.id}"
    session.add(row)
    session.add(NoteShare(note_id=shared.id or 0, actor_uri=actor.uri, activity_id=row.uri))
    announce = render_announce(row, actor, shared, author, row.published_at)
    await deliver(session, actor, announce, await _inboxes(session, actor, author))
    return row


async def unreblog(session: AsyncSession, account: Account, note: Note) -> Note:
    """Undo the account's reblog of the note, if any; the shared note is returned."""
    shared = await original(session, note)
    actor = await local_actor(session, account.id or 0)
    row = await reblog_of(session, actor, shared)
    if row is None:
        return shared
    author = await session.get(Actor, shared.author_id)
    await session.exec(delete(NoteShare).where(col(NoteShare.activity_id) == row.uri))
    row.deleted_at = utcnow()
    session.add(row)
    if author is not None:
        announce = render_announce(row, actor, shared, author, row.published_at)
        undo = build_undo(f"{row.uri}/undo", actor.uri, announce)
        await deliver(session, actor, undo, await _inboxes(session, actor, author))
    return shared


LIKE_ID = cast(ColumnElement[int], col(NoteLike.id))
SHARE_ID = cast(ColumnElement[int], col(NoteShare.id))


async def likers(session: AsyncSession, note_id: int, page: Page) -> list[tuple[int, Actor]]:
    """Who liked the note (the actors we hold), by like id, newest first."""
    query = (
        select(LIKE_ID, Actor)
        .join(Actor, col(Actor.uri) == col(NoteLike.actor_uri))
        .where(NoteLike.note_id == note_id)
    )
    rows = (await session.exec(paged(cast(Any, query), LIKE_ID, page))).all()
    return [(int(row_id or 0), actor) for row_id, actor in in_order(list(rows), page)]


async def sharers(session: AsyncSession, note_id: int, page: Page) -> list[tuple[int, Actor]]:
    """Who shared the note (the actors we hold), by share id, newest first."""
    query = (
        select(SHARE_ID, Actor)
        .join(Actor, col(Actor.uri) == col(NoteShare.actor_uri))
        .where(NoteShare.note_id == note_id)
    )
    rows = (await session.exec(paged(cast(Any, query), SHARE_ID, page))).all()
    return [(int(row_id or 0), actor) for row_id, actor in in_order(list(rows), page)]


async def store_announce(
    session: AsyncSession, announcer_uri: str, activity_id: str, object_uri: str
) -> Note | None:
    """A remote actor's Announce of a public note we hold, kept as its reblog when someone
    here follows it, for their home timelines; None when it is not kept."""
    query = select(Actor).where(Actor.uri == announcer_uri, col(Actor.is_local).is_(False))
    announcer = (await session.exec(query)).first()
    if announcer is None:
        return None
    followers = (
        select(Follow.id)
        .join(Actor, col(Actor.id) == col(Follow.follower_id))
        .where(
            Follow.followee_id == announcer.id,
            Follow.state == FollowState.accepted,
            col(Actor.is_local).is_(True),
        )
    )
    if (await session.exec(followers.limit(1))).first() is None:
        return None
    existing = (await session.exec(select(Note).where(Note.uri == activity_id))).first()
    if existing is not None:
        return existing if existing.author_id == announcer.id else None
    shared = (await session.exec(select(Note).where(Note.uri == object_uri))).first()
    if shared is None or shared.deleted_at is not None or shared.reblog_of_id is not None:
        return None
    if shared.visibility not in ("public", "unlisted"):
        return None
    row = Note(uri=activity_id, author_id=announcer.id or 0, reblog_of_id=shared.id)
    session.add(row)
    await session.flush()
    return row


async def remove_announce(session: AsyncSession, announcer_uri: str, activity_id: str) -> None:
    """An Undo of a remote actor's Announce: its reblog (if kept) leaves the timelines."""
    query = (
        select(Note)
        .join(Actor, col(Actor.id) == col(Note.author_id))
        .where(Note.uri == activity_id, Actor.uri == announcer_uri, col(Note.is_local).is_(False))
    )
    row = (await session.exec(query)).first()
    if row is not None and row.deleted_at is None:
        row.deleted_at = utcnow()
        session.add(row)
