"""What the Mastodon client API's status, timeline, follow and search endpoints read and do:
each function owns its session or transaction and returns the views the API renders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from server.db.engine import Database
from server.domain_errors import Kind, NotFound, ServiceError
from server.federation.remote import RemoteActors
from server.models import Account, Actor
from server.render.statuses import StatusView, render_status
from server.settings import Settings
from server.social.favourites import SOURCE_API, favourite, unfavourite
from server.social.interaction import follow, resolve
from server.social.notes import (
    NewStatus,
    create_status,
    delete_status,
    get_note,
    home_timeline,
    status_view,
    visible_to,
)


class NotAnAccount(ServiceError):
    """What the client asked to follow is no account."""

    kind = Kind.bad_request
    code = "bad_request"


@dataclass(frozen=True)
class SearchHit:
    """What a resolving search found: a status, or an account (local or remote), or nothing."""

    status: StatusView | None = None
    local: Account | None = None
    remote: Actor | None = None


async def _visible(session: AsyncSession, note_id: int, viewer_id: int | None) -> StatusView:
    note = await get_note(session, note_id)
    if not visible_to(note, viewer_id):
        raise NotFound("no such status")
    return await status_view(session, note, viewer_id)


async def status_for(db: Database, note_id: int, viewer_id: int | None) -> StatusView:
    """The status as `viewer_id` sees it; NotFound if it may not."""
    async with db.session() as session:
        return await _visible(session, note_id, viewer_id)


async def post(db: Database, settings: Settings, account: Account, status: NewStatus) -> StatusView:
    """Write the status (its Create queued for the followers), then read it back."""
    async with db.transaction() as session:
        note = await create_status(session, settings, account, status)
    return await status_for(db, note.id or 0, account.id)


async def set_favourite(
    db: Database, settings: Settings, account: Account, note_id: int, *, add: bool
) -> StatusView:
    async with db.transaction() as session:
        note = await get_note(session, note_id)
        if not visible_to(note, account.id):
            raise NotFound("no such status")
        if add:
            await favourite(session, settings, account, note, SOURCE_API)
        else:
            await unfavourite(session, settings, account, note)
    return await status_for(db, note.id or 0, account.id)


async def delete(
    db: Database, settings: Settings, account: Account, note_id: int
) -> dict[str, Any]:
    """Delete the account's own status; the answer is the status as it read before, rendered
    before the deletion changes the note."""
    async with db.transaction() as session:
        note = await get_note(session, note_id)
        rendered = render_status(settings, await status_view(session, note, None))
        await delete_status(session, account, note)
    return rendered


async def home(db: Database, account_id: int, limit: int) -> list[StatusView]:
    async with db.session() as session:
        notes = await home_timeline(session, account_id, limit)
        return [await status_view(session, note, account_id) for note in notes]


async def follow_uri(db: Database, remote: RemoteActors, account: Account, uri: str) -> Actor:
    """Follow the account a handle or URI names (fetched and cached)."""
    found = await resolve(remote, uri)
    if found.actor is None:
        raise NotAnAccount("this is not an account")
    await follow(db, account, found.actor)
    return found.actor


async def search_resolving(
    db: Database, remote: RemoteActors, query: str, viewer_id: int | None
) -> SearchHit:
    found = await resolve(remote, query)
    if found.note is not None:
        async with db.session() as session:
            return SearchHit(status=await status_view(session, found.note, viewer_id))
    if found.actor is not None:
        async with db.session() as session:
            local = await session.get(Account, found.actor.account_id or 0)
        return SearchHit(local=local) if local is not None else SearchHit(remote=found.actor)
    return SearchHit()
