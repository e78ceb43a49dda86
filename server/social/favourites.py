"""A local donor likes a note (API favourite, web button): recorded, delivered, and clicked.

The click goes through `server.donations.clicks` in the caller's transaction.
"""

from __future__ import annotations

import uuid

from sqlalchemy import delete
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.builders import build_like, build_undo
from server.donations.clicks import CreatorRef, ThingRef, record_click, remove_click
from server.federation.delivery import deliver
from server.models import Account, Actor, Note, NoteLike
from server.settings import Settings
from server.social.notes import liked_by, local_actor
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


async def favourite(
    session: AsyncSession, settings: Settings, account: Account, note: Note, source: str
) -> NoteLike:
    """Idempotent: a second favourite of the same note changes nothing."""
    actor = await local_actor(session, account.id or 0)
    existing = await liked_by(session, note.id or 0, actor.uri)
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
    if not note.is_local:
        author = await session.get(Actor, note.author_id)
        if author is not None:
            activity = build_like(like.activity_id, actor.uri, note.uri)
            await deliver(session, actor, activity, [author.inbox])
    await _record_click(session, settings, account, note, like.activity_id, source)
    return like


async def unfavourite(
    session: AsyncSession, settings: Settings, account: Account, note: Note
) -> bool:
    actor = await local_actor(session, account.id or 0)
    like = await liked_by(session, note.id or 0, actor.uri)
    if like is None:
        return False
    await session.exec(delete(NoteLike).where(col(NoteLike.id) == like.id))
    await withdraw(session, type=FAVOURITE, note_id=note.id or 0, actor_id=actor.id or 0)
    if not note.is_local:
        author = await session.get(Actor, note.author_id)
        if author is not None:
            inner = build_like(like.activity_id, actor.uri, note.uri)
            undo = build_undo(f"{like.activity_id}/undo", actor.uri, inner)
            await deliver(session, actor, undo, [author.inbox])
    await remove_click(
        session, settings, donor_account_id=account.id or 0, source_ref=like.activity_id
    )
    return True
