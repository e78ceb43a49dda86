"""What a viewer reads: the home, public and hashtag timelines, a status's thread, and the
views of a page of notes, read in a fixed number of queries however long the page."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

from sqlalchemy import exists, func, literal, union_all
from sqlalchemy import select as sa_select
from sqlalchemy.sql import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.accounts.relations import hidden_authors
from server.db.paging import Page, in_order, paged
from server.donations.budget import donor_settings
from server.donations.periods import period_of
from server.donations.summary import balances
from server.models import (
    Account,
    Actor,
    Bookmark,
    Click,
    Follow,
    Identity,
    LedgerKind,
    MediaAttachment,
    Note,
    NoteLike,
    NoteMention,
    NoteShare,
    NoteTag,
    Peer,
    PeerState,
    Thing,
)
from server.models.base import utcnow
from server.models.federation import FollowState
from server.money.ledger import Owner
from server.money.split import fee_of
from server.render.statuses import StatusView
from server.settings import Settings
from server.social.media import for_notes
from server.social.notes import visible_clause

MAX_ANCESTORS = 40
NOTE_ID = cast(ColumnElement[int], col(Note.id))
MAX_DESCENDANTS = 200


@dataclass(frozen=True)
class Viewer:
    """Who reads: a local account and its actor, or nobody (no token)."""

    account_id: int | None = None
    actor_id: int | None = None
    actor_uri: str = ""


async def viewer_of(session: AsyncSession, account_id: int | None) -> Viewer:
    if account_id is None:
        return Viewer()
    actor = (await session.exec(select(Actor).where(Actor.account_id == account_id))).first()
    if actor is None:
        return Viewer(account_id)
    return Viewer(account_id, actor.id, actor.uri)


def _alive() -> ColumnElement[bool]:
    return col(Note.deleted_at).is_(None)


async def _tagged(session: AsyncSession, parts: list[Any]) -> list[tuple[str, int, int]]:
    """Several (tag, note id, number) queries in one round trip (UNION ALL)."""
    both = union_all(*parts).subquery()
    rows = await session.exec(select(both.c.tag, both.c.note_id, both.c.n))
    return [(str(tag), int(note_id), int(n)) for tag, note_id, n in rows.all()]


async def _counts(session: AsyncSession, ids: list[int]) -> dict[str, dict[int, int]]:
    """Each note's likes ("l"), shares ("s") and live replies ("r")."""
    found: dict[str, dict[int, int]] = {"l": {}, "s": {}, "r": {}}
    if not ids:
        return found
    parts: list[Any] = []
    for tag, column, where in (
        ("l", col(NoteLike.note_id), ()),
        ("s", col(NoteShare.note_id), ()),
        ("r", col(Note.in_reply_to_id), (_alive(),)),
    ):
        parts.append(
            sa_select(literal(tag).label("tag"), column.label("note_id"), func.count().label("n"))
            .where(column.in_(ids), *where)
            .group_by(column)
        )
    for tag, note_id, n in await _tagged(session, parts):
        found[tag][note_id] = n
    return found


@dataclass(frozen=True)
class _Batch:
    actors: dict[int, Actor]
    accounts: dict[int, Account]
    likes: dict[int, int]
    shares: dict[int, int]
    replies: dict[int, int]
    mentions: dict[int, list[Actor]]
    tags: dict[int, list[str]]
    favourited: set[int]
    reblogged: set[int]
    bookmarked: set[int]
    media: dict[int, list[MediaAttachment]]


async def _actors(session: AsyncSession, ids: Iterable[int]) -> dict[int, Actor]:
    wanted = sorted(set(ids) - {0})
    if not wanted:
        return {}
    rows = (await session.exec(select(Actor).where(col(Actor.id).in_(wanted)))).all()
    return {int(row.id or 0): row for row in rows}


async def _accounts(session: AsyncSession, ids: Iterable[int]) -> dict[int, Account]:
    wanted = sorted(set(ids) - {0})
    if not wanted:
        return {}
    rows = (await session.exec(select(Account).where(col(Account.id).in_(wanted)))).all()
    return {int(row.id or 0): row for row in rows}


