"""What the Mastodon client API's status, timeline, follow and search endpoints read and do:
each function owns its session or transaction and returns the views the API renders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.errors import ActivityPubError
from server.db.engine import Database
from server.db.paging import Page
from server.domain_errors import Kind, NotFound, ServiceError
from server.federation.remote import RemoteActors
from server.models import Account, Actor, Note
from server.render.statuses import StatusView, render_status
from server.settings import Settings
from server.social import follows, timelines
from server.social.bookmarks import bookmark, bookmarked, liked, unbookmark
from server.social.favourites import SOURCE_API, favourite, unfavourite
from server.social.interaction import resolve, resolve_handle
from server.social.mentions import handles
from server.social.notes import (
    NewStatus,
    can_see,
    create_status,
    delete_status,
    get_note,
    with_applications,
)
from server.social.notifications import (
    REBLOG,
    notify_local_mentions,
    notify_reblog,
    withdraw_undone,
)
from server.social.reblogs import likers, original, reblog, sharers, unreblog
from server.social.timelines import (
    PublicFilter,
    Viewer,
    ancestors,
    descendants,
    status_views,
    viewer_of,
)

MAX_MENTIONS = 20


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


async def _visible(session: AsyncSession, note_id: int, viewer: Viewer) -> Note:
    note = await get_note(session, note_id)
    if not await can_see(session, note, viewer.actor_id):
        raise NotFound("no such status")
    return note


async def _views(
    session: AsyncSession, settings: Settings, notes: list[Note], viewer: Viewer
) -> list[StatusView]:
    """The notes' views, the viewer's own statuses with the app they were posted from."""
    views = await status_views(session, settings, notes, viewer)
    return await with_applications(session, views, viewer.account_id)


async def _one(session: AsyncSession, settings: Settings, note: Note, viewer: Viewer) -> StatusView:
    views = await _views(session, settings, [note], viewer)
    if not views:
        raise NotFound("no such status")
    return views[0]


async def status_for(
    db: Database, settings: Settings, note_id: int, viewer_id: int | None
) -> StatusView:
    """The status as `viewer_id` sees it; NotFound if it may not."""
    async with db.reading(bounded=True) as session:
        viewer = await viewer_of(session, viewer_id)
        return await _one(session, settings, await _visible(session, note_id, viewer), viewer)


@dataclass(frozen=True)
class Source:
    """Mastodon's StatusSource: what an editing app starts from."""

    id: int
    text: str
    spoiler_text: str


async def source_of(db: Database, note_id: int, viewer_id: int | None) -> Source:
    """A status's text as typed (a local one's; a remote status keeps no source, so its
    text is its HTML, as Mastodon's is) and its spoiler text; NotFound if it may not be seen."""
    async with db.reading(bounded=True) as session:
        viewer = await viewer_of(session, viewer_id)
        note = await _visible(session, note_id, viewer)
    text = note.source_text if note.is_local else note.content
    return Source(note.id or 0, text, note.summary)


async def _mentioned(
    db: Database, remote: RemoteActors, settings: Settings, text: str
) -> dict[str, Actor]:
    """The actors the text's mentions name: local users, and remote ones found by
    WebFinger (a mention nobody answers for stays plain text)."""
    keys = handles(text, settings.domain)[:MAX_MENTIONS]
    here = f"@{settings.domain.lower()}"
    local = {key.removesuffix(here): key for key in keys if key.endswith(here)}
    found: dict[str, Actor] = {}
    if local:
        async with db.reading() as session:
            query = select(Actor).where(
                col(Actor.is_local).is_(True),
                col(Actor.account_id).is_not(None),
                func.lower(Actor.username).in_(sorted(local)),
            )
            for actor in (await session.exec(query)).all():
                found[local[actor.username.lower()]] = actor
    for key in keys:
        if key.endswith(here):
            continue
        try:
            found[key] = await resolve_handle(remote, key)
        except (ServiceError, ActivityPubError):
            continue
    return found


async def post(
    db: Database, settings: Settings, remote: RemoteActors, account: Account, status: NewStatus
) -> StatusView:
    """Write the status (its Create queued for its audience), then read it back."""
    mentioned = await _mentioned(db, remote, settings, status.text)
    async with db.transaction() as session:
        note = await create_status(session, settings, account, status, mentioned)
        await notify_local_mentions(session, note, mentioned)
    return await status_for(db, settings, note.id or 0, account.id)


async def set_favourite(
    db: Database,
    settings: Settings,
    account: Account,
    note_id: int,
    *,
    add: bool,
    actor: tuple[int, str] | None = None,
) -> StatusView:
    async with db.transaction() as session:
        viewer = await viewer_of(session, account.id, actor)
        note = await original(session, await _visible(session, note_id, viewer))
        if add:
            await favourite(session, settings, account, note, SOURCE_API)
        else:
            await unfavourite(session, settings, account, note)
    # Read back after the commit (outside SQLite's write lock); the note was found visible.
    async with db.reading(bounded=True) as session:
        return await _one(session, settings, note, viewer)


async def set_reblog(
    db: Database, settings: Settings, account: Account, note_id: int, visibility: str | None
) -> StatusView:
    """Reblog (`visibility` given) or undo the reblog (None) of a status: the answer is the
    reblog, or the status no longer reblogged."""
    async with db.transaction() as session:
        viewer = await viewer_of(session, account.id)
        note = await _visible(session, note_id, viewer)
        if visibility is not None:
            shown = await reblog(session, settings, account, note, visibility)
            await notify_reblog(session, shown)
        else:
            shown = await unreblog(session, account, note)
            await withdraw_undone(session, REBLOG, viewer.actor_uri)
    return await status_for(db, settings, shown.id or 0, account.id)


