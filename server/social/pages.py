"""What the web pages for posts read and do (profiles, the support page, a note with its
like button, writing a post, acting here on a remote object): each function owns its
session or transaction."""

from __future__ import annotations

from dataclasses import dataclass, field

from server.db.engine import Database
from server.db.paging import Page
from server.domain_errors import NotFound, ValidationFailed
from server.donations.creator_month import supporter_count
from server.donations.likes import DonorLike, count_note_like, donor_like
from server.escrow.claims import linked_accounts
from server.federation.remote import RemoteActors
from server.models import Account, Actor, Identity, Note
from server.render.statuses import StatusView
from server.settings import Settings
from server.social import follows
from server.social.favourites import SOURCE_WEB, favourite, unfavourite
from server.social.interaction import Resolved, resolve
from server.social.notes import (
    NewStatus,
    can_see,
    create_status,
    get_note,
    local_actor,
    local_profile,
    recent_notes,
    status_view,
    visible_to,
)
from server.social.timelines import PublicFilter, public, status_views, viewer_of


@dataclass(frozen=True)
class Profile:
    account: Account
    actor: Actor
    notes: list[Note]  # the latest, newest first
    linked: list[Identity] = field(default_factory=list)  # accounts elsewhere it claimed
    views: list[StatusView] = field(default_factory=list)  # the notes with their like counts
    supporters: int = 0  # this instance's donors who liked the creator's things


@dataclass(frozen=True)
class NotePage:
    account: Account
    view: StatusView
    own: bool = False  # the viewer wrote it: their like never counts
    like: DonorLike | None = None  # what the viewer's like counts for, when logged in


async def profile(
    db: Database, settings: Settings, username: str, viewer_id: int | None = None
) -> Profile:
    async with db.session() as session:
        account, actor = await local_profile(session, username)
        notes = await recent_notes(session, actor.id or 0)
        linked = await linked_accounts(session, settings, account.id or 0)
        viewer = await viewer_of(session, viewer_id)
        views = await status_views(session, settings, notes, viewer)
        supporters = await supporter_count(session, account.id or 0)
    return Profile(account, actor, notes, linked, views, supporters)


async def support(db: Database, username: str) -> Profile:
    """The creator and their five latest posts, for the page on how to pay them."""
    async with db.session() as session:
        account, actor = await local_profile(session, username)
        notes = await recent_notes(session, actor.id or 0, limit=5)
    return Profile(account, actor, notes)


async def note_page(db: Database, username: str, note_id: int, viewer: int | None) -> NotePage:
    async with db.session() as session:
        account, _ = await local_profile(session, username)
        note = await get_note(session, note_id)
        if note.account_id != account.id or not visible_to(note, viewer):
            raise NotFound("no such post")
        view = await status_view(session, note, viewer)
        if viewer is None:
            return NotePage(account, view)
        like = await donor_like(session, viewer, note.uri)
        return NotePage(account, view, own=note.account_id == viewer, like=like)


@dataclass(frozen=True)
class TagPage:
    """A hashtag's public page: its public notes, newest first, and where older ones
    start (None at the end)."""

    name: str
    views: list[StatusView]
    older: int | None


TAG_PAGE_SIZE = 20


async def tag_page(
    db: Database, settings: Settings, name: str, viewer_id: int | None, max_id: int | None
) -> TagPage:
    """The public notes (local and remote, no reblogs) tagged `name`, as the public tag
    timeline lists them, less those by authors the viewer blocks or mutes."""
    page = Page(limit=TAG_PAGE_SIZE, max_id=max_id)
    async with db.reading() as session:
        viewer = await viewer_of(session, viewer_id)
        notes = await public(session, PublicFilter(tag=name), page, viewer)
        views = await status_views(session, settings, notes, viewer)
    older = notes[-1].id if len(notes) == TAG_PAGE_SIZE else None
    return TagPage(name, views, older)


async def like_from_web(
    db: Database, settings: Settings, account: Account, note_id: int, *, undo: bool
) -> None:
    async with db.transaction() as session:
        note = await get_note(session, note_id)
        if not visible_to(note, account.id):
            raise NotFound("no such post")
        if undo:
            await unfavourite(session, settings, account, note)
        else:
            like = await favourite(session, settings, account, note, SOURCE_WEB)
            # A like kept from an earlier month is liked again: it counts for this one.
            await count_note_like(session, settings, account.id or 0, note, like.activity_id)


async def write(db: Database, settings: Settings, account: Account, status: NewStatus) -> Note:
    """Write a post (its Create queued for the followers)."""
    async with db.transaction() as session:
        return await create_status(session, settings, account, status)


@dataclass(frozen=True)
class Interaction:
    """A remote object a visitor of ours is about to act on, and the post as they would see it."""

    found: Resolved
    view: StatusView | None


async def interaction(db: Database, remote: RemoteActors, uri: str, viewer: int) -> Interaction:
    found = await resolve(remote, uri)
    if found.note is None:
        return Interaction(found, None)
    async with db.reading() as session:
        me = await local_actor(session, viewer)
        if not await can_see(session, found.note, me.id):
            raise NotFound("no such post")  # as for a post that does not exist
        return Interaction(found, await status_view(session, found.note, viewer))


async def act_on(
    db: Database,
    settings: Settings,
    remote: RemoteActors,
    account: Account,
    uri: str,
    action: object,
) -> None:
    """Like the post, or follow the account, that `uri` names; ValidationFailed if `action`
    does not fit what it names."""
    found = await resolve(remote, uri)
    if action == "like" and found.note is not None:
        async with db.transaction() as session:
            me = await local_actor(session, account.id or 0)
            if not await can_see(session, found.note, me.id):
                raise NotFound("no such post")  # as for a post that does not exist
            await favourite(session, settings, account, found.note, SOURCE_WEB)
    elif action == "follow" and found.actor is not None and found.note is None:
        await follows.follow_actor(db, account, found.actor)
    else:
        raise ValidationFailed("nothing to do with this object")