async def _viewer_sets(
    session: AsyncSession, viewer: Viewer, ids: list[int]
) -> dict[str, set[int]]:
    """The notes the viewer liked ("l"), shared ("s") and bookmarked ("b")."""
    found: dict[str, set[int]] = {"l": set(), "s": set(), "b": set()}
    if viewer.account_id is None or not ids:
        return found
    one = literal(1).label("n")
    parts: list[Any] = [
        sa_select(literal("l").label("tag"), col(NoteLike.note_id).label("note_id"), one).where(
            col(NoteLike.actor_uri) == viewer.actor_uri, col(NoteLike.note_id).in_(ids)
        ),
        sa_select(literal("s").label("tag"), col(NoteShare.note_id).label("note_id"), one).where(
            col(NoteShare.actor_uri) == viewer.actor_uri, col(NoteShare.note_id).in_(ids)
        ),
        sa_select(literal("b").label("tag"), col(Bookmark.note_id).label("note_id"), one).where(
            col(Bookmark.account_id) == viewer.account_id, col(Bookmark.note_id).in_(ids)
        ),
    ]
    for tag, note_id, _ in await _tagged(session, parts):
        found[tag].add(note_id)
    return found


async def _batch(session: AsyncSession, notes: list[Note], viewer: Viewer) -> _Batch:
    ids = [note.id or 0 for note in notes]
    mentioned = (
        (
            await session.exec(
                select(NoteMention.note_id, Actor)
                .join(Actor, col(Actor.id) == col(NoteMention.actor_id))
                .where(col(NoteMention.note_id).in_(ids))
                .order_by(col(NoteMention.id))
            )
        ).all()
        if ids
        else []
    )
    mentions: dict[int, list[Actor]] = {}
    for note_id, actor in mentioned:
        mentions.setdefault(note_id, []).append(actor)
    tag_rows = (
        (
            await session.exec(
                select(NoteTag.note_id, NoteTag.name)
                .where(col(NoteTag.note_id).in_(ids))
                .order_by(col(NoteTag.id))
            )
        ).all()
        if ids
        else []
    )
    tags: dict[int, list[str]] = {}
    for note_id, name in tag_rows:
        tags.setdefault(note_id, []).append(name)
    wanted = [n.author_id for n in notes] + [n.in_reply_to_author_id or 0 for n in notes]
    actors = await _actors(session, wanted)
    local = [a.account_id or 0 for a in actors.values() if a.is_local and a.account_id]
    accounts = await _accounts(session, local)
    marks = await _viewer_sets(session, viewer, ids)
    counts = await _counts(session, ids)
    return _Batch(
        actors,
        accounts,
        counts["l"],
        counts["s"],
        counts["r"],
        mentions,
        tags,
        marks["l"],
        marks["s"],
        marks["b"],
        await for_notes(session, ids),
    )


def _view(
    note: Note, batch: _Batch, money: Projector, viewer_account: int | None
) -> StatusView | None:
    """`viewer_account`: one's own notes have no projected share (a like of them is no click)."""
    author = batch.actors.get(note.author_id)
    if author is None:
        return None
    note_id = note.id or 0
    return StatusView(
        note=note,
        author=author,
        account=batch.accounts.get(author.account_id or 0) if author.is_local else None,
        favourites=batch.likes.get(note_id, 0),
        reblogs=batch.shares.get(note_id, 0),
        favourited=note_id in batch.favourited,
        replies=batch.replies.get(note_id, 0),
        reblogged=note_id in batch.reblogged,
        bookmarked=note_id in batch.bookmarked,
        mentions=batch.mentions.get(note_id, ()),
        tags=batch.tags.get(note_id, ()),
        reply_author=batch.actors.get(note.in_reply_to_author_id or 0),
        payable=money.payable(author),
        projected_share=None if author.account_id == viewer_account else money.share(note.uri),
        media=batch.media.get(note_id, ()),
    )


