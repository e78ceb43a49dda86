"""What a verified incoming activity does, run by the worker once per activity id."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy import select as sa_select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.builders import build_accept
from activitypub.errors import ActivityPubError
from activitypub.vocab import (
    NOTE_TYPES,
    Activity,
    EmbeddedObject,
    note_author,
    parse_activity,
    parse_actor,
)
from server.accounts import relations
from server.accounts.actors import instance_actor_uri
from server.connections.linked import count_linked_likes, uncount_linked_like
from server.domain_errors import ServiceError
from server.donations.likes_bulk import StoredActivity, process_likes, simple_like_target
from server.escrow.opt_outs import addresses_us, lift_block, opt_out, says_stop
from server.federation.delivery import deliver
from server.federation.inbox import deliveries_arriving, enqueue_processing
from server.federation.remote import apply_actor_document
from server.jobs.handler import JobContext
from server.jobs.queue import ClaimedJob
from server.models import Account, Actor, Follow, InboxItem, Note, NoteLike, NoteShare
from server.models.base import utcnow
from server.models.federation import FollowState, InboxState
from server.models.notices import OptOutVia
from server.settings import Settings
from server.social.notes import store_remote_note
from server.social.notifications import (
    FAVOURITE,
    FOLLOW,
    FOLLOW_REQUEST,
    REBLOG,
    notify,
    notify_from,
    notify_likes,
    notify_mentions,
    withdraw_undone,
)
from server.social.reblogs import remove_announce, store_announce
from server.states import advance

log = logging.getLogger("likewise.federation")


class Ignored(Exception):
    """The activity is understood but does nothing here (unknown target, wrong author...)."""


@dataclass(frozen=True)
class Received:
    session: AsyncSession
    settings: Settings
    activity: Activity


Handler = Callable[[Received], Awaitable[None]]


async def _actor(session: AsyncSession, uri: str | None) -> Actor:
    actor = (await session.exec(select(Actor).where(Actor.uri == (uri or "")))).first()
    if actor is None:
        raise Ignored(f"unknown actor {uri}")
    return actor


async def _local_note(session: AsyncSession, uri: str | None) -> Note:
    query = select(Note).where(Note.uri == (uri or ""), col(Note.deleted_at).is_(None))
    note = (await session.exec(query)).first()
    if note is None or not note.is_local:
        raise Ignored(f"{uri} is not one of our notes")
    return note


async def handle_follow(r: Received) -> None:
    followee = await _actor(r.session, r.activity.object_id)
    if not followee.is_local or followee.account_id is None:
        raise Ignored("follow of a non-local actor")
    follower = await _actor(r.session, r.activity.actor_id)
    account = await r.session.get(Account, followee.account_id)
    query = select(Follow).where(
        Follow.follower_id == follower.id, Follow.followee_id == followee.id
    )
    follow = (await r.session.exec(query)).first() or Follow(
        follower_id=follower.id or 0, followee_id=followee.id or 0, activity_id=r.activity.id
    )
    follow.activity_id = r.activity.id
    locked = account is not None and account.locked
    advance(follow, FollowState.pending if locked else FollowState.accepted)
    r.session.add(follow)
    kind = FOLLOW_REQUEST if locked else FOLLOW
    await notify(r.session, account_id=followee.account_id, type=kind, actor_id=follower.id or 0)
    if not locked:
        accept_id = f"{followee.uri}#accepts/follows/{uuid.uuid4().hex}"
        accept = build_accept(accept_id, followee.uri, r.activity.data)
        await deliver(r.session, followee, accept, [follower.inbox])


async def _follow_answered(r: Received, state: FollowState) -> None:
    inner = r.activity.object
    query = select(Follow).join(Actor, col(Actor.id) == col(Follow.followee_id))
    query = query.where(Actor.uri == r.activity.actor_id)
    if isinstance(inner, EmbeddedObject) and inner.id is None:
        follower = await _actor(r.session, inner.actor_id)
        query = query.where(Follow.follower_id == follower.id)
    else:
        query = query.where(Follow.activity_id == (r.activity.object_id or ""))
    follow = (await r.session.exec(query)).first()
    if follow is None:
        raise Ignored("no such follow")
    advance(follow, state)
    r.session.add(follow)


async def handle_accept(r: Received) -> None:
    await _follow_answered(r, FollowState.accepted)


async def handle_reject(r: Received) -> None:
    await _follow_answered(r, FollowState.rejected)


async def _undo_follow(r: Received, inner: EmbeddedObject | None) -> None:
    follower = await _actor(r.session, r.activity.actor_id)
    query = delete(Follow).where(col(Follow.follower_id) == follower.id)
    if inner is not None and inner.object_id:
        followee = await _actor(r.session, inner.object_id)
        query = query.where(col(Follow.followee_id) == followee.id)
    else:
        query = query.where(col(Follow.activity_id) == r.activity.object_id)
    await r.session.exec(query)


async def _undo_like(r: Received, inner: EmbeddedObject | None) -> None:
    inner_id = r.activity.object_id
    query = delete(NoteLike).where(
        col(NoteLike.activity_id) == inner_id, col(NoteLike.actor_uri) == r.activity.actor_id
    )
    result = await r.session.exec(query)
    if result.rowcount or inner is None or not inner.object_id:
        return
    note = await _local_note(r.session, inner.object_id)
    await r.session.exec(
        delete(NoteLike).where(
            col(NoteLike.note_id) == note.id, col(NoteLike.actor_uri) == r.activity.actor_id
        )
    )


async def _undo_announce(r: Received, inner: EmbeddedObject | None) -> None:
    await remove_announce(r.session, r.activity.actor_id, r.activity.object_id or "")
    await r.session.exec(
        delete(NoteShare).where(
            col(NoteShare.activity_id) == r.activity.object_id,
            col(NoteShare.actor_uri) == r.activity.actor_id,
        )
    )


async def handle_undo(r: Received) -> None:
    inner = r.activity.object if isinstance(r.activity.object, EmbeddedObject) else None
    kind = inner.type if inner is not None else None
    if inner is not None and inner.actor_id not in (None, r.activity.actor_id):
        raise Ignored("undo of someone else's activity")
    if kind == "Follow":
        await _undo_follow(r, inner)
    elif kind == "Block" and inner is not None:
        if inner.object_id != instance_actor_uri(r.settings):
            raise Ignored("undo of a block of an actor other than the instance actor")
        await lift_block(r.session, r.activity.actor_id)
    elif kind is None and await lift_block(
        r.session, r.activity.actor_id, r.activity.object_id or ""
    ):
        return  # the Undo named a Block of our instance actor by its id
    elif kind in ("Like", "EmojiReact", None):
        await _undo_like(r, inner)
        await uncount_linked_like(
            r.session, r.settings, r.activity.actor_id, r.activity.object_id or ""
        )
        await withdraw_undone(r.session, FAVOURITE, r.activity.actor_id)
    elif kind == "Announce":
        await _undo_announce(r, inner)
        await withdraw_undone(r.session, REBLOG, r.activity.actor_id)
    else:
        raise Ignored(f"undo of {kind}")


async def _record_like(r: Received, kind: str) -> None:
    note = await _local_note(r.session, r.activity.object_id)
    query = select(NoteLike).where(
        NoteLike.note_id == note.id, NoteLike.actor_uri == r.activity.actor_id
    )
    if (await r.session.exec(query)).first() is not None:
        raise Ignored("already liked")
    like = NoteLike(
        note_id=note.id or 0, actor_uri=r.activity.actor_id, activity_id=r.activity.id, kind=kind
    )
    r.session.add(like)
    await r.session.flush()
    actor_uri = r.activity.actor_id
    await notify_from(
        r.session, account_id=note.account_id, type=FAVOURITE, actor_uri=actor_uri, note=note
    )


async def handle_like(r: Received) -> None:
    await _record_like(r, "Like")
    like = (r.activity.actor_id, r.activity.object_id or "", r.activity.id)
    await count_linked_likes(r.session, r.settings, [like])  # a donor's linked actor


async def handle_emojireact(r: Received) -> None:
    if not r.settings.emoji_reacts:
        raise Ignored("EmojiReact is not counted on this instance")
    await _record_like(r, "EmojiReact")


async def handle_announce(r: Received) -> None:
    kept = await store_announce(
        r.session, r.activity.actor_id, r.activity.id, r.activity.object_id or ""
    )
    try:
        note = await _local_note(r.session, r.activity.object_id)
    except Ignored:
        if kept is None:
            raise
        return  # a followed actor's reblog of a remote note: for the home timelines only
    query = select(NoteShare).where(
        NoteShare.note_id == note.id, NoteShare.actor_uri == r.activity.actor_id
    )
    if (await r.session.exec(query)).first() is not None:
        raise Ignored("already shared")
    r.session.add(
        NoteShare(note_id=note.id or 0, actor_uri=r.activity.actor_id, activity_id=r.activity.id)
    )
    actor_uri = r.activity.actor_id
    await notify_from(
        r.session, account_id=note.account_id, type=REBLOG, actor_uri=actor_uri, note=note
    )


def _authored(activity: Activity, note: EmbeddedObject) -> Mapping[str, object]:
    """The note's document; without `attributedTo`, the activity's (verified) actor is its
    author when the note lives on the actor's origin (as Mastodon reads it)."""
    if note.data.get("attributedTo") is not None:
        return note.data
    if note_author(activity, note) is None:
        raise Ignored("a note without attributedTo, not on its sender's origin")
    return {**note.data, "attributedTo": activity.actor_id}


