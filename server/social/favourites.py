"""A local donor likes a note (API favourite, web button): recorded, delivered, and clicked.

The click goes through the bulk click path (`server.donations.clicks_bulk`) in the
caller's transaction.
"""

from __future__ import annotations

import uuid

from sqlalchemy import and_, delete
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.builders import build_like, build_undo
from server.db.upsert import insert_ignoring_duplicates
from server.domain_errors import NotFound
from server.donations.clicks import CreatorRef, ThingRef, remove_click
from server.donations.clicks_bulk import Wish, record_clicks
from server.federation.delivery import deliver
from server.models import Account, Actor, Note, NoteLike
from server.models.base import utcnow
from server.settings import Settings
from server.social.notifications import FAVOURITE, notify, withdraw

SOURCE_API = "client_api"
SOURCE_WEB = "web"


async def _record_click(
    session: AsyncSession,
    settings: Settings,
    account: Account,
    note: Note,
    author: Actor,
    like_id: str,
    source: str,
) -> None:
    """The like's click, through the bulk click path (clicks_bulk.py): the donor's state,
    the author's identity, the thing, the period and the click a statement each, where
    `record_click` takes twice as many; its rules are the same (once per thing and period,
    never one's own work, nothing while paused)."""
    handle = f"@{author.username}@{author.domain}" if author.username else ""
    creator = CreatorRef(
        network="fediverse", external_id=author.uri, handle=handle, profile_url=author.url
    )
    thing = ThingRef(uri=note.uri, creator=creator, title=note.url)
    await record_clicks(
        session,
        settings,
        donor_account_id=account.id or 0,
        source=source,
        wishes=[Wish(key=0, thing=thing, source_ref=like_id, at=utcnow())],
    )


async def _parties(
    session: AsyncSession, account_id: int, note: Note
) -> tuple[Actor, NoteLike | None, Actor | None]:
    """The account's actor, its like of the note if any, and the note's author: one query
    (a favourite is a write, and on SQLite writes queue for one lock)."""
    author = aliased(Actor)
    query = (
        select(Actor, NoteLike, author)
        .outerjoin(
            NoteLike,
            and_(col(NoteLike.note_id) == note.id, col(NoteLike.actor_uri) == col(Actor.uri)),
        )
        .outerjoin(author, col(author.id) == note.author_id)
        .where(col(Actor.account_id) == account_id)
    )
    row = (await session.exec(query)).first()
    if row is None:
        raise NotFound("this account has no actor")
    return row


async def _insert_like(session: AsyncSession, note_id: int, actor_uri: str) -> NoteLike | None:
    """The like, made now; None if the actor's like of the note is there already (a
    concurrent double submit that committed first: the unique (note, actor) key decides)."""
    like = NoteLike(
        note_id=note_id, actor_uri=actor_uri, activity_id=f"{actor_uri}#likes/{uuid.uuid4().hex}"
    )
    table = NoteLike.__table__  # type: ignore[attr-defined]
    values = like.model_dump(exclude={"id"})
    statement = insert_ignoring_duplicates(session, table).values(**values).returning(table.c.id)
    made = (await session.exec(statement)).first()
    if made is None:
        return None
    like.id = made[0]
    return like


async def favourite(
    session: AsyncSession, settings: Settings, account: Account, note: Note, source: str
) -> NoteLike:
    """Idempotent: a second favourite of the same note changes nothing."""
    actor, existing, author = await _parties(session, account.id or 0, note)
    like = existing or await _insert_like(session, note.id or 0, actor.uri)
    if like is None:  # liked meanwhile by a concurrent request
        query = select(NoteLike).where(NoteLike.note_id == note.id, NoteLike.actor_uri == actor.uri)
        return (await session.exec(query)).one()
    if existing is not None:
        return existing
    if note.is_local and note.account_id is not None:
        await notify(
            session, account_id=note.account_id, type=FAVOURITE, actor_id=actor.id or 0,
            note_id=note.id, dedupe_key=f"{FAVOURITE}:{note.id}:{actor.id}",
        )  # fmt: skip
    if author is None:
        return like
    if not note.is_local:
        activity = build_like(like.activity_id, actor.uri, note.uri)
        await deliver(session, actor, activity, [author.inbox])
    await _record_click(session, settings, account, note, author, like.activity_id, source)
    return like


async def unfavourite(
    session: AsyncSession, settings: Settings, account: Account, note: Note
) -> bool:
    actor, like, author = await _parties(session, account.id or 0, note)
    if like is None:
        return False
    await session.exec(delete(NoteLike).where(col(NoteLike.id) == like.id))
    await withdraw(session, type=FAVOURITE, note_id=note.id or 0, actor_id=actor.id or 0)
    if not note.is_local and author is not None:
        inner = build_like(like.activity_id, actor.uri, note.uri)
        undo = build_undo(f"{like.activity_id}/undo", actor.uri, inner)
        await deliver(session, actor, undo, [author.inbox])
    await remove_click(
        session, settings, donor_account_id=account.id or 0, source_ref=like.activity_id
    )
    return True
