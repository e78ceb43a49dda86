"""What a viewer reads: the home, public and hashtag timelines, a status's thread, and the
views of a page of notes, read in a fixed number of queries however long the page."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

from sqlalchemy import Integer, bindparam, exists
from sqlalchemy.sql import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.accounts.relations import hidden_authors
from server.db.paging import (
    Page,
    PageShape,
    in_order,
    page_params,
    page_shape,
    paged,
    paged_bound,
)
from server.models import Actor, Follow, MediaAttachment, Note, NoteMention, NoteTag
from server.models.federation import FollowState
from server.render.statuses import StatusView
from server.settings import Settings
from server.social.notes import visible_clause
from server.social.page_rows import NOTE_COLUMNS, as_notes
from server.social.status_batch import Reader, StatusBatch, load_batch

MAX_ANCESTORS = 40
NOTE_ID = cast(ColumnElement[int], col(Note.id))
MAX_DESCENDANTS = 200


@dataclass(frozen=True)
class Viewer:
    """Who reads: a local account and its actor, or nobody (no token)."""

    account_id: int | None = None
    actor_id: int | None = None
    actor_uri: str = ""


async def viewer_of(
    session: AsyncSession, account_id: int | None, actor: tuple[int, str] | None = None
) -> Viewer:
    """`actor`: the account's actor (id, URI) when the caller read it already."""
    if account_id is None:
        return Viewer()
    if actor is not None:
        return Viewer(account_id, *actor)
    found = (await session.exec(select(Actor).where(Actor.account_id == account_id))).first()
    if found is None:
        return Viewer(account_id)
    return Viewer(account_id, found.id, found.uri)


def _alive() -> ColumnElement[bool]:
    return col(Note.deleted_at).is_(None)


def _view(note: Note, batch: StatusBatch, viewer_account: int | None) -> StatusView | None:
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
        payable=batch.money.payable(author),
        projected_share=(
            None if author.account_id == viewer_account else batch.money.share(note.uri)
        ),
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
    reader = Reader(viewer.account_id, viewer.actor_uri)
    batch = await load_batch(session, settings, everything, reader)
    views: list[StatusView] = []
    for note in notes:
        view = _view(note, batch, viewer.account_id)
        if view is None:
            continue
        if note.reblog_of_id is not None:
            inner = shared.get(note.reblog_of_id)
            inner_view = _view(inner, batch, viewer.account_id) if inner is not None else None
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


ME = bindparam("me", type_=Integer)
READER = bindparam("reader", type_=Integer)


@functools.cache
def _home_query(hiding: bool) -> Any:
    """Built once (with `me` and `reader` to bind): building it cost more than running it."""
    followed = select(Follow.followee_id).where(
        Follow.follower_id == ME, Follow.state == FollowState.accepted
    )
    mentioned = select(NoteMention.note_id).where(NoteMention.actor_id == ME)
    # `author_id + 0` keeps the databases off the author index: read newest first by id
    # and stop at the page's end, rather than gather every followed author's notes and
    # sort them (a home timeline is mostly what one follows).
    author = col(Note.author_id) + 0
    query = select(*NOTE_COLUMNS).where(
        _alive(),
        (author == ME) | author.in_(followed),
        (col(Note.visibility) != "direct") | (author == ME) | col(Note.id).in_(mentioned),
    )
    # Leaves out the authors the reader blocks or mutes, or whose domain it blocks.
    return query.where(author.not_in(hidden_authors(cast(Any, READER)))) if hiding else query


@functools.cache
def _home_page_query(hiding: bool, shape: PageShape) -> Any:
    return paged_bound(_home_query(hiding), NOTE_ID, shape)


async def home(session: AsyncSession, viewer: Viewer, page: Page) -> list[Note]:
    """The viewer's own notes and those of the actors it follows, as far as it may see
    them (direct ones only when they mention it), newest first."""
    query = _home_page_query(viewer.account_id is not None, page_shape(page))
    params = {"me": viewer.actor_id or 0, "reader": viewer.account_id, **page_params(page)}
    return in_order(as_notes((await session.exec(query, params=params)).all()), page)


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
