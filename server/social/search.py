"""Search as the client API's `GET /api/v2/search` answers it, without a full-text index.

- **Accounts**: known actors (local accounts and cached remote actors) whose username or
  display name starts with the words typed; `user@host` narrows by domain. A full handle
  or a URL is resolved: this instance's own (`@user@<our domain>`, `/@user`, `/@user/ID`,
  `/users/user`, `/users/user/statuses/ID`) from the database, never fetched from
  ourselves; another server's only with `resolve` (WebFinger or a fetch).
- **Hashtags**: names of hashtags on public and unlisted notes starting with the text
  (`#` optional), the most used first.
- **Statuses**: as Mastodon searches them without Elasticsearch's public index: only
  among the viewer's own statuses and those they favourited, bookmarked, reblogged or are
  mentioned in, whose text holds every word typed (newest first). A pasted status URL
  finds that status.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import case, func, or_
from sqlalchemy.sql import ColumnElement
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from server.accounts.relations import target
from server.db.engine import Database
from server.domain_errors import NotFound
from server.federation.origins import host_of
from server.federation.remote import RemoteActors
from server.models import (
    Account,
    Actor,
    Bookmark,
    Follow,
    Note,
    NoteLike,
    NoteMention,
    NoteShare,
    NoteTag,
)
from server.models.federation import FollowState
from server.render.relationships import AccountView
from server.render.statuses import StatusView
from server.settings import Settings
from server.social import statuses
from server.social.follows import views_of
from server.social.interaction import own_actor, own_by_path
from server.social.notes import can_see, visible_clause, with_applications
from server.social.timelines import Viewer, status_views, viewer_of

TYPES = ("accounts", "statuses", "hashtags")
HASHTAG = re.compile(r"\w{1,100}")
TAG_MARKUP = re.compile(r"<[^>]*>")
WORD_RUN = re.compile(r"\w+")
STATUS_BATCH = 200  # notes read at once when checking their text
STATUS_BATCHES = 5  # at most this many batches per search


@dataclass(frozen=True)
class SearchQuery:
    """What `GET /api/v2/search` asks for."""

    text: str
    type: str = ""  # "" for every kind, else one of TYPES
    resolve: bool = False
    limit: int = 20
    offset: int = 0
    viewer_id: int | None = None
    following: bool = False  # accounts the viewer follows only
    account_ref: str | None = None  # statuses by this account only (`5` or `r12`)

    def wants(self, kind: str) -> bool:
        return self.type in ("", kind)


@dataclass(frozen=True)
class Found:
    accounts: list[AccountView] = field(default_factory=list)
    statuses: list[StatusView] = field(default_factory=list)
    hashtags: list[str] = field(default_factory=list)


def _is_url(text: str) -> bool:
    return text.startswith(("http://", "https://")) and not any(c.isspace() for c in text)


def _handle(text: str) -> tuple[str, str] | None:
    """(user, host) of `user@host` or `@user@host`, else None."""
    name, at, host = text.lstrip("@").partition("@")
    if not at or not name or not host or any(c.isspace() or c in "@/" for c in name + host):
        return None
    return name, host.lower()


def _own_host(settings: Settings, host: str) -> bool:
    return host in (settings.domain.lower(), settings.host.lower())


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


async def search(
    db: Database, remote: RemoteActors, settings: Settings, query: SearchQuery
) -> Found:
    """The accounts, statuses and hashtags the query names or starts with."""
    text = query.text.strip()
    if not text:
        return Found()
    if _is_url(text):
        return await _by_url(db, remote, settings, query, text)
    handle = _handle(text)
    if handle is not None and _own_host(settings, handle[1]):
        own = await _own_account(db, handle[0], query)
        if own is not None:
            return own
    elif handle is not None and query.resolve and query.wants("accounts") and not query.offset:
        return await _resolved(db, remote, text.lstrip("@"), query)
    async with db.reading() as session:
        viewer = await viewer_of(session, query.viewer_id)
        accounts = []
        if query.wants("accounts") and not text.startswith("#"):
            accounts = await _accounts(session, settings, text, query, viewer)
        tags = await _hashtags(session, text, query) if query.wants("hashtags") else []
        found = []
        if query.wants("statuses") and viewer.actor_id is not None:
            found = await _statuses(session, settings, text, query, viewer)
    return Found(accounts, found, tags)


# --- URLs and handles -------------------------------------------------------------------


async def _by_url(
    db: Database, remote: RemoteActors, settings: Settings, query: SearchQuery, url: str
) -> Found:
    """A URL: ours from the database, another server's known one by its id, and with
    `resolve` anything else fetched."""
    if query.offset:
        return Found()
    host = host_of(url)
    async with db.reading() as session:
        viewer = await viewer_of(session, query.viewer_id)
        if host and _own_host(settings, host):
            return await _own_url(session, settings, url, urlsplit(url).path, query, viewer)
        note = (await session.exec(select(Note).where(Note.uri == url))).first()
        if note is not None and note.deleted_at is None:
            return await _status_found(session, settings, note, query, viewer)
        actor = (await session.exec(select(Actor).where(Actor.uri == url))).first()
        if actor is not None and actor.fetched_at is not None and actor.tombstoned_at is None:
            return await _actor_found(session, actor, query)
    if not query.resolve:
        return Found()
    return await _resolved(db, remote, url, query)


async def _own_url(
    session: AsyncSession,
    settings: Settings,
    url: str,
    path: str,
    query: SearchQuery,
    viewer: Viewer,
) -> Found:
    own = await own_by_path(session, path)
    if own is not None:
        if own.note is not None:
            return await _status_found(session, settings, own.note, query, viewer)
        return Found() if own.actor is None else await _actor_found(session, own.actor, query)
    note = (await session.exec(select(Note).where(Note.uri == url))).first()
    if note is not None and note.deleted_at is None:
        return await _status_found(session, settings, note, query, viewer)
    return Found()


async def _status_found(
    session: AsyncSession, settings: Settings, note: Note, query: SearchQuery, viewer: Viewer
) -> Found:
    if not query.wants("statuses") or not await can_see(session, note, viewer.actor_id):
        return Found()
    views = await status_views(session, settings, [note], viewer)
    return Found(statuses=await with_applications(session, views, viewer.account_id))


async def _actor_found(session: AsyncSession, actor: Actor, query: SearchQuery) -> Found:
    if not query.wants("accounts"):
        return Found()
    return Found(accounts=await views_of(session, [actor]))


async def _own_account(db: Database, username: str, query: SearchQuery) -> Found | None:
    """`@user@<our domain>`: the local account, from the database; None if no such one."""
    async with db.reading() as session:
        actor = await own_actor(session, username)
        if actor is None:
            return None
        if query.offset:
            return Found()
        return await _actor_found(session, actor, query)


async def _resolved(db: Database, remote: RemoteActors, text: str, query: SearchQuery) -> Found:
    """Another server's handle or URL, fetched and cached (its errors are the answer)."""
    hit = await statuses.search_resolving(db, remote, text, query.viewer_id)
    if hit.status is not None:
        return Found(statuses=[hit.status] if query.wants("statuses") else [])
    actor = hit.remote
    async with db.reading() as session:
        if hit.local is not None:
            actor = await own_actor(session, hit.local.username)
        if actor is None or not query.wants("accounts"):
            return Found()
        return Found(accounts=await views_of(session, [actor]))


