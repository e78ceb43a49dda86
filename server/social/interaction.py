"""Remote interaction: resolve a URI or handle to a cached actor or note, follow it.

Network work happens before the transaction that stores its result.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from activitypub.builders import build_accept, build_follow, build_reject
from activitypub.errors import ActivityPubError, InvalidHandle
from activitypub.vocab import ACTOR_TYPES, parse_note
from activitypub.webfinger import WebFingerResult, parse_acct, subscribe_url
from server.db.engine import Database
from server.domain_errors import NotFound, ValidationFailed
from server.federation.delivery import deliver
from server.federation.origins import host_of
from server.federation.remote import InvalidActor, RemoteActors, RemoteError
from server.models import Account, Actor, Follow, Note
from server.models.federation import FollowState
from server.social.notes import local_actor, store_remote_note
from server.states import advance

OWN_NOTE_PATHS = (
    re.compile(r"/@(?P<user>[^/@?#]+)/(?P<note>\d{1,10})/?"),
    re.compile(r"/users/(?P<user>[^/?#]+)/statuses/(?P<note>\d{1,10})/?"),
)
OWN_ACTOR_PATHS = (
    re.compile(r"/@(?P<user>[^/@?#]+)/?"),
    re.compile(r"/users/(?P<user>[^/?#]+)/?"),
)

NOTE_TYPES = frozenset({"Note", "Article", "Page", "Question"})


@dataclass(frozen=True)
class Resolved:
    actor: Actor | None
    note: Note | None


def is_handle(query: str) -> bool:
    try:
        parse_acct(query)
    except InvalidHandle:
        return False
    return not query.startswith(("http://", "https://"))


def _handle_domain(handle: str) -> str:
    try:
        return parse_acct(handle)[1]
    except InvalidHandle as error:
        raise ValidationFailed(f"{handle!r} is not user@host") from error


async def _webfinger(remote: RemoteActors, handle: str) -> WebFingerResult:
    try:
        return await remote.client.webfinger_lookup(handle, scheme=remote.settings.scheme)
    except ActivityPubError as error:
        raise NotFound(f"{handle} could not be found: {error}") from error


async def _own_handle(remote: RemoteActors, username: str) -> Actor:
    """A handle of this instance: its local account's actor, from the database (never
    asked of ourselves over the network)."""
    query = (
        select(Actor)
        .join(Account, col(Account.id) == col(Actor.account_id))
        .where(
            func.lower(Account.username) == username.lower(),
            col(Account.suspended_at).is_(None),
        )
    )
    async with remote.db.session() as session:
        actor = (await session.exec(query)).first()
    if actor is None:
        raise NotFound(f"there is no account {username!r} on this instance")
    return actor


async def resolve_handle(remote: RemoteActors, handle: str) -> Actor:
    """The actor a handle's server names (ours from the database). When it names an
    actor on another host, that host's own WebFinger must name the actor back, as
    Mastodon checks."""
    domain = _handle_domain(handle)
    settings = remote.settings
    if domain in (settings.domain.lower(), settings.host.lower()):
        return await _own_handle(remote, parse_acct(handle)[0])
    actor = await remote.get_actor((await _webfinger(remote, handle)).self_href)
    if actor.domain != domain:
        try:
            back = (await _webfinger(remote, f"{actor.username}@{actor.domain}")).self_href
        except NotFound:
            back = None
        if back != actor.uri:
            raise NotFound(f"{handle} names {actor.uri}, whose own server does not confirm it")
    return actor


async def interaction_url(remote: RemoteActors, handle: str, uri: str) -> str:
    """Where to send a visitor from `handle`'s server to act on `uri`: the subscribe
    template that server's WebFinger gives, an http(s) URL on the handle's own host."""
    domain = _handle_domain(handle)
    template = (await _webfinger(remote, handle)).subscribe_template
    if not template:
        raise ValidationFailed("that server does not offer remote interaction")
    try:
        return subscribe_url(template, uri, domain)
    except ActivityPubError as error:
        raise ValidationFailed(f"that server's remote interaction address: {error}") from error


async def own_actor(session: AsyncSession, username: str) -> Actor | None:
    """A local account's actor by its username (not a suspended one)."""
    query = (
        select(Actor)
        .join(Account, col(Account.id) == col(Actor.account_id))
        .where(
            func.lower(Account.username) == username.lower(),
            col(Account.suspended_at).is_(None),
            col(Actor.is_local).is_(True),
        )
    )
    return (await session.exec(query)).first()


async def own_note(session: AsyncSession, username: str, note_id: int) -> Note | None:
    note = await session.get(Note, note_id) if note_id <= 2**31 - 1 else None
    if note is None or note.deleted_at is not None or not note.is_local:
        return None
    author = await own_actor(session, username)
    return note if author is not None and author.id == note.author_id else None