async def status_views(
    session: AsyncSession, settings: Settings, notes: Sequence[Note], viewer: Viewer
) -> list[StatusView]:
    """The views of `notes`, in their order; a reblog carries the view of what it shares,
    and one whose shared note is gone is left out."""
    shared_ids = sorted({n.reblog_of_id for n in notes if n.reblog_of_id is not None})
    shared: dict[int, Note] = {}
    if shared_ids:
        rows = await session.exec(select(Note).where(col(Note.id).in_(shared_ids), _alive()))
        shared = {int(n.id or 0): n for n in rows.all()}
    everything = list({int(n.id or 0): n for n in [*notes, *shared.values()]}.values())
    batch = await _batch(session, everything, viewer)
    authors = [batch.actors[n.author_id] for n in everything if n.author_id in batch.actors]
    money = await projector(session, settings, viewer.account_id, authors)
    views: list[StatusView] = []
    for note in notes:
        view = _view(note, batch, money, viewer.account_id)
        if view is None:
            continue
        if note.reblog_of_id is not None:
            inner = shared.get(note.reblog_of_id)
            inner_view = (
                _view(inner, batch, money, viewer.account_id) if inner is not None else None
            )
            if inner_view is None:
                continue
            view = replace(
                view,
                reblog=inner_view,
                payable=inner_view.payable,
                projected_share=inner_view.projected_share,
            )
        views.append(view)
    return views


async def home(session: AsyncSession, viewer: Viewer, page: Page) -> list[Note]:
    """The viewer's own notes and those of the actors it follows, as far as it may see
    them (direct ones only when they mention it), newest first."""
    me = viewer.actor_id or 0
    followed = select(Follow.followee_id).where(
        Follow.follower_id == me, Follow.state == FollowState.accepted
    )
    mentioned = select(NoteMention.note_id).where(NoteMention.actor_id == me)
    # `author_id + 0` keeps the databases off the author index: read newest first by id
    # and stop at the page's end, rather than gather every followed author's notes and
    # sort them (a home timeline is mostly what one follows).
    author = col(Note.author_id) + 0
    query = select(Note).where(
        _alive(),
        (author == me) | author.in_(followed),
        (col(Note.visibility) != "direct") | (author == me) | col(Note.id).in_(mentioned),
    )
    hidden = await _unseen(session, viewer)
    query = query if hidden is None else query.where(hidden)
    return in_order(list((await session.exec(paged(query, NOTE_ID, page))).all()), page)


async def _unseen(session: AsyncSession, viewer: Viewer) -> ColumnElement[bool] | None:
    """Leaves out the authors the viewer blocks or mutes, or whose domain it blocks."""
    if viewer.account_id is None:
        return None
    return (col(Note.author_id) + 0).not_in(hidden_authors(viewer.account_id))


@dataclass(frozen=True)
class PublicFilter:
    local: bool = False
    remote: bool = False
    tag: str | None = None
    only_media: bool = False


async def public(
    session: AsyncSession, where: PublicFilter, page: Page, viewer: Viewer | None = None
) -> list[Note]:
    """Public notes (no reblogs), newest first: all, ours (`local`), others' (`remote`),
    or those with a hashtag; none by those the viewer blocks or mutes."""
    query = select(Note).where(
        _alive(), Note.visibility == "public", col(Note.reblog_of_id).is_(None)
    )
    hidden = await _unseen(session, viewer or Viewer())
    query = query if hidden is None else query.where(hidden)
    if where.local:
        query = query.where(col(Note.is_local).is_(True))
    elif where.remote:
        query = query.where(col(Note.is_local).is_(False))
    if where.only_media:
        query = query.where(exists().where(col(MediaAttachment.note_id) == col(Note.id)))
    if where.tag is not None:
        tagged = select(NoteTag.note_id).where(NoteTag.name == where.tag.lower())
        query = query.where(col(Note.id).in_(tagged))
    return in_order(list((await session.exec(paged(query, NOTE_ID, page))).all()), page)


async def ancestors(session: AsyncSession, note: Note, viewer: Viewer) -> list[Note]:
    """The notes above `note` in its thread that we hold, oldest first."""
    chain: list[Note] = []
    parent_id = note.in_reply_to_id
    while parent_id is not None and len(chain) < MAX_ANCESTORS:
        parent = await session.get(Note, parent_id)
        if parent is None:
            break
        chain.append(parent)
        parent_id = parent.in_reply_to_id
    return list(reversed(await _visible(session, chain, viewer)))


