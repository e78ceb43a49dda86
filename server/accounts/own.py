"""What a person does with their own account on the web and through the API (logging in,
their sessions, their password, their blocks and mutes), and the count the home page shows:
each function owns its session or transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import func
from sqlalchemy.sql import ColumnElement
from sqlmodel import col, select

from server.accounts import accounts, relations
from server.accounts.sessions import SessionView, end_sessions, live_sessions
from server.db.engine import Database
from server.db.paging import Page, in_order, paged
from server.domain_errors import NotFound
from server.models import Account, Actor, Block, DomainBlock, Follow, Mute
from server.models.federation import FollowState
from server.render.mastodon import AccountCounts
from server.render.relationships import RelationshipView
from server.settings import Settings
from server.social import follows
from server.social.follows import Listed, counts_of


async def account_count(db: Database) -> int:
    async with db.session() as session:
        return await accounts.count_accounts(session)


async def log_in(db: Database, login: str, password: str) -> Account | None:
    """The account for a username or e-mail and password, or None."""
    async with db.session() as session:
        return await accounts.authenticate(session, login, password)


async def sessions_of(db: Database, account_id: int) -> Sequence[SessionView]:
    async with db.session() as session:
        return await live_sessions(session, account_id)


async def end_all_sessions(db: Database, account_id: int) -> int:
    """End every browser session of the account; how many ended."""
    async with db.transaction() as session:
        return await end_sessions(session, account_id)


async def change_password(
    db: Database, account_id: int, current: str, new: str, session_id: int | None
) -> int:
    """Change the password (the current one first); the other sessions end: how many."""
    async with db.transaction() as session:
        return await accounts.change_password(session, account_id, current, new, session_id)


@dataclass(frozen=True)
class Credentials:
    """verify_credentials: the account, its counts and its pending follow requests."""

    account: Account
    counts: AccountCounts
    follow_requests: int


async def credentials(db: Database, account_id: int) -> Credentials:
    async with db.session() as session:
        account = await session.get(Account, account_id)
        if account is None:
            raise NotFound("no such account")
        me = await relations.actor_of_account(session, account_id)
        counts = (await counts_of(session, [me])).get(me.id or 0, AccountCounts())
        pending = select(func.count()).select_from(Follow)
        pending = pending.where(Follow.followee_id == me.id, Follow.state == FollowState.pending)
        return Credentials(account, counts, int((await session.exec(pending)).one()))


async def set_block(db: Database, account_id: int, ref: str, *, on: bool) -> RelationshipView:
    """Block (follows both ways end, a Block is delivered) or unblock an account."""
    async with db.transaction() as session:
        if on:
            await relations.block(session, account_id, ref)
        else:
            await relations.unblock(session, account_id, ref)
    return await follows.relationship(db, account_id, ref)


async def set_mute(
    db: Database, account_id: int, ref: str, *, on: bool, notifications: bool = True
) -> RelationshipView:
    async with db.transaction() as session:
        if on:
            await relations.mute(session, account_id, ref, notifications)
        else:
            await relations.unmute(session, account_id, ref)
    return await follows.relationship(db, account_id, ref)


async def _listed(
    db: Database, account_id: int, table: type[Block] | type[Mute], page: Page
) -> Listed:
    row_id = cast(ColumnElement[int], col(table.id))
    query = select(row_id, Actor).join(Actor, col(Actor.id) == col(table.target_id))
    query = query.where(col(table.account_id) == account_id)
    async with db.session() as session:
        rows = in_order(
            list((await session.exec(paged(cast(Any, query), row_id, page))).all()), page
        )
        views = await follows.views_of(session, [actor for _, actor in rows])
    return Listed(views, [int(found) for found, _ in rows])


async def blocked(db: Database, account_id: int, page: Page) -> Listed:
    return await _listed(db, account_id, Block, page)


async def muted(db: Database, account_id: int, page: Page) -> Listed:
    return await _listed(db, account_id, Mute, page)


async def blocked_domains(db: Database, account_id: int, page: Page) -> tuple[list[str], list[int]]:
    """The account's blocked domains, newest first, and their row ids for paging."""
    row_id = cast(ColumnElement[int], col(DomainBlock.id))
    query = select(row_id, DomainBlock.domain).where(DomainBlock.account_id == account_id)
    async with db.session() as session:
        rows = in_order(
            list((await session.exec(paged(cast(Any, query), row_id, page))).all()), page
        )
    return [domain for _, domain in rows], [int(found) for found, _ in rows]


async def set_domain_block(
    db: Database, settings: Settings, account_id: int, domain: str, *, on: bool
) -> None:
    async with db.transaction() as session:
        if on:
            await relations.block_domain(session, account_id, settings.domain, domain)
        else:
            await relations.unblock_domain(session, account_id, domain)
