"""Blocks, mutes and domain blocks of local accounts, and what honours them: the inbox
drops a blocked actor's likes, shares and follows of the blocker (and posts nobody here
still wants), and timelines leave out `hidden_actor_ids`.

Account ids are Mastodon's: a local account's row id, or `r<actor id>` for a remote actor.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import delete, exists, literal, or_, union
from sqlalchemy.sql import Select
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.builders import build_undo
from activitypub.jsonld import ACTIVITYSTREAMS_CONTEXT
from activitypub.vocab import Activity, EmbeddedObject
from server.domain_errors import NotFound, ValidationFailed
from server.federation.delivery import deliver
from server.federation.origins import host_of
from server.models import Actor, Block, DomainBlock, Follow, Mute, Note
from server.models.federation import FollowState

T = TypeVar("T")


@dataclass(frozen=True)
class Relations:
    """What one local account has set about a set of actors (ids of `Actor` rows)."""

    blocking: frozenset[int]
    blocked_by: frozenset[int]
    muting: frozenset[int]
    muting_notifications: frozenset[int]
    domains: frozenset[str]


async def actor_of_account(session: AsyncSession, account_id: int) -> Actor:
    actor = (await session.exec(select(Actor).where(Actor.account_id == account_id))).first()
    if actor is None:
        raise NotFound("this account has no actor")
    return actor


async def target(session: AsyncSession, account_ref: str) -> Actor:
    """The actor a Mastodon account id names: `12` (local account) or `r34` (remote)."""
    remote = account_ref.startswith("r")
    row_id = _row_id(account_ref.removeprefix("r"))
    if row_id is None:
        raise NotFound("no such account")
    if remote:
        actor = await session.get(Actor, row_id)
        if actor is None or actor.is_local or actor.tombstoned_at is not None:
            raise NotFound("no such account")
        return actor
    query = select(Actor).where(Actor.account_id == row_id)
    actor = (await session.exec(query)).first()
    if actor is None:
        raise NotFound("no such account")
    return actor


MAX_ROW_ID = 2**31 - 1  # ids are INTEGER columns (int32 on PostgreSQL)


def _row_id(text: str) -> int | None:
    """A row id spelt in ASCII digits within an id column's range, else None."""
    if not (0 < len(text) <= 10 and text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value <= MAX_ROW_ID else None


async def targets(session: AsyncSession, refs: Sequence[str]) -> list[tuple[str, Actor]]:
    """The actors many account ids name, in two queries, in the order asked (unknown ids,
    and ids given twice, left out)."""
    local: dict[str, int] = {}
    remote: dict[str, int] = {}
    for ref in dict.fromkeys(refs):
        row_id = _row_id(ref.removeprefix("r"))
        if row_id is not None:
            (remote if ref.startswith("r") else local)[ref] = row_id
    by_account = select(Actor).where(col(Actor.account_id).in_(local.values()))
    by_id = select(Actor).where(
        col(Actor.id).in_(remote.values()),
        col(Actor.is_local).is_(False),
        col(Actor.tombstoned_at).is_(None),
    )
    accounts = {a.account_id: a for a in (await session.exec(by_account)).all()}
    actors = {a.id: a for a in (await session.exec(by_id)).all()}
    found = [(ref, accounts.get(row_id)) for ref, row_id in local.items()]
    found += [(ref, actors.get(row_id)) for ref, row_id in remote.items()]
    order = {ref: n for n, ref in enumerate(dict.fromkeys(refs))}
    return sorted(
        ((ref, actor) for ref, actor in found if actor is not None), key=lambda p: order[p[0]]
    )


def hidden_authors(account_id: int) -> Select[Any]:
    """A subquery of the actor ids whose posts the account does not see in its timelines:
    blocked, muted, or on a blocked domain. Use as `col(Note.author_id).not_in(...)`."""
    blocked = select(Block.target_id).where(Block.account_id == account_id)
    muted = select(Mute.target_id).where(Mute.account_id == account_id)
    domains = select(DomainBlock.domain).where(DomainBlock.account_id == account_id)
    on_domains = select(Actor.id).where(col(Actor.domain).in_(domains))
    return select(union(blocked, muted, on_domains).subquery().c[0])


async def hidden_actor_ids(session: AsyncSession, account_id: int) -> set[int]:
    """The ids of the actors whose posts `account_id` does not see (see `hidden_authors`)."""
    blocked = select(Block.target_id).where(Block.account_id == account_id)
    muted = select(Mute.target_id).where(Mute.account_id == account_id)
    domains = select(DomainBlock.domain).where(DomainBlock.account_id == account_id)
    on_domains = select(Actor.id).where(col(Actor.domain).in_(domains))
    found: set[int] = set()
    for query in (blocked, muted):
        found.update((await session.exec(query)).all())
    found.update(i for i in (await session.exec(on_domains)).all() if i is not None)
    return found


def _blocks_clause(account_id: Any, actor_id: Any, domain: Any) -> Any:
    by_actor = exists().where(col(Block.account_id) == account_id, col(Block.target_id) == actor_id)
    by_domain = exists().where(
        col(DomainBlock.account_id) == account_id, col(DomainBlock.domain) == domain
    )
    return or_(by_actor, by_domain)


async def blocks(session: AsyncSession, account_id: int, actor: Actor) -> bool:
    """Whether the account blocks the actor, by name or by its domain."""
    clause = _blocks_clause(account_id, actor.id, actor.domain)
    return bool((await session.exec(select(literal(True)).where(clause))).first())


async def _blockers_of(session: AsyncSession, actor_uri: str) -> set[int]:
    """The local accounts that block the actor at `actor_uri` (by name or domain)."""
    domain = host_of(actor_uri)
    by_name = select(Block.account_id).join(Actor, col(Actor.id) == col(Block.target_id))
    by_name = by_name.where(Actor.uri == actor_uri)
    by_domain = select(DomainBlock.account_id).where(DomainBlock.domain == domain)
    rows = (await session.exec(union(by_name, by_domain))).all()  # type: ignore[call-overload]
    return {int(row[0]) for row in rows}


async def _owner_of(session: AsyncSession, activity: Activity) -> int | None:
    """The local account a Like, Announce or Follow is aimed at, if any."""
    uri = activity.object_id or ""
    if activity.type == "Follow":
        query = select(Actor.account_id).where(Actor.uri == uri)
    else:
        query = select(Note.account_id).where(Note.uri == uri, col(Note.is_local).is_(True))
    return (await session.exec(query)).first()


async def _wanted_by_nobody(session: AsyncSession, author_uri: str, blockers: set[int]) -> bool:
    """A post of an author that some local accounts block, and no other local account
    follows: nobody here would see it."""
    author = select(Actor.id).where(Actor.uri == author_uri).scalar_subquery()
    query = select(Actor.account_id).join(Follow, col(Follow.follower_id) == col(Actor.id))
    query = query.where(
        col(Actor.is_local).is_(True),
        Follow.followee_id == author,
        Follow.state == FollowState.accepted,
    )
    followers = {int(row) for row in (await session.exec(query)).all() if row is not None}
    return not (followers - blockers)


AIMED = frozenset({"Like", "EmojiReact", "Announce", "Follow"})


async def refusal(session: AsyncSession, activity: Activity) -> str | None:
    """Why an incoming activity is dropped for a block, or None: a blocked actor's like,
    share or follow of the blocker; a post of an actor blocked here that nobody follows."""
    if activity.type in AIMED:
        owner = await _owner_of(session, activity)
        if owner is not None and owner in await _blockers_of(session, activity.actor_id):
            return f"{activity.type} from an actor the account blocks"
        return None
    if activity.type == "Create" and isinstance(activity.object, EmbeddedObject):
        blockers = await _blockers_of(session, activity.actor_id)
        if blockers and await _wanted_by_nobody(session, activity.actor_id, blockers):
            return "a post of an actor blocked here that nobody else follows"
    return None


async def likes_not_refused(
    session: AsyncSession, targets: Sequence[tuple[T, str | None]], actor_uri_of: Any
) -> list[tuple[T, str | None]]:
    """Plain Likes (item, liked URI) with those of blocked actors' given no target, so the
    bulk path leaves them to the one-by-one path, which drops them (`refusal`). One query
    when nobody blocks anyone."""
    if not any(target for _, target in targets):
        return list(targets)
    anyone = select(literal(True)).where(
        or_(exists(select(Block.id)), exists(select(DomainBlock.id)))
    )
    if not (await session.exec(anyone)).first():
        return list(targets)
    answer: list[tuple[T, str | None]] = []
    for item, liked in targets:
        blocked = False
        if liked is not None:
            query = select(Note.account_id).where(Note.uri == liked, col(Note.is_local).is_(True))
            owner = (await session.exec(query)).first()
            blocked = owner is not None and owner in await _blockers_of(session, actor_uri_of(item))
        answer.append((item, None if blocked else liked))
    return answer


def _block_activity(me: Actor, them: Actor, activity_id: str) -> dict[str, object]:
    return {
        "@context": ACTIVITYSTREAMS_CONTEXT,
        "id": activity_id,
        "type": "Block",
        "actor": me.uri,
        "object": them.uri,
    }


async def _cut_follows(session: AsyncSession, me: Actor, them: Actor) -> None:
    both = or_(
        (col(Follow.follower_id) == me.id) & (col(Follow.followee_id) == them.id),
        (col(Follow.follower_id) == them.id) & (col(Follow.followee_id) == me.id),
    )
    await session.exec(delete(Follow).where(both))


async def block(session: AsyncSession, account_id: int, account_ref: str) -> Actor:
    """Block: follows both ways end; a remote actor's server is sent a Block (as Mastodon)."""
    me = await actor_of_account(session, account_id)
    them = await target(session, account_ref)
    if them.id == me.id:
        raise ValidationFailed("you cannot block yourself")
    query = select(Block).where(Block.account_id == account_id, Block.target_id == them.id)
    if (await session.exec(query)).first() is not None:
        return them
    await _cut_follows(session, me, them)
    activity_id = f"{me.uri}#blocks/{uuid.uuid4().hex}"
    activity = _block_activity(me, them, activity_id)
    session.add(Block(account_id=account_id, target_id=them.id or 0, activity_id=activity_id))
    if not them.is_local:
        await deliver(session, me, activity, [them.inbox])
    await session.flush()
    return them


async def unblock(session: AsyncSession, account_id: int, account_ref: str) -> Actor:
    me = await actor_of_account(session, account_id)
    them = await target(session, account_ref)
    query = select(Block).where(Block.account_id == account_id, Block.target_id == them.id)
    row = (await session.exec(query)).first()
    if row is None:
        return them
    await session.delete(row)
    if not them.is_local:
        inner = {"id": row.activity_id, "type": "Block", "actor": me.uri, "object": them.uri}
        undo = build_undo(f"{row.activity_id}/undo", me.uri, inner)
        await deliver(session, me, undo, [them.inbox])
    await session.flush()
    return them


async def mute(
    session: AsyncSession, account_id: int, account_ref: str, notifications: bool = True
) -> Actor:
    them = await target(session, account_ref)
    if them.account_id == account_id:
        raise ValidationFailed("you cannot mute yourself")
    query = select(Mute).where(Mute.account_id == account_id, Mute.target_id == them.id)
    row = (await session.exec(query)).first() or Mute(account_id=account_id, target_id=them.id or 0)
    row.notifications = notifications
    session.add(row)
    await session.flush()
    return them


async def unmute(session: AsyncSession, account_id: int, account_ref: str) -> Actor:
    them = await target(session, account_ref)
    await session.exec(
        delete(Mute).where(col(Mute.account_id) == account_id, col(Mute.target_id) == them.id)
    )
    return them


def clean_domain(domain: str) -> str:
    cleaned = domain.strip().lower().removeprefix("https://").removeprefix("http://")
    cleaned = cleaned.split("/")[0]
    if not cleaned or len(cleaned) > 255 or any(c.isspace() or c == "@" for c in cleaned):
        raise ValidationFailed("give a domain name, such as example.com", field="domain")
    return cleaned


async def block_domain(session: AsyncSession, account_id: int, own_domain: str, raw: str) -> str:
    """Block a domain: its actors are treated as blocked, and its followers of the account
    are removed (as Mastodon does)."""
    domain = clean_domain(raw)
    if domain == own_domain.lower():
        raise ValidationFailed("you cannot block your own instance's domain", field="domain")
    query = select(DomainBlock).where(
        DomainBlock.account_id == account_id, DomainBlock.domain == domain
    )
    if (await session.exec(query)).first() is None:
        session.add(DomainBlock(account_id=account_id, domain=domain))
        me = await actor_of_account(session, account_id)
        there = select(Actor.id).where(Actor.domain == domain)
        await session.exec(
            delete(Follow).where(
                col(Follow.followee_id) == me.id, col(Follow.follower_id).in_(there)
            )
        )
        await session.flush()
    return domain


async def unblock_domain(session: AsyncSession, account_id: int, raw: str) -> None:
    domain = clean_domain(raw)
    await session.exec(
        delete(DomainBlock).where(
            col(DomainBlock.account_id) == account_id, col(DomainBlock.domain) == domain
        )
    )


async def relations_with(
    session: AsyncSession, account_id: int, me: Actor, actors: Sequence[Actor]
) -> Relations:
    """The account's blocks and mutes among `actors`, their blocks of it, its domain blocks."""
    ids = [actor.id for actor in actors]
    blocking = select(Block.target_id).where(
        Block.account_id == account_id, col(Block.target_id).in_(ids)
    )
    local = [actor.account_id for actor in actors if actor.account_id is not None]
    blocked_by = select(Actor.id).join(Block, col(Block.account_id) == col(Actor.account_id))
    blocked_by = blocked_by.where(col(Block.account_id).in_(local), Block.target_id == me.id)
    mutes = select(Mute.target_id, Mute.notifications).where(
        Mute.account_id == account_id, col(Mute.target_id).in_(ids)
    )
    muted = (await session.exec(mutes)).all()
    domains = select(DomainBlock.domain).where(DomainBlock.account_id == account_id)
    return Relations(
        blocking=frozenset((await session.exec(blocking)).all()),
        blocked_by=frozenset(i for i in (await session.exec(blocked_by)).all() if i is not None),
        muting=frozenset(target_id for target_id, _ in muted),
        muting_notifications=frozenset(target_id for target_id, notify in muted if notify),
        domains=frozenset((await session.exec(domains)).all()),
    )