async def descendants(session: AsyncSession, note: Note, viewer: Viewer) -> list[Note]:
    """The replies below `note` that the viewer may see, depth first, oldest sibling first."""
    children: dict[int, list[Note]] = {}
    frontier = [note.id or 0]
    found = 0
    while frontier and found < MAX_DESCENDANTS:
        query = select(Note).where(
            col(Note.in_reply_to_id).in_(frontier), _alive(), visible_clause(viewer.actor_id)
        )
        level = list((await session.exec(query.order_by(col(Note.id)))).all())
        for child in level:
            children.setdefault(child.in_reply_to_id or 0, []).append(child)
        found += len(level)
        frontier = [child.id or 0 for child in level]
    ordered: list[Note] = []
    stack = list(reversed(children.get(note.id or 0, [])))
    while stack and len(ordered) < MAX_DESCENDANTS:
        current = stack.pop()
        ordered.append(current)
        stack.extend(reversed(children.get(current.id or 0, [])))
    return ordered


async def _visible(session: AsyncSession, notes: list[Note], viewer: Viewer) -> list[Note]:
    ids = [n.id or 0 for n in notes if n.deleted_at is None]
    if not ids:
        return []
    query = select(Note.id).where(col(Note.id).in_(ids), visible_clause(viewer.actor_id))
    seen = set((await session.exec(query)).all())
    return [n for n in notes if n.id in seen]


@dataclass(frozen=True)
class Projector:
    """Whether a like's share reaches an author, and the viewer's share for a like of a
    note if the month closed now: the close splits the budget (less the fee) equally over
    the month's clicks in click order, the first ones taking the remainder's minor units
    (`money.split.equal_split`), as the donor dashboard shows it. A note not liked yet is
    priced as one more click."""

    claimed: frozenset[str] = frozenset()
    peers: frozenset[str] = frozenset()
    pot: int | None = None
    positions: dict[str, int] | None = None

    def payable(self, author: Actor) -> bool:
        if author.is_local:
            return author.account_id is not None
        return author.uri in self.claimed or author.domain.lower() in self.peers

    def share(self, uri: str) -> int | None:
        if self.pot is None or self.positions is None:
            return None
        count = len(self.positions)
        position = self.positions.get(uri)
        if position is None:
            return self.pot // (count + 1)
        quotient, rest = divmod(self.pot, count)
        return quotient + (1 if position < rest else 0)


async def _pot(session: AsyncSession, settings: Settings, account_id: int) -> int:
    chosen = await donor_settings(session, settings, account_id)
    wallet = Owner(LedgerKind.donor_wallet, account_id=account_id)
    spendable = (
        0
        if chosen.paused
        else min(chosen.monthly_budget, (await balances(session, [wallet]))[wallet])
    )
    return spendable - fee_of(spendable, settings.fee_bps)


async def _payees(
    session: AsyncSession, remote: dict[str, str]
) -> tuple[frozenset[str], frozenset[str]]:
    """Of remote authors (uri: domain), those with a claimed identity, and the domains that
    are active peers, in one query."""
    claimed_ids: Any = sa_select(
        literal("i").label("kind"), col(Identity.external_id).label("v")
    ).where(
        col(Identity.network) == "fediverse",
        col(Identity.external_id).in_(sorted(remote)),
        col(Identity.claimed_account_id).is_not(None) | (col(Identity.claimed_by_actor_uri) != ""),
    )
    active: Any = sa_select(literal("p").label("kind"), col(Peer.domain).label("v")).where(
        col(Peer.domain).in_(sorted(set(remote.values()))), col(Peer.state) == PeerState.active
    )
    both = union_all(claimed_ids, active).subquery()
    rows = (await session.exec(select(both.c.kind, both.c.v))).all()
    claimed = frozenset(str(v) for kind, v in rows if kind == "i")
    return claimed, frozenset(str(v).lower() for kind, v in rows if kind == "p")


async def projector(
    session: AsyncSession, settings: Settings, account_id: int | None, authors: Sequence[Actor]
) -> Projector:
    remote = {a.uri: a.domain.lower() for a in authors if not a.is_local}
    claimed: frozenset[str] = frozenset()
    peers: frozenset[str] = frozenset()
    if remote:
        claimed, peers = await _payees(session, remote)
    if account_id is None:
        return Projector(claimed, peers)
    clicks = await session.exec(
        select(Thing.uri)
        .join(Click, col(Click.thing_id) == col(Thing.id))
        .where(Click.donor_id == account_id, Click.period == period_of(utcnow()))
        .order_by(col(Click.id))
    )
    positions = {uri: index for index, uri in enumerate(clicks.all())}
    return Projector(claimed, peers, await _pot(session, settings, account_id), positions)