# --- Words ------------------------------------------------------------------------------


async def _accounts(
    session: AsyncSession, settings: Settings, text: str, query: SearchQuery, viewer: Viewer
) -> list[AccountView]:
    """Known accounts whose username or display name starts with the text: an exact
    username first, then local ones, then the oldest known."""
    name, _, domain = text.lstrip("@").partition("@")
    name = name.strip().lower()
    if not name:
        return []
    pattern = _like(name) + "%"
    username = func.lower(Actor.username)
    found = (
        select(Actor)
        .join(Account, col(Account.id) == col(Actor.account_id), isouter=True)
        .where(
            col(Actor.tombstoned_at).is_(None),
            col(Account.suspended_at).is_(None),
            col(Actor.is_local).is_(False) | col(Actor.account_id).is_not(None),
            username.like(pattern, escape="\\") | func.lower(Actor.name).like(pattern, escape="\\"),
        )
    )
    domain = domain.strip().lower()
    if domain and _own_host(settings, domain):
        found = found.where(col(Actor.is_local).is_(True))
    elif domain:
        found = found.where(func.lower(Actor.domain).like(_like(domain) + "%", escape="\\"))
    if query.following:
        followed = select(Follow.followee_id).where(
            Follow.follower_id == (viewer.actor_id or 0), Follow.state == FollowState.accepted
        )
        found = found.where(col(Actor.id).in_(followed))
    exact = case((username == name, 0), else_=1)
    found = found.order_by(exact, col(Actor.is_local).desc(), col(Actor.id))
    rows = await session.exec(found.offset(query.offset).limit(query.limit))
    return await views_of(session, list(rows.all()))


