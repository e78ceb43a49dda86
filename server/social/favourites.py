"""A local donor likes a note (API favourite, web button): recorded, delivered, and clicked.

The click goes through `server.donations.clicks` in the caller's transaction.
"""

from __future__ import annotations

import uuid

from sqlalchemy import and_, delete
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.builders import build_like, build_undo
from server.domain_errors import NotFound
from server.donations.clicks import CreatorRef, ThingRef, record_click, remove_click
from server.federation.delivery import deliver
from server.models import Account, Actor, Note, NoteLike
from server.settings import Settings
from server.social.notifications import FAVOURITE, notify, withdraw

SOURCE_API = "client_api"
SOURCE_WEB = "web"


async def _record_click(
    session: AsyncSession,
    settings: Settings,
    account: Account,
    note: Note,
    like_id: str,
    source: str,
) -> None:
    author = await session.get(Actor, note.author_id)
    if author is None:
        return
    handle = f"@{author.username}@{author.domain}" if author.username else ""
    creator = CreatorRef(
        network="fediverse", external_id=author.uri, handle=handle, profile_url=author.url
    )
    thing = ThingRef(uri=note.uri, creator=creator, title=note.url)
    await record_click(
        session,
        settings,
        donor_account_id=account.id or 0,
        thing=thing,
        source=source,
        source_ref=like_id,
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


async def favourite(
    session: AsyncSession, settings: Settings, account: Account, note: Note, source: str
) -> NoteLike:
    """Idempotent: a second favourite of the same note changes nothing."""
    actor, existing, author = await _parties(session, account.id or 0, note)
    if existing is not None:
        return existing
    like = NoteLike(
        note_id=note.id or 0,
        actor_uri=actor.uri,
        activity_id=f"{actor.uri}#likes/{uuid.uuid4().hex}",
    )
    session.add(like)
    await session.flush()
    if note.is_local and note.account_id is not None:
        await notify(
            session, account_id=note.account_id, type=FAVOURITE, actor_id=actor.id or 0,
            note_id=note.id, dedupe_key=f"{FAVOURITE}:{note.id}:{actor.id}",
        )  # fmt: skip
    if not note.is_local and author is not None:
        activity = build_like(like.activity_id, actor.uri, note.uri)
        await deliver(session, actor, activity, [author.inbox])
    await _record_click(session, settings, account, note, like.activity_id, source)
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