async def handle_create(r: Received) -> None:
    inner = r.activity.object
    if not isinstance(inner, EmbeddedObject) or inner.type not in NOTE_TYPES:
        raise Ignored("create of something other than an inline note")
    author = await _actor(r.session, r.activity.actor_id)
    if addresses_us(r.settings, inner.data) and says_stop(inner.content or ""):
        await opt_out(r.session, author.uri, OptOutVia.reply, r.activity.id)
    note = await store_remote_note(r.session, author, _authored(r.activity, inner), create=True)
    if note is not None:
        await notify_mentions(r.session, note, author, inner.data.get("tag"))


async def handle_block(r: Received) -> None:
    """A Block of our instance actor: no more notices to this actor (escrow/opt_outs.py)."""
    if r.activity.object_id != instance_actor_uri(r.settings):
        raise Ignored("block of an actor other than the instance actor")
    await opt_out(r.session, r.activity.actor_id, OptOutVia.block, r.activity.id)


async def handle_update(r: Received) -> None:
    inner = r.activity.object
    if not isinstance(inner, EmbeddedObject):
        raise Ignored("update without an inline object")
    author = await _actor(r.session, r.activity.actor_id)
    if inner.type in NOTE_TYPES:
        await store_remote_note(r.session, author, _authored(r.activity, inner), create=False)
    elif inner.id == author.uri and not author.is_local:
        apply_actor_document(author, parse_actor(inner.data))
        r.session.add(author)
    else:
        raise Ignored(f"update of {inner.type}")