async def own_by_path(session: AsyncSession, path: str) -> Resolved | None:
    """What a path of this instance's own names: a local note (`/@user/ID`, the note's id)
    or account (`/@user`, the actor's id), or Resolved(None, None) when the path has that
    form but names nobody (or a deleted note); None when it has neither form."""
    for pattern in OWN_NOTE_PATHS:
        match = pattern.fullmatch(path)
        if match:
            return Resolved(None, await own_note(session, match["user"], int(match["note"])))
    for pattern in OWN_ACTOR_PATHS:
        match = pattern.fullmatch(path)
        if match:
            return Resolved(await own_actor(session, match["user"]), None)
    return None


async def _local_by_uri(db: Database, uri: str) -> Resolved | None:
    async with db.session() as session:
        note = (await session.exec(select(Note).where(Note.uri == uri))).first()
        if note is not None and note.deleted_at is None:
            return Resolved(None, note)
        actor = (await session.exec(select(Actor).where(Actor.uri == uri))).first()
        if actor is not None and (actor.is_local or actor.fetched_at is not None):
            return Resolved(actor, None)
    return None


async def resolve(remote: RemoteActors, query: str) -> Resolved:
    """A handle, an actor URI or a note URI, cached locally."""
    query = query.strip()
    if is_handle(query):
        return Resolved(await resolve_handle(remote, query), None)
    if not query.startswith(("http://", "https://")):
        raise ValidationFailed("give a URL or a user@domain handle")
    host = host_of(query)
    if not host:
        raise ValidationFailed("give the URL without a user name or password", field="uri")
    known = await _local_by_uri(remote.db, query)
    if known is not None:
        return known
    if host == remote.settings.domain.lower():
        # A local URL resolves only to local things: never fetched from ourselves.
        async with remote.db.reading() as session:
            own = await own_by_path(session, urlsplit(query).path)
        if own is None or (own.actor is None and own.note is None):
            raise NotFound("nothing on this instance has that URL")
        return own
    try:
        return await _fetch(remote, query)
    except InvalidActor:
        raise
    except RemoteError as error:
        # The client named the URL: one that cannot be fetched is not found, not a 502.
        raise NotFound(f"could not find an account or post there: {error.message}") from error


async def _fetch(remote: RemoteActors, query: str) -> Resolved:
    document = await remote.fetch_document(query)
    if document.get("type") in ACTOR_TYPES:
        return Resolved(await remote.fetch_actor(str(document.get("id"))), None)
    if document.get("type") not in NOTE_TYPES:
        raise ValidationFailed("this is neither an account nor a post")
    try:
        author_uri = parse_note(document).attributed_to
    except ActivityPubError as error:
        raise RemoteError(f"not a usable post: {error}") from error
    author = await remote.get_actor(author_uri)
    async with remote.db.transaction() as session:
        try:
            note = await store_remote_note(session, author, document, create=True)
        except ActivityPubError as error:
            raise RemoteError(f"not a usable post: {error}") from error
    return Resolved(author, note)


async def follow(db: Database, account: Account, target: Actor) -> Follow:
    """Follow a remote actor: a pending row and a queued Follow, in one transaction."""
    if target.is_local:
        raise ValidationFailed("following local accounts is not supported yet")
    async with db.transaction() as session:
        me = await local_actor(session, account.id or 0)
        query = select(Follow).where(Follow.follower_id == me.id, Follow.followee_id == target.id)
        existing = (await session.exec(query)).first()
        if existing is not None:
            return existing
        activity_id = f"{me.uri}#follows/{uuid.uuid4().hex}"
        row = Follow(
            follower_id=me.id or 0,
            followee_id=target.id or 0,
            activity_id=activity_id,
            state=FollowState.pending,
        )
        session.add(row)
        await deliver(session, me, build_follow(activity_id, me.uri, target.uri), [target.inbox])
        return row


async def answer_follow_request(
    db: Database, account: Account, follower_id: int, accept: bool
) -> Actor:
    """A locked account accepts (Accept delivered) or rejects (Reject delivered) a follow."""
    async with db.transaction() as session:
        me = await local_actor(session, account.id or 0)
        query = select(Follow).where(
            Follow.follower_id == follower_id,
            Follow.followee_id == me.id,
            Follow.state == FollowState.pending,
        )
        row = (await session.exec(query)).first()
        follower = await session.get(Actor, follower_id)
        if row is None or follower is None:
            raise NotFound("no such follow request")
        inner = build_follow(row.activity_id, follower.uri, me.uri)
        answer_id = f"{me.uri}#follow-answers/{uuid.uuid4().hex}"
        if accept:
            advance(row, FollowState.accepted)
            session.add(row)
            activity = build_accept(answer_id, me.uri, inner)
        else:
            await session.delete(row)
            activity = build_reject(answer_id, me.uri, inner)
        await deliver(session, me, activity, [follower.inbox])
        return follower
