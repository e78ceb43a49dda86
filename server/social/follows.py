"""Follows as the client API reads and makes them: follow and unfollow (local or remote),
followers and following, relationships, familiar followers, and the counts an account
shows. Each public function owns its session or transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import func
from sqlalchemy.sql import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.builders import build_follow, build_undo
from server.accounts.relations import (
    Relations,
    actor_of_account,
    blocks,
    relations_with,
    target,
    targets,
)
from server.db.engine import Database
from server.db.paging import Page, in_order, paged
from server.domain_errors import Forbidden
from server.federation.delivery import deliver
from server.models import Account, Actor, Follow, Note
from server.models.federation import FollowState
from server.render.mastodon import AccountCounts
from server.render.relationships import AccountView, RelationshipView
from server.social.interaction import follow as follow_remote
from server.social.notifications import FOLLOW, FOLLOW_REQUEST, notify

FOLLOW_ID = cast(ColumnElement[int], col(Follow.id))


@dataclass(frozen=True)
class Listed:
    """A page of accounts and the row ids the `Link` header pages by."""

    accounts: list[AccountView]
    cursor_ids: list[int]


async def counts_of(session: AsyncSession, actors: Sequence[Actor]) -> dict[int, AccountCounts]:
    """Followers, following and statuses (with the last one's date) of each actor, in three
    grouped queries."""
    ids = [actor.id for actor in actors if actor.id is not None]
    accepted = Follow.state == FollowState.accepted
    by_followee = select(Follow.followee_id, func.count()).where(
        accepted, col(Follow.followee_id).in_(ids)
    )
    by_follower = select(Follow.follower_id, func.count()).where(
        accepted, col(Follow.follower_id).in_(ids)
    )
    notes = select(Note.author_id, func.count(), func.max(Note.published_at)).where(
        col(Note.author_id).in_(ids), col(Note.deleted_at).is_(None)
    )
    followers = dict((await session.exec(by_followee.group_by(col(Follow.followee_id)))).all())
    following = dict((await session.exec(by_follower.group_by(col(Follow.follower_id)))).all())
    written = {
        row[0]: row for row in (await session.exec(notes.group_by(col(Note.author_id)))).all()
    }
    return {
        actor_id: AccountCounts(
            followers=int(followers.get(actor_id, 0)),
            following=int(following.get(actor_id, 0)),
            statuses=int(written[actor_id][1]) if actor_id in written else 0,
            last_status_at=written[actor_id][2] if actor_id in written else None,
        )
        for actor_id in ids
    }


async def views_of(session: AsyncSession, actors: Sequence[Actor]) -> list[AccountView]:
    """Each actor as an account: its local Account (if any) and its counts."""
    counts = await counts_of(session, actors)
    local_ids = [actor.account_id for actor in actors if actor.account_id is not None]
    query = select(Account).where(col(Account.id).in_(local_ids))
    accounts = {account.id: account for account in (await session.exec(query)).all()}
    return [
        AccountView(
            actor=actor,
            local=accounts.get(actor.account_id) if actor.account_id is not None else None,
            counts=counts.get(actor.id or 0, AccountCounts()),
        )
        for actor in actors
    ]


async def _follow_list(db: Database, ref: str, page: Page, *, followers: bool) -> Listed:
    async with db.session() as session:
        them = await target(session, ref)
        mine, other = (
            (col(Follow.followee_id), col(Follow.follower_id))
            if followers
            else (col(Follow.follower_id), col(Follow.followee_id))
        )
        query = select(FOLLOW_ID, Actor).join(Actor, col(Actor.id) == col(other))
        query = query.where(mine == them.id, Follow.state == FollowState.accepted)
        rows = in_order(
            list((await session.exec(paged(cast(Any, query), FOLLOW_ID, page))).all()), page
        )
        views = await views_of(session, [actor for _, actor in rows])
    return Listed(views, [int(row_id or 0) for row_id, _ in rows])


async def followers(db: Database, ref: str, page: Page) -> Listed:
    return await _follow_list(db, ref, page, followers=True)


async def following(db: Database, ref: str, page: Page) -> Listed:
    return await _follow_list(db, ref, page, followers=False)


async def _follow_row(session: AsyncSession, follower: Actor, followee: Actor) -> Follow | None:
    query = select(Follow).where(
        Follow.follower_id == follower.id, Follow.followee_id == followee.id
    )
    return (await session.exec(query)).first()


async def relationships(
    db: Database, account_id: int, refs: Sequence[str]
) -> list[RelationshipView]:
    """How the account stands with each account named (unknown ids left out)."""
    async with db.session() as session:
        me = await actor_of_account(session, account_id)
        return await _relationships(session, account_id, me, await targets(session, refs))


async def _relationships(
    session: AsyncSession, account_id: int, me: Actor, found: Sequence[tuple[str, Actor]]
) -> list[RelationshipView]:
    actors = [actor for _, actor in found]
    ids = [actor.id for actor in actors]
    mine = select(Follow.followee_id, Follow.state).where(
        Follow.follower_id == me.id, col(Follow.followee_id).in_(ids)
    )
    theirs = select(Follow.follower_id, Follow.state).where(
        Follow.followee_id == me.id, col(Follow.follower_id).in_(ids)
    )
    out = {key: FollowState(state) for key, state in (await session.exec(mine)).all()}
    back = {key: FollowState(state) for key, state in (await session.exec(theirs)).all()}
    rel = await relations_with(session, account_id, me, actors)
    return [_relationship(ref, actor.id or 0, actor, out, back, rel) for ref, actor in found]


def _relationship(
    ref: str,
    key: int,
    actor: Actor,
    out: dict[int, FollowState],
    back: dict[int, FollowState],
    rel: Relations,
) -> RelationshipView:
    return RelationshipView(
        id=ref,
        following=out.get(key) == FollowState.accepted,
        requested=out.get(key) == FollowState.pending,
        followed_by=back.get(key) == FollowState.accepted,
        requested_by=back.get(key) == FollowState.pending,
        blocking=key in rel.blocking,
        blocked_by=key in rel.blocked_by,
        muting=key in rel.muting,
        muting_notifications=key in rel.muting_notifications,
        domain_blocking=not actor.is_local and actor.domain in rel.domains,
    )


async def relationship(db: Database, account_id: int, ref: str) -> RelationshipView:
    async with db.session() as session:
        me = await actor_of_account(session, account_id)
        them = await target(session, ref)
        return (await _relationships(session, account_id, me, [(ref, them)]))[0]


async def _follow_local(session: AsyncSession, me: Actor, them: Actor) -> None:
    if await _follow_row(session, me, them) is not None:
        return
    owner = await session.get(Account, them.account_id or 0)
    locked = owner is not None and owner.locked
    session.add(
        Follow(
            follower_id=me.id or 0,
            followee_id=them.id or 0,
            activity_id=f"{me.uri}#follows/{uuid.uuid4().hex}",
            state=FollowState.pending if locked else FollowState.accepted,
        )
    )
    if them.account_id is not None:
        kind = FOLLOW_REQUEST if locked else FOLLOW
        await notify(session, account_id=them.account_id, type=kind, actor_id=me.id or 0)


async def follow(db: Database, account: Account, ref: str) -> RelationshipView:
    """Follow a local account (accepted at once unless it is locked) or a remote actor (a
    pending follow and a Follow delivered). Refused when either side blocks the other."""
    account_id = account.id or 0
    async with db.transaction() as session:
        me = await actor_of_account(session, account_id)
        them = await target(session, ref)
        if them.id == me.id:
            raise Forbidden("you cannot follow yourself")
        theirs = them.account_id is not None and await blocks(session, them.account_id, me)
        if theirs or await blocks(session, account_id, them):
            raise Forbidden("a block stands between you and this account")
        if them.is_local:
            await _follow_local(session, me, them)
    if not them.is_local:
        await follow_remote(db, account, them)
    return await relationship(db, account_id, ref)


async def follow_actor(db: Database, account: Account, actor: Actor) -> RelationshipView:
    """Follow an actor found by a handle or a URL, as following by its account id does."""
    local = actor.is_local and actor.account_id is not None
    return await follow(db, account, str(actor.account_id) if local else f"r{actor.id}")


async def unfollow(db: Database, account_id: int, ref: str) -> RelationshipView:
    """Stop following (or withdraw the request); a remote actor is sent an Undo Follow."""
    async with db.transaction() as session:
        me = await actor_of_account(session, account_id)
        them = await target(session, ref)
        row = await _follow_row(session, me, them)
        if row is not None:
            await session.delete(row)
            if not them.is_local:
                inner = build_follow(row.activity_id, me.uri, them.uri)
                undo = build_undo(f"{row.activity_id}/undo", me.uri, inner)
                await deliver(session, me, undo, [them.inbox])
    return await relationship(db, account_id, ref)


async def familiar_followers(
    db: Database, account_id: int, refs: Sequence[str]
) -> list[tuple[str, list[AccountView]]]:
    """For each account named: the accounts the asker follows that follow it too."""
    answer: list[tuple[str, list[AccountView]]] = []
    async with db.session() as session:
        me = await actor_of_account(session, account_id)
        mine = select(Follow.followee_id).where(
            Follow.follower_id == me.id, Follow.state == FollowState.accepted
        )
        for ref, them in await targets(session, refs):
            query = select(Actor).join(Follow, col(Follow.follower_id) == col(Actor.id))
            query = query.where(
                Follow.followee_id == them.id,
                Follow.state == FollowState.accepted,
                col(Actor.id).in_(mine),
            )
            actors = list((await session.exec(query.order_by(col(Actor.id)).limit(40))).all())
            answer.append((ref, await views_of(session, actors)))
    return answer
