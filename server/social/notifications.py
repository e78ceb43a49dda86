"""Notifications: what happened to a local account, stored as rows when it happens, read
by the client API (list, one, dismiss, clear, unread count) and the streaming API.

Mastodon's types (follow, follow_request, favourite, mention, reblog, status) and two of
Likewise's own, for money: `likewise.period_closed` (a donor's month was closed and sent)
and `likewise.funds_received` (money arrived for a creator). Clients that do not know a
type may crash on it, so the Likewise types are listed only when `types[]` asks for them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import delete, exists, func, or_, union, update
from sqlalchemy.sql import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.db.engine import Database
from server.db.paging import Page, in_order, paged
from server.db.upsert import insert_ignoring_duplicates
from server.domain_errors import NotFound
from server.models import (
    Account,
    Actor,
    Block,
    DomainBlock,
    Marker,
    Mute,
    Note,
    NoteLike,
    NoteShare,
    Notification,
)
from server.models.base import utcnow
from server.render.statuses import StatusView
from server.settings import Settings
from server.social.notes import with_applications
from server.social.timelines import status_views, viewer_of

FOLLOW = "follow"
FOLLOW_REQUEST = "follow_request"
FAVOURITE = "favourite"
MENTION = "mention"
REBLOG = "reblog"
STATUS = "status"
PERIOD_CLOSED = "likewise.period_closed"
FUNDS_RECEIVED = "likewise.funds_received"
LIKEWISE_TYPES = frozenset({PERIOD_CLOSED, FUNDS_RECEIVED})
UNREAD_CAP = 1000  # Mastodon caps the unread count too
NOTIFICATION_ID = cast(ColumnElement[int], col(Notification.id))


@dataclass(frozen=True)
class NotificationFilter:
    """What a listing asks for: `types` (None: every Mastodon type, no Likewise type),
    types excluded, and only those from one account (its API id: `5` or `r12`)."""

    types: frozenset[str] | None = None
    exclude: frozenset[str] = frozenset()
    from_account: str | None = None
    page: Page = field(default_factory=Page)


@dataclass(frozen=True)
class NotificationView:
    notification: Notification
    actor: Actor  # who did it (for a Likewise type, the recipient's own actor)
    account: Account | None  # the actor's local account, if it has one
    status: StatusView | None
    data: dict[str, Any]


async def notify(
    session: AsyncSession,
    *,
    account_id: int,
    type: str,
    actor_id: int,
    note_id: int | None = None,
    data: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
) -> Notification | None:
    """Tell the local account `account_id` that the actor `actor_id` did `type` (to the
    note `note_id`), in the caller's transaction. Nobody is told of their own doings; with
    `dedupe_key`, a second call with the same key adds nothing."""
    if type not in LIKEWISE_TYPES:
        actor = await session.get(Actor, actor_id)
        if actor is None or actor.account_id == account_id:
            return None
    if dedupe_key is not None:
        query = select(Notification).where(Notification.dedupe_key == dedupe_key)
        existing = (await session.exec(query)).first()
        if existing is not None:
            return existing
    row = Notification(
        account_id=account_id,
        type=type,
        actor_id=actor_id,
        note_id=note_id,
        data=json.dumps(data) if data else "",
        dedupe_key=dedupe_key,
    )
    session.add(row)
    await session.flush()
    return row


async def notify_from(
    session: AsyncSession, *, account_id: int | None, type: str, actor_uri: str, note: Note | None
) -> Notification | None:
    """`notify` for an actor known by its URI (an incoming activity's sender), when the
    recipient is a local account at all."""
    if account_id is None:
        return None
    actor = (await session.exec(select(Actor).where(Actor.uri == actor_uri))).first()
    if actor is None or actor.id is None:
        return None
    note_id = note.id if note is not None else None
    key = f"{type}:{note_id}:{actor.id}" if type in (FAVOURITE, REBLOG) else None
    return await notify(
        session, account_id=account_id, type=type, actor_id=actor.id, note_id=note_id,
        dedupe_key=key,
    )  # fmt: skip


async def notify_local_mentions(
    session: AsyncSession, note: Note, mentioned: Mapping[str, Actor]
) -> None:
    """A mention notification for each local account a local note names."""
    for actor in mentioned.values():
        if actor.is_local and actor.account_id is not None:
            await notify(
                session, account_id=actor.account_id, type=MENTION, actor_id=note.author_id,
                note_id=note.id, dedupe_key=f"{MENTION}:{note.id}:{actor.account_id}",
            )  # fmt: skip


async def notify_reblog(session: AsyncSession, reblog: Note) -> None:
    """The reblogged note's local author is told who reblogged it (once)."""
    shared = await session.get(Note, reblog.reblog_of_id or 0)
    if shared is None or shared.account_id is None:
        return
    await notify(
        session, account_id=shared.account_id, type=REBLOG, actor_id=reblog.author_id,
        note_id=shared.id, dedupe_key=f"{REBLOG}:{shared.id}:{reblog.author_id}",
    )  # fmt: skip


async def notify_likes(session: AsyncSession, activity_ids: Sequence[str]) -> None:
    """Favourite notifications for Likes recorded in bulk (the inbox's hot path): one
    statement to find them, one to insert what is new."""
    if not activity_ids:
        return
    query = (
        select(NoteLike.note_id, Note.account_id, Actor.id)
        .join(Note, col(Note.id) == col(NoteLike.note_id))
        .join(Actor, col(Actor.uri) == col(NoteLike.actor_uri))
        .where(col(NoteLike.activity_id).in_(activity_ids), col(Note.account_id).is_not(None))
    )
    now = utcnow()
    rows = [
        {
            "account_id": account_id,
            "type": FAVOURITE,
            "actor_id": actor_id,
            "note_id": note_id,
            "data": "",
            "dedupe_key": f"{FAVOURITE}:{note_id}:{actor_id}",
            "created_at": now,
        }
        for note_id, account_id, actor_id in (await session.exec(query)).all()
    ]
    if rows:
        table = Notification.__table__  # type: ignore[attr-defined]
        await session.exec(insert_ignoring_duplicates(session, table).values(rows))


async def withdraw(session: AsyncSession, *, type: str, note_id: int, actor_id: int) -> None:
    """A favourite or reblog taken back takes its notification with it."""
    key = f"{type}:{note_id}:{actor_id}"
    await session.exec(delete(Notification).where(col(Notification.dedupe_key) == key))


async def withdraw_undone(session: AsyncSession, type: str, actor_uri: str) -> None:
    """The actor's favourite (or reblog) notifications whose like (or share) was undone."""
    actor_id = select(Actor.id).where(Actor.uri == actor_uri).scalar_subquery()
    kept = NoteLike if type == FAVOURITE else NoteShare
    still = exists().where(
        col(kept.note_id) == col(Notification.note_id), col(kept.actor_uri) == actor_uri
    )
    await session.exec(
        delete(Notification).where(
            col(Notification.type) == type, col(Notification.actor_id) == actor_id, ~still
        )
    )


def _silenced(account_id: int) -> Any:
    """The actors whose notifications the account does not get: those it blocks, those on
    domains it blocks, those it muted with their notifications."""
    blocked = select(Block.target_id).where(Block.account_id == account_id)
    muted = select(Mute.target_id).where(Mute.account_id == account_id, col(Mute.notifications))
    domains = select(DomainBlock.domain).where(DomainBlock.account_id == account_id)
    on_domains = select(Actor.id).where(col(Actor.domain).in_(domains))
    return union(blocked, muted, on_domains)


def _filtered(account_id: int, wanted: NotificationFilter) -> Any:
    query = (
        select(Notification)
        .outerjoin(Note, col(Note.id) == col(Notification.note_id))
        .where(
            Notification.account_id == account_id,
            col(Notification.dismissed_at).is_(None),
            or_(col(Notification.note_id).is_(None), col(Note.deleted_at).is_(None)),
            col(Notification.actor_id).not_in(_silenced(account_id)),
        )
    )
    if wanted.types is not None:
        query = query.where(col(Notification.type).in_(wanted.types))
    else:
        query = query.where(col(Notification.type).not_in(LIKEWISE_TYPES))
    if wanted.exclude:
        query = query.where(col(Notification.type).not_in(wanted.exclude))
    return query


async def _from_actor(session: AsyncSession, ref: str) -> int:
    """The actor id an API account id names (`r12` a remote actor, `5` a local account)."""
    if ref.startswith("r") and ref[1:].isdigit():
        return int(ref[1:])
    if not ref.isdigit():
        return 0
    query = select(Actor.id).where(Actor.account_id == int(ref))
    return (await session.exec(query)).first() or 0


async def _views(
    session: AsyncSession, settings: Settings, rows: Sequence[Notification], viewer_id: int
) -> list[NotificationView]:
    if not rows:
        return []
    actor_ids = {row.actor_id for row in rows}
    actors = {
        actor.id: actor
        for actor in (await session.exec(select(Actor).where(col(Actor.id).in_(actor_ids)))).all()
    }
    account_ids = {actor.account_id for actor in actors.values() if actor.account_id}
    query = select(Account).where(col(Account.id).in_(account_ids))
    accounts = {account.id: account for account in (await session.exec(query)).all()}
    note_ids = {row.note_id for row in rows if row.note_id is not None}
    notes = (await session.exec(select(Note).where(col(Note.id).in_(note_ids)))).all()
    viewer = await viewer_of(session, viewer_id)
    statuses = {
        int(view.note.id or 0): view
        for view in await with_applications(
            session, await status_views(session, settings, list(notes), viewer), viewer_id
        )
    }
    views = []
    for row in rows:
        actor = actors[row.actor_id]
        views.append(
            NotificationView(
                notification=row,
                actor=actor,
                account=accounts.get(actor.account_id) if actor.account_id else None,
                status=statuses.get(row.note_id) if row.note_id is not None else None,
                data=json.loads(row.data) if row.data else {},
            )
        )
    return views


async def listing(
    db: Database, settings: Settings, account_id: int, wanted: NotificationFilter
) -> list[NotificationView]:
    """The account's notifications that `wanted` asks for, newest first."""
    async with db.session() as session:
        query = _filtered(account_id, wanted)
        if wanted.from_account is not None:
            actor_id = await _from_actor(session, wanted.from_account)
            query = query.where(Notification.actor_id == actor_id)
        found = await session.exec(paged(query, NOTIFICATION_ID, wanted.page))
        rows = cast(list[Notification], list(found.all()))
        return await _views(session, settings, in_order(rows, wanted.page), account_id)


async def since(
    session: AsyncSession, settings: Settings, account_id: int, after_id: int, limit: int = 20
) -> list[NotificationView]:
    """Notifications newer than `after_id` (of Mastodon's types), oldest first: what a
    stream sends next."""
    query = _filtered(account_id, NotificationFilter()).where(col(Notification.id) > after_id)
    rows = (await session.exec(query.order_by(col(Notification.id)).limit(limit))).all()
    return await _views(session, settings, list(rows), account_id)


async def newest_id(session: AsyncSession, account_id: int) -> int:
    query = select(func.max(Notification.id)).where(Notification.account_id == account_id)
    return int((await session.exec(query)).one() or 0)


async def one(
    db: Database, settings: Settings, account_id: int, notification_id: int
) -> NotificationView:
    async with db.session() as session:
        row = await session.get(Notification, notification_id)
        if row is None or row.account_id != account_id or row.dismissed_at is not None:
            raise NotFound("no such notification")
        return (await _views(session, settings, [row], account_id))[0]


async def dismiss(db: Database, account_id: int, notification_id: int) -> None:
    async with db.transaction() as session:
        row = await session.get(Notification, notification_id)
        if row is None or row.account_id != account_id:
            raise NotFound("no such notification")
        row.dismissed_at = row.dismissed_at or utcnow()
        session.add(row)


async def clear(db: Database, account_id: int) -> None:
    async with db.transaction() as session:
        await session.exec(
            update(Notification)
            .where(col(Notification.account_id) == account_id)
            .where(col(Notification.dismissed_at).is_(None))
            .values(dismissed_at=utcnow())
        )


async def unread_count(db: Database, account_id: int, wanted: NotificationFilter) -> int:
    """How many notifications `wanted` lists newer than the account's `notifications`
    marker (all of them without one; at most UNREAD_CAP). Dismissed ones are read."""
    async with db.session() as session:
        marker = select(Marker.last_read_id).where(
            Marker.account_id == account_id, Marker.timeline == "notifications"
        )
        read = (await session.exec(marker)).first() or ""
        read_up_to = int(read) if read.isdigit() and len(read) < 19 else 0
        query = _filtered(account_id, wanted).where(col(Notification.id) > read_up_to)
        ids = query.with_only_columns(col(Notification.id)).limit(UNREAD_CAP).subquery()
        return int((await session.exec(select(func.count()).select_from(ids))).one())


async def notify_mentions(session: AsyncSession, note: Note, author: Actor, tags: object) -> None:
    """A mention notification for each local account a new note's Mention tags name."""
    items = tags if isinstance(tags, list) else [tags]
    uris = {
        str(tag["href"])
        for tag in items
        if isinstance(tag, dict) and tag.get("type") == "Mention" and tag.get("href")
    }
    if not uris or author.id is None:
        return
    query = select(Actor).where(col(Actor.uri).in_(uris), col(Actor.is_local).is_(True))
    for actor in (await session.exec(query)).all():
        if actor.account_id is not None:
            await notify(
                session, account_id=actor.account_id, type=MENTION, actor_id=author.id,
                note_id=note.id, dedupe_key=f"{MENTION}:{note.id}:{actor.account_id}",
            )  # fmt: skip