async def handle_delete(r: Received) -> None:
    target = r.activity.object_id
    author = await _actor(r.session, r.activity.actor_id)
    if target == author.uri and not author.is_local:
        author.tombstoned_at = utcnow()
        author.public_key_pem = ""
        r.session.add(author)
        await r.session.exec(
            delete(Follow).where(
                (col(Follow.follower_id) == author.id) | (col(Follow.followee_id) == author.id)
            )
        )
        return
    note = (await r.session.exec(select(Note).where(Note.uri == (target or "")))).first()
    if note is None or note.author_id != author.id or note.is_local:
        raise Ignored("delete of an unknown note")
    note.deleted_at = utcnow()
    note.content = ""
    r.session.add(note)


HANDLERS: dict[str, Handler] = {
    "Follow": handle_follow,
    "Accept": handle_accept,
    "Reject": handle_reject,
    "Undo": handle_undo,
    "Like": handle_like,
    "EmojiReact": handle_emojireact,
    "Announce": handle_announce,
    "Create": handle_create,
    "Update": handle_update,
    "Delete": handle_delete,
    "Block": handle_block,
}


# Activities whose `object` may be an array, each object handled as if sent alone. A Like,
# Announce or Follow has one target (its id names one like, share or follow).
EACH_OBJECT = frozenset({"Accept", "Reject", "Undo", "Create", "Update", "Delete", "Block"})


