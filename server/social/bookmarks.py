"""Bookmarks (kept per account), and the lists of an account's marks: its bookmarks and
its likes, each paged by its own row id."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import delete
from sqlalchemy.sql import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.db.paging import Page, in_order, paged
from server.models import Bookmark, Note, NoteLike

BOOKMARK_ID = cast(ColumnElement[int], col(Bookmark.id))
LIKE_ID = cast(ColumnElement[int], col(NoteLike.id))


async def bookmark(session: AsyncSession, account_id: int, note: Note) -> None:
    query = select(Bookmark.id).where(
        Bookmark.account_id == account_id, Bookmark.note_id == note.id
    )
    if (await session.exec(query)).first() is None:
        session.add(Bookmark(account_id=account_id, note_id=note.id or 0))
        await session.flush()


async def unbookmark(session: AsyncSession, account_id: int, note: Note) -> None:
    await session.exec(
        delete(Bookmark).where(
            col(Bookmark.account_id) == account_id, col(Bookmark.note_id) == note.id
        )
    )


async def bookmarked(session: AsyncSession, account_id: int, page: Page) -> list[tuple[int, Note]]:
    """The account's bookmarked notes not deleted, as (bookmark id, note), newest first."""
    query = (
        select(BOOKMARK_ID, Note)
        .join(Note, col(Note.id) == col(Bookmark.note_id))
        .where(Bookmark.account_id == account_id, col(Note.deleted_at).is_(None))
    )
    rows = (await session.exec(paged(cast(Any, query), BOOKMARK_ID, page))).all()
    return [(int(row_id or 0), note) for row_id, note in in_order(list(rows), page)]


async def liked(session: AsyncSession, actor_uri: str, page: Page) -> list[tuple[int, Note]]:
    """The notes the actor liked, not deleted, as (like id, note), newest like first."""
    query = (
        select(LIKE_ID, Note)
        .join(Note, col(Note.id) == col(NoteLike.note_id))
        .where(NoteLike.actor_uri == actor_uri, col(Note.deleted_at).is_(None))
    )
    rows = (await session.exec(paged(cast(Any, query), LIKE_ID, page))).all()
    return [(int(row_id or 0), note) for row_id, note in in_order(list(rows), page)]
