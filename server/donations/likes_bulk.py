"""Incoming Likes processed in bulk: the inbox's hot path, a few statements per batch."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.db.upsert import insert_ignoring_duplicates
from server.models import InboxItem, Note, NoteLike
from server.models.base import utcnow
from server.models.federation import InboxState
from server.states import moving


@dataclass(frozen=True)
class StoredActivity:
    """An inbox row read with Core (no ORM object on the hot path)."""

    id: int
    activity_id: str
    actor_uri: str
    type: str
    body: str


def simple_like_target(item: StoredActivity) -> str | None:
    """The liked URI of a plain Like (object given as a URI), else None."""
    if item.type != "Like":
        return None
    try:
        target = json.loads(item.body).get("object")
    except (ValueError, AttributeError):
        return None
    return target if isinstance(target, str) else None


async def process_likes(session: AsyncSession, items: Sequence[tuple[StoredActivity, str]]) -> None:
    """Record plain Likes of our notes; each item ends done (new like) or ignored."""
    if not items:
        return
    uris = {target for _, target in items}
    query = select(Note.id, Note.uri).where(
        col(Note.uri).in_(uris), col(Note.is_local).is_(True), col(Note.deleted_at).is_(None)
    )
    notes = {uri: note_id for note_id, uri in (await session.exec(query)).all()}
    rows = [
        {
            "note_id": notes[target],
            "actor_uri": item.actor_uri,
            "activity_id": item.activity_id,
            "kind": "Like",
            "created_at": utcnow(),
        }
        for item, target in items
        if target in notes
    ]
    recorded: set[str] = set()
    if rows:
        table = NoteLike.__table__  # type: ignore[attr-defined]
        statement = insert_ignoring_duplicates(session, table).returning(table.c.activity_id)
        result = await session.connection()
        recorded = {row[0] for row in (await result.execute(statement, rows)).all()}
    now = utcnow()
    done = [item.id for item, _ in items if item.activity_id in recorded]
    ignored = [item.id for item, _ in items if item.activity_id not in recorded]
    for ids, state in ((done, InboxState.done), (ignored, InboxState.ignored)):
        if ids:
            await session.exec(
                update(InboxItem)
                .where(col(InboxItem.id).in_(ids))
                .where(moving(col(InboxItem.state), InboxState.pending, to=state))
                .values(state=state, processed_at=now)
            )
