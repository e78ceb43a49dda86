"""Follow requests of a locked account, as the client API lists and answers them.

Requesters carry the Account ids the rest of the API uses (a local account's row id, `r`
and the actor id for a remote one), so the id a `follow_request` notification names is
the one `authorize` and `reject` take. A remote requester is sent the Accept or Reject;
a local one's follow changes here and nothing is delivered. Either way the request's
`follow_request` notification is withdrawn."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.accounts.relations import actor_of_account, target
from server.db.engine import Database
from server.db.paging import Page, in_order, paged
from server.domain_errors import NotFound
from server.models import Account, Actor, Follow, Notification
from server.models.federation import FollowState
from server.render.relationships import RelationshipView
from server.social.follows import FOLLOW_ID, Listed, relationship, views_of
from server.social.interaction import answer_follow_request
from server.social.notifications import FOLLOW_REQUEST
from server.states import advance


async def pending(db: Database, account_id: int, page: Page) -> Listed:
    """Who asks to follow the account, newest request first (paged by the follow's id)."""
    async with db.reading() as session:
        me = await actor_of_account(session, account_id)
        query = (
            select(FOLLOW_ID, Actor)
            .join(Actor, col(Actor.id) == col(Follow.follower_id))
            .where(Follow.followee_id == me.id, Follow.state == FollowState.pending)
        )
        rows = in_order(
            list((await session.exec(paged(cast(Any, query), FOLLOW_ID, page))).all()), page
        )
        views = await views_of(session, [actor for _, actor in rows])
    return Listed(views, [int(row_id or 0) for row_id, _ in rows])


async def _answer_local(session: AsyncSession, me: Actor, them: Actor, accept: bool) -> None:
    query = select(Follow).where(
        Follow.follower_id == them.id,
        Follow.followee_id == me.id,
        Follow.state == FollowState.pending,
    )
    row = (await session.exec(query)).first()
    if row is None:
        raise NotFound("no such follow request")
    if accept:
        advance(row, FollowState.accepted)
        session.add(row)
    else:
        await session.delete(row)


async def answer(db: Database, account: Account, ref: str, *, accept: bool) -> RelationshipView:
    """Accept or reject the follow request of the account `ref` names (`5` or `r12`);
    the answer is how the two now stand."""
    account_id = account.id or 0
    async with db.transaction() as session:
        me = await actor_of_account(session, account_id)
        them = await target(session, ref)
        if them.is_local:
            await _answer_local(session, me, them, accept)
            await _withdraw_notification(session, account_id, them)
    if not them.is_local:
        await answer_follow_request(db, account, them.id or 0, accept)
        async with db.transaction() as session:
            await _withdraw_notification(session, account_id, them)
    return await relationship(db, account_id, ref)


async def _withdraw_notification(session: AsyncSession, account_id: int, them: Actor) -> None:
    """An answered request's notification goes with it: its buttons would act on
    nothing."""
    await session.exec(
        delete(Notification).where(
            col(Notification.account_id) == account_id,
            col(Notification.type) == FOLLOW_REQUEST,
            col(Notification.actor_id) == them.id,
        )
    )
