"""The thing a note we hold is, as every road that likes it must name it: its ActivityPub id
as `Thing.uri`, its author's actor URI as the creator. A favourite seen by polling a
Mastodon server and the same Like arriving at our inbox both land here, so the click
contract (once per donor, thing and period) counts them once."""

from __future__ import annotations

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.donations.clicks import CreatorRef, ThingRef
from server.models import Actor, Note


async def note_thing(session: AsyncSession, uri: str) -> ThingRef | None:
    """The thing of the note with this ActivityPub id, if we hold it (local, or cached
    remote with its author), and it is not deleted."""
    query = (
        select(Note, Actor)
        .join(Actor, col(Actor.id) == Note.author_id)
        .where(Note.uri == uri, col(Note.deleted_at).is_(None))
    )
    found = (await session.exec(query)).first()
    if found is None:
        return None
    note, author = found
    handle = f"@{author.username}@{author.domain}" if author.username else ""
    creator = CreatorRef(
        network="fediverse", external_id=author.uri, handle=handle, profile_url=author.url
    )
    return ThingRef(uri=note.uri, creator=creator, title=note.url)