async def set_bookmark(
    db: Database, settings: Settings, account: Account, note_id: int, *, add: bool
) -> StatusView:
    async with db.transaction() as session:
        viewer = await viewer_of(session, account.id)
        note = await original(session, await _visible(session, note_id, viewer))
        if add:
            await bookmark(session, account.id or 0, note)
        else:
            await unbookmark(session, account.id or 0, note)
    return await status_for(db, settings, note.id or 0, account.id)


async def delete(
    db: Database, settings: Settings, account: Account, note_id: int
) -> dict[str, Any]:
    """Delete the account's own status (or undo its reblog); the answer is the status as
    it read before, rendered before the deletion changes the note, with its `text` as
    typed (what Mastodon gives back for "delete and redraft")."""
    async with db.transaction() as session:
        viewer = await viewer_of(session, account.id)
        note = await get_note(session, note_id)
        rendered = render_status(settings, await _one(session, settings, note, viewer))
        if note.reblog_of_id is not None and note.account_id == account.id:
            await unreblog(session, account, note)
        else:
            await delete_status(session, settings, account, note)
            rendered["text"] = note.source_text
    return rendered


@dataclass(frozen=True)
class Thread:
    ancestors: list[StatusView]
    descendants: list[StatusView]


async def thread(db: Database, settings: Settings, note_id: int, viewer_id: int | None) -> Thread:
    """The notes above and below a status that we hold and the viewer may see."""
    async with db.reading(bounded=True) as session:
        viewer = await viewer_of(session, viewer_id)
        note = await original(session, await _visible(session, note_id, viewer))
        above = await ancestors(session, note, viewer)
        below = await descendants(session, note, viewer)
        views = await _views(session, settings, [*above, *below], viewer)
    return Thread(views[: len(above)], views[len(above) :])


@dataclass(frozen=True)
class Listed:
    """A page of statuses, and the row ids its Link header pages by (newest first)."""

    ids: list[int]
    views: list[StatusView]


@dataclass(frozen=True)
class People:
    """A page of accounts (local ones with their Account), and the ids to page by."""

    ids: list[int]
    actors: list[tuple[Actor, Account | None]]


async def _listed(
    session: AsyncSession, settings: Settings, rows: list[tuple[int, Note]], viewer: Viewer
) -> Listed:
    views = await _views(session, settings, [note for _, note in rows], viewer)
    return Listed([row_id for row_id, _ in rows], views)


async def bookmarks(db: Database, settings: Settings, account_id: int, page: Page) -> Listed:
    async with db.reading(bounded=True) as session:
        viewer = await viewer_of(session, account_id)
        return await _listed(session, settings, await bookmarked(session, account_id, page), viewer)


async def favourites(db: Database, settings: Settings, account_id: int, page: Page) -> Listed:
    """The donor's likes, newest first: what their money goes to this month and before."""
    async with db.reading(bounded=True) as session:
        viewer = await viewer_of(session, account_id)
        return await _listed(
            session, settings, await liked(session, viewer.actor_uri, page), viewer
        )


async def people(
    db: Database, note_id: int, viewer_id: int | None, page: Page, *, shared: bool
) -> People:
    """Who liked (or shared, `shared`) a status the viewer may see, newest first."""
    async with db.reading(bounded=True) as session:
        viewer = await viewer_of(session, viewer_id)
        note = await original(session, await _visible(session, note_id, viewer))
        rows = await (sharers if shared else likers)(session, note.id or 0, page)
        ids = sorted({a.account_id for _, a in rows if a.is_local and a.account_id})
        found = await session.exec(select(Account).where(col(Account.id).in_(ids)))
        accounts = {account.id: account for account in found.all()}
    return People(
        [row_id for row_id, _ in rows],
        [(actor, accounts.get(actor.account_id) if actor.is_local else None) for _, actor in rows],
    )


async def home(
    db: Database,
    settings: Settings,
    account_id: int,
    page: Page,
    actor: tuple[int, str] | None = None,
) -> list[StatusView]:
    async with db.reading(bounded=True) as session:
        viewer = await viewer_of(session, account_id, actor)
        notes = await timelines.home(session, viewer, page)
        return await _views(session, settings, notes, viewer)


async def public(
    db: Database, settings: Settings, viewer_id: int | None, where: PublicFilter, page: Page
) -> list[StatusView]:
    async with db.reading() as session:
        viewer = await viewer_of(session, viewer_id)
        notes = await timelines.public(session, where, page, viewer)
        return await _views(session, settings, notes, viewer)


async def follow_uri(
    db: Database, remote: RemoteActors, account: Account, uri: str
) -> tuple[Actor, Account | None]:
    """Follow the account a handle or URI names: one of this instance's (found in the
    database), or a remote one (fetched and cached), as following by account id does
    (blocks refuse it, a locked account makes it a request)."""
    found = await resolve(remote, uri)
    actor = found.actor
    if actor is None:
        raise NotAnAccount("this is not an account")
    await follows.follow_actor(db, account, actor)
    if not actor.is_local or actor.account_id is None:
        return actor, None
    async with db.reading() as session:
        return actor, await session.get(Account, actor.account_id)


async def search_resolving(
    db: Database, remote: RemoteActors, query: str, viewer_id: int | None
) -> SearchHit:
    found = await resolve(remote, query)
    if found.note is not None:
        async with db.reading() as session:
            viewer = await viewer_of(session, viewer_id)
            if not await can_see(session, found.note, viewer.actor_id):
                return SearchHit()
            return SearchHit(status=await _one(session, remote.settings, found.note, viewer))
    if found.actor is not None:
        async with db.reading() as session:
            local = await session.get(Account, found.actor.account_id or 0)
        return SearchHit(local=local) if local is not None else SearchHit(remote=found.actor)
    return SearchHit()
