"""What discovery (WebFinger, NodeInfo) and the instance actor's document read: each
function reads in a session of its own."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import col, select

from server.accounts.actors import instance_actor
from server.db.engine import Database
from server.domain_errors import NotFound
from server.models import Account, Actor, Note
from server.settings import Settings


@dataclass(frozen=True)
class InstanceCounts:
    users: int  # every account
    local_posts: int  # every note written here, deleted ones included


async def account_named(db: Database, username: str) -> Account | None:
    """The account with this username, compared case-insensitively (suspended or not)."""
    async with db.session() as session:
        query = select(Account).where(func.lower(Account.username) == username.lower())
        return (await session.exec(query)).first()


async def instance_counts(db: Database) -> InstanceCounts:
    async with db.session() as session:
        users = (await session.exec(select(func.count()).select_from(Account))).one()
        posts_query = select(func.count()).select_from(Note).where(col(Note.is_local).is_(True))
        posts = (await session.exec(posts_query)).one()
    return InstanceCounts(int(users), int(posts))


async def the_instance_actor(db: Database, settings: Settings) -> Actor:
    async with db.session() as session:
        row = await instance_actor(session, settings)
    if row is None:
        raise NotFound("no instance actor")
    return row