async def _run(r: Received, handler: Handler) -> None:
    objects = r.activity.objects
    if len(objects) <= 1:
        await handler(r)
        return
    if r.activity.type not in EACH_OBJECT:
        raise Ignored(f"a {r.activity.type} of {len(objects)} objects")
    reasons = []
    for item in objects:
        try:
            async with r.session.begin_nested():
                await handler(replace(r, activity=r.activity.about(item)))
        except Ignored as reason:
            reasons.append(str(reason))
    if len(reasons) == len(objects):
        raise Ignored("; ".join(reasons))


async def process_item(session: AsyncSession, settings: Settings, item: InboxItem) -> None:
    """Run one stored activity; its state says what happened, in the same transaction."""
    try:
        async with session.begin_nested():
            activity = parse_activity(json.loads(item.body))
            handler = HANDLERS.get(activity.type)
            if handler is None:
                raise Ignored(f"{activity.type} is not handled")
            if refused := await relations.refusal(session, activity):
                raise Ignored(refused)
            await _run(Received(session, settings, activity), handler)
        advance(item, InboxState.done)
    except Ignored as reason:
        advance(item, InboxState.ignored)
        item.error = str(reason)
    except (ActivityPubError, ServiceError, ValueError) as error:
        advance(item, InboxState.failed)
        item.error = str(error)
    item.processed_at = utcnow()
    session.add(item)


PROCESS_CHUNK = 250
BUCKET_FOLLOW_UP = 1.0
# While deliveries arrive, processing waits (up to LONGEST_WAIT for the oldest pending
# item), so the inbox's group commits do not queue behind it for SQLite's write lock.
INBOX_QUIET = timedelta(seconds=0.25)
LONGEST_WAIT = timedelta(seconds=5)


async def _process(context: JobContext, ids: list[int] | None) -> int:
    """One chunk in one transaction: plain Likes in bulk, the rest one by one."""
    table = InboxItem.__table__  # type: ignore[attr-defined]
    query = sa_select(
        table.c.id, table.c.activity_id, table.c.actor_uri, table.c.type, table.c.body
    ).where(table.c.state == InboxState.pending)
    if ids is not None:
        query = query.where(table.c.id.in_(ids))
    query = query.order_by(table.c.id).limit(PROCESS_CHUNK)
    async with context.db.transaction() as session:
        connection = await session.connection()
        rows = [StoredActivity(*row) for row in (await connection.execute(query)).all()]
        targets = [(row, simple_like_target(row)) for row in rows]
        # A blocked actor's Like goes the one-by-one way, which drops it.
        targets = await relations.likes_not_refused(session, targets, lambda row: row.actor_uri)
        plain = [(row, target) for row, target in targets if target is not None]
        await process_likes(session, plain)
        linked = [(row.actor_uri, target, row.activity_id) for row, target in plain]
        await count_linked_likes(session, context.settings, linked)  # donors' linked actors
        await notify_likes(session, [row.activity_id for row, _ in plain])
        others = [row.id for row, target in targets if target is None]
        if others:
            items = select(InboxItem).where(col(InboxItem.id).in_(others))
            for item in (await session.exec(items.order_by(col(InboxItem.id)))).all():
                await process_item(session, context.settings, item)
    return len(rows)


async def handle_inbox_process(context: JobContext, job: ClaimedJob) -> None:
    """Process the job's items, or (bucketed job) every pending item, chunk by chunk,
    giving way to deliveries between chunks."""
    if not job.payload.get("pending"):
        await _process(context, [int(value) for value in job.payload.get("ids", [])])
        return
    processed, deferred = 0, False
    while not (deferred := await deliveries_arriving(context.db, INBOX_QUIET, LONGEST_WAIT)):
        count = await _process(context, None)
        if count == 0:
            break
        processed += count
    if processed or deferred:
        # What committed while this ran, or waits for a quiet inbox, is the next slice's.
        async with context.db.transaction() as session:
            await enqueue_processing(session, BUCKET_FOLLOW_UP)