async def _hashtags(session: AsyncSession, text: str, query: SearchQuery) -> list[str]:
    """Hashtag names starting with the text, on notes anyone may read: an exact name
    first, then the most used."""
    name = text.removeprefix("#").strip().lower()
    if not HASHTAG.fullmatch(name):
        return []
    uses = func.count(col(NoteTag.note_id))
    found = (
        select(NoteTag.name, uses)
        .join(Note, col(Note.id) == col(NoteTag.note_id))
        .where(
            col(NoteTag.name).like(_like(name) + "%", escape="\\"),
            col(Note.deleted_at).is_(None),
            col(Note.visibility).in_(("public", "unlisted")),
        )
        .group_by(col(NoteTag.name))
        .order_by(case((col(NoteTag.name) == name, 0), else_=1), uses.desc(), col(NoteTag.name))
    )
    rows = await session.exec(found.offset(query.offset).limit(query.limit))
    return [str(tag) for tag, _ in rows.all()]


def _words(text: str) -> list[str]:
    return [word for word in text.lower().split() if word][:10]


def _stored_terms(words: list[str]) -> list[str]:
    """What the database can look for in the stored HTML: each word's longest run of
    letters and digits (`don't` is stored as `don&#x27;t`); the words themselves are
    checked against the text as read afterwards."""
    runs = [WORD_RUN.findall(word) for word in words]
    return [max(found, key=len) for found in runs if found]


def plain_text(content: str) -> str:
    """A note's HTML as the words a reader sees (markup dropped, entities decoded)."""
    return html.unescape(TAG_MARKUP.sub(" ", content)).lower()


def _interacted(viewer: Viewer) -> ColumnElement[bool]:
    """The viewer's own notes, and those it favourited, bookmarked, reblogged or is
    mentioned in."""
    me = viewer.actor_id or 0
    return or_(
        col(Note.author_id) == me,
        col(Note.id).in_(select(NoteLike.note_id).where(NoteLike.actor_uri == viewer.actor_uri)),
        col(Note.id).in_(select(NoteShare.note_id).where(NoteShare.actor_uri == viewer.actor_uri)),
        col(Note.id).in_(
            select(Bookmark.note_id).where(Bookmark.account_id == (viewer.account_id or 0))
        ),
        col(Note.id).in_(select(NoteMention.note_id).where(NoteMention.actor_id == me)),
    )


async def _statuses(
    session: AsyncSession, settings: Settings, text: str, query: SearchQuery, viewer: Viewer
) -> list[StatusView]:
    words = _words(text.removeprefix("#") if text.startswith("#") else text)
    if not words:
        return []
    found: Any = select(Note).where(
        col(Note.deleted_at).is_(None),
        col(Note.reblog_of_id).is_(None),
        _interacted(viewer),
        visible_clause(viewer.actor_id),
        *(
            func.lower(Note.content + " " + Note.summary).like("%" + _like(term) + "%", escape="\\")
            for term in _stored_terms(words)
        ),
    )
    if query.account_ref is not None:
        author = await _author(session, query.account_ref)
        found = found.where(col(Note.author_id) == (author or 0))
    wanted = query.offset + query.limit
    matched: list[Note] = []
    before: int | None = None
    for _ in range(STATUS_BATCHES):
        batch_query = found if before is None else found.where(col(Note.id) < before)
        batch = list(
            (
                await session.exec(batch_query.order_by(col(Note.id).desc()).limit(STATUS_BATCH))
            ).all()
        )
        for note in batch:
            shown = plain_text(note.content + " " + note.summary)
            if all(word in shown for word in words):
                matched.append(note)
        if len(matched) >= wanted or len(batch) < STATUS_BATCH:
            break
        before = batch[-1].id
    page = matched[query.offset : wanted]
    views = await status_views(session, settings, page, viewer)
    return await with_applications(session, views, viewer.account_id)


async def _author(session: AsyncSession, ref: str) -> int | None:
    try:
        return (await target(session, ref)).id
    except NotFound:
        return None
